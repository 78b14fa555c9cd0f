//! What a clean shutdown leaves for a fast restart: the store's index
//! snapshot (`checkpoint`), the duplicate window (`dedup.json`) and every
//! consumer state, all fsynced. A crash leaves older copies (or none):
//! the store then scans what its snapshot does not cover, and the window
//! is rebuilt from the messages stored after the saved one.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use starling_jetstream::stream::dedup::SavedDedup;
use starling_jetstream::stream::Stream;

use super::consumer_store::write_state_durable;
use super::consumers::ConsumerSet;
use crate::client::handle::lock;

/// The duplicate window's file in a stream directory.
pub(super) const DEDUP_FILE: &str = "dedup.json";

/// The window saved in `dir`, if there is a readable one.
pub(super) fn read_dedup(dir: &Path) -> Option<SavedDedup> {
    let bytes = match fs::read(dir.join(DEDUP_FILE)) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return None,
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "duplicate window not read; rebuilding it");
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(saved) => Some(saved),
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "duplicate window unreadable; rebuilding it");
            None
        }
    }
}

/// Write `saved` durably (temp file, fsync, rename, directory fsync).
pub(super) fn write_dedup(dir: &Path, saved: &SavedDedup) -> io::Result<()> {
    let bytes = serde_json::to_vec(saved).map_err(io::Error::other)?;
    let temp = dir.join(format!("{DEDUP_FILE}.tmp"));
    {
        let mut file = fs::File::create(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temp, dir.join(DEDUP_FILE))?;
    fs::File::open(dir)?.sync_all()
}

/// Shutdown of a stream's worker: sync and checkpoint the store, save the
/// window (file streams) and write every consumer state durably.
/// Blocking; errors are logged (the data is still there, restart is only
/// slower or redelivers).
pub(super) fn persist_on_shutdown(
    stream: &Mutex<Stream>,
    consumers: &Mutex<ConsumerSet>,
    dir: Option<&Path>,
) {
    let mut stream = lock(stream);
    let name = stream.name().to_string();
    if let Err(error) = stream.store_mut().checkpoint() {
        tracing::warn!(stream = %name, %error, "stream: final sync or snapshot failed");
    }
    if let Some(dir) = dir {
        if let Err(error) = write_dedup(dir, &stream.saved_dedup()) {
            tracing::warn!(stream = %name, %error, "duplicate window not saved");
        }
    }
    let mut set = lock(consumers);
    for entry in set.entries.values_mut() {
        let Some(consumer_dir) = &entry.dir else {
            continue;
        };
        let encoded = entry.consumer.state().encode();
        match write_state_durable(consumer_dir, &encoded) {
            Ok(()) => entry.written = encoded,
            Err(error) => {
                tracing::warn!(dir = %consumer_dir.display(), %error, "consumer state not written at shutdown")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_round_trips_and_bad_files_are_ignored() {
        let dir = std::env::temp_dir().join(format!("starling-dedup-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(read_dedup(&dir), None);
        let saved = SavedDedup {
            last_seq: 9,
            last_msg_id: "b".into(),
            entries: vec![("a".into(), 3, 100), ("b".into(), 9, 200)],
        };
        write_dedup(&dir, &saved).unwrap();
        assert_eq!(read_dedup(&dir), Some(saved));
        fs::write(dir.join(DEDUP_FILE), b"{not json").unwrap();
        assert_eq!(read_dedup(&dir), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
