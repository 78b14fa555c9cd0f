//! The on-disk record: encoding, and a decoder that never panics on any
//! input (fuzz entry point: [`decode_record`]).
//!
//! ```text
//! offset size  field
//! 0      4     total record length, including this field and the checksum (LE)
//! 4      8     sequence (LE); bit 63 set = tombstone for that sequence
//! 12     8     timestamp, ns since the Unix epoch (LE, signed)
//! 20     1     flags: bit 0 = a TTL follows; bit 1 (with bit 63) = marker
//! 21     2     subject length (LE)
//! 23     4     header length (LE)
//! 27     8     TTL in ns (only with flag bit 0)
//! ..           subject, headers, payload (payload length = the rest)
//! len-4  4     CRC-32 (IEEE) of every byte before it
//! ```

/// Bit 63 of the sequence field marks a tombstone.
pub const TOMBSTONE_BIT: u64 = 1 << 63;
/// Largest sequence a record can hold (2^63 - 1): bit 63 is the tombstone
/// flag, so a larger one would be written as another sequence. Both stores
/// refuse to go past it ([`crate::StoreError::SequenceExhausted`]).
pub const MAX_SEQ: u64 = TOMBSTONE_BIT - 1;
/// Fixed header bytes before the optional TTL.
pub const HEADER_LEN: usize = 27;
/// Checksum bytes at the end of a record.
pub const CHECKSUM_LEN: usize = 4;
/// Smallest possible record (a tombstone).
pub const MIN_RECORD_LEN: usize = HEADER_LEN + CHECKSUM_LEN;
/// Largest record accepted by the decoder: 64 MiB, far above JetStream's
/// `max_payload` ceiling, so a corrupt length cannot ask for gigabytes.
pub const MAX_RECORD_LEN: usize = 64 * 1024 * 1024;
const FLAG_TTL: u8 = 1;
/// With the tombstone bit: a sequence marker, not a deletion. It records
/// that the stream's last sequence is at least `seq` (a new block's first
/// record, a compaction past the end, a truncation, `first_seq`).
const FLAG_MARKER: u8 = 2;

/// A decoded record, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// A stored message.
    Message {
        /// Sequence.
        seq: u64,
        /// Timestamp (ns).
        ts: i64,
        /// TTL in ns, 0 when none.
        ttl: i64,
        /// Subject.
        subject: &'a str,
        /// Raw header block.
        headers: &'a [u8],
        /// Payload.
        payload: &'a [u8],
    },
    /// The message at `seq` was removed. `ts` is the removed message's time.
    Tombstone {
        /// Sequence of the removed message.
        seq: u64,
        /// Its timestamp.
        ts: i64,
    },
    /// The stream's last sequence is at least `seq`, with time `ts`.
    Marker {
        /// A last sequence.
        seq: u64,
        /// Its timestamp.
        ts: i64,
    },
}

impl Record<'_> {
    /// The record's sequence (without the tombstone bit).
    pub fn seq(&self) -> u64 {
        match self {
            Record::Message { seq, .. }
            | Record::Tombstone { seq, .. }
            | Record::Marker { seq, .. } => *seq,
        }
    }

    /// The record's timestamp.
    pub fn ts(&self) -> i64 {
        match self {
            Record::Message { ts, .. }
            | Record::Tombstone { ts, .. }
            | Record::Marker { ts, .. } => *ts,
        }
    }
}

/// Why bytes are not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// The bytes end before the record does (a torn tail, or more to read).
    Incomplete,
    /// The bytes cannot be a valid record.
    Corrupt(&'static str),
}

/// Encoded length of a message record.
pub fn message_len(subject: &str, headers: &[u8], payload: &[u8], ttl: i64) -> usize {
    let ttl_len = if ttl != 0 { 8 } else { 0 };
    HEADER_LEN + ttl_len + subject.len() + headers.len() + payload.len() + CHECKSUM_LEN
}

/// Append a message record to `out`; returns its checksum.
pub fn encode_message(
    out: &mut Vec<u8>,
    seq: u64,
    ts: i64,
    ttl: i64,
    subject: &str,
    headers: &[u8],
    payload: &[u8],
) -> u32 {
    let start = out.len();
    let len = message_len(subject, headers, payload, ttl);
    out.reserve(len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&(seq & !TOMBSTONE_BIT).to_le_bytes());
    out.extend_from_slice(&ts.to_le_bytes());
    out.push(if ttl != 0 { FLAG_TTL } else { 0 });
    out.extend_from_slice(&(subject.len() as u16).to_le_bytes());
    out.extend_from_slice(&(headers.len() as u32).to_le_bytes());
    if ttl != 0 {
        out.extend_from_slice(&ttl.to_le_bytes());
    }
    out.extend_from_slice(subject.as_bytes());
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    finish(out, start)
}

/// Append a tombstone record to `out`; returns its checksum.
pub fn encode_tombstone(out: &mut Vec<u8>, seq: u64, ts: i64) -> u32 {
    encode_bodyless(out, seq, ts, 0)
}

/// Append a sequence marker record to `out`; returns its checksum.
pub fn encode_marker(out: &mut Vec<u8>, seq: u64, ts: i64) -> u32 {
    encode_bodyless(out, seq, ts, FLAG_MARKER)
}

