//! Starling's JetStream message store.
//!
//! A [`MessageStore`] trait with two implementations: [`MemStore`] (memory
//! storage, and the model the file store is tested against) and
//! [`FileStore`] (segment files). Synchronous, no async runtime: time is
//! always an argument, so everything can be property-tested and fuzzed.
//!
//! # Module map
//! - `store` — the [`MessageStore`] trait.
//! - `config`, `types`, `error` — limits, sync policy, returned values, errors.
//! - `subject` — subject filter matching (`*`, `>`).
//! - `seqmap`, `subjects`, `index` — the in-memory index both stores share:
//!   sequence → entry in a `SeqMap` (chunks of 256 sequences with a bitmap
//!   and only the held entries, so memory follows the entries, not the
//!   span), per-subject sequence sets (last by subject, per-subject limits,
//!   filtered `num_pending`), TTLs and their deadlines.
//! - `limits` — admission (`discard new`, `max_msg_size`), what to drop when
//!   over a limit, purge selection; [`stored_size`].
//! - `mem` — [`MemStore`].
//! - `record` — the on-disk record codec; [`decode_record`] is the fuzz entry.
//! - `storage` — the file layer: [`OsStorage`] and the fault-injecting
//!   [`SimStorage`] (crash with torn writes, lost directory entries, ENOSPC).
//! - `file` — [`FileStore`]: write path and group-commit sync (`write`),
//!   reclaim/compaction (`reclaim`, `rewrite`), recovery (`recovery`), the
//!   index snapshot (`snapshot`), the trait impl (`api`).
//! - `sync` — [`PendingSync`]: the fdatasyncs of a batch, run on cloned
//!   handles without the store borrowed.
//! - `commit` — [`GroupCommitter`]: a writer thread per stream, one sync per
//!   batch, then every completion.
//!
//! # On-disk format
//! ```text
//! <stream dir>/
//!   index.snap      index snapshot (see below), optional
//!   msgs/<n>.blk    blocks, n = 1, 2, ...; the highest is the tail
//! ```
//! A block is a sequence of records (format in [`record`]): messages,
//! tombstones (the sequence with bit 63 set: "that message is removed") and
//! markers ("the last sequence is at least n"; the first record of every new
//! block, and after a compaction past the end or a truncation). Records are
//! little-endian and end with a CRC-32 of all their bytes. CRC-32 via
//! `crc32fast`: hardware-accelerated (PCLMULQDQ/ARMv8 CRC) at several GB/s,
//! far above the disk, small and dependency-free, and a CRC detects every
//! burst error up to 32 bits, which is what a torn or bit-flipped sector
//! looks like; a keyed hash buys nothing here because nothing is adversarial.
//!
//! `index.snap` holds the whole index (varint-coded), checksummed, written
//! through a temp file + fsync + rename + directory fsync after a full sync
//! (on close or on request). On open it is used if every block it lists
//! that still exists is at least as long as recorded and ends with the
//! recorded record; then only bytes past the snapshot are scanned. Blocks
//! it lists that are gone were unlinked because everything in them was
//! removed. Any rewrite of a block in place (compaction, truncation)
//! deletes the snapshot first.
//!
//! # Durability
//! Appends go to a write buffer and reach the OS when it fills, on
//! `flush`, or on `flush_and_sync` (one `fdatasync` per block written since
//! the last sync, plus a directory fsync when files came or went). A
//! PubAck may be sent for every sequence up to the value `flush_and_sync`
//! returns. Recovery cuts a torn or corrupt tail at its first bad record
//! (logged); damage in an older block loses that block's records from the
//! damage on and is listed in the [`RecoveryReport`]. A failed write
//! (ENOSPC) cuts the tail back and rebuilds the index from the files, so
//! memory never runs ahead of disk; a failed fsync poisons the store.
//!
//! # Concurrency
//! A store is a plain single-owner value (`&mut self` to write, `&self` to
//! read). The [`GroupCommitter`] shares it as `Arc<Mutex<S>>` with readers:
//! its thread takes the lock to append a batch and to start and finish the
//! sync, and releases it while the `fdatasync`s of [`PendingSync::run`]
//! are in flight. No other lock exists in the crate (no lock order to keep).
//!
//! # Byte accounting
//! Both stores count a message as [`stored_size`] (nats-server's file-store
//! formula), so `max_bytes` and `StreamState::bytes` agree across storage
//! types; nats-server's memory store counts 16 bytes of overhead instead.

mod commit;
mod config;
mod error;
mod file;
mod index;
mod limits;
mod mem;
pub mod record;
mod seqmap;
mod storage;
mod store;
mod subject;
mod subjects;
mod sync;
mod types;

pub use commit::{Completion, GroupCommitter, NewMessage, SubmitError, MAX_BATCH};
pub use config::{
    DiscardPolicy, FileStoreConfig, StoreConfig, StoreLimits, SyncPolicy, DEFAULT_BLOCK_SIZE,
    DEFAULT_WRITE_BUFFER,
};
pub use error::{disk_full_error, is_disk_full, StoreError};
pub use file::{BlockDamage, FileStore, RecoveryReport, MSGS_DIR, SNAPSHOT_FILE};
pub use limits::stored_size;
pub use mem::MemStore;
pub use record::{decode_record, Record, RecordError};
pub use storage::{OsStorage, SegmentFile, SimStorage, Storage};
pub use store::MessageStore;
pub use subject::{is_literal, matches as subject_matches};
pub use sync::PendingSync;
pub use types::{FilteredState, StoredMsg, StreamState, SubjectState};
