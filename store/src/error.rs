//! The store's error type.

use std::fmt;
use std::io;

/// Linux `ENOSPC`: the device has no space left.
const ENOSPC: i32 = 28;

/// Why a store operation failed.
#[derive(Debug)]
pub enum StoreError {
    /// `discard: new` and the stream holds `max_msgs` messages.
    MaxMsgs,
    /// `discard: new` and the message would take the stream over `max_bytes`.
    MaxBytes,
    /// `discard: new` with `discard_new_per_subject` and the subject holds
    /// `max_msgs_per_subject` messages.
    MaxMsgsPerSubject,
    /// Headers plus payload exceed `max_msg_size`.
    MaxMsgSize,
    /// No message with this sequence (never stored, or removed).
    MsgNotFound,
    /// No message at or after the start sequence matches.
    Eof,
    /// A stored record failed its checksum or could not be decoded.
    Corrupt(String),
    /// The operation would take the stream's sequence past
    /// [`crate::record::MAX_SEQ`], the largest a record can hold.
    SequenceExhausted,
    /// An earlier write failed and the store could not roll back its files;
    /// it refuses every operation until it is reopened.
    Poisoned,
    /// An I/O error from the storage layer (see [`StoreError::is_disk_full`]).
    Io(io::Error),
}

impl StoreError {
    /// True when the error is the device running out of space (`ENOSPC`).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Io(error) => is_disk_full(error),
            _ => false,
        }
    }
}

/// True when an I/O error means "no space left on device".
pub fn is_disk_full(error: &io::Error) -> bool {
    error.raw_os_error() == Some(ENOSPC)
}

/// The `io::Error` a full device returns, for fault injection.
pub fn disk_full_error() -> io::Error {
    io::Error::from_raw_os_error(ENOSPC)
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::MaxMsgs => write!(f, "maximum messages exceeded"),
            StoreError::MaxBytes => write!(f, "maximum bytes exceeded"),
            StoreError::MaxMsgsPerSubject => write!(f, "maximum messages per subject exceeded"),
            StoreError::MaxMsgSize => write!(f, "message size exceeds maximum allowed"),
            StoreError::MsgNotFound => write!(f, "no message found"),
            StoreError::Eof => write!(f, "stream EOF"),
            StoreError::Corrupt(why) => write!(f, "corrupt store record: {why}"),
            StoreError::SequenceExhausted => write!(f, "stream sequence limit reached"),
            StoreError::Poisoned => write!(f, "store failed a write and must be reopened"),
            StoreError::Io(error) => write!(f, "store I/O error: {error}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(error: io::Error) -> Self {
        StoreError::Io(error)
    }
}
