//! Server processes under test, and targets: the set of processes one
//! scenario runs against (one node, or a three-node cluster).
//!
//! Every process is spawned with `kill_on_drop`, so an error, a panic or an
//! interrupted run never leaves a server behind; the normal path kills and
//! reaps each one explicitly by its own child handle.

use std::fs::{File, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::process::{Child, Command};
use tokio::time::{timeout, Instant};

use super::limits::{KILL_TIMEOUT, STARTUP_TIMEOUT, SYNC_RETRY};
use super::wire::{wait_until_ready, Connection, Op, PayloadMode, Scanner};

/// A server binary to benchmark, named by the user (`--server NAME=PATH`).
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Column name in the report, e.g. `starling` or `nats-2.9.10`.
    pub name: String,
    /// Path of the executable; it must accept nats-server's flags.
    pub path: PathBuf,
    /// A config file passed with `-c` (flags still set the ports).
    pub config: Option<PathBuf>,
}

/// How many processes a target runs, and how they are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One server.
    Single,
    /// `n` nodes in one cluster, all seeded from node 1.
    Cluster(usize),
    /// One server that requires TLS (`--tls --tlscert --tlskey`).
    SingleTls,
    /// One server with JetStream (`-js -sd DIR`), storing in a fresh
    /// temporary directory that is removed when the target is dropped.
    JetStream,
}

/// Where a scenario publishes and where it subscribes. On a single server both
/// are the same address; on a cluster, the first and the last node.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints {
    /// Client address publishers (and requesters) connect to.
    pub publish: SocketAddr,
    /// Client address subscribers (and responders) connect to.
    pub subscribe: SocketAddr,
    /// Clients must speak TLS (see [`super::tls`]).
    pub tls: bool,
}

/// One running server process.
#[derive(Debug)]
pub struct ServerProcess {
    /// The child; `kill_on_drop` is set, so dropping it kills the server.
    child: Child,
    /// Client listener address.
    pub client_addr: SocketAddr,
}

impl ServerProcess {
    /// The OS process id, while the process runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether the process has exited (crashed, or refused its flags).
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process and waits (bounded) until it is reaped.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = timeout(KILL_TIMEOUT, self.child.wait()).await;
    }
}

/// A set of server processes that scenarios run against.
#[derive(Debug)]
pub struct Target {
    /// The server binary all nodes run.
    pub spec: ServerSpec,
    /// Single node or cluster.
    pub topology: Topology,
    /// Running nodes, node 1 first.
    nodes: Vec<ServerProcess>,
    /// Directory for the servers' stdout/stderr logs.
    log_dir: PathBuf,
    /// The JetStream store directory (JetStream topology only); it outlives
    /// restarts of the node, so a restart recovers what was stored.
    store: Option<StoreDir>,
}

/// A fresh temporary JetStream store directory, removed on drop (also on
/// the error and signal paths, where the target is dropped).
#[derive(Debug)]
struct StoreDir(PathBuf);

