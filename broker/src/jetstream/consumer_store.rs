//! A file stream's consumers on disk: `<stream dir>/obs/<consumer>/`
//! holds `meta.json` (config and creation time, written durably) and
//! `o.dat` (the encoded [`ConsumerState`], with its own CRC, rewritten
//! through a rename after every pass that changed it). A consumer whose
//! files cannot be read is skipped and logged, never fatal; a lost state
//! write means redeliveries, never a lost message.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use starling_jetstream::api::consumer::ConsumerConfig;
use starling_jetstream::consumer::{Consumer, ConsumerState};

/// The consumers' directory inside a stream directory.
const CONSUMERS_DIR: &str = "obs";
const META_FILE: &str = "meta.json";
const STATE_FILE: &str = "o.dat";

/// What is persisted of a consumer besides its state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ConsumerMeta {
    /// The config with defaults applied.
    pub config: ConsumerConfig,
    /// Creation time, ns since the epoch.
    pub created: i64,
}

/// `<stream dir>/obs/<name>`.
pub(super) fn consumer_dir(stream_dir: &Path, name: &str) -> PathBuf {
    stream_dir.join(CONSUMERS_DIR).join(name)
}

/// Write a consumer's meta durably (temp file, fsync, rename, dir fsync).
pub(super) fn write_meta(dir: &Path, meta: &ConsumerMeta) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let bytes = serde_json::to_vec_pretty(meta).map_err(io::Error::other)?;
    replace(dir, META_FILE, &bytes, true)
}

/// Write a consumer's encoded state (rename, no fsync: it is rewritten
/// constantly, and an older state only causes redeliveries).
pub(super) fn write_state(dir: &Path, encoded: &[u8]) -> io::Result<()> {
    replace(dir, STATE_FILE, encoded, false)
}

/// Write a consumer's encoded state durably (clean shutdown).
pub(super) fn write_state_durable(dir: &Path, encoded: &[u8]) -> io::Result<()> {
    replace(dir, STATE_FILE, encoded, true)
}

fn replace(dir: &Path, name: &str, bytes: &[u8], durable: bool) -> io::Result<()> {
    let temp = dir.join(format!("{name}.tmp"));
    {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
    }
    fs::rename(&temp, dir.join(name))?;
    if durable {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Every consumer persisted under `stream_dir`, restored at `now`.
pub(super) fn restore_all(
    stream_dir: &Path,
    stream: &str,
    now: i64,
) -> Vec<(Consumer, PathBuf, Vec<u8>)> {
    let entries = match fs::read_dir(stream_dir.join(CONSUMERS_DIR)) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(error) => {
            tracing::error!(stream, %error, "consumers not restored: unreadable directory");
            return Vec::new();
        }
    };
    let mut restored = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        match restore_one(&dir, stream, now) {
            Ok((consumer, written)) => {
                tracing::info!(
                    stream,
                    consumer = consumer.name(),
                    delivered = consumer.state().delivered.stream,
                    "consumer restored"
                );
                restored.push((consumer, dir, written));
            }
            Err(error) => tracing::error!(dir = %dir.display(), %error, "consumer not restored"),
        }
    }
    restored
}

fn restore_one(dir: &Path, stream: &str, now: i64) -> io::Result<(Consumer, Vec<u8>)> {
    let meta: ConsumerMeta = serde_json::from_slice(&fs::read(dir.join(META_FILE))?)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    let name = meta
        .config
        .name
        .clone()
        .or_else(|| meta.config.durable_name.clone())
        .unwrap_or_default();
    if name.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "consumer meta without a name",
        ));
    }
    let (state, written) = match fs::read(dir.join(STATE_FILE)) {
        Ok(bytes) => match ConsumerState::decode(&bytes) {
            Ok(state) => (Some(state), bytes),
            Err(error) => {
                tracing::warn!(dir = %dir.display(), ?error, "consumer state corrupt; starting from its config");
                (None, Vec::new())
            }
        },
        Err(error) if error.kind() == io::ErrorKind::NotFound => (None, Vec::new()),
        Err(error) => return Err(error),
    };
    let state = state.unwrap_or_else(|| ConsumerState::starting_at(start_of(&meta.config)));
    let consumer = Consumer::restore(stream, &name, meta.config, meta.created, state, now);
    Ok((consumer, written))
}

/// Where a consumer without a readable state resumes: its start sequence
/// if it names one, else the beginning (redeliveries, never a loss).
fn start_of(config: &ConsumerConfig) -> u64 {
    config.opt_start_seq.max(1)
}
