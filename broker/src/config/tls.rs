//! `tls { ... }` blocks (top level and `cluster`), as nats-server's
//! `parseTLS`, and the `--tls*` flags' checks (`overrideTLS`).
//!
//! Only what Starling implements is accepted: `cert_file`, `key_file`,
//! `ca_file`, `verify`, `timeout` and (clients only) `handshake_first` and
//! `pinned_certs`.
//! The other nats-server TLS keys are a clear "not supported" error.

use std::path::PathBuf;

use super::duration::parse_go_duration;
use super::error::ConfigError;
use super::field::{non_empty, Field};
use super::value::ValueKind;
use crate::limits;
use crate::options::{HandshakeFirst, TlsOptions};

/// nats-server TLS keys that Starling rejects as unsupported.
const UNSUPPORTED_TLS_KEYS: &[&str] = &[
    "verify_and_map",
    "verify_cert_and_check_known_urls",
    "insecure",
    "cipher_suites",
    "curve_preferences",
    "connection_rate_limit",
    "min_version",
    "certs",
    "cert_store",
    "cert_match_by",
    "cert_match",
    "cert_match_skip_invalid",
    "ca_certs_match",
    "ocsp_peer",
];

/// Which block is being parsed: they differ in what they accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TlsBlock {
    /// Top-level `tls`: client connections.
    Client,
    /// `cluster { tls }`: routes (mutual TLS, `ca_file` required).
    Route,
}

/// Parses a `tls` block.
pub(super) fn parse_tls(field: &Field<'_>, block: TlsBlock) -> Result<TlsOptions, ConfigError> {
    let mut tls = TlsOptions::default();
    let mut cert_file = None;
    let mut key_file = None;
    for entry in field.map()?.entries() {
        let sub = field.child(entry);
        match sub.lower_key().as_str() {
            "cert_file" => cert_file = non_empty(sub.string()?).map(PathBuf::from),
            "key_file" => key_file = non_empty(sub.string()?).map(PathBuf::from),
            "ca_file" => tls.ca_file = non_empty(sub.string()?).map(PathBuf::from),
            "verify" => tls.verify = sub.boolean()?,
            "timeout" => tls.timeout = sub.seconds_or(limits::TLS_TIMEOUT)?,
            "handshake_first" | "first" | "immediate" if block == TlsBlock::Client => {
                tls.handshake_first = handshake_first(&sub)?
            }
            "pinned_certs" if block == TlsBlock::Client => tls.pinned_certs = pinned_certs(&sub)?,
            "handshake_first" | "first" | "immediate" | "pinned_certs" => {
                return Err(sub.unsupported())
            }
            other if UNSUPPORTED_TLS_KEYS.contains(&other) => return Err(sub.unsupported()),
            _ => sub.unknown()?,
        }
    }
    // nats-server's messages (`GenTLSConfig` / `parseTLS`).
    tls.cert_file =
        cert_file.ok_or_else(|| field.invalid("missing 'cert_file' in TLS configuration"))?;
    tls.key_file =
        key_file.ok_or_else(|| field.invalid("missing 'key_file' in TLS configuration"))?;
    if block == TlsBlock::Route {
        if tls.ca_file.is_none() {
            return Err(field.invalid("route TLS requires a 'ca_file' to verify peers"));
        }
        // Routes always verify their peers, as nats-server forces.
        tls.verify = true;
    }
    if tls.verify && tls.ca_file.is_none() {
        return Err(field.invalid("'verify' requires a 'ca_file' to check client certificates"));
    }
    Ok(tls)
}

/// A list of hex SHA-256 digests, lowercased; nats-server's check and text.
fn pinned_certs(field: &Field<'_>) -> Result<Vec<String>, ConfigError> {
    field
        .array()?
        .iter()
        .map(|item| {
            let digest = item.as_str().map(str::to_ascii_lowercase).unwrap_or_default();
            if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(digest)
            } else {
                Err(field.invalid_at(
                    item.line,
                    format!("error parsing tls config, 'pinned_certs' key {digest} does not look like hex-encoded sha256"),
                ))
            }
        })
        .collect()
}

