//! Test helper for the kill -9 test: appends batches to a file store in the
//! directory given as the only argument, syncs each batch once, and prints
//! `acked <seq>` after each sync (the PubAck point). Runs until killed.

use std::io::Write;

use starling_store::{FileStore, FileStoreConfig, MessageStore};

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: store-crash-writer DIR");
        std::process::exit(2);
    };
    let config = FileStoreConfig {
        block_size: 64 * 1024,
        ..FileStoreConfig::default()
    };
    let mut store = match FileStore::open(&dir, config) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("open {dir}: {error}");
            std::process::exit(1);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut batch = 1u64;
    loop {
        for _ in 0..batch {
            let seq = store.state().last_seq + 1;
            let payload = format!("kill9-{seq}");
            if let Err(error) =
                store.store_msg("kill.test", b"", payload.as_bytes(), seq as i64, None)
            {
                eprintln!("store: {error}");
                std::process::exit(1);
            }
        }
        match store.flush_and_sync() {
            Ok(synced) => {
                if writeln!(out, "acked {synced}")
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    std::process::exit(0);
                }
            }
            Err(error) => {
                eprintln!("sync: {error}");
                std::process::exit(1);
            }
        }
        batch = batch % 97 + 1;
    }
}
