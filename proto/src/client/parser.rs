//! Incremental parser for the client side of the NATS text protocol
//! (what a client sends to the server).
//!
//! Follows the tokio-util `Decoder` contract: [`ClientParser::decode`]
//! returns a complete op and consumes its bytes, `Ok(None)` when more bytes are
//! needed, or an error after which the stream is unusable. The scan position
//! and a parsed control line are kept between calls, so a partial line is
//! never rescanned and a payload that arrives in pieces is waited for without
//! reparsing its `PUB` line. Limits are checked against the declared sizes
//! before anything is buffered for them.

use bytes::{Buf, Bytes, BytesMut};

use super::ClientOp;

/// Why the stream cannot be parsed further. Each maps to nats-server's
/// reaction: see [`ParseError::client_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// An op nats-server does not accept from a client (includes `MSG`), or a
    /// payload not followed by CRLF.
    UnknownOperation,
    /// No line end within `max_control_line` bytes.
    ControlLineTooLong,
    /// `PUB`/`HPUB` declared more bytes than `max_payload`.
    PayloadTooLarge {
        /// Declared size.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// Wrong argument count or an unparsable number; nats-server closes the
    /// connection without an `-ERR` for these.
    BadArguments {
        /// The op whose arguments were wrong.
        op: &'static str,
    },
}