/// `true`/`false`, `"auto"` (the default delay) or a duration.
fn handshake_first(field: &Field<'_>) -> Result<HandshakeFirst, ConfigError> {
    match &field.value().kind {
        ValueKind::Bool(true) => Ok(HandshakeFirst::Required),
        ValueKind::Bool(false) => Ok(HandshakeFirst::Off),
        ValueKind::String(text) if text.eq_ignore_ascii_case("auto") => Ok(
            HandshakeFirst::Fallback(limits::TLS_HANDSHAKE_FIRST_FALLBACK),
        ),
        ValueKind::String(text) => {
            let nanos = parse_go_duration(text).map_err(|message| {
                field.invalid(format!("error parsing handshake_first: {message}"))
            })?;
            match u64::try_from(nanos) {
                Ok(0) => Ok(HandshakeFirst::Required),
                Ok(nanos) => Ok(HandshakeFirst::Fallback(std::time::Duration::from_nanos(
                    nanos,
                ))),
                Err(_) => Err(field.invalid("handshake_first delay can not be negative")),
            }
        }
        _ => Err(field.invalid(
            "handshake_first: expected a boolean, \"auto\" or a duration such as \"300ms\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use crate::config::test_support::{options, options_ok};
    use crate::config::ConfigError;
    use crate::options::HandshakeFirst;

    #[test]
    fn async_nats_suite_tls_block_applies() {
        let parsed = options_ok(
            "listen: localhost:4222\ntls {\n  cert_file:  \"./certs/server-cert.pem\"\n  key_file:   \"./certs/server-key.pem\"\n  ca_file:    \"./certs/rootCA.pem\"\n  verify :    true\n  timeout:    2\n}\n",
        );
        let tls = parsed.tls.expect("tls");
        assert_eq!(tls.cert_file, PathBuf::from("./certs/server-cert.pem"));
        assert_eq!(tls.key_file, PathBuf::from("./certs/server-key.pem"));
        assert_eq!(tls.ca_file, Some(PathBuf::from("./certs/rootCA.pem")));
        assert!(tls.verify);
        assert_eq!(tls.timeout, Duration::from_secs(2));
        assert_eq!(tls.handshake_first, HandshakeFirst::Off);
    }

    #[test]
    fn timeout_and_handshake_first_forms() {
        let tls = |inner: &str| {
            options_ok(&format!("tls {{ cert_file: c, key_file: k, {inner} }}"))
                .tls
                .expect("tls")
        };
        assert_eq!(tls("timeout: 0.5").timeout, Duration::from_millis(500));
        assert_eq!(tls("timeout: \"3s\"").timeout, Duration::from_secs(3));
        assert_eq!(tls("verify: false").timeout, Duration::from_secs(2));
        assert_eq!(
            tls("handshake_first: true").handshake_first,
            HandshakeFirst::Required
        );
        assert_eq!(
            tls("handshake_first: 300ms").handshake_first,
            HandshakeFirst::Fallback(Duration::from_millis(300))
        );
        assert_eq!(
            tls("handshake_first: auto").handshake_first,
            HandshakeFirst::Fallback(Duration::from_millis(50))
        );
    }

    #[test]
    fn missing_files_and_verify_without_ca_are_errors() {
        for (text, needle) in [
            ("tls { key_file: k }", "missing 'cert_file'"),
            ("tls { cert_file: c }", "missing 'key_file'"),
            ("tls { cert_file: c, key_file: k, verify: true }", "ca_file"),
            ("cluster { tls { cert_file: c, key_file: k } }", "ca_file"),
        ] {
            match options(text) {
                Err(error @ ConfigError::InvalidValue { .. }) => {
                    assert!(error.to_string().contains(needle), "{text}: {error}")
                }
                other => panic!("{text}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn route_tls_always_verifies() {
        let cluster = options_ok(
            "cluster { port: 1, tls { cert_file: c, key_file: k, ca_file: ca, timeout: 3 } }",
        )
        .cluster
        .expect("cluster");
        let tls = cluster.tls.expect("route tls");
        assert!(tls.verify);
        assert_eq!(tls.timeout, Duration::from_secs(3));
        assert!(matches!(
            options(
                "cluster { tls { cert_file: c, key_file: k, ca_file: a, handshake_first: true } }"
            ),
            Err(ConfigError::Unsupported { .. })
        ));
    }

    #[test]
    fn pinned_certs_are_hex_sha256_digests() {
        let digest = "AB".repeat(32);
        let tls = options_ok(&format!(
            "tls {{ cert_file: c, key_file: k, pinned_certs: [\"{digest}\"] }}"
        ))
        .tls
        .expect("tls");
        assert_eq!(tls.pinned_certs, vec!["ab".repeat(32)]);
        match options("tls {\n cert_file: c, key_file: k\n pinned_certs: [\"abc\"]\n}") {
            Err(error @ ConfigError::InvalidValue { line: 3, .. }) => {
                assert!(error
                    .to_string()
                    .contains("does not look like hex-encoded sha256"))
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            options(&format!(
                "cluster {{ tls {{ cert_file: c, key_file: k, ca_file: a, pinned_certs: [\"{digest}\"] }} }}"
            )),
            Err(ConfigError::Unsupported { .. })
        ));
    }

    #[test]
    fn unsupported_tls_keys_are_named() {
        match options("tls { cert_file: c, key_file: k, cipher_suites: [] }") {
            Err(ConfigError::Unsupported { name }) => assert_eq!(name, "tls.cipher_suites"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            options("tls { cert_file: c, key_file: k, bogus: 1 }"),
            Err(ConfigError::UnknownField { .. })
        ));
    }
}
