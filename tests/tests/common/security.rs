//! Shared by the security tests: generated certificates and helpers.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use starling::options::{Options, TlsOptions};
use starling_tests::certs::{Authority, CertFiles};
use tempfile::TempDir;
use tokio::time::Instant;

use super::{test_options, DEADLINE};

/// A CA with a server and a client certificate, and a second, unrelated CA
/// with a client certificate of its own (a stranger).
pub struct Pki {
    /// Holds the files.
    pub dir: TempDir,
    /// Server certificate (signed by the CA).
    pub server: CertFiles,
    /// Client certificate (signed by the CA).
    pub client: CertFiles,
    /// Client certificate from an unrelated CA.
    pub stranger: CertFiles,
}

impl Pki {
    /// Generate everything into a fresh temporary directory.
    pub fn new() -> Pki {
        let dir = TempDir::new().expect("temp dir");
        let ca = Authority::new("starling test CA").expect("CA");
        let other = Authority::new("some other CA").expect("other CA");
        Pki {
            server: ca.write_leaf(dir.path(), "server").expect("server cert"),
            client: ca.write_leaf(dir.path(), "client").expect("client cert"),
            stranger: other
                .write_leaf(dir.path(), "stranger")
                .expect("stranger cert"),
            dir,
        }
    }

    /// Server TLS options from these files.
    pub fn tls(&self, verify: bool) -> TlsOptions {
        TlsOptions {
            cert_file: self.server.cert.clone(),
            key_file: self.server.key.clone(),
            ca_file: Some(self.server.ca.clone()),
            verify,
            ..TlsOptions::default()
        }
    }
}

/// Test options with `tls`.
pub fn tls_server_options(tls: TlsOptions) -> Options {
    Options {
        tls: Some(tls),
        ..test_options()
    }
}

/// async-nats options trusting `ca`, TLS required.
pub fn tls_client(ca: &Path) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(ca.to_path_buf())
        .connection_timeout(Duration::from_secs(3))
}

/// Publish `payload` on one client until another receives it: the
/// connections work. (async-nats' `flush` only writes out, so the SUB may
/// still be on its way when the first publish arrives: retry.)
pub async fn deliver(
    publisher: &async_nats::Client,
    subscriber: &async_nats::Client,
    subject: &str,
    payload: bytes::Bytes,
) {
    let mut subscription = subscriber
        .subscribe(subject.to_string())
        .await
        .expect("subscribe");
    subscriber.flush().await.expect("flush");
    let deadline = Instant::now() + DEADLINE;
    loop {
        publisher
            .publish(subject.to_string(), payload.clone())
            .await
            .expect("publish");
        publisher.flush().await.expect("flush");
        if let Ok(message) =
            tokio::time::timeout(Duration::from_millis(100), subscription.next()).await
        {
            let message = message.expect("subscription open");
            assert_eq!(message.payload, payload);
            return;
        }
        assert!(Instant::now() < deadline, "nothing arrived on {subject}");
    }
}

/// [`deliver`] with a fixed payload.
pub async fn round_trip(
    publisher: &async_nats::Client,
    subscriber: &async_nats::Client,
    subject: &str,
) {
    deliver(publisher, subscriber, subject, "hello".into()).await;
}
