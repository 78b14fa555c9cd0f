//! TLS for client connections and routes: rustls configurations built from
//! [`TlsOptions`] (PEM files), with the `ring` provider.
//!
//! Clients (nats-server semantics, `server/client.go` and `server.go`):
//! the server sends INFO in plain text with `tls_required: true`, the
//! client upgrades and the handshake runs under `tls { timeout }`; with
//! `handshake_first` the handshake comes first and INFO goes encrypted.
//! With `verify`, a client certificate is required and must chain to
//! `ca_file`. Routes always present their certificate and verify the
//! peer's, in both directions (nats-server forces this for clusters).
//!
//! The handshake itself happens in the connection's task (see
//! `client::conn` and `route::tls`), never in an accept loop.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::options::{HandshakeFirst, Options, TlsOptions};

/// The first byte of a TLS record carrying a handshake message (a
/// ClientHello opens every TLS connection). Any other first byte from a
/// client that should be upgrading means it speaks plain text.
pub const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Why a TLS configuration could not be built.
#[derive(Debug)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    Pem {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file holds no certificate.
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// Client or route verification needs CA certificates (`ca_file`).
    MissingCa {
        /// What needed it (`tls.verify`, `cluster.tls`).
        what: &'static str,
    },
    /// rustls refused the certificates or key (e.g. a key that does not
    /// match the certificate), or the CA set.
    Rustls(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Pem { path, message } => {
                write!(f, "error parsing {}: {message}", path.display())
            }
            TlsError::NoCertificate { path } => {
                write!(f, "no certificate found in {}", path.display())
            }
            TlsError::MissingCa { what } => write!(f, "{what} requires a ca_file"),
            TlsError::Rustls(message) => write!(f, "TLS configuration error: {message}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl From<TlsError> for std::io::Error {
    fn from(error: TlsError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, error)
    }
}

/// The one crypto provider Starling uses (ring; aws-lc-rs stays off).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(path: &Path, error: impl fmt::Display) -> TlsError {
    TlsError::Pem {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// Every certificate in a PEM file, in order (the chain, leaf first).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| pem_error(path, error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(path, error))?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certificates)
}

/// The first private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| pem_error(path, error))
}

/// The CA certificates of a PEM file as a trust store.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in load_certificates(path)? {
        roots
            .add(certificate)
            .map_err(|error| pem_error(path, error))?;
    }
    Ok(roots)
}

fn rustls_error(error: impl fmt::Display) -> TlsError {
    TlsError::Rustls(error.to_string())
}

/// A server configuration presenting `options.cert_file`; with
/// `require_client_certificate`, peers must present a certificate that
/// chains to `options.ca_file`.
pub fn server_config(
    options: &TlsOptions,
    require_client_certificate: bool,
    what: &'static str,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certificates = load_certificates(&options.cert_file)?;
    let key = load_private_key(&options.key_file)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(rustls_error)?;
    let builder = if require_client_certificate {
        let ca_file = options
            .ca_file
            .as_ref()
            .ok_or(TlsError::MissingCa { what })?;
        let roots = Arc::new(load_roots(ca_file)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(rustls_error)?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder
        .with_single_cert(certificates, key)
        .map_err(rustls_error)?;
    Ok(Arc::new(config))
}

/// A client configuration (for dialing routes) that trusts `ca_file` only
/// and presents `cert_file`.
pub fn client_config(
    options: &TlsOptions,
    what: &'static str,
) -> Result<Arc<ClientConfig>, TlsError> {
    let ca_file = options
        .ca_file
        .as_ref()
        .ok_or(TlsError::MissingCa { what })?;
    let roots = load_roots(ca_file)?;
    let certificates = load_certificates(&options.cert_file)?;
    let key = load_private_key(&options.key_file)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(rustls_error)?
        .with_root_certificates(roots)
        .with_client_auth_cert(certificates, key)
        .map_err(rustls_error)?;
    Ok(Arc::new(config))
}

/// Client-side TLS in force: the acceptor and how to run the handshake.
#[derive(Clone)]
pub struct ClientTls {
    /// Runs the server side of each client's handshake.
    pub acceptor: TlsAcceptor,
    /// Client certificates are required and verified (INFO `tls_verify`).
    pub verify: bool,
    /// Longest a handshake may take.
    pub timeout: Duration,
    /// Handshake before INFO.
    pub handshake_first: HandshakeFirst,
    /// `pinned_certs`: accepted client certificates (SPKI SHA-256, hex).
    pub pinned: crate::tls_pin::PinnedCerts,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("verify", &self.verify)
            .field("timeout", &self.timeout)
            .field("handshake_first", &self.handshake_first)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Load the certificates and key of `options`.
    pub fn new(options: &TlsOptions) -> Result<ClientTls, TlsError> {
        let config = server_config(options, options.verify, "tls.verify")?;
        Ok(ClientTls {
            acceptor: TlsAcceptor::from(config),
            verify: options.verify,
            timeout: options.timeout,
            handshake_first: options.handshake_first,
            pinned: crate::tls_pin::PinnedCerts::new(&options.pinned_certs),
        })
    }
}

/// Route TLS in force: both directions, mutual authentication.
#[derive(Clone)]
pub struct RouteTls {
    /// Runs the server side for routes we accept.
    pub acceptor: TlsAcceptor,
    /// Runs the client side for routes we dial.
    pub connector: TlsConnector,
    /// Longest a handshake may take.
    pub timeout: Duration,
}

impl fmt::Debug for RouteTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteTls")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RouteTls {
    /// Load `cluster { tls { ... } }`; `ca_file` is required (it verifies
    /// peers in both directions).
    pub fn new(options: &TlsOptions) -> Result<RouteTls, TlsError> {
        Ok(RouteTls {
            acceptor: TlsAcceptor::from(server_config(options, true, "cluster.tls")?),
            connector: TlsConnector::from(client_config(options, "cluster.tls")?),
            timeout: options.timeout,
        })
    }
}

/// Loads every certificate and key `options` names (client and route TLS),
/// as the server would at start: for `-t` and for early errors.
pub fn check(options: &Options) -> Result<(), TlsError> {
    if let Some(tls) = &options.tls {
        ClientTls::new(tls)?;
    }
    if let Some(tls) = options.cluster.as_ref().and_then(|c| c.tls.as_ref()) {
        RouteTls::new(tls)?;
    }
    Ok(())
}
