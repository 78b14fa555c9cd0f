//! Why a JWT, a creds file or a resolver operation was refused.

use std::fmt;

/// Every reason a token is not accepted. Clients only ever see
/// `Authorization Violation` (or `User Authentication Expired` /
/// `User Authentication Revoked`); the variant says why in the log and in
/// `$SYS.REQ.CLAIMS.*` responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts, a bad header or a bad issuer key.
    Malformed(&'static str),
    /// A header `alg` other than `ed25519-nkey` / `ed25519`.
    UnsupportedAlgorithm(String),
    /// The signature does not verify with the issuer's key.
    BadSignature,
    /// The claims JSON does not parse as the expected claim type.
    Claims(String),
    /// `nats.type` is not the expected one.
    WrongType {
        /// The type wanted (`operator`, `account`, `user`).
        expected: &'static str,
        /// The type found.
        found: String,
    },
    /// `sub` is not a public key of the kind the claim type needs.
    BadSubject(&'static str),
    /// `exp` is in the past.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// An account JWT not issued by a trusted operator or its signing keys.
    UntrustedIssuer,
    /// A user JWT not issued by its account or one of its signing keys.
    UnknownUserIssuer,
    /// The account revoked this user (or every user issued until then).
    Revoked,
    /// A bearer token where the account disallows them.
    BearerNotAllowed,
    /// CONNECT had a user JWT but no valid `sig` of the nonce.
    BadNonceSignature,
    /// The resolver has no JWT for the account.
    AccountNotFound(String),
    /// A creds file without the expected armoured sections.
    BadCreds(&'static str),
    /// A resolver store operation failed (I/O, limit, read-only, ...).
    Store(String),
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::Malformed(what) => write!(f, "malformed jwt: {what}"),
            JwtError::UnsupportedAlgorithm(alg) => write!(f, "unsupported jwt algorithm {alg:?}"),
            JwtError::BadSignature => f.write_str("claim failed V2 signature verification"),
            JwtError::Claims(error) => write!(f, "invalid claims: {error}"),
            JwtError::WrongType { expected, found } => {
                write!(f, "not {expected} claim (type {found:?})")
            }
            JwtError::BadSubject(what) => write!(f, "subject is not {what}"),
            JwtError::Expired => f.write_str("claim is expired"),
            JwtError::NotYetValid => f.write_str("claim is not yet valid"),
            JwtError::UntrustedIssuer => f.write_str("account jwt issuer is not trusted"),
            JwtError::UnknownUserIssuer => f.write_str("user jwt issuer is not known"),
            JwtError::Revoked => f.write_str("user authentication revoked"),
            JwtError::BearerNotAllowed => f.write_str("bearer user jwt not allowed"),
            JwtError::BadNonceSignature => f.write_str("signature not verified"),
            JwtError::AccountNotFound(account) => write!(f, "account {account} not found"),
            JwtError::BadCreds(what) => write!(f, "invalid creds: {what}"),
            JwtError::Store(error) => f.write_str(error),
        }
    }
}

impl std::error::Error for JwtError {}
