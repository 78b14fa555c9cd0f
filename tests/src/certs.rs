//! Certificates made at run time with rcgen (ECDSA P-256): a CA and leaf
//! certificates it signs, written as PEM files. Used by the security tests
//! and by the bench's TLS scenario; nothing is shipped in the repository.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// Host names every leaf certificate carries, so that `localhost` and
/// `127.0.0.1` both verify.
pub const LOOPBACK_NAMES: &[&str] = &["localhost", "127.0.0.1"];

/// A certificate authority: signs leaf certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub cert_pem: String,
}

/// PEM files of one leaf certificate and the CA that signed it.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The CA certificate (`ca_file`).
    pub ca: PathBuf,
    /// The leaf certificate (`cert_file`).
    pub cert: PathBuf,
    /// Its private key (`key_file`).
    pub key: PathBuf,
}

impl Authority {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Result<Authority> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Authority {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A leaf certificate for `names` (DNS names or IP addresses), signed
    /// by this CA: `(certificate PEM, private key PEM)`.
    pub fn issue(&self, common_name: &str, names: &[&str]) -> Result<(String, String)> {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Issue a loopback certificate and write `<stem>-cert.pem`,
    /// `<stem>-key.pem` and the CA as `<stem>-ca.pem` into `dir`.
    pub fn write_leaf(&self, dir: &Path, stem: &str) -> Result<CertFiles> {
        let (cert, key) = self.issue(stem, LOOPBACK_NAMES)?;
        let files = CertFiles {
            ca: dir.join(format!("{stem}-ca.pem")),
            cert: dir.join(format!("{stem}-cert.pem")),
            key: dir.join(format!("{stem}-key.pem")),
        };
        for (path, text) in [
            (&files.ca, &self.cert_pem),
            (&files.cert, &cert),
            (&files.key, &key),
        ] {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(files)
    }
}
