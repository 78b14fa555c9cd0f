//! The `starling` binary: nats-server's command line, one node.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use starling::config::{self, Command};
use starling::options::Options;
use starling::server::{ports_file, Server};
use starling::{logging, signals};

/// mimalloc rather than glibc's malloc: applying a peer's 100,000-entry
/// interest snapshot (and dropping it when the route goes) leaves glibc
/// consolidating fastbins on the next large allocation, measured at a fifth
/// of the receiving node's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Longest wait for leftover blocking tasks once the server has stopped.
const RUNTIME_SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

fn main() -> ExitCode {
    let command = match config::parse_command_line(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("starling: {error}");
            return ExitCode::from(1);
        }
    };
    match command {
        Command::Version => {
            println!("starling version {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Help(usage) => {
            println!("{usage}");
            ExitCode::SUCCESS
        }
        Command::TestConfig(options) => {
            if let Err(error) = starling::tls::check(&options) {
                eprintln!("starling: {error}");
                return ExitCode::from(1);
            }
            let file = options
                .config_file
                .as_ref()
                .map_or_else(|| "(none)".to_string(), |p| p.display().to_string());
            println!("starling: configuration file {file} test is successful");
            ExitCode::SUCCESS
        }
        Command::Signal { signal, target } => match signals::send(signal, target.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("starling: {error}");
                ExitCode::from(1)
            }
        },
        Command::Run(options) => run(options),
    }
}

fn run(options: Options) -> ExitCode {
    if let Err(error) = logging::init(&options) {
        eprintln!("starling: cannot open log file: {error}");
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("starling: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    if let Err(error) = starling::tls::check(&options) {
        tracing::error!(%error, "invalid TLS configuration");
        return ExitCode::from(1);
    }
    let code = runtime.block_on(async move {
        let pid_file = options.pid_file.clone();
        let ports_file_dir = options.ports_file_dir.clone();
        let server = match Server::bind(options).await {
            Ok(server) => server,
            Err(error) => {
                // The error names the listener and its address.
                tracing::error!("{error}");
                return ExitCode::from(1);
            }
        };
        if let Some(path) = &pid_file {
            if let Err(error) = std::fs::write(path, std::process::id().to_string()) {
                tracing::error!(%error, path = %path.display(), "cannot write pid file");
                return ExitCode::from(1);
            }
        }
        // nats-server logs a ports file it cannot write and runs on.
        let ports_file = ports_file_dir.and_then(|dir| match ports_file::write(&dir, &server) {
            Ok(path) => Some(path),
            Err(error) => {
                let path = ports_file::path_in(&dir);
                tracing::error!(%error, path = %path.display(), "cannot write ports file");
                None
            }
        });
        let handle = server.handle();
        // Handlers first: a signal right after "Server is ready" must be
        // handled, not fatal.
        tokio::spawn(signals::handle(handle.clone()));
        announce(&server);
        server.run().await;
        for path in pid_file.iter().chain(ports_file.iter()) {
            let _ = std::fs::remove_file(path);
        }
        drop(handle);
        ExitCode::SUCCESS
    });
    // Do not wait on blocking work still running (e.g. a DNS lookup of an
    // unreachable seed): the server itself has already stopped.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    code
}

fn announce(server: &Server) {
    let state = server.handle();
    let state = state.state();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        server_id = %state.server_id,
        server_name = %state.server_name(),
        "Starting starling"
    );
    if let Some(addr) = server.monitor_addr() {
        tracing::info!("Starting http monitor on {addr}");
    }
    if let Some(addr) = server.route_addr() {
        tracing::info!("Listening for route connections on {addr}");
    }
    let options = state.options();
    if let Some(cluster) = options.cluster.as_ref().filter(|cluster| !cluster.listen) {
        // nats-server dials no routes without a cluster port, silently.
        tracing::info!(
            cluster = cluster.name.as_deref().unwrap_or(""),
            "cluster block has no port: no route listener"
        );
        if !cluster.routes.is_empty() {
            tracing::warn!(
                routes = cluster.routes.len(),
                "cluster routes are not dialed without a cluster port (set cluster.port or listen)"
            );
        }
    }
    if let Ok(addr) = server.client_addr() {
        tracing::info!("Listening for client connections on {addr}");
    }
    tracing::info!("Server is ready");
}
