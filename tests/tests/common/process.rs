//! Real `starling` processes, started from the built binary and stopped by PID.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::DEADLINE;

/// Path of the `starling` binary built next to the test binaries.
pub fn starling_binary() -> PathBuf {
    if let Ok(path) = std::env::var("STARLING_BIN") {
        return PathBuf::from(path);
    }
    let mut dir = std::env::current_exe().expect("test exe path");
    dir.pop(); // deps/
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("starling");
    assert!(
        path.exists(),
        "build the binary first (cargo build -p starling): {}",
        path.display()
    );
    path
}

/// A running `starling` process.
pub struct Process {
    child: Child,
    /// Client address it announced.
    pub addr: SocketAddr,
    /// Monitoring address, if it announced one.
    pub monitor: Option<SocketAddr>,
    /// Route listener address, if clustered.
    pub route: Option<SocketAddr>,
    /// Every log line so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Start `starling ARGS` and wait for its listening banner.
    pub async fn start(args: &[&str]) -> Process {
        Process::start_with_env(args, &[]).await
    }

    /// [`Process::start`] with extra environment variables for the child.
    pub async fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Process {
        let mut child = Command::new(starling_binary())
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn starling");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let log_writer = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line.clone());
                log_writer.lock().unwrap().push(line);
            }
        });
        let mut addr = None;
        let mut monitor = None;
        let mut route = None;
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while addr.is_none() {
            let line = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("starling announces its listener in time")
                .unwrap_or_else(|| panic!("starling exited early: {:?}", log.lock().unwrap()));
            if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                addr = rest.trim().parse().ok();
            }
            if let Some(rest) = line.split("Starting http monitor on ").nth(1) {
                monitor = rest.trim().parse().ok();
            }
            if let Some(rest) = line.split("Listening for route connections on ").nth(1) {
                route = rest.trim().parse().ok();
            }
        }
        Process {
            child,
            addr: addr.expect("address"),
            monitor,
            route,
            log,
        }
    }

    /// The PID.
    pub fn pid(&self) -> i32 {
        self.child.id().expect("running") as i32
    }

    /// Send a signal by PID.
    pub fn signal(&self, signal: i32) {
        // SAFETY-free: libc::kill through std is not available; use the kill command.
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Wait for the process to exit; returns its exit code.
    pub async fn wait(&mut self) -> Option<i32> {
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("process exits in time")
            .expect("wait");
        status.code()
    }

    /// Does the log contain `needle`?
    pub fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Run `starling ARGS` to completion; returns (exit code, stdout, stderr).
pub async fn run_to_end(args: &[&str]) -> (i32, String, String) {
    let output = tokio::time::timeout(
        DEADLINE,
        Command::new(starling_binary())
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("starling finishes")
    .expect("run starling");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}
