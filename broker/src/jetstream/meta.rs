//! A file stream's persisted config: `<stream dir>/meta.json`, written
//! through a temp file, fsync, rename and directory fsync, so a crash
//! leaves the old or the new file, never a torn one.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use starling_jetstream::api::StreamConfig;

/// The file name.
pub(super) const META_FILE: &str = "meta.json";

/// What is persisted of a stream besides its messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StreamMeta {
    /// The normalized config.
    pub config: StreamConfig,
    /// Creation time, ns since the epoch.
    pub created: i64,
}

/// Write `meta` into `dir` durably.
pub(super) fn write_meta(dir: &Path, meta: &StreamMeta) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let bytes = serde_json::to_vec_pretty(meta).map_err(io::Error::other)?;
    let temp = dir.join(format!("{META_FILE}.tmp"));
    {
        let mut file = fs::File::create(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temp, dir.join(META_FILE))?;
    fs::File::open(dir)?.sync_all()
}

/// Read the meta of the stream in `dir`.
pub(super) fn read_meta(dir: &Path) -> io::Result<StreamMeta> {
    let bytes = fs::read(dir.join(META_FILE))?;
    serde_json::from_slice(&bytes)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}
