//! Operations a client sends. Every field is a zero-copy slice of the read
//! buffer.

use bytes::Bytes;

/// One parsed client operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT {json}`: the raw JSON.
    Connect(Bytes),
    /// `PUB subject [reply] size` and its payload.
    Pub {
        /// Publish subject (not validated: nats-server only checks it in pedantic mode).
        subject: Bytes,
        /// Reply subject.
        reply: Option<Bytes>,
        /// The payload, without the trailing CRLF.
        payload: Bytes,
    },
    /// `HPUB subject [reply] header_size total_size` and headers + payload.
    HPub {
        /// Publish subject.
        subject: Bytes,
        /// Reply subject.
        reply: Option<Bytes>,
        /// Length of the header block at the front of `message`.
        header_len: usize,
        /// Headers then payload, without the trailing CRLF.
        message: Bytes,
    },
    /// `SUB subject [queue] sid`.
    Sub {
        /// Subject, possibly with wildcards; validated by the server.
        subject: Bytes,
        /// Queue group.
        queue: Option<Bytes>,
        /// Client-chosen subscription id.
        sid: Bytes,
    },
    /// `UNSUB sid [max]`.
    Unsub {
        /// Subscription id.
        sid: Bytes,
        /// Auto-unsubscribe after this many messages in total.
        max: Option<u64>,
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `INFO {json}` from a client: ignored by the server.
    Info(Bytes),
    /// `+OK`.
    Ok,
    /// `-ERR text`.
    Err(Bytes),
}
