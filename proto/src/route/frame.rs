//! Route frames as validated domain types. The generated prost types stay
//! private to this module tree; they convert to and from these at the
//! boundary (see `convert.rs`).

use bytes::Bytes;

/// Magic number opening every `Hello`: "STLG".
pub const ROUTE_MAGIC: u32 = 0x5354_4C47;
/// Route protocol version; a peer speaking another is refused.
/// Version 2: interest and messages carry their account.
pub const ROUTE_PROTOCOL_VERSION: u32 = 2;
/// Why a peer with another protocol version is refused.
pub const UNSUPPORTED_VERSION: &str =
    "unsupported route protocol version (this node speaks version 2: accounts on routes)";
/// Largest route frame, in bytes (a 1 MiB payload plus subjects and headers
/// fits many times over; nats-server's max_payload ceiling is 64 MiB).
pub const MAX_ROUTE_FRAME: usize = 68 * 1024 * 1024;

/// One frame on a route connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteFrame {
    /// First frame of each side.
    Hello(Hello),
    /// The members the sender knows (itself included).
    Members(Vec<Member>),
    /// Interest changes of the sender's local clients.
    Interest(Vec<InterestChange>),
    /// A message for the receiver's local subscribers.
    Msg(RouteMsg),
    /// Liveness probe.
    Ping,
    /// Answer to `Ping`.
    Pong,
    /// The sender is closing the route, and why.
    Close(String),
    /// Asks for an [`RouteFrame::InterestAck`] once every Interest frame
    /// before this one is applied (only to peers with `Hello::interest_ack`).
    InterestSync {
        /// Interest frames the sender queued on this route before this one.
        seq: u64,
        /// The Interest frames before this one complete the sender's
        /// initial snapshot.
        snapshot_end: bool,
    },
    /// Every Interest frame before the InterestSync with this seq is applied.
    InterestAck(u64),
}

/// The handshake frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    /// Must be [`ROUTE_MAGIC`].
    pub magic: u32,
    /// Must be [`ROUTE_PROTOCOL_VERSION`].
    pub version: u32,
    /// The sender's server id (unique per process run).
    pub node_id: String,
    /// The sender's server name.
    pub node_name: String,
    /// The sender's cluster name.
    pub cluster_name: String,
    /// The cluster name was generated, not configured.
    pub cluster_dynamic: bool,
    /// Where the sender accepts routes (`nats-route://host:port`).
    pub route_url: String,
    /// Where the sender accepts clients (`host:port`), for connect_urls.
    pub client_urls: Vec<String>,
    /// Route credentials, when the dialer has them.
    pub user: Option<String>,
    /// See `user`.
    pub password: Option<String>,
    /// The sender is in lame duck mode.
    pub lame_duck: bool,
    /// Capability: the sender answers `InterestSync` with `InterestAck` and
    /// marks the end of its initial interest snapshot.
    pub interest_ack: bool,
    /// The sender reads frames after the Hellos with a varint length prefix
    /// ([`Framing::Compact`](super::Framing)) when both Hellos say so.
    pub compact_framing: bool,
    /// Size of the sender's table of interned subjects for the messages it
    /// receives; 0 = the peer must not intern.
    pub subject_table: u32,
}

impl Hello {
    /// Checks that the peer speaks this route protocol: the magic number and
    /// the protocol version. The reason is meant for the `Close` frame and
    /// the log. (Cluster name and credentials are the cluster's to check.)
    pub fn is_compatible(&self) -> Result<(), &'static str> {
        if self.magic != ROUTE_MAGIC {
            return Err("wrong magic number: not a Starling route");
        }
        if self.version != ROUTE_PROTOCOL_VERSION {
            return Err(UNSUPPORTED_VERSION);
        }
        Ok(())
    }
}

/// A cluster member as gossiped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Member {
    /// Server id.
    pub node_id: String,
    /// Server name.
    pub node_name: String,
    /// Where it accepts routes.
    pub route_url: String,
    /// Where it accepts clients.
    pub client_urls: Vec<String>,
    /// It is in lame duck mode (clients should not be sent there).
    pub lame_duck: bool,
}

/// A change of the sender's local interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterestChange {
    /// First local subscription on `subject` (plain), or a new member count
    /// for a queue group (`weight` = local members of the group).
    Subscribe {
        /// The account the interest is in (`$G` by default).
        account: String,
        /// Subject, possibly with wildcards.
        subject: String,
        /// Queue group.
        queue: Option<String>,
        /// Local member count for a queue group; 1 for plain interest.
        weight: u32,
    },
    /// The last local subscription on `subject` (and queue) went away.
    Unsubscribe {
        /// The account the interest is in.
        account: String,
        /// Subject.
        subject: String,
        /// Queue group.
        queue: Option<String>,
    },
}

/// A message forwarded over a route (one hop; never forwarded again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMsg {
    /// The account it was published in (`$G` by default).
    pub account: Bytes,
    /// Publish subject.
    pub subject: Bytes,
    /// Reply subject.
    pub reply: Option<Bytes>,
    /// Queue groups the receiver must serve (one local member each).
    pub queues: Vec<String>,
    /// `Some(header length)` when `payload` starts with a header block.
    pub header_len: Option<u32>,
    /// Headers (if any) then payload.
    pub payload: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Hello {
        Hello {
            magic: ROUTE_MAGIC,
            version: ROUTE_PROTOCOL_VERSION,
            node_id: "N1".to_owned(),
            ..Hello::default()
        }
    }

    #[test]
    fn hello_with_our_magic_and_version_is_compatible() {
        assert_eq!(hello().is_compatible(), Ok(()));
    }

    #[test]
    fn hello_with_wrong_magic_is_incompatible() {
        let hello = Hello {
            magic: 0x4E41_5453,
            ..hello()
        };
        assert!(hello.is_compatible().is_err());
    }

    #[test]
    fn hello_with_other_version_is_incompatible() {
        let hello = Hello {
            version: ROUTE_PROTOCOL_VERSION + 1,
            ..hello()
        };
        assert!(hello.is_compatible().is_err());
    }
}
