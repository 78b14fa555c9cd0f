//! The NATS JWT wire form (nats-io/jwt v2 `Decode`): three base64url parts
//! without padding, `header.claims.signature`, where the signature is the
//! issuer's Ed25519 signature of `header.claims` (the encoded text) and the
//! issuer is the claims' `iss` NKey.

use data_encoding::{BASE64, BASE64URL_NOPAD};
use nkeys::{KeyPair, KeyPairType};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::JwtError;

/// `typ` of every NATS JWT.
pub const TOKEN_TYPE: &str = "JWT";
/// `alg` of v2 JWTs.
pub const ALGORITHM_V2: &str = "ed25519-nkey";
/// `alg` of v1 JWTs (still accepted for decoding, as nats-server does).
pub const ALGORITHM_V1: &str = "ed25519";

/// The JOSE header of a NATS JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always `JWT` (compared case-insensitively, as nats-io/jwt does).
    pub typ: String,
    /// `ed25519-nkey` (v2) or `ed25519` (v1).
    pub alg: String,
}

impl Header {
    /// The header every JWT minted here carries.
    pub fn v2() -> Header {
        Header {
            typ: TOKEN_TYPE.to_string(),
            alg: ALGORITHM_V2.to_string(),
        }
    }
}

/// Only the fields needed to find who signed a token.
#[derive(Deserialize)]
struct IssuerOnly {
    #[serde(default)]
    iss: String,
}

/// A decoded token whose signature has been checked against its `iss`.
#[derive(Debug, Clone)]
pub struct Verified<C> {
    /// The parsed claims.
    pub claims: C,
    /// The claims as JSON, for fields this crate does not model.
    pub raw: serde_json::Value,
}

fn decode_part(part: &str) -> Result<Vec<u8>, JwtError> {
    // nats-io/jwt uses RawURLEncoding; tolerate padding too.
    BASE64URL_NOPAD
        .decode(part.trim_end_matches('=').as_bytes())
        .map_err(|_| JwtError::Malformed("a part is not base64url"))
}

/// Splits and checks the header; returns (signed text, claims JSON, signature).
fn split(token: &str) -> Result<(&str, Vec<u8>, Vec<u8>), JwtError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("expected 3 chunks"));
    };
    let header: Header = serde_json::from_slice(&decode_part(header)?)
        .map_err(|_| JwtError::Malformed("header is not JSON"))?;
    if !header.typ.eq_ignore_ascii_case(TOKEN_TYPE) {
        return Err(JwtError::Malformed("not a JWT header"));
    }
    if header.alg != ALGORITHM_V2 && header.alg != ALGORITHM_V1 {
        return Err(JwtError::UnsupportedAlgorithm(header.alg));
    }
    let signed_len = token.len() - signature.len() - 1;
    Ok((
        &token[..signed_len],
        decode_part(claims)?,
        decode_part(signature)?,
    ))
}

/// Decodes `token`, checks that its `iss` signed it, and parses the claims
/// as `C`. Validity in time and trust are the caller's (see `validate`).
pub fn decode<C: DeserializeOwned>(token: &str) -> Result<Verified<C>, JwtError> {
    let (signed, claims_json, signature) = split(token)?;
    let issuer: IssuerOnly = serde_json::from_slice(&claims_json)
        .map_err(|error| JwtError::Claims(error.to_string()))?;
    let key = KeyPair::from_public_key(&issuer.iss)
        .map_err(|_| JwtError::Malformed("issuer is not a public nkey"))?;
    key.verify(signed.as_bytes(), &signature)
        .map_err(|_| JwtError::BadSignature)?;
    let raw: serde_json::Value = serde_json::from_slice(&claims_json)
        .map_err(|error| JwtError::Claims(error.to_string()))?;
    let claims = C::deserialize(&raw).map_err(|error| JwtError::Claims(error.to_string()))?;
    Ok(Verified { claims, raw })
}

