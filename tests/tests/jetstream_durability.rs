//! The durability promise, counted: while a client makes sequential
//! acknowledged publishes to a file stream, the broker calls fsync or
//! fdatasync at least once per acknowledgement (nats-server, at its default
//! `sync_interval` of two minutes, makes none). The calls are counted with
//! strace around the real `starling -js` process; the test is skipped with a
//! message when strace is missing. The same count is printed for
//! nats-server when one is installed (not asserted: it is the contrast).
//!
//! `cargo test -p starling-tests --test jetstream_durability -- --nocapture`

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use common::process::starling_binary;

/// Sequential acknowledged publishes (the figure).
const PUBLISHES: u64 = 500;

/// How long the traced server may take to announce its listener (strace
/// slows startup down).
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A server running under `strace -f`, its own PID read from its pid file.
struct Traced {
    strace: Child,
    server_pid: i32,
    client_port: u16,
    trace: PathBuf,
}

fn have(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

async fn start_traced(server: &Path, dir: &Path) -> Traced {
    let trace = dir.join("trace");
    let pid_file = dir.join("server.pid");
    let store = dir.join("store");
    let ports_dir = dir.join("ports");
    std::fs::create_dir_all(&ports_dir).expect("ports dir");
    let mut strace = Command::new("strace")
        .arg("-f")
        .arg("-qq")
        .args(["-e", "trace=fsync,fdatasync"])
        .arg("-o")
        .arg(&trace)
        .arg(server)
        .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
        .arg(&store)
        .arg("-P")
        .arg(&pid_file)
        .arg("--ports_file_dir")
        .arg(&ports_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn strace");
    // Drain the server's log so it never blocks on a full pipe.
    if let Some(stderr) = strace.stderr.take() {
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(_)) = lines.next_line().await {}
        });
    }
    let deadline = tokio::time::Instant::now() + START_DEADLINE;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} did not start under strace",
            server.display()
        );
        if let Some(port) = announced_port(&ports_dir) {
            if let Ok(text) = std::fs::read_to_string(&pid_file) {
                if let Ok(server_pid) = text.trim().parse() {
                    return Traced {
                        strace,
                        server_pid,
                        client_port: port,
                        trace,
                    };
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The client port from the ports file (`{"nats":["nats://127.0.0.1:P"],...}`).
fn announced_port(dir: &Path) -> Option<u16> {
    let entry = std::fs::read_dir(dir).ok()?.flatten().next()?;
    let text = std::fs::read_to_string(entry.path()).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let url = json["nats"].get(0)?.as_str()?;
    url.rsplit(':').next()?.parse().ok()
}

impl Traced {
    /// Stops the server by its PID (strace then ends with it) and returns
    /// the number of fsync/fdatasync calls in the trace.
    async fn stop(mut self) -> usize {
        let _ = std::process::Command::new("kill")
            .arg(self.server_pid.to_string())
            .status();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.strace.wait()).await;
        let _ = self.strace.start_kill();
        let trace = std::fs::read_to_string(&self.trace).unwrap_or_default();
        trace
            .lines()
            .filter(|line| line.contains("fsync(") || line.contains("fdatasync("))
            .filter(|line| !line.contains("<unfinished") || line.contains("= 0"))
            .count()
    }
}

/// Makes the sequential acknowledged publishes; returns how many fsync
/// calls the server made meanwhile (the whole run, start to stop).
async fn count_syncs(server: &Path) -> usize {
    let dir = tempfile::tempdir().expect("tempdir");
    let traced = start_traced(server, dir.path()).await;
    let client = async_nats::connect(format!("127.0.0.1:{}", traced.client_port))
        .await
        .expect("connect");
    let context = jetstream::new(client);
    context
        .create_stream(stream::Config {
            name: "DURABLE".into(),
            subjects: vec!["durable.>".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .expect("create stream");
    for i in 0..PUBLISHES {
        let ack = context
            .publish(format!("durable.{i}"), "payload".into())
            .await
            .expect("publish")
            .await
            .expect("puback");
        assert_eq!(ack.sequence, i + 1);
    }
    traced.stop().await
}

#[tokio::test]
async fn every_acknowledged_publish_is_covered_by_an_fsync() {
    if !have("strace") {
        eprintln!("skipped: strace is not installed");
        return;
    }
    let syncs = count_syncs(&starling_binary()).await;
    println!(
        "starling: {syncs} fsync/fdatasync calls for {PUBLISHES} sequential acknowledged publishes"
    );
    assert!(
        syncs as u64 >= PUBLISHES,
        "{syncs} syncs for {PUBLISHES} acknowledged publishes"
    );
    for reference in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        let path = Path::new(reference);
        if path.exists() {
            let syncs = count_syncs(path).await;
            println!("{reference}: {syncs} fsync/fdatasync calls for {PUBLISHES} sequential acknowledged publishes");
            break;
        }
    }
}
