//! The INFO a client receives, and the server id.

use rand::RngExt;
use serde::Serialize;

/// The nats-server version whose client protocol and limits Starling
/// implements. Clients gate features on this field (headers, no_responders
/// need 2.2+), so it carries the NATS version, not Starling's own.
pub const NATS_COMPATIBLE_VERSION: &str = "2.10.0";

/// Value of INFO's `go` field (nats-server reports its Go runtime there).
pub const GO_FIELD: &str = concat!("starling ", env!("CARGO_PKG_VERSION"));

/// Starling's own version.
pub const STARLING_VERSION: &str = env!("CARGO_PKG_VERSION");

/// INFO for a client connection, with nats-server's field names and
/// omissions (`auth_required`, `tls_required`, `tls_verify` and `ldm` only
/// when true, `nonce` only when set).
#[derive(Debug, Serialize)]
pub struct ClientInfo<'a> {
    /// Server id.
    pub server_id: &'a str,
    /// Server name.
    pub server_name: &'a str,
    /// See [`NATS_COMPATIBLE_VERSION`].
    pub version: &'a str,
    /// Protocol level (1: async INFO, echo).
    pub proto: u8,
    /// See [`GO_FIELD`].
    pub go: &'a str,
    /// Client listener host.
    pub host: &'a str,
    /// Client listener port.
    pub port: u16,
    /// Headers supported.
    pub headers: bool,
    /// Largest payload.
    pub max_payload: usize,
    /// This connection's id.
    pub client_id: u64,
    /// This connection's address as the server sees it.
    pub client_ip: String,
    /// Clients must authenticate.
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    /// Clients must upgrade to TLS (or have done the handshake first).
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    /// Clients must present a certificate the server verifies.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    /// A fresh random string an NKey client signs (only when NKey users
    /// exist, and only in the first INFO of a connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    /// Cluster name, when clustered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<&'a str>,
    /// Client URLs of every cluster member (this one included).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// The server is in lame duck mode.
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    /// JetStream is enabled (nats-server's `jetstream`).
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A random id shaped like nats-server's (an nkey server public key:
/// `N` and 55 base32 characters).
pub fn generate_server_id() -> String {
    const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 0..55 {
        id.push(BASE32[rng.random_range(0..BASE32.len())] as char);
    }
    id
}
