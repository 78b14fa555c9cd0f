//! An in-memory file system with crashes and a full disk, for tests.
//!
//! Each file has its current bytes and the bytes made durable by its last
//! `sync`; each directory entry is durable only after `sync_dir`. A
//! [`SimStorage::crash`] keeps the durable state plus, per file, a random
//! prefix of the unsynced appended bytes (a torn write at any offset), and
//! optionally random garbage after it. Handles opened before a crash fail.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{SegmentFile, Storage};
use crate::error::disk_full_error;

#[derive(Debug, Default, Clone)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct SimState {
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    space_limit: Option<u64>,
    epoch: u64,
    rng: u64,
    syncs: u64,
}

impl SimState {
    fn used(&self) -> u64 {
        self.inodes
            .values()
            .map(|inode| inode.data.len() as u64)
            .sum()
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: deterministic from the seed, good enough to pick cut points.
        let mut x = self.rng.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A simulated file system shared by clones.
#[derive(Debug, Clone, Default)]
pub struct SimStorage {
    state: Arc<Mutex<SimState>>,
}

struct SimFile {
    state: Arc<Mutex<SimState>>,
    inode: u64,
    epoch: u64,
}

fn lock(state: &Mutex<SimState>) -> MutexGuard<'_, SimState> {
    // A panic in another test thread must not hide this test's result.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn not_found() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no such file")
}

impl SimStorage {
    /// An empty file system whose crashes are driven by `seed`.
    pub fn new(seed: u64) -> Self {
        let storage = SimStorage::default();
        lock(&storage.state).rng = seed;
        storage
    }

    /// Fail writes once the files hold `limit` bytes in total (`ENOSPC`).
    pub fn set_space_limit(&self, limit: Option<u64>) {
        lock(&self.state).space_limit = limit;
    }

    /// Bytes held by all files.
    pub fn used_bytes(&self) -> u64 {
        lock(&self.state).used()
    }

    /// File syncs so far.
    pub fn sync_count(&self) -> u64 {
        lock(&self.state).syncs
    }

    /// Crash: forget unsynced directory changes, keep a random prefix of each
    /// file's unsynced appends, and with `garbage` sometimes add random bytes
    /// after the cut. Every handle opened before fails from now on.
    pub fn crash(&self, garbage: bool) {
        let mut state = lock(&self.state);
        state.epoch += 1;
        state.names = state.durable_names.clone();
        let ids: Vec<u64> = state.inodes.keys().copied().collect();
        for id in ids {
            let cut = state.next_random();
            let junk = state.next_random();
            let Some(inode) = state.inodes.get_mut(&id) else {
                continue;
            };
            let mut kept = inode.durable.clone();
            if inode.data.starts_with(&inode.durable) {
                let unsynced = &inode.data[inode.durable.len()..];
                let keep = (cut % (unsynced.len() as u64 + 1)) as usize;
                kept.extend_from_slice(&unsynced[..keep]);
                if garbage && keep < unsynced.len() && junk & 3 == 0 {
                    kept.extend((0..(junk % 17)).map(|i| (junk >> (i % 8)) as u8));
                }
            }
            inode.data = kept.clone();
            inode.durable = kept;
        }
        let live: std::collections::HashSet<u64> = state.names.values().copied().collect();
        state.inodes.retain(|id, _| live.contains(id));
    }

    /// Overwrite bytes of a file in place (durably), to simulate bit rot.
    pub fn corrupt(&self, path: &Path, offset: usize, bytes: &[u8]) -> io::Result<()> {
        let mut state = lock(&self.state);
        let id = *state.names.get(path).ok_or_else(not_found)?;
        let inode = state.inodes.get_mut(&id).ok_or_else(not_found)?;
        for (i, byte) in bytes.iter().enumerate() {
            if let Some(slot) = inode.data.get_mut(offset + i) {
                *slot = *byte;
            }
        }
        inode.durable = inode.data.clone();
        Ok(())
    }
}

impl Storage for SimStorage {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = lock(&self.state);
        Ok(state
            .names
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name()?.to_str().map(str::to_string))
            .collect())
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn SegmentFile>> {
        let mut state = lock(&self.state);
        let inode = match state.names.get(path) {
            Some(id) => *id,
            None if create => {
                let id = state.next_inode;
                state.next_inode += 1;
                state.inodes.insert(id, Inode::default());
                state.names.insert(path.to_path_buf(), id);
                id
            }
            None => return Err(not_found()),
        };
        let epoch = state.epoch;
        Ok(Box::new(SimFile {
            state: self.state.clone(),
            inode,
            epoch,
        }))
    }

    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let state = lock(&self.state);
        let id = state.names.get(path).ok_or_else(not_found)?;
        Ok(state
            .inodes
            .get(id)
            .map(|inode| inode.data.clone())
            .unwrap_or_default())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = lock(&self.state);
        let id = state.names.remove(from).ok_or_else(not_found)?;
        state.names.insert(to.to_path_buf(), id);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = lock(&self.state);
        state.names.remove(path).ok_or_else(not_found)?;
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = lock(&self.state);
        let in_dir = |path: &PathBuf| path.parent() == Some(dir);
        let current: Vec<(PathBuf, u64)> = state
            .names
            .iter()
            .filter(|(path, _)| in_dir(path))
            .map(|(p, id)| (p.clone(), *id))
            .collect();
        state.durable_names.retain(|path, _| !in_dir(path));
        state.durable_names.extend(current);
        Ok(())
    }
}

impl SimFile {
    fn check(&self, state: &SimState) -> io::Result<()> {
        if state.epoch != self.epoch {
            return Err(io::Error::other(
                "file handle from before a simulated crash",
            ));
        }
        Ok(())
    }
}

impl SegmentFile for SimFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut state = lock(&self.state);
        self.check(&state)?;
        let room = match state.space_limit {
            Some(limit) => limit.saturating_sub(state.used()) as usize,
            None => usize::MAX,
        };
        let fits = bytes.len().min(room);
        let inode = state.inodes.get_mut(&self.inode).ok_or_else(not_found)?;
        inode.data.extend_from_slice(&bytes[..fits]);
        if fits < bytes.len() {
            return Err(disk_full_error());
        }
        Ok(())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let state = lock(&self.state);
        self.check(&state)?;
        let inode = state.inodes.get(&self.inode).ok_or_else(not_found)?;
        let start = offset as usize;
        let end = start
            .checked_add(buf.len())
            .filter(|end| *end <= inode.data.len());
        let Some(end) = end else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past end",
            ));
        };
        buf.copy_from_slice(&inode.data[start..end]);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = lock(&self.state);
        self.check(&state)?;
        state.syncs += 1;
        let inode = state.inodes.get_mut(&self.inode).ok_or_else(not_found)?;
        inode.durable = inode.data.clone();
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let mut state = lock(&self.state);
        self.check(&state)?;
        let inode = state.inodes.get_mut(&self.inode).ok_or_else(not_found)?;
        inode.data.resize(len as usize, 0);
        Ok(())
    }

    fn try_clone(&self) -> io::Result<Box<dyn SegmentFile>> {
        Ok(Box::new(SimFile {
            state: self.state.clone(),
            inode: self.inode,
            epoch: self.epoch,
        }))
    }

    fn size(&self) -> io::Result<u64> {
        let state = lock(&self.state);
        self.check(&state)?;
        Ok(state
            .inodes
            .get(&self.inode)
            .map_or(0, |inode| inode.data.len() as u64))
    }
}
