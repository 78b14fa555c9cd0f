//! TLS for the `pubsub-tls-16b` scenario: one CA and one server certificate
//! for `localhost`/`127.0.0.1`, generated at bench start (rcgen) and given to
//! every server under test (`--tls --tlscert C --tlskey K`), and the load
//! clients' rustls configuration trusting that CA.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, Context, Result};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use starling_tests::certs::{Authority, CertFiles};

/// The certificate files and the client configuration of this bench run.
#[derive(Debug)]
pub struct BenchTls {
    /// Server certificate, key and CA (PEM files under the log directory).
    pub files: CertFiles,
    /// What the load clients connect with.
    pub client: Arc<ClientConfig>,
}

static MATERIAL: OnceLock<BenchTls> = OnceLock::new();

/// The run's TLS material, made on first use in `dir/tls/`.
pub fn material(dir: &Path) -> Result<&'static BenchTls> {
    if let Some(material) = MATERIAL.get() {
        return Ok(material);
    }
    let dir = dir.join("tls");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let authority = Authority::new("starling-bench CA")?;
    let files = authority.write_leaf(&dir, "server")?;
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(
        authority.cert_pem.as_bytes(),
    )?)?;
    let client =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let _ = MATERIAL.set(BenchTls {
        files,
        client: Arc::new(client),
    });
    MATERIAL
        .get()
        .ok_or_else(|| anyhow!("TLS material was not stored"))
}

/// The load clients' configuration, once [`material`] made it.
pub fn client_config() -> Result<Arc<ClientConfig>> {
    MATERIAL
        .get()
        .map(|material| Arc::clone(&material.client))
        .ok_or_else(|| anyhow!("no TLS material: the TLS target was not started"))
}
