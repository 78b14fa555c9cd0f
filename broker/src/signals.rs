//! Process signals, as nats-server has them: SIGINT/SIGTERM stop
//! gracefully, SIGHUP reloads the config file, SIGUSR2 enters lame duck
//! mode. `starling --signal NAME[=PID|PIDFILE]` sends them.

use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, SignalKind as TokioSignal};

use crate::config::{self, SignalKind};
use crate::server::ServerHandle;

/// Install the signal handlers now (so a signal sent as soon as the server
/// says it is ready is not fatal) and return the loop that reacts to them
/// until the server stops. Call inside the runtime.
pub fn handle(server: ServerHandle) -> impl std::future::Future<Output = ()> {
    let streams = (
        signal(TokioSignal::interrupt()),
        signal(TokioSignal::terminate()),
        signal(TokioSignal::hangup()),
        signal(TokioSignal::user_defined2()),
    );
    async move { react(server, streams).await }
}

type SignalStreams = (
    std::io::Result<tokio::signal::unix::Signal>,
    std::io::Result<tokio::signal::unix::Signal>,
    std::io::Result<tokio::signal::unix::Signal>,
    std::io::Result<tokio::signal::unix::Signal>,
);

async fn react(server: ServerHandle, streams: SignalStreams) {
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup), Ok(mut lame_duck)) = streams else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    let shutdown = server.state().shutdown.clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interrupt.recv() => {
                tracing::info!("Trapped \"interrupt\" signal");
                server.shutdown();
            }
            _ = terminate.recv() => {
                // Kubernetes sends SIGTERM right after a preStop hook that
                // only signalled lame duck: let the eviction finish (the pod's
                // grace period bounds it). SIGINT still stops at once.
                if server.in_lame_duck() {
                    tracing::info!("Trapped \"terminated\" signal during lame duck mode: finishing lame duck first");
                } else {
                    tracing::info!("Trapped \"terminated\" signal");
                    server.shutdown();
                }
            }
            _ = hangup.recv() => reload(&server),
            _ = lame_duck.recv() => {
                tracing::info!("Trapped \"user defined signal 2\" signal: entering lame duck mode");
                server.enter_lame_duck();
            }
        }
    }
}

/// Re-read the config file and apply it.
pub fn reload(server: &ServerHandle) {
    let current = server.state().options();
    let Some(path) = current.config_file.clone() else {
        tracing::warn!("reload requested but the server was started without a config file");
        return;
    };
    match config::load_file(&path) {
        Ok(mut options) => {
            // Listeners, cluster and files are fixed for the life of the process.
            options.host = current.host.clone();
            options.port = current.port;
            options.http_host = current.http_host.clone();
            options.http_port = current.http_port;
            options.cluster = current.cluster.clone();
            options.pid_file = current.pid_file.clone();
            options.log_file = current.log_file.clone();
            server.reload(options);
            tracing::info!(path = %path.display(), "reloaded server configuration");
        }
        Err(error) => {
            tracing::error!(%error, "config reload failed; keeping the running configuration")
        }
    }
}

/// Errors of `--signal`.
#[derive(Debug)]
pub enum SignalError {
    /// No PID given and none could be found.
    NoTarget,
    /// The PID file could not be read or parsed.
    PidFile(String),
    /// kill(2) failed.
    Kill(nix::Error),
}

impl std::fmt::Display for SignalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalError::NoTarget => write!(
                f,
                "no PID given: use --signal NAME=PID or NAME=/path/to/pidfile"
            ),
            SignalError::PidFile(e) => write!(f, "cannot read PID file: {e}"),
            SignalError::Kill(e) => write!(f, "cannot send signal: {e}"),
        }
    }
}

impl std::error::Error for SignalError {}

/// Send `kind` to the process named by `target` (a PID or a PID file).
pub fn send(kind: SignalKind, target: Option<&str>) -> Result<(), SignalError> {
    let target = target.ok_or(SignalError::NoTarget)?;
    let pid: i32 = match target.parse() {
        Ok(pid) => pid,
        Err(_) => {
            let text = std::fs::read_to_string(Path::new(target))
                .map_err(|e| SignalError::PidFile(e.to_string()))?;
            text.trim()
                .parse()
                .map_err(|_| SignalError::PidFile(format!("{target} does not hold a PID")))?
        }
    };
    let signal = match kind {
        SignalKind::Ldm => Signal::SIGUSR2,
        SignalKind::Stop => Signal::SIGKILL,
        SignalKind::Quit => Signal::SIGINT,
        SignalKind::Term => Signal::SIGTERM,
        SignalKind::Reopen => Signal::SIGUSR1,
        SignalKind::Reload => Signal::SIGHUP,
    };
    kill(Pid::from_raw(pid), signal).map_err(SignalError::Kill)
}
