//! NKey users: the nonce a server puts in INFO and the check of the
//! signature a client returns in CONNECT (nats-server `server/auth.go`,
//! `processClientOrLeafAuthentication`, and `server.go` `generateNonce`).
//!
//! The client signs the nonce's text with its Ed25519 seed and sends its
//! public key (`nkey`) and the signature (`sig`, base64url without padding;
//! standard base64 is accepted too, as nats-server does).

use data_encoding::{BASE64, BASE64URL_NOPAD};
use rand::RngExt;

/// Random bytes in a nonce (nats-server's `nonceRawLen`).
const NONCE_RAW_LEN: usize = 11;

/// A fresh nonce for one connection's INFO: 11 random bytes, base64url
/// without padding (15 characters), as nats-server generates them.
pub fn generate_nonce() -> String {
    let mut raw = [0u8; NONCE_RAW_LEN];
    rand::rng().fill(&mut raw[..]);
    BASE64URL_NOPAD.encode(&raw)
}

/// Why an NKey signature was not accepted (for the log; the wire only says
/// `Authorization Violation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// CONNECT had an `nkey` but no `sig`.
    Missing,
    /// `sig` is neither base64url nor standard base64.
    NotBase64,
    /// The public key does not decode.
    BadKey,
    /// The signature does not verify over the nonce.
    Mismatch,
}

/// Checks that `signature` (as sent in CONNECT) is `public_key`'s signature
/// of `nonce`.
pub fn verify_signature(
    public_key: &str,
    nonce: &[u8],
    signature: Option<&str>,
) -> Result<(), SignatureError> {
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::Missing)?;
    let bytes = BASE64URL_NOPAD
        .decode(signature.as_bytes())
        .or_else(|_| BASE64.decode(signature.as_bytes()))
        .map_err(|_| SignatureError::NotBase64)?;
    let key = nkeys::KeyPair::from_public_key(public_key).map_err(|_| SignatureError::BadKey)?;
    key.verify(nonce, &bytes)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed of the async-nats suite's `nkey.conf` user.
    const SEED: &str = "SUACH75SWCM5D2JMJM6EKLR2WDARVGZT4QC6LX3AGHSWOMVAKERABBBRWM";
    const PUBLIC: &str = "UAFHG6FUD2UU4SDFVAFUL5LDFO2XM4WYM76UNXTPJYJK7EEMYRBHT2VE";

    #[test]
    fn nonce_is_fifteen_base64url_characters_and_fresh() {
        let nonce = generate_nonce();
        assert_eq!(nonce.len(), 15);
        assert!(nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(nonce, generate_nonce());
    }

    #[test]
    fn a_signed_nonce_verifies_in_either_base64_form() {
        let pair = nkeys::KeyPair::from_seed(SEED).expect("seed");
        assert_eq!(pair.public_key(), PUBLIC);
        let nonce = generate_nonce();
        let signature = pair.sign(nonce.as_bytes()).expect("sign");
        let url = BASE64URL_NOPAD.encode(&signature);
        let standard = BASE64.encode(&signature);
        assert_eq!(
            verify_signature(PUBLIC, nonce.as_bytes(), Some(&url)),
            Ok(())
        );
        assert_eq!(
            verify_signature(PUBLIC, nonce.as_bytes(), Some(&standard)),
            Ok(())
        );
    }

    #[test]
    fn wrong_nonce_key_or_encoding_is_refused() {
        let pair = nkeys::KeyPair::from_seed(SEED).expect("seed");
        let signature = BASE64URL_NOPAD.encode(&pair.sign(b"nonce-1").expect("sign"));
        assert_eq!(
            verify_signature(PUBLIC, b"nonce-2", Some(&signature)),
            Err(SignatureError::Mismatch)
        );
        let other = nkeys::KeyPair::new_user().public_key();
        assert_eq!(
            verify_signature(&other, b"nonce-1", Some(&signature)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(PUBLIC, b"nonce-1", None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(PUBLIC, b"nonce-1", Some("***")),
            Err(SignatureError::NotBase64)
        );
        assert_eq!(
            verify_signature("UNOTAKEY", b"nonce-1", Some(&signature)),
            Err(SignatureError::BadKey)
        );
    }
}
