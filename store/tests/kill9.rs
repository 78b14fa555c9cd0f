//! SIGKILL at a random moment loses no acknowledged message: a child
//! process appends and syncs batches, printing each synced sequence; the
//! test kills it by PID, reopens the store and checks every acked message.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use starling_store::{FileStore, FileStoreConfig, MessageStore};

const ROUNDS: usize = 5;
/// Acks to see per round before killing (varied per round).
const MIN_ACKS: u64 = 40;

#[test]
fn sigkill_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut acked_max = 0u64;
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_store-crash-writer"))
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn writer");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, received) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let want = MIN_ACKS * (round as u64 + 1);
        let mut seen = 0u64;
        while seen < want {
            match received.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let seq: u64 = line
                        .strip_prefix("acked ")
                        .and_then(|s| s.parse().ok())
                        .expect("ack line");
                    assert!(seq >= acked_max, "acks go forward");
                    acked_max = seq;
                    seen += 1;
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("writer stopped acking (round {round})");
                }
            }
        }
        child.kill().expect("SIGKILL the writer"); // Child::kill sends SIGKILL to this PID.
        child.wait().expect("reap writer");
        // Acks printed after our last read but before the kill count too.
        reader.join().expect("reader thread");
        while let Ok(line) = received.try_recv() {
            if let Some(seq) = line.strip_prefix("acked ").and_then(|s| s.parse().ok()) {
                acked_max = acked_max.max(seq);
            }
        }
        let store = FileStore::open(
            dir.path(),
            FileStoreConfig {
                block_size: 64 * 1024,
                ..FileStoreConfig::default()
            },
        )
        .expect("reopen after SIGKILL");
        assert!(
            store.recovery_report().damaged.is_empty(),
            "{:?}",
            store.recovery_report()
        );
        assert!(
            store.state().last_seq >= acked_max,
            "round {round}: last {} < acked {acked_max}",
            store.state().last_seq
        );
        for seq in 1..=acked_max {
            let msg = store
                .load_msg(seq)
                .unwrap_or_else(|e| panic!("round {round}: acked seq {seq} missing: {e}"));
            assert_eq!(&msg.payload[..], format!("kill9-{seq}").as_bytes());
        }
    }
}
