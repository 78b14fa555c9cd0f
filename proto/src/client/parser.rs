//! Incremental parser for the client side of the NATS text protocol
//! (what a client sends to the server).
//!
//! Close to the tokio-util `Decoder` contract, but borrowing:
//! [`ClientParser::parse`] returns a complete op, borrowed from the input,
//! with the number of bytes it took; `Ok(None)` when more bytes are needed;
//! an error after which the stream is unusable. Borrowing keeps the hot path
//! free of allocation and reference counting (measured: splitting `Bytes`
//! per op cost about 40% of a publisher's CPU). The scan position and a
//! parsed control line are kept between calls, so a partial line is never
//! rescanned and a payload that arrives in pieces is waited for without
//! reparsing its `PUB` line. Limits are checked against the declared sizes
//! before anything is buffered for them.

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

/// Where a part of the control line sits, relative to the op's start.
type Span = std::ops::Range<usize>;

/// A `PUB`/`HPUB` control line whose payload has not fully arrived yet.
/// Spans stay valid because the caller does not consume bytes until the
/// op completes.
#[derive(Debug, Clone)]
struct PendingPayload {
    /// Bytes of the control line, line end included.
    line_len: usize,
    subject: Span,
    reply: Option<Span>,
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
    /// Bytes at the front of the unconsumed input already searched for a
    /// line end.
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

    /// Bytes the unconsumed input must hold before the next op can
    /// complete, when known: lets the reader reserve a large payload at once.
    pub fn bytes_needed(&self) -> Option<usize> {
        self.pending.as_ref().map(|p| p.line_len + p.total_len + 2)
    }

    /// Parse the next complete op at the front of `input` (the bytes not yet
    /// consumed). Returns the op, borrowing from `input`, and how many bytes
    /// it took; the caller consumes exactly that many before calling again.
    /// `Ok(None)`: more bytes are needed, and the same unconsumed bytes (plus
    /// more) must be passed next time.
    pub fn parse<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<Option<(ClientOp<'a>, usize)>, ParseError> {
        if let Some(pending) = &self.pending {
            return self.take_payload(input, pending.clone());
        }
        let Some(line_end) = self.find_line_end(input)? else {
            return Ok(None);
        };
        self.scanned = 0;
        let mut line = &input[..line_end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        match self.parse_control_line(line, line_end + 1)? {
            Some(op) => Ok(Some((op, line_end + 1))),
            None => match self.pending.clone() {
                Some(pending) => self.take_payload(input, pending),
                None => Ok(None),
            },
        }
    }

    fn find_line_end(&mut self, input: &[u8]) -> Result<Option<usize>, ParseError> {
        match memchr::memchr(b'\n', &input[self.scanned.min(input.len())..]) {
            Some(offset) => {
                let end = self.scanned + offset;
                if end > self.max_control_line {
                    return Err(ParseError::ControlLineTooLong);
                }
                Ok(Some(end))
            }
            None => {
                self.scanned = input.len();
                if input.len() > self.max_control_line {
                    return Err(ParseError::ControlLineTooLong);
                }
                Ok(None)
            }
        }
    }

    fn take_payload<'a>(
        &mut self,
        input: &'a [u8],
        pending: PendingPayload,
    ) -> Result<Option<(ClientOp<'a>, usize)>, ParseError> {
        let start = pending.line_len;
        let end = start + pending.total_len;
        if input.len() < end + 2 {
            return Ok(None);
        }
        if &input[end..end + 2] != b"\r\n" {
            return Err(ParseError::UnknownOperation);
        }
        self.pending = None;
        let subject = &input[pending.subject];
        let reply = pending.reply.map(|span| &input[span]);
        let payload = &input[start..end];
        let op = match pending.header_len {
            None => ClientOp::Pub {
                subject,
                reply,
                payload,
            },
            Some(header_len) => ClientOp::HPub {
                subject,
                reply,
                header_len,
                message: payload,
            },
        };
        Ok(Some((op, end + 2)))
    }

