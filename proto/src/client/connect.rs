//! The `CONNECT` options a client sends (nats-server `ClientOpts`).

use serde::Deserialize;

/// Parsed `CONNECT` JSON. Absent booleans take nats-server's defaults:
/// verbose, pedantic and echo are **true** when missing (`defaultOpts`).
/// Clients such as async-nats send `null` for unset strings, hence `Option`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConnectInfo {
    /// Ack every op with `+OK`.
    pub verbose: bool,
    /// Strict checks (publish subjects).
    pub pedantic: bool,
    /// The client wants TLS.
    pub tls_required: bool,
    /// Deliver the connection's own publishes to its own subscriptions.
    pub echo: bool,
    /// The client understands `HMSG`.
    pub headers: bool,
    /// The client wants a 503 status when a request has no responders.
    pub no_responders: bool,
    /// Protocol level (0 or 1).
    pub protocol: i64,
    /// Client name.
    pub name: Option<String>,
    /// Client library language.
    pub lang: Option<String>,
    /// Client library version.
    pub version: Option<String>,
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub pass: Option<String>,
    /// Token.
    pub auth_token: Option<String>,
    /// NKey public key.
    pub nkey: Option<String>,
    /// Signature of the server nonce.
    pub sig: Option<String>,
    /// User JWT.
    pub jwt: Option<String>,
}

impl Default for ConnectInfo {
    fn default() -> Self {
        ConnectInfo {
            verbose: true,
            pedantic: true,
            tls_required: false,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: None,
            lang: None,
            version: None,
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
            jwt: None,
        }
    }
}

/// Why a CONNECT was refused.
#[derive(Debug)]
pub enum ConnectError {
    /// Not valid JSON or wrong field types: closed without `-ERR`.
    Json(serde_json::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Json(e) => write!(f, "malformed CONNECT: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl ConnectInfo {
    /// Parse the JSON after `CONNECT `. Boolean fields given as `null`
    /// keep their defaults.
    pub fn parse(json: &[u8]) -> Result<ConnectInfo, ConnectError> {
        // Strip nulls first so that `"verbose": null` means "absent".
        let value: serde_json::Value = serde_json::from_slice(json).map_err(ConnectError::Json)?;
        let value = match value {
            serde_json::Value::Object(map) => {
                serde_json::Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
            }
            other => other,
        };
        serde_json::from_value(value).map_err(ConnectError::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_connect_takes_nats_server_defaults() {
        let info = ConnectInfo::parse(b"{}").unwrap();
        assert!(info.verbose && info.pedantic && info.echo);
        assert!(!info.headers && !info.no_responders);
    }

    #[test]
    fn async_nats_connect_with_nulls_parses() {
        let json = br#"{"verbose":false,"pedantic":false,"jwt":null,"nkey":null,"signature":null,"name":null,"echo":true,"lang":"rust","version":"0.51.0","protocol":1,"tls_required":false,"user":null,"pass":null,"auth_token":null,"headers":true,"no_responders":true}"#;
        let info = ConnectInfo::parse(json).unwrap();
        assert!(!info.verbose);
        assert!(info.headers && info.no_responders && info.echo);
        assert_eq!(info.protocol, 1);
        assert_eq!(info.lang.as_deref(), Some("rust"));
    }

    #[test]
    fn malformed_connect_is_an_error() {
        assert!(ConnectInfo::parse(b"{verbose").is_err());
        assert!(ConnectInfo::parse(br#"{"verbose":"yes"}"#).is_err());
    }
}
