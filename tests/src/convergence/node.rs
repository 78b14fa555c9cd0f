//! Server processes for the convergence figures: spawned with nats-server's
//! flags on ephemeral loopback ports, killed by their own child handle.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{sleep, timeout, Instant};

use super::client::Client;

/// Clock ticks per second of `/proc/PID/stat` times (Linux's USER_HZ, 100
/// on every mainstream architecture; asking sysconf would need unsafe).
const USER_HZ: f64 = 100.0;

/// Longest a node may take to accept clients after spawn.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// A server binary under test.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Name in the report.
    pub name: String,
    /// Executable accepting nats-server's flags.
    pub path: PathBuf,
}

/// Ports of one node, chosen before it starts.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// Client port.
    pub client: u16,
    /// Route port.
    pub cluster: u16,
    /// Monitoring port.
    pub http: u16,
}

impl Ports {
    /// Three ports that were free a moment ago.
    pub fn pick() -> Result<Ports> {
        Ok(Ports {
            client: free_port()?,
            cluster: free_port()?,
            http: free_port()?,
        })
    }

    /// The client address.
    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.client))
    }

    /// The route address.
    pub fn cluster_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.cluster))
    }
}

/// One running node.
#[derive(Debug)]
pub struct Node {
    child: Child,
    /// Its ports.
    pub ports: Ports,
}

/// How to start one node.
#[derive(Debug, Clone, Default)]
pub struct NodeArgs {
    /// Route URLs it dials (`host:port`).
    pub routes: Vec<SocketAddr>,
    /// Route address it advertises, when not its own.
    pub advertise: Option<SocketAddr>,
}

impl Node {
    /// Spawn `spec` and wait until it accepts clients.
    pub async fn start(
        spec: &ServerSpec,
        ports: Ports,
        args: &NodeArgs,
        log: &Path,
    ) -> Result<Node> {
        let mut argv: Vec<String> = vec![
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            ports.client.to_string(),
            "-m".into(),
            ports.http.to_string(),
            "--cluster".into(),
            format!("nats://127.0.0.1:{}", ports.cluster),
            "--cluster_name".into(),
            "convergence".into(),
        ];
        if !args.routes.is_empty() {
            let routes: Vec<String> = args.routes.iter().map(|a| format!("nats://{a}")).collect();
            argv.extend(["--routes".into(), routes.join(",")]);
        }
        if let Some(advertise) = args.advertise {
            argv.extend(["--cluster_advertise".into(), advertise.to_string()]);
        }
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open {}", log.display()))?;
        let child = Command::new(&spec.path)
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {}", spec.path.display()))?;
        let mut node = Node { child, ports };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if Client::connect(ports.client_addr()).await.is_ok() {
                return Ok(node);
            }
            if !matches!(node.child.try_wait(), Ok(None)) {
                bail!("{} exited at startup (see {})", spec.name, log.display());
            }
            if Instant::now() >= deadline {
                bail!("{} did not start in time", spec.name);
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kill the process and reap it (bounded).
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    /// CPU time the process has used so far (user + system, all threads),
    /// from `/proc/PID/stat`; None once it exited.
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()?)).ok()?;
        // Fields after the parenthesised command name; utime and stime are
        // the 14th and 15th fields of the line, in clock ticks.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_secs_f64(ticks as f64 / USER_HZ))
    }

    /// `num_subscriptions` from `/subsz` (local and routed interest).
    pub async fn subscriptions(&self) -> Result<u64> {
        let body = http_get(self.ports.http, "/subsz").await?;
        number_after(&body, "\"num_subscriptions\":")
            .ok_or_else(|| anyhow!("no num_subscriptions in /subsz"))
    }

    /// `num_routes` from `/routez`.
    pub async fn routes(&self) -> Result<u64> {
        let body = http_get(self.ports.http, "/routez").await?;
        number_after(&body, "\"num_routes\":").ok_or_else(|| anyhow!("no num_routes in /routez"))
    }

    /// Poll until `/routez` shows `count` routes (bounded).
    pub async fn wait_routes(&self, count: u64, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while self.routes().await.unwrap_or(0) < count {
            if Instant::now() >= deadline {
                bail!("node on {} has not {count} routes", self.ports.client);
            }
            sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

fn number_after(body: &str, key: &str) -> Option<u64> {
    let start = body.find(key)? + key.len();
    let digits: String = body[start..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A one-shot HTTP/1.1 GET on the monitoring port; returns the body.
async fn http_get(port: u16, path: &str) -> Result<String> {
    let exchange = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        anyhow::Ok(String::from_utf8_lossy(&response).to_string())
    };
    let response = timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| anyhow!("GET {path} timed out"))??;
    match response.split_once("\r\n\r\n") {
        Some((_, body)) => Ok(body.to_string()),
        None => bail!("bad HTTP response to GET {path}"),
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
