//! Operations a client sends. Every field borrows from the read buffer:
//! parsing copies nothing and touches no reference counts.

/// One parsed client operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT {json}`: the raw JSON.
    Connect(&'a [u8]),
    /// `PUB subject [reply] size` and its payload.
    Pub {
        /// Publish subject (not validated: nats-server only checks it in pedantic mode).
        subject: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// The payload, without the trailing CRLF.
        payload: &'a [u8],
    },
    /// `HPUB subject [reply] header_size total_size` and headers + payload.
    HPub {
        /// Publish subject.
        subject: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// Length of the header block at the front of `message`.
        header_len: usize,
        /// Headers then payload, without the trailing CRLF.
        message: &'a [u8],
    },
    /// `SUB subject [queue] sid`.
    Sub {
        /// Subject, possibly with wildcards; validated by the server.
        subject: &'a [u8],
        /// Queue group.
        queue: Option<&'a [u8]>,
        /// Client-chosen subscription id.
        sid: &'a [u8],
    },
    /// `UNSUB sid [max]`.
    Unsub {
        /// Subscription id.
        sid: &'a [u8],
        /// Auto-unsubscribe after this many messages in total.
        max: Option<u64>,
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `INFO {json}` from a client: ignored by the server.
    Info(&'a [u8]),
    /// `+OK`.
    Ok,
    /// `-ERR text`.
    Err(&'a [u8]),
}
