//! The file layer under the file store: a [`Storage`] (directory operations)
//! handing out [`SegmentFile`]s. [`OsStorage`] is the real file system;
//! [`SimStorage`] is an in-memory one that can crash (dropping or tearing
//! unsynced bytes, forgetting unsynced directory changes) and run out of
//! space, for fault-injection tests.

mod os;
mod sim;

pub use os::OsStorage;
pub use sim::SimStorage;

use std::io;
use std::path::Path;

/// Directory-level operations of a file system.
pub trait Storage: Send + Sync {
    /// Create a directory and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the files directly in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Open a file for reading and appending, creating it if `create`.
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn SegmentFile>>;
    /// The whole content of a file.
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Atomically replace `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Remove a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Make creations, renames and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// One open file, appended to at its end.
pub trait SegmentFile: Send + Sync {
    /// Append `bytes` at the end. On error some prefix may have been written.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Fill `buf` from `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Make the content durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Cut or extend the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Current length.
    fn size(&self) -> io::Result<u64>;
    /// A second handle to the same file, so it can be synced without the
    /// store's lock held.
    fn try_clone(&self) -> io::Result<Box<dyn SegmentFile>>;
}
