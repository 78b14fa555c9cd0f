//! Configured passwords and tokens, and how a presented one is checked
//! (nats-server `server/auth.go`: `isBcrypt`, `comparePasswords`).

use subtle::ConstantTimeEq;

/// A configured password or token: plain text, compared in constant time,
/// or a bcrypt hash.
#[derive(Clone)]
pub(crate) enum Secret {
    /// Compared byte for byte in constant time.
    Plain(Vec<u8>),
    /// A bcrypt hash (`$2a$10$...`), checked with `bcrypt::verify`.
    Bcrypt(String),
}

impl Secret {
    pub(crate) fn new(configured: &str) -> Secret {
        if is_bcrypt(configured) {
            Secret::Bcrypt(configured.to_string())
        } else {
            Secret::Plain(configured.as_bytes().to_vec())
        }
    }

    /// nats-server `comparePasswords`. A malformed hash never verifies.
    pub(crate) fn verify(&self, presented: &str) -> bool {
        match self {
            Secret::Plain(expected) => constant_time_eq(expected, presented.as_bytes()),
            Secret::Bcrypt(hash) => bcrypt::verify(presented, hash).unwrap_or(false),
        }
    }
}

/// nats-server `isBcrypt`: the regexp `^\$2[abxy]\$\d{2}\$.*`.
fn is_bcrypt(secret: &str) -> bool {
    let bytes = secret.as_bytes();
    bytes.len() >= 7
        && bytes.starts_with(b"$2")
        && matches!(bytes[2], b'a' | b'b' | b'x' | b'y')
        && bytes[3] == b'$'
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
}

/// Equal length and bytes, without an early exit on the first difference.
/// (The length itself is not hidden.)
pub(crate) fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    expected.ct_eq(presented).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_secret_verifies_exact_bytes_only() {
        let secret = Secret::new("s3cret");
        assert!(matches!(secret, Secret::Plain(_)));
        assert!(secret.verify("s3cret"));
        assert!(!secret.verify("s3cre"));
        assert!(!secret.verify("s3cret!"));
        assert!(!secret.verify("S3cret"));
        assert!(!secret.verify(""));
        assert!(Secret::new("").verify(""));
    }

    #[test]
    fn bcrypt_prefixes_2a_2b_2x_2y_are_hashes_and_verify() {
        let hash = bcrypt::hash("pw", 4).expect("hash");
        assert!(hash.starts_with("$2b$04$"));
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let variant = format!("{prefix}{}", &hash[4..]);
            let secret = Secret::new(&variant);
            assert!(matches!(secret, Secret::Bcrypt(_)), "{variant}");
            assert!(secret.verify("pw"), "{prefix}");
            assert!(!secret.verify("px"), "{prefix}");
            assert!(
                !secret.verify(&variant),
                "{prefix}: the hash is not the password"
            );
        }
        assert!(is_bcrypt("$2x$10$abc"));
        for plain in [
            "$2c$10$abc",
            "$2a$1$abc",
            "$2a10$",
            "2a$10$abc",
            "$2a$",
            "password",
        ] {
            assert!(!is_bcrypt(plain), "{plain}");
        }
    }

    #[test]
    fn malformed_hash_with_a_bcrypt_prefix_never_verifies() {
        // The prefix makes it a hash, as in nats-server; it verifies nothing,
        // not even its own text.
        let secret = Secret::new("$2a$10$not-a-real-hash");
        assert!(matches!(secret, Secret::Bcrypt(_)));
        assert!(!secret.verify("$2a$10$not-a-real-hash"));
        assert!(!secret.verify(""));
    }

    #[test]
    fn constant_time_eq_compares_length_and_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