impl StoreDir {
    /// `$TMPDIR/starling-bench-<pid>/<server>-<n>`, created empty.
    fn create(server: &str) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir()
            .join(format!("starling-bench-{}", std::process::id()))
            .join(format!("{server}-{n}"));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("create store dir {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for StoreDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // The per-process parent goes once the last store dir is gone.
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

impl Target {
    /// Spawns all nodes on fresh ephemeral ports and waits until each answers
    /// a client handshake (and, for a cluster, until messages cross it).
    pub async fn start(spec: &ServerSpec, topology: Topology, log_dir: &Path) -> Result<Self> {
        let mut target = Self {
            spec: spec.clone(),
            topology,
            nodes: Vec::new(),
            log_dir: log_dir.to_path_buf(),
            store: match topology {
                Topology::JetStream => Some(StoreDir::create(&spec.name)?),
                _ => None,
            },
        };
        target.spawn_nodes().await?;
        Ok(target)
    }

    async fn spawn_nodes(&mut self) -> Result<()> {
        self.launch_nodes()?;
        self.wait_nodes().await
    }

    /// Spawns the processes without waiting for them to answer.
    fn launch_nodes(&mut self) -> Result<()> {
        let count = match self.topology {
            Topology::Single | Topology::SingleTls | Topology::JetStream => 1,
            Topology::Cluster(n) => n,
        };
        let cluster_ports: Vec<u16> = match self.topology {
            Topology::Single | Topology::SingleTls | Topology::JetStream => Vec::new(),
            Topology::Cluster(n) => (0..n).map(|_| free_port()).collect::<Result<_>>()?,
        };
        let tls = self.topology == Topology::SingleTls;
        for index in 0..count {
            let port = free_port()?;
            let mut args = vec![
                "-a".to_string(),
                "127.0.0.1".to_string(),
                "-p".to_string(),
                port.to_string(),
            ];
            if let Some(config) = &self.spec.config {
                args.extend(["-c".to_string(), config.display().to_string()]);
            }
            if let Some(store) = &self.store {
                args.extend([
                    "-js".to_string(),
                    "-sd".to_string(),
                    store.0.display().to_string(),
                ]);
            }
            if tls {
                let files = &super::tls::material(&self.log_dir)?.files;
                args.extend([
                    "--tls".to_string(),
                    "--tlscert".to_string(),
                    files.cert.display().to_string(),
                    "--tlskey".to_string(),
                    files.key.display().to_string(),
                ]);
            }
            if let Some(cluster_port) = cluster_ports.get(index) {
                args.extend([
                    "--cluster".to_string(),
                    format!("nats://127.0.0.1:{cluster_port}"),
                    "--cluster_name".to_string(),
                    "bench".to_string(),
                ]);
                if index > 0 {
                    args.extend([
                        "--routes".to_string(),
                        format!("nats://127.0.0.1:{}", cluster_ports[0]),
                    ]);
                }
            }
            let log_name = match self.topology {
                Topology::Single => format!("{}.log", self.spec.name),
                Topology::SingleTls => format!("{}-tls.log", self.spec.name),
                Topology::JetStream => format!("{}-js.log", self.spec.name),
                Topology::Cluster(_) => format!("{}-cluster-node{}.log", self.spec.name, index + 1),
            };
            let child = spawn(&self.spec.path, &args, &self.log_dir.join(log_name))?;
            self.nodes.push(ServerProcess {
                child,
                client_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            });
        }
        Ok(())
    }

    /// Waits until every node answers a client handshake (and, for a
    /// cluster, until messages cross it).
    async fn wait_nodes(&mut self) -> Result<()> {
        let tls = self.topology == Topology::SingleTls;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        for index in 0..self.nodes.len() {
            let addr = self.nodes[index].client_addr;
            let ready = wait_until_ready(addr, tls, deadline);
            tokio::pin!(ready);
            // Poll readiness and the child's exit together, so a server that
            // rejects its flags fails fast with its exit status.
            loop {
                tokio::select! {
                    result = &mut ready => {
                        result.with_context(|| format!("{} did not start", self.spec.name))?;
                        break;
                    }
                    () = tokio::time::sleep(Duration::from_millis(50)) => {
                        if self.nodes[index].has_exited() {
                            bail!(
                                "{} exited at startup (see {})",
                                self.spec.name,
                                self.log_dir.display()
                            );
                        }
                    }
                }
            }
        }
        if matches!(self.topology, Topology::Cluster(_)) {
            wait_for_cluster(self.endpoints(), deadline)
                .await
                .with_context(|| format!("{} cluster did not form", self.spec.name))?;
        }
        Ok(())
    }

    /// Publish and subscribe addresses for scenarios.
    pub fn endpoints(&self) -> Endpoints {
        match (self.nodes.first(), self.nodes.last()) {
            (Some(first), Some(last)) => Endpoints {
                publish: first.client_addr,
                subscribe: last.client_addr,
                tls: self.topology == Topology::SingleTls,
            },
            // A target always has at least one node once started.
            _ => Endpoints {
                publish: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                subscribe: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                tls: false,
            },
        }
    }

    /// Process id of node 1 (the only node of a single-server target).
    pub fn pid(&self) -> Option<u32> {
        self.nodes.first().and_then(ServerProcess::pid)
    }

    /// Restarts the whole target when any node has exited. Returns whether a
    /// restart happened.
    pub async fn ensure_running(&mut self) -> Result<bool> {
        if !self.nodes.iter_mut().any(ServerProcess::has_exited) {
            return Ok(false);
        }
        self.stop_nodes().await;
        self.spawn_nodes().await?;
        Ok(true)
    }

    /// The JetStream store directory, on a JetStream target.
    pub fn store_dir(&self) -> Option<&Path> {
        self.store.as_ref().map(|store| store.0.as_path())
    }

    /// SIGKILLs every node and spawns it again on the same store directory,
    /// without waiting for it to answer: returns the moment of the spawn, so
    /// the caller can time the recovery itself.
    pub async fn kill_and_relaunch(&mut self) -> Result<Instant> {
        self.stop_nodes().await;
        let spawned = Instant::now();
        self.launch_nodes()?;
        Ok(spawned)
    }

    /// Whether any node has exited.
    pub fn any_exited(&mut self) -> bool {
        self.nodes.iter_mut().any(ServerProcess::has_exited)
    }

    async fn stop_nodes(&mut self) {
        for node in self.nodes.drain(..) {
            node.stop().await;
        }
    }

    /// Kills and reaps every node.
    pub async fn stop(mut self) {
        self.stop_nodes().await;
    }
}

/// Spawns one server, stdout and stderr appended to `log`.
fn spawn(path: &Path, args: &[String], log: &Path) -> Result<Child> {
    let log_file = open_log(log)?;
    let log_err = log_file.try_clone()?;
    Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawn {}", path.display()))
}

fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("open log {}", path.display()))
}