/// Signs `claims` with `issuer` into a v2 token. `claims` should carry
/// `iss` = the issuer's public key.
pub fn encode<C: Serialize>(claims: &C, issuer: &KeyPair) -> Result<String, JwtError> {
    let header = serde_json::to_vec(&Header::v2()).map_err(|e| JwtError::Claims(e.to_string()))?;
    let body = serde_json::to_vec(claims).map_err(|e| JwtError::Claims(e.to_string()))?;
    let signed = format!(
        "{}.{}",
        BASE64URL_NOPAD.encode(&header),
        BASE64URL_NOPAD.encode(&body)
    );
    let signature = issuer
        .sign(signed.as_bytes())
        .map_err(|_| JwtError::BadSignature)?;
    Ok(format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature)))
}

/// True when `key` is a public NKey of the given kind.
pub fn is_public_key(key: &str, kind: KeyPairType) -> bool {
    KeyPair::from_public_key(key).is_ok_and(|pair| pair.key_pair_type() == kind)
}

/// Checks the CONNECT `sig` (base64url without padding, or standard
/// base64, as nats-server accepts) of `nonce` by the public key `subject`.
pub fn verify_nonce_signature(subject: &str, nonce: &[u8], sig: &str) -> Result<(), JwtError> {
    let bytes = BASE64URL_NOPAD
        .decode(sig.as_bytes())
        .or_else(|_| BASE64.decode(sig.as_bytes()))
        .map_err(|_| JwtError::BadNonceSignature)?;
    let key = KeyPair::from_public_key(subject).map_err(|_| JwtError::BadNonceSignature)?;
    key.verify(nonce, &bytes)
        .map_err(|_| JwtError::BadNonceSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_round_trips_and_its_signature_is_checked() {
        let account = KeyPair::new_account();
        let claims = json!({"iss": account.public_key(), "sub": "x", "iat": 5});
        let token = encode(&claims, &account).expect("encode");
        let decoded: Verified<serde_json::Value> = decode(&token).expect("decode");
        assert_eq!(decoded.claims["iat"], 5);

        // Any change to the signed part breaks the signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let forged = json!({"iss": account.public_key(), "sub": "x", "iat": 6});
        parts[1] = BASE64URL_NOPAD.encode(&serde_json::to_vec(&forged).expect("json"));
        let forged_token = parts.join(".");
        assert_eq!(
            decode::<serde_json::Value>(&forged_token).map(|_| ()),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn a_token_signed_by_someone_else_than_its_issuer_is_refused() {
        let claimed = KeyPair::new_account();
        let actual = KeyPair::new_account();
        let claims = json!({"iss": claimed.public_key(), "sub": "x"});
        let token = encode(&claims, &actual).expect("encode");
        assert_eq!(
            decode::<serde_json::Value>(&token).map(|_| ()),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens_are_errors_not_panics() {
        for token in ["", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.e30"] {
            assert!(decode::<serde_json::Value>(token).is_err(), "{token}");
        }
        let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
        assert_eq!(
            decode::<serde_json::Value>(&format!("{header}.e30.AA")).map(|_| ()),
            Err(JwtError::UnsupportedAlgorithm("HS256".into()))
        );
    }

    #[test]
    fn the_async_nats_suite_user_jwt_verifies() {
        let token = crate::jwt::test_vectors::SUITE_USER_JWT;
        let decoded: Verified<serde_json::Value> = decode(token).expect("decode");
        assert_eq!(decoded.claims["name"], "TestUser");
        assert!(is_public_key(
            decoded.claims["sub"].as_str().expect("sub"),
            KeyPairType::User
        ));
    }

    #[test]
    fn nonce_signature_in_either_base64_form() {
        let user = KeyPair::new_user();
        let signature = user.sign(b"nonce").expect("sign");
        let public = user.public_key();
        let url = BASE64URL_NOPAD.encode(&signature);
        assert_eq!(verify_nonce_signature(&public, b"nonce", &url), Ok(()));
        let std = BASE64.encode(&signature);
        assert_eq!(verify_nonce_signature(&public, b"nonce", &std), Ok(()));
        assert_eq!(
            verify_nonce_signature(&public, b"other", &url),
            Err(JwtError::BadNonceSignature)
        );
    }
}