impl ParseError {
    /// The `-ERR` text nats-server sends before closing, if any.
    pub fn client_error(&self) -> Option<&'static str> {
        match self {
            ParseError::UnknownOperation => Some("Unknown Protocol Operation"),
            ParseError::ControlLineTooLong => Some("maximum control line exceeded"),
            ParseError::PayloadTooLarge { .. } => Some("Maximum Payload Violation"),
            ParseError::BadArguments { .. } => None,
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::UnknownOperation => write!(f, "unknown protocol operation"),
            ParseError::ControlLineTooLong => write!(f, "maximum control line exceeded"),
            ParseError::PayloadTooLarge { size, max } => {
                write!(f, "payload of {size} bytes exceeds max_payload {max}")
            }
            ParseError::BadArguments { op } => write!(f, "bad arguments for {op}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// A `PUB`/`HPUB` control line whose payload has not fully arrived yet.
#[derive(Debug)]
struct PendingPayload {
    subject: Bytes,
    reply: Option<Bytes>,
    /// `Some(header bytes)` for HPUB.
    header_len: Option<usize>,
    /// Payload bytes (headers included), without the trailing CRLF.
    total_len: usize,
}

/// Parser state kept between reads of one connection.
#[derive(Debug)]
pub struct ClientParser {
    max_control_line: usize,
    max_payload: usize,
    /// Bytes at the front of the buffer already searched for a line end.
    scanned: usize,
    /// Set while waiting for a payload.
    pending: Option<PendingPayload>,
}

impl ClientParser {
    /// A parser enforcing these limits (bytes).
    pub fn new(max_control_line: usize, max_payload: usize) -> Self {
        ClientParser {
            max_control_line,
            max_payload,
            scanned: 0,
            pending: None,
        }
    }

    /// Change the payload limit (config reload).
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload;
    }

    /// Bytes the buffer must hold before the next op can complete, when
    /// known: lets the reader reserve a large payload in one step.
    pub fn bytes_needed(&self) -> Option<usize> {
        self.pending.as_ref().map(|p| p.total_len + 2)
    }

    /// Parse the next complete op from the front of `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ParseError> {
        loop {
            if let Some(pending) = &self.pending {
                return self.decode_payload(buf, pending.total_len);
            }
            let Some(line_end) = self.find_line_end(buf)? else {
                return Ok(None);
            };
            let mut line = buf.split_to(line_end + 1);
            self.scanned = 0;
            // Strip "\n" or "\r\n".
            line.truncate(line.len() - 1);
            if line.last() == Some(&b'\r') {
                line.truncate(line.len() - 1);
            }
            match self.parse_control_line(line.freeze())? {
                Some(op) => return Ok(Some(op)),
                // A PUB/HPUB line: loop round to wait for or take its payload.
                None => continue,
            }
        }
    }

    fn find_line_end(&mut self, buf: &BytesMut) -> Result<Option<usize>, ParseError> {
        match memchr::memchr(b'\n', &buf[self.scanned..]) {
            Some(offset) => {
                let end = self.scanned + offset;
                if end > self.max_control_line {
                    return Err(ParseError::ControlLineTooLong);
                }
                Ok(Some(end))
            }
            None => {
                self.scanned = buf.len();
                if buf.len() > self.max_control_line {
                    return Err(ParseError::ControlLineTooLong);
                }
                Ok(None)
            }
        }
    }

    fn decode_payload(
        &mut self,
        buf: &mut BytesMut,
        total_len: usize,
    ) -> Result<Option<ClientOp>, ParseError> {
        if buf.len() < total_len + 2 {
            return Ok(None);
        }
        if &buf[total_len..total_len + 2] != b"\r\n" {
            return Err(ParseError::UnknownOperation);
        }
        let payload = buf.split_to(total_len).freeze();
        buf.advance(2);
        let Some(pending) = self.pending.take() else {
            return Ok(None);
        };
        Ok(Some(match pending.header_len {
            None => ClientOp::Pub {
                subject: pending.subject,
                reply: pending.reply,
                payload,
            },
            Some(header_len) => ClientOp::HPub {
                subject: pending.subject,
                reply: pending.reply,
                header_len,
                message: payload,
            },
        }))
    }

    /// Parse one control line (without its line end). Returns `None` for a
    /// PUB/HPUB line, whose payload is then awaited.
    fn parse_control_line(&mut self, line: Bytes) -> Result<Option<ClientOp>, ParseError> {
        let op_end = line
            .iter()
            .position(|b| *b == b' ' || *b == b'\t')
            .unwrap_or(line.len());
        let op = &line[..op_end];
        let rest_start = skip_blanks(&line, op_end);
        let rest = line.slice(rest_start..);

        if op.eq_ignore_ascii_case(b"PUB") {
            self.parse_pub(&rest).map(|()| None)
        } else if op.eq_ignore_ascii_case(b"HPUB") {
            self.parse_hpub(&rest).map(|()| None)
        } else if op.eq_ignore_ascii_case(b"SUB") {
            parse_sub(&rest).map(Some)
        } else if op.eq_ignore_ascii_case(b"UNSUB") {
            parse_unsub(&rest).map(Some)
        } else if op.eq_ignore_ascii_case(b"PING") {
            no_args(&rest, ClientOp::Ping)
        } else if op.eq_ignore_ascii_case(b"PONG") {
            no_args(&rest, ClientOp::Pong)
        } else if op.eq_ignore_ascii_case(b"CONNECT") {
            Ok(Some(ClientOp::Connect(rest)))
        } else if op.eq_ignore_ascii_case(b"INFO") {
            Ok(Some(ClientOp::Info(rest)))
        } else if op.eq_ignore_ascii_case(b"+OK") {
            no_args(&rest, ClientOp::Ok)
        } else if op.eq_ignore_ascii_case(b"-ERR") {
            Ok(Some(ClientOp::Err(rest)))
        } else {
            Err(ParseError::UnknownOperation)
        }
    }

    fn parse_pub(&mut self, rest: &Bytes) -> Result<(), ParseError> {
        const OP: &str = "PUB";
        let args = split_args::<3>(rest).ok_or(ParseError::BadArguments { op: OP })?;
        let (subject, reply, size) = match args.as_slice() {
            [subject, size] => (subject.clone(), None, size),
            [subject, reply, size] => (subject.clone(), Some(reply.clone()), size),
            _ => return Err(ParseError::BadArguments { op: OP }),
        };
        let total_len = parse_size(size).ok_or(ParseError::BadArguments { op: OP })?;
        self.check_payload(total_len)?;
        self.pending = Some(PendingPayload {
            subject,
            reply,
            header_len: None,
            total_len,
        });
        Ok(())
    }

    fn parse_hpub(&mut self, rest: &Bytes) -> Result<(), ParseError> {
        const OP: &str = "HPUB";
        let args = split_args::<4>(rest).ok_or(ParseError::BadArguments { op: OP })?;
        let (subject, reply, header_size, total_size) = match args.as_slice() {
            [subject, header, total] => (subject.clone(), None, header, total),
            [subject, reply, header, total] => (subject.clone(), Some(reply.clone()), header, total),
            _ => return Err(ParseError::BadArguments { op: OP }),
        };
        let header_len = parse_size(header_size).ok_or(ParseError::BadArguments { op: OP })?;
        let total_len = parse_size(total_size).ok_or(ParseError::BadArguments { op: OP })?;
        if header_len > total_len {
            return Err(ParseError::BadArguments { op: OP });
        }
        self.check_payload(total_len)?;
        self.pending = Some(PendingPayload {
            subject,
            reply,
            header_len: Some(header_len),
            total_len,
        });
        Ok(())
    }

    fn check_payload(&self, size: usize) -> Result<(), ParseError> {
        if size > self.max_payload {
            return Err(ParseError::PayloadTooLarge {
                size,
                max: self.max_payload,
            });
        }
        Ok(())
    }
}

fn parse_sub(rest: &Bytes) -> Result<ClientOp, ParseError> {
    const OP: &str = "SUB";
    let args = split_args::<3>(rest).ok_or(ParseError::BadArguments { op: OP })?;
    match args.as_slice() {
        [subject, sid] => Ok(ClientOp::Sub {
            subject: subject.clone(),
            queue: None,
            sid: sid.clone(),
        }),
        [subject, queue, sid] => Ok(ClientOp::Sub {
            subject: subject.clone(),
            queue: Some(queue.clone()),
            sid: sid.clone(),
        }),
        _ => Err(ParseError::BadArguments { op: OP }),
    }
}

fn parse_unsub(rest: &Bytes) -> Result<ClientOp, ParseError> {
    const OP: &str = "UNSUB";
    let args = split_args::<2>(rest).ok_or(ParseError::BadArguments { op: OP })?;
    match args.as_slice() {
        [sid] => Ok(ClientOp::Unsub {
            sid: sid.clone(),
            max: None,
        }),
        [sid, max] => Ok(ClientOp::Unsub {
            sid: sid.clone(),
            max: Some(parse_size(max).ok_or(ParseError::BadArguments { op: OP })? as u64),
        }),
        _ => Err(ParseError::BadArguments { op: OP }),
    }
}

fn no_args(rest: &Bytes, op: ClientOp) -> Result<Option<ClientOp>, ParseError> {
    if rest.iter().all(|b| *b == b' ' || *b == b'\t') {
        Ok(Some(op))
    } else {
        Err(ParseError::UnknownOperation)
    }
}

fn skip_blanks(line: &[u8], mut at: usize) -> usize {
    while at < line.len() && (line[at] == b' ' || line[at] == b'\t') {
        at += 1;
    }
    at
}

/// Split on runs of spaces/tabs into at most `N` arguments, as zero-copy
/// slices. `None` if there are more than `N`.
fn split_args<const N: usize>(rest: &Bytes) -> Option<ArgList<N>> {
    let mut args = ArgList::new();
    let mut at = 0;
    while at < rest.len() {
        let start = at;
        while at < rest.len() && rest[at] != b' ' && rest[at] != b'\t' {
            at += 1;
        }
        if !args.push(rest.slice(start..at)) {
            return None;
        }
        at = skip_blanks(rest, at);
    }
    Some(args)
}

/// A fixed-capacity argument list, so splitting allocates nothing.
struct ArgList<const N: usize> {
    items: [Bytes; N],
    len: usize,
}

impl<const N: usize> ArgList<N> {
    fn new() -> Self {
        ArgList {
            items: std::array::from_fn(|_| Bytes::new()),
            len: 0,
        }
    }

    fn push(&mut self, arg: Bytes) -> bool {
        if self.len == N {
            return false;
        }
        self.items[self.len] = arg;
        self.len += 1;
        true
    }

    fn as_slice(&self) -> &[Bytes] {
        &self.items[..self.len]
    }
}

/// A non-negative decimal size; `None` for anything else or overflow.
fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut value: usize = 0;
    for digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(usize::from(digit - b'0'))?;
    }
    Some(value)
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
