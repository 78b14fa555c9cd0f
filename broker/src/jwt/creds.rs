//! Decorated JWT files (nats-io/jwt `ParseDecoratedJWT` and
//! `ParseDecoratedNKey`): a creds file holds a user JWT and its seed, each
//! between `-----BEGIN ...-----` and `------END ...------` lines; operator
//! and account JWT files hold a bare or decorated JWT.

use nkeys::KeyPair;

use super::error::JwtError;

/// The contents of a creds file.
#[derive(Clone)]
pub struct Creds {
    /// The user JWT.
    pub jwt: String,
    /// The user's seed (`SU...`).
    pub seed: String,
}

impl std::fmt::Debug for Creds {
    /// The seed is a secret and never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Creds")
            .field("jwt", &self.jwt)
            .field("seed", &"<redacted>")
            .finish()
    }
}

impl Creds {
    /// The key pair of the seed.
    pub fn key_pair(&self) -> Result<KeyPair, JwtError> {
        KeyPair::from_seed(&self.seed).map_err(|_| JwtError::BadCreds("the seed is not valid"))
    }
}

/// A `---...BEGIN/END...---` armour line.
fn is_armour(line: &str) -> bool {
    line.starts_with("---") && line.ends_with("---")
}

/// The bodies of the armoured sections, in order.
fn armoured_sections(text: &str) -> Vec<&str> {
    let mut sections = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if is_armour(line) && line.contains("BEGIN") {
            if let Some(body) = lines.by_ref().find(|line| !line.is_empty()) {
                if !is_armour(body) {
                    sections.push(body);
                }
            }
        }
    }
    sections
}

/// Parses a creds file: the first section is the JWT, the second the seed.
pub fn parse_creds(text: &str) -> Result<Creds, JwtError> {
    let sections = armoured_sections(text);
    let jwt = sections
        .first()
        .ok_or(JwtError::BadCreds("no JWT section"))?;
    let seed = sections
        .get(1)
        .ok_or(JwtError::BadCreds("no seed section"))?;
    if !seed.starts_with('S') {
        return Err(JwtError::BadCreds("the second section is not a seed"));
    }
    Ok(Creds {
        jwt: (*jwt).to_string(),
        seed: (*seed).to_string(),
    })
}

/// The JWT in a file that holds either a bare token or a decorated one
/// (nsc writes both). Comment lines (`#`, `//`) around a bare token are
/// skipped.
pub fn parse_decorated_jwt(text: &str) -> Result<String, JwtError> {
    if let Some(section) = armoured_sections(text).first() {
        return Ok((*section).to_string());
    }
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with("//"))
        .filter(|line| line.matches('.').count() == 2)
        .map(str::to_string)
        .ok_or(JwtError::Malformed("no JWT in the file"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::test_vectors::{SUITE_USER_JWT, SUITE_USER_SEED};

    #[test]
    fn the_suite_creds_file_parses() {
        let text = format!(
            "-----BEGIN NATS USER JWT-----\n{SUITE_USER_JWT}\n------END NATS USER JWT------\n\n\
             ***** IMPORTANT *****\nNKEY Seed printed below...\n\n\
             -----BEGIN USER NKEY SEED-----\n{SUITE_USER_SEED}\n------END USER NKEY SEED------\n"
        );
        let creds = parse_creds(&text).expect("creds");
        assert_eq!(creds.jwt, SUITE_USER_JWT);
        assert_eq!(
            creds.key_pair().expect("key").public_key(),
            "UAFHG6FUD2UU4SDFVAFUL5LDFO2XM4WYM76UNXTPJYJK7EEMYRBHT2VE"
        );
        assert!(!format!("{creds:?}").contains(SUITE_USER_SEED));
    }

    #[test]
    fn incomplete_creds_are_refused() {
        assert!(parse_creds("").is_err());
        assert!(
            parse_creds("-----BEGIN NATS USER JWT-----\nabc.def.ghi\n------END------").is_err()
        );
        let no_seed = "-----BEGIN A-----\nabc.def.ghi\n-----END A-----\n-----BEGIN B-----\nUXYZ\n-----END B-----";
        assert!(parse_creds(no_seed).is_err());
    }

    #[test]
    fn bare_and_decorated_jwt_files() {
        assert_eq!(
            parse_decorated_jwt("# operator\n  a.b.c  \n").expect("bare"),
            "a.b.c"
        );
        assert_eq!(
            parse_decorated_jwt(
                "-----BEGIN NATS OPERATOR JWT-----\nx.y.z\n------END NATS OPERATOR JWT------\n"
            )
            .expect("decorated"),
            "x.y.z"
        );
        assert!(parse_decorated_jwt("nothing here").is_err());
    }
}
