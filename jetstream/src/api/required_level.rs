//! `Nats-Required-Api-Level` (ADR-44, nats-server 2.11+): a `$JS.API.*`
//! request may say which API level it needs; a server below it refuses
//! with 412 / 10185 instead of ignoring fields it does not know.

use crate::api::account::API_LEVEL;
use crate::api::ApiError;
use crate::stream::headers::header_value;

/// The request header (nats-server `JSRequiredApiLevel`).
pub const REQUIRED_API_LEVEL: &str = "Nats-Required-Api-Level";

/// nats-server's `errorOnRequiredApiLevel`: refused when the header is
/// present and not empty and either is not an integer or asks for more
/// than [`API_LEVEL`]. `headers` is the request's header block (empty
/// when it has none).
pub fn check_required_api_level(headers: &[u8]) -> Result<(), ApiError> {
    let Some(value) = header_value(headers, REQUIRED_API_LEVEL).filter(|value| !value.is_empty())
    else {
        return Ok(());
    };
    match value.parse::<i64>() {
        Ok(level) if level <= i64::from(API_LEVEL) => Ok(()),
        _ => Err(ApiError::required_api_level()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(value: &str) -> Vec<u8> {
        format!("NATS/1.0\r\nNats-Required-Api-Level: {value}\r\n\r\n").into_bytes()
    }

    #[test]
    fn levels_up_to_ours_pass_and_higher_or_garbage_are_refused() {
        assert_eq!(check_required_api_level(b""), Ok(()));
        assert_eq!(
            check_required_api_level(b"NATS/1.0\r\nOther: 9\r\n\r\n"),
            Ok(())
        );
        assert_eq!(check_required_api_level(&block("")), Ok(()));
        for level in 0..=API_LEVEL {
            assert_eq!(check_required_api_level(&block(&level.to_string())), Ok(()));
        }
        let refused = Err(ApiError::required_api_level());
        assert_eq!(
            check_required_api_level(&block(&(API_LEVEL + 1).to_string())),
            refused
        );
        assert_eq!(check_required_api_level(&block("abc")), refused);
        assert_eq!(check_required_api_level(&block("1.5")), refused);
        let error = ApiError::required_api_level();
        assert_eq!((error.code, error.err_code), (412, 10185));
        assert_eq!(error.description, "JetStream minimum api level required");
    }
}