fn encode_bodyless(out: &mut Vec<u8>, seq: u64, ts: i64, flags: u8) -> u32 {
    let start = out.len();
    out.extend_from_slice(&(MIN_RECORD_LEN as u32).to_le_bytes());
    out.extend_from_slice(&(seq | TOMBSTONE_BIT).to_le_bytes());
    out.extend_from_slice(&ts.to_le_bytes());
    out.push(flags);
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    finish(out, start)
}

fn finish(out: &mut Vec<u8>, start: usize) -> u32 {
    let checksum = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&checksum.to_le_bytes());
    checksum
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    let mut raw = [0u8; 2];
    raw.copy_from_slice(&bytes[at..at + 2]);
    u16::from_le_bytes(raw)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(raw)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(raw)
}

/// The stored checksum of the record at the start of `bytes`, if its length
/// field fits (used to compare a block's last record with the snapshot).
pub fn record_checksum(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 4 {
        return None;
    }
    let len = u32_at(bytes, 0) as usize;
    if !(MIN_RECORD_LEN..=bytes.len()).contains(&len) {
        return None;
    }
    Some(u32_at(bytes, len - CHECKSUM_LEN))
}

/// Decode the record at the start of `bytes`; returns it, its length and
/// its checksum. Never panics; every length is checked before use.
pub fn decode_record(bytes: &[u8]) -> Result<(Record<'_>, usize, u32), RecordError> {
    if bytes.len() < 4 {
        return Err(RecordError::Incomplete);
    }
    let len = u32_at(bytes, 0) as usize;
    if !(MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&len) {
        return Err(RecordError::Corrupt("record length out of range"));
    }
    if bytes.len() < len {
        return Err(RecordError::Incomplete);
    }
    let record = &bytes[..len];
    let stored = u32_at(record, len - CHECKSUM_LEN);
    if crc32fast::hash(&record[..len - CHECKSUM_LEN]) != stored {
        return Err(RecordError::Corrupt("checksum mismatch"));
    }
    let raw_seq = u64_at(record, 4);
    let ts = u64_at(record, 12) as i64;
    let flags = record[20];
    let subject_len = u16_at(record, 21) as usize;
    let headers_len = u32_at(record, 23) as usize;
    let seq = raw_seq & !TOMBSTONE_BIT;
    if raw_seq & TOMBSTONE_BIT != 0 {
        if len != MIN_RECORD_LEN {
            return Err(RecordError::Corrupt("tombstone with a body"));
        }
        if flags & FLAG_MARKER != 0 {
            return Ok((Record::Marker { seq, ts }, len, stored));
        }
        return Ok((Record::Tombstone { seq, ts }, len, stored));
    }
    let mut at = HEADER_LEN;
    let mut ttl = 0;
    if flags & FLAG_TTL != 0 {
        if at + 8 > len - CHECKSUM_LEN {
            return Err(RecordError::Corrupt("ttl past record end"));
        }
        ttl = u64_at(record, at) as i64;
        at += 8;
    }
    let body_end = len - CHECKSUM_LEN;
    let subject_end = at.checked_add(subject_len).filter(|end| *end <= body_end);
    let Some(subject_end) = subject_end else {
        return Err(RecordError::Corrupt("subject past record end"));
    };
    let headers_end = subject_end
        .checked_add(headers_len)
        .filter(|end| *end <= body_end);
    let Some(headers_end) = headers_end else {
        return Err(RecordError::Corrupt("headers past record end"));
    };
    let Ok(subject) = std::str::from_utf8(&record[at..subject_end]) else {
        return Err(RecordError::Corrupt("subject is not UTF-8"));
    };
    let message = Record::Message {
        seq,
        ts,
        ttl,
        subject,
        headers: &record[subject_end..headers_end],
        payload: &record[headers_end..body_end],
    };
    Ok((message, len, stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trips_and_every_truncation_is_incomplete() {
        let mut out = Vec::new();
        encode_message(
            &mut out,
            42,
            -5,
            7,
            "orders.1",
            b"NATS/1.0\r\n\r\n",
            b"hello",
        );
        let (record, len, _) = decode_record(&out).expect("decodes");
        assert_eq!(len, out.len());
        assert_eq!(
            record,
            Record::Message {
                seq: 42,
                ts: -5,
                ttl: 7,
                subject: "orders.1",
                headers: b"NATS/1.0\r\n\r\n",
                payload: b"hello"
            }
        );
        for cut in 0..out.len() {
            assert!(decode_record(&out[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let mut out = Vec::new();
        encode_message(&mut out, 1, 2, 0, "a", b"", b"xyz");
        for byte in 0..out.len() {
            for bit in 0..8 {
                let mut flipped = out.clone();
                flipped[byte] ^= 1 << bit;
                if let Ok((record, len, _)) = decode_record(&flipped) {
                    panic!("flip {byte}:{bit} decoded {record:?} len {len}");
                }
            }
        }
    }

    #[test]
    fn tombstone_round_trips() {
        let mut out = Vec::new();
        encode_tombstone(&mut out, 9, 3);
        let (record, len, _) = decode_record(&out).expect("decodes");
        assert_eq!(len, MIN_RECORD_LEN);
        assert_eq!(record, Record::Tombstone { seq: 9, ts: 3 });
        let mut out = Vec::new();
        encode_marker(&mut out, 9, 3);
        assert_eq!(
            decode_record(&out).expect("decodes").0,
            Record::Marker { seq: 9, ts: 3 }
        );
    }
}
