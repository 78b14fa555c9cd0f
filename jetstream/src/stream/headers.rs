//! The publish headers a stream interprets, read from the raw NATS header
//! block (`NATS/1.0\r\nName: value\r\n...\r\n\r\n`).

/// Duplicate detection id.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// The stream the publisher expects to store the message.
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
/// The stream's last sequence must be this.
pub const EXPECTED_LAST_SEQUENCE: &str = "Nats-Expected-Last-Sequence";
/// The last sequence on the subject must be this (0: no message yet).
pub const EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
/// The subject `EXPECTED_LAST_SUBJECT_SEQUENCE` is about (2.11), if not
/// the publish subject.
pub const EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT: &str =
    "Nats-Expected-Last-Subject-Sequence-Subject";
/// The last message id the stream stored must be this.
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
/// `sub` or `all`: after storing, remove the older messages of the
/// subject / the stream.
pub const ROLLUP: &str = "Nats-Rollup";
/// Per-message time to live.
pub const TTL: &str = "Nats-TTL";
/// The atomic batch a message belongs to (ADR-50).
pub const BATCH_ID: &str = "Nats-Batch-Id";
/// The message's place in its batch, from 1.
pub const BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
/// `1`: commit the batch with this message; `eob`: commit the batch
/// without storing this message.
pub const BATCH_COMMIT: &str = "Nats-Batch-Commit";

/// The value of the first header called `name` (case-insensitive),
/// trimmed; None when absent or the block is not a NATS header block.
pub fn header_value<'a>(block: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(block).ok()?;
    let mut lines = text.split("\r\n");
    if !lines.next()?.starts_with("NATS/") {
        return None;
    }
    lines.find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_case_insensitively() {
        let block = b"NATS/1.0\r\nNats-Msg-Id: m1\r\nnats-expected-last-sequence:  7 \r\n\r\n";
        assert_eq!(header_value(block, MSG_ID), Some("m1"));
        assert_eq!(header_value(block, EXPECTED_LAST_SEQUENCE), Some("7"));
        assert_eq!(header_value(block, ROLLUP), None);
        assert_eq!(header_value(b"", MSG_ID), None);
        assert_eq!(header_value(b"garbage\r\nNats-Msg-Id: x\r\n", MSG_ID), None);
    }
}
