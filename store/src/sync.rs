//! A sync taken out of the store: the expensive `fdatasync` calls run on
//! cloned file handles without the store borrowed, so readers (consumers)
//! are not held up by the disk while a batch is being made durable.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::StoreError;
use crate::storage::{SegmentFile, Storage};

/// The syncs needed to make everything up to `seq` durable.
/// Get one with `MessageStore::begin_sync`, `run` it without holding the
/// store, and hand the outcome to `MessageStore::finish_sync`.
pub struct PendingSync {
    files: Vec<Box<dyn SegmentFile>>,
    dir: Option<(Arc<dyn Storage>, PathBuf)>,
    seq: u64,
}

impl PendingSync {
    /// Nothing left to do: `seq` is already durable.
    pub fn done(seq: u64) -> Self {
        PendingSync {
            files: Vec::new(),
            dir: None,
            seq,
        }
    }

    pub(crate) fn new(
        files: Vec<Box<dyn SegmentFile>>,
        dir: Option<(Arc<dyn Storage>, PathBuf)>,
        seq: u64,
    ) -> Self {
        PendingSync { files, dir, seq }
    }

    /// Sync the files (and the directory when files came or went); returns
    /// the sequence now durable.
    pub fn run(mut self) -> Result<u64, StoreError> {
        for file in &mut self.files {
            file.sync()?;
        }
        if let Some((storage, dir)) = &self.dir {
            storage.sync_dir(dir)?;
        }
        Ok(self.seq)
    }
}