    /// Parse one control line (without its line end). Returns `None` for a
    /// PUB/HPUB line, whose payload is then awaited.
    fn parse_control_line<'a>(
        &mut self,
        line: &'a [u8],
        line_len: usize,
    ) -> Result<Option<ClientOp<'a>>, ParseError> {
        let op_end = line
            .iter()
            .position(|b| *b == b' ' || *b == b'\t')
            .unwrap_or(line.len());
        let op = &line[..op_end];
        let rest_start = skip_blanks(line, op_end);
        let rest = &line[rest_start..];

        // Dispatch on length first: PUB is by far the most common op.
        if op.len() == 3 && op.eq_ignore_ascii_case(b"PUB") {
            self.parse_pub(line, rest_start, line_len).map(|()| None)
        } else if op.eq_ignore_ascii_case(b"HPUB") {
            self.parse_hpub(line, rest_start, line_len).map(|()| None)
        } else if op.eq_ignore_ascii_case(b"SUB") {
            parse_sub(rest).map(Some)
        } else if op.eq_ignore_ascii_case(b"UNSUB") {
            parse_unsub(rest).map(Some)
        } else if op.eq_ignore_ascii_case(b"PING") {
            no_args(rest, ClientOp::Ping)
        } else if op.eq_ignore_ascii_case(b"PONG") {
            no_args(rest, ClientOp::Pong)
        } else if op.eq_ignore_ascii_case(b"CONNECT") {
            Ok(Some(ClientOp::Connect(rest)))
        } else if op.eq_ignore_ascii_case(b"INFO") {
            Ok(Some(ClientOp::Info(rest)))
        } else if op.eq_ignore_ascii_case(b"+OK") {
            no_args(rest, ClientOp::Ok)
        } else if op.eq_ignore_ascii_case(b"-ERR") {
            Ok(Some(ClientOp::Err(rest)))
        } else {
            Err(ParseError::UnknownOperation)
        }
    }

    fn parse_pub(
        &mut self,
        line: &[u8],
        rest_start: usize,
        line_len: usize,
    ) -> Result<(), ParseError> {
        const OP: &str = "PUB";
        let args = split_spans::<3>(line, rest_start).ok_or(ParseError::BadArguments { op: OP })?;
        let (subject, reply, size) = match args.as_slice() {
            [subject, size] => (subject.clone(), None, size),
            [subject, reply, size] => (subject.clone(), Some(reply.clone()), size),
            _ => return Err(ParseError::BadArguments { op: OP }),
        };
        let total_len =
            parse_size(&line[size.clone()]).ok_or(ParseError::BadArguments { op: OP })?;
        self.check_payload(total_len)?;
        self.pending = Some(PendingPayload {
            line_len,
            subject,
            reply,
            header_len: None,
            total_len,
        });
        Ok(())
    }

    fn parse_hpub(
        &mut self,
        line: &[u8],
        rest_start: usize,
        line_len: usize,
    ) -> Result<(), ParseError> {
        const OP: &str = "HPUB";
        let args = split_spans::<4>(line, rest_start).ok_or(ParseError::BadArguments { op: OP })?;
        let (subject, reply, header_size, total_size) = match args.as_slice() {
            [subject, header, total] => (subject.clone(), None, header, total),
            [subject, reply, header, total] => {
                (subject.clone(), Some(reply.clone()), header, total)
            }
            _ => return Err(ParseError::BadArguments { op: OP }),
        };
        let header_len =
            parse_size(&line[header_size.clone()]).ok_or(ParseError::BadArguments { op: OP })?;
        let total_len =
            parse_size(&line[total_size.clone()]).ok_or(ParseError::BadArguments { op: OP })?;
        if header_len > total_len {
            return Err(ParseError::BadArguments { op: OP });
        }
        self.check_payload(total_len)?;
        self.pending = Some(PendingPayload {
            line_len,
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

fn parse_sub(rest: &[u8]) -> Result<ClientOp<'_>, ParseError> {
    const OP: &str = "SUB";
    let args = split_spans::<3>(rest, 0).ok_or(ParseError::BadArguments { op: OP })?;
    match args.as_slice() {
        [subject, sid] => Ok(ClientOp::Sub {
            subject: &rest[subject.clone()],
            queue: None,
            sid: &rest[sid.clone()],
        }),
        [subject, queue, sid] => Ok(ClientOp::Sub {
            subject: &rest[subject.clone()],
            queue: Some(&rest[queue.clone()]),
            sid: &rest[sid.clone()],
        }),
        _ => Err(ParseError::BadArguments { op: OP }),
    }
}

fn parse_unsub(rest: &[u8]) -> Result<ClientOp<'_>, ParseError> {
    const OP: &str = "UNSUB";
    let args = split_spans::<2>(rest, 0).ok_or(ParseError::BadArguments { op: OP })?;
    match args.as_slice() {
        [sid] => Ok(ClientOp::Unsub {
            sid: &rest[sid.clone()],
            max: None,
        }),
        [sid, max] => Ok(ClientOp::Unsub {
            sid: &rest[sid.clone()],
            max: Some(
                parse_size(&rest[max.clone()]).ok_or(ParseError::BadArguments { op: OP })? as u64,
            ),
        }),
        _ => Err(ParseError::BadArguments { op: OP }),
    }
}

fn no_args<'a>(rest: &[u8], op: ClientOp<'a>) -> Result<Option<ClientOp<'a>>, ParseError> {
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

/// Split `line[from..]` on runs of spaces/tabs into at most `N` argument
/// spans (relative to `line`). `None` if there are more than `N`.
fn split_spans<const N: usize>(line: &[u8], from: usize) -> Option<SpanList<N>> {
    let mut args = SpanList::new();
    let mut at = skip_blanks(line, from);
    while at < line.len() {
        let start = at;
        while at < line.len() && line[at] != b' ' && line[at] != b'\t' {
            at += 1;
        }
        if !args.push(start..at) {
            return None;
        }
        at = skip_blanks(line, at);
    }
    Some(args)
}

/// A fixed-capacity list of spans, so splitting allocates nothing.
struct SpanList<const N: usize> {
    items: [Span; N],
    len: usize,
}

impl<const N: usize> SpanList<N> {
    fn new() -> Self {
        SpanList {
            items: std::array::from_fn(|_| 0..0),
            len: 0,
        }
    }

    fn push(&mut self, span: Span) -> bool {
        if self.len == N {
            return false;
        }
        self.items[self.len] = span;
        self.len += 1;
        true
    }

    fn as_slice(&self) -> &[Span] {
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
        value = value
            .checked_mul(10)?
            .checked_add(usize::from(digit - b'0'))?;
    }
    Some(value)
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
