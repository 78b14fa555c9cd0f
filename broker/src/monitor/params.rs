//! Query parameters, read the way nats-server reads them (Go's
//! `URL.Query().Get` plus `strconv`): the first value of a name counts, an
//! empty value is the same as none, and a value that does not parse is a
//! `400 Bad Request` whose body is nats-server's error text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The query string of one request, in order.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct Params(Vec<(String, String)>);

/// A request nats-server would refuse with `400 Bad Request`; the text is
/// the plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.0).into_response()
    }
}

impl Params {
    /// These parameters with `name` set to `value` (replacing it).
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_string(), value.to_string()));
        self
    }

    /// Parameters from `(name, value)` pairs.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Params(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The first value of `name`; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// A boolean as Go's `strconv.ParseBool` reads it; absent = false.
    pub fn bool(&self, name: &str) -> Result<bool, BadRequest> {
        let Some(value) = self.get(name) else {
            return Ok(false);
        };
        match value {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            _ => Err(BadRequest(format!(
                "Error decoding boolean for '{name}': strconv.ParseBool: parsing {value:?}: invalid syntax"
            ))),
        }
    }

    /// A signed integer as Go's `strconv.Atoi` reads it; absent = 0.
    pub fn int(&self, name: &str) -> Result<i64, BadRequest> {
        let Some(value) = self.get(name) else {
            return Ok(0);
        };
        let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
        let problem = if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            "invalid syntax"
        } else {
            match value.parse::<i64>() {
                Ok(number) => return Ok(number),
                Err(_) => "value out of range",
            }
        };
        Err(BadRequest(format!(
            "Error decoding int for '{name}': strconv.Atoi: parsing {value:?}: {problem}"
        )))
    }

    /// An unsigned integer as Go's `strconv.ParseUint(s, 10, 64)` reads it
    /// (no sign allowed); absent = 0.
    pub fn uint64(&self, name: &str) -> Result<u64, BadRequest> {
        let Some(value) = self.get(name) else {
            return Ok(0);
        };
        let problem = if !value.bytes().all(|b| b.is_ascii_digit()) {
            "invalid syntax"
        } else {
            match value.parse::<u64>() {
                Ok(number) => return Ok(number),
                Err(_) => "value out of range",
            }
        };
        Err(BadRequest(format!(
            "Error decoding uint64 for '{name}': strconv.ParseUint: parsing {value:?}: {problem}"
        )))
    }

    /// `subs`: `detail` (any case) asks for details, otherwise a boolean.
    /// Returns (list, detail).
    pub fn subs(&self) -> Result<(bool, bool), BadRequest> {
        if self
            .get("subs")
            .is_some_and(|value| value.eq_ignore_ascii_case("detail"))
        {
            return Ok((false, true));
        }
        Ok((self.bool("subs")?, false))
    }
}

/// The items of a `len`-long list to show for `offset` and `limit`, clamped
/// as nats-server clamps them (a negative offset is 0). Callers resolve a
/// limit of 0 or less to their default first.
pub fn page(offset: i64, limit: i64, len: usize) -> std::ops::Range<usize> {
    let start = usize::try_from(offset).unwrap_or(0).min(len);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    start..start.saturating_add(limit).min(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_go_parse_bool() {
        let params = Params::from_pairs(&[("a", "1"), ("b", "False"), ("c", "yes"), ("e", "")]);
        assert_eq!(params.bool("a"), Ok(true));
        assert_eq!(params.bool("b"), Ok(false));
        assert_eq!(params.bool("e"), Ok(false));
        assert_eq!(params.bool("missing"), Ok(false));
        assert_eq!(
            params.bool("c"),
            Err(BadRequest(
                "Error decoding boolean for 'c': strconv.ParseBool: parsing \"yes\": invalid syntax".into()
            ))
        );
    }

    #[test]
    fn integers_follow_go_atoi_and_parse_uint() {
        let params = Params::from_pairs(&[
            ("a", "-5"),
            ("b", "+7"),
            ("c", "x1"),
            ("d", "99999999999999999999"),
            ("e", "-"),
        ]);
        assert_eq!(params.int("a"), Ok(-5));
        assert_eq!(params.int("b"), Ok(7));
        assert!(params
            .int("c")
            .is_err_and(|e| e.0.ends_with("invalid syntax")));
        assert!(params
            .int("d")
            .is_err_and(|e| e.0.ends_with("value out of range")));
        assert!(params
            .int("e")
            .is_err_and(|e| e.0.ends_with("invalid syntax")));
        assert!(params
            .uint64("b")
            .is_err_and(|e| e.0.ends_with("invalid syntax")));
        assert!(params
            .uint64("a")
            .is_err_and(|e| e.0.ends_with("invalid syntax")));
        assert_eq!(
            params.uint64("d"),
            Err(BadRequest(
                "Error decoding uint64 for 'd': strconv.ParseUint: parsing \"99999999999999999999\": value out of range"
                    .into()
            ))
        );
    }

    #[test]
    fn first_value_wins_and_subs_detail_is_case_insensitive() {
        let params = Params::from_pairs(&[("subs", "DETAIL"), ("subs", "0")]);
        assert_eq!(params.subs(), Ok((false, true)));
        let params = Params::from_pairs(&[("subs", "true")]);
        assert_eq!(params.subs(), Ok((true, false)));
        assert!(Params::from_pairs(&[("subs", "2")]).subs().is_err());
    }

    #[test]
    fn page_clamps_to_the_list() {
        assert_eq!(page(0, 1024, 3), 0..3);
        assert_eq!(page(-4, 2, 3), 0..2);
        assert_eq!(page(2, 2, 3), 2..3);
        assert_eq!(page(9, 2, 3), 3..3);
        assert_eq!(page(1, i64::MAX, 3), 1..3);
    }
}