/// A port that was free a moment ago: bind 127.0.0.1:0, read it, close.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Waits until a message published on the first node reaches a subscriber on
/// the last node, i.e. routes are up and interest has propagated.
async fn wait_for_cluster(endpoints: Endpoints, deadline: Instant) -> Result<()> {
    let mut subscriber = Connection::connect(endpoints.subscribe, endpoints.tls).await?;
    subscriber
        .flush_with(b"SUB bench.cluster.ready 1\r\n", STARTUP_TIMEOUT)
        .await?;
    let mut publisher = Connection::connect(endpoints.publish, endpoints.tls).await?;
    let mut scanner = Scanner::new(PayloadMode::Skip);
    loop {
        if Instant::now() >= deadline {
            bail!("no message crossed the cluster before the deadline");
        }
        publisher
            .flush_with(b"PUB bench.cluster.ready 0\r\n\r\n", STARTUP_TIMEOUT)
            .await?;
        let mut received = false;
        if let Ok(read) = timeout(SYNC_RETRY * 10, subscriber.read_more()).await {
            read?;
            scanner.scan(&mut subscriber.buf, |op| {
                received |= matches!(op, Op::Msg { .. });
                Ok(())
            })?;
        }
        if received {
            return Ok(());
        }
    }
}

/// The server's resident set size in KiB, from `/proc/PID/status` (`VmRSS`).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// The first line `PATH --version` prints, or `unknown` (bounded wait).
pub async fn version_of(path: &Path) -> String {
    let output = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    match timeout(Duration::from_secs(5), output).await {
        Ok(Ok(output)) => {
            let text = String::from_utf8_lossy(&output.stdout).to_string()
                + &String::from_utf8_lossy(&output.stderr);
            text.lines()
                .next()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .unwrap_or("unknown")
                .to_string()
        }
        _ => "unknown".to_string(),
    }
}
