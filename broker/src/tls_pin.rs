//! `tls { pinned_certs: [...] }`, as nats-server's `matchesPinnedCert`: a
//! peer is accepted only if the SHA-256 of its leaf certificate's
//! SubjectPublicKeyInfo (DER), in lowercase hex, is in the set. Checked
//! after the handshake; a miss closes the connection as a TLS handshake
//! failure ("certificate not pinned"), as nats-server does.

use std::collections::HashSet;

use rustls_pki_types::CertificateDer;

/// The pinned key ids; empty = no pinning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinnedCerts(HashSet<String>);

impl PinnedCerts {
    /// From the config's lowercase hex digests.
    pub fn new(digests: &[String]) -> PinnedCerts {
        PinnedCerts(digests.iter().map(|d| d.to_ascii_lowercase()).collect())
    }

    /// True when pinning is on and `leaf` (the peer's first certificate, if
    /// it sent one) is not pinned.
    pub fn rejects(&self, leaf: Option<&CertificateDer<'_>>) -> bool {
        if self.0.is_empty() {
            return false;
        }
        match leaf.and_then(key_id) {
            Some(id) => !self.0.contains(&id),
            None => true,
        }
    }
}

/// Hex SHA-256 of the certificate's SubjectPublicKeyInfo; None if the DER
/// does not parse as a certificate.
pub fn key_id(certificate: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref()).ok()?;
    let spki = parsed.tbs_certificate.subject_pki.raw;
    let digest = ring::digest::digest(&ring::digest::SHA256, spki);
    Some(data_encoding::HEXLOWER.encode(digest.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_set_pins_nothing_and_garbage_is_rejected() {
        assert!(!PinnedCerts::default().rejects(None));
        let pinned = PinnedCerts::new(&["AB".repeat(32)]);
        assert!(pinned.rejects(None));
        let garbage = CertificateDer::from(vec![1, 2, 3]);
        assert_eq!(key_id(&garbage), None);
        assert!(pinned.rejects(Some(&garbage)));
    }
}
