//! Encoders for what the server sends to a client.

use bytes::{BufMut, BytesMut};

/// `+OK\r\n`.
pub const OK: &[u8] = b"+OK\r\n";
/// `PING\r\n`.
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`.
pub const PONG: &[u8] = b"PONG\r\n";

/// Bytes a `MSG`/`HMSG` for these parts takes, to reserve once.
pub fn msg_len(subject: &[u8], sid: &[u8], reply: Option<&[u8]>, message_len: usize) -> usize {
    // "HMSG " + spaces + two sizes (<= 20 digits each) + CRLF twice.
    5 + subject.len() + 1 + sid.len() + 1 + reply.map_or(0, |r| r.len() + 1) + 42 + message_len + 4
}

/// `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`.
pub fn encode_msg(
    buf: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    payload: &[u8],
) {
    buf.reserve(msg_len(subject, sid, reply, payload.len()));
    buf.put_slice(b"MSG ");
    put_head(buf, subject, sid, reply);
    put_decimal(buf, payload.len());
    buf.put_slice(b"\r\n");
    buf.put_slice(payload);
    buf.put_slice(b"\r\n");
}

/// `HMSG <subject> <sid> [reply] <hdr> <total>\r\n<headers><payload>\r\n`,
/// where `message` is the header block followed by the payload.
pub fn encode_hmsg(
    buf: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_len: usize,
    message: &[u8],
) {
    buf.reserve(msg_len(subject, sid, reply, message.len()));
    buf.put_slice(b"HMSG ");
    put_head(buf, subject, sid, reply);
    put_decimal(buf, header_len);
    buf.put_u8(b' ');
    put_decimal(buf, message.len());
    buf.put_slice(b"\r\n");
    buf.put_slice(message);
    buf.put_slice(b"\r\n");
}

/// The header block of a no-responders status (`NATS/1.0 503`).
pub const NO_RESPONDERS_HEADER: &[u8] = b"NATS/1.0 503\r\n\r\n";

/// `-ERR '<text>'\r\n`.
pub fn encode_err(buf: &mut BytesMut, text: &str) {
    buf.reserve(text.len() + 9);
    buf.put_slice(b"-ERR '");
    buf.put_slice(text.as_bytes());
    buf.put_slice(b"'\r\n");
}

/// `INFO <json>\r\n`.
pub fn encode_info(buf: &mut BytesMut, json: &[u8]) {
    buf.reserve(json.len() + 7);
    buf.put_slice(b"INFO ");
    buf.put_slice(json);
    buf.put_slice(b"\r\n");
}

fn put_head(buf: &mut BytesMut, subject: &[u8], sid: &[u8], reply: Option<&[u8]>) {
    buf.put_slice(subject);
    buf.put_u8(b' ');
    buf.put_slice(sid);
    buf.put_u8(b' ');
    if let Some(reply) = reply {
        buf.put_slice(reply);
        buf.put_u8(b' ');
    }
}

/// Write `value` in decimal without going through `fmt`.
pub fn put_decimal(buf: &mut BytesMut, mut value: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf.put_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_and_hmsg_match_the_wire_format() {
        let mut buf = BytesMut::new();
        encode_msg(&mut buf, b"foo.bar", b"7", None, b"hello");
        assert_eq!(&buf[..], b"MSG foo.bar 7 5\r\nhello\r\n");
        buf.clear();
        encode_msg(&mut buf, b"a", b"1", Some(b"_INBOX.x"), b"");
        assert_eq!(&buf[..], b"MSG a 1 _INBOX.x 0\r\n\r\n");
        buf.clear();
        encode_hmsg(&mut buf, b"_INBOX.x", b"5", None, 16, NO_RESPONDERS_HEADER);
        assert_eq!(
            &buf[..],
            b"HMSG _INBOX.x 5 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
        );
        buf.clear();
        encode_err(&mut buf, "Stale Connection");
        assert_eq!(&buf[..], b"-ERR 'Stale Connection'\r\n");
    }

    #[test]
    fn decimal_edges() {
        for v in [0usize, 9, 10, 1_048_576, usize::MAX] {
            let mut buf = BytesMut::new();
            put_decimal(&mut buf, v);
            assert_eq!(&buf[..], v.to_string().as_bytes());
        }
    }
}
