//! Why a route closed: one enum for logs, Close frames and monitoring.

use std::fmt;

/// Every reason this node closes a route (or refuses a route connection).
/// The string form is what goes into the `Close` frame; the peer matches
/// `DuplicateRoute` and `SelfRoute` on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// This node is shutting down.
    ServerShutdown,
    /// Another route to the same node is kept (the one dialed by the node
    /// with the smaller id, or the one already live).
    DuplicateRoute,
    /// The route reached this node itself.
    SelfRoute,
    /// Cluster names differ and neither side may adopt the other's.
    ClusterNameConflict,
    /// The dialer's route credentials are missing or wrong.
    AuthenticationFailed,
    /// Wrong magic number in the peer's Hello: not a Starling route.
    ProtocolMismatch,
    /// The peer speaks another route protocol version (for example a node
    /// from before accounts rode the routes).
    VersionMismatch,
    /// The handshake did not complete within `handshake_timeout`.
    HandshakeTimeout,
    /// An undecodable, oversized or unexpected frame.
    ProtocolError,
    /// More than `ping_max` pings went unanswered.
    StaleConnection,
    /// The outbound queue went past `max_pending`.
    SlowRoute,
    /// A write blocked longer than the write deadline.
    WriteDeadline,
    /// The peer sent a Close frame.
    RemoteClosed,
    /// The connection ended or failed (EOF, reset, write error).
    ConnectionClosed,
    /// The node with the smaller id confirmed a newer route to the same node.
    Replaced,
    /// The broker asked for it ([`crate::Peer::close`]).
    Requested,
}

impl CloseReason {
    /// The reason as sent in a Close frame and logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerShutdown => "server shutdown",
            Self::DuplicateRoute => "duplicate route",
            Self::SelfRoute => "self route",
            Self::ClusterNameConflict => "cluster name conflict",
            Self::AuthenticationFailed => "authentication failure",
            Self::ProtocolMismatch => "route protocol mismatch",
            Self::VersionMismatch => starling_proto::route::UNSUPPORTED_VERSION,
            Self::HandshakeTimeout => "handshake timeout",
            Self::ProtocolError => "route protocol error",
            Self::StaleConnection => "stale connection",
            Self::SlowRoute => "slow route",
            Self::WriteDeadline => "slow route (write deadline)",
            Self::RemoteClosed => "closed by peer",
            Self::ConnectionClosed => "connection closed",
            Self::Replaced => "replaced by a newer route",
            Self::Requested => "closed by server",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
