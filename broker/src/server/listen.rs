//! Binding the listeners, the accept loop, and the server's lifecycle.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use starling_proto::client::encode;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;

use super::state::ServerState;
use crate::client::conn;
use crate::client::handle::lock;
use crate::monitor;
use crate::options::Options;
use crate::route;
use crate::route::tls::{TlsRouteListener, TlsTransport};
use crate::tls::RouteTls;
use starling_cluster::Cluster;

/// Longest wait for connections to finish closing on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// First pause after a failed accept (e.g. out of file descriptors).
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// Longest pause after repeated failed accepts.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A server whose listeners are bound, ready to [`Server::run`].
#[derive(Debug)]
pub struct Server {
    state: Arc<ServerState>,
    client_listener: TcpListener,
    monitor_listener: Option<TcpListener>,
    route_listener: Option<TcpListener>,
    /// Route TLS (certificates loaded at bind), when `cluster { tls }`.
    route_tls: Option<RouteTls>,
}

/// A cheap handle to control a running server from elsewhere.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    state: Arc<ServerState>,
}

impl Server {
    /// Bind the client, monitoring and route listeners for `options`. An
    /// error names the listener and its address, e.g. `cannot listen for
    /// client connections on 127.0.0.1:4222: address already in use`.
    pub async fn bind(options: Options) -> io::Result<Server> {
        let client_listener =
            bind_listener("client connections", &options.host, options.port).await?;
        let monitor_listener = match options.http_port {
            Some(port) => {
                let host = options
                    .http_host
                    .clone()
                    .unwrap_or_else(|| options.host.clone());
                Some(bind_listener("monitoring", &host, port).await?)
            }
            None => None,
        };
        // A cluster block without a port only names the cluster.
        let routing = options.cluster.as_ref().filter(|cluster| cluster.listen);
        let route_listener = match routing {
            Some(cluster) => {
                Some(bind_listener("route connections", &cluster.host, cluster.port).await?)
            }
            None => None,
        };
        let route_tls = match routing.and_then(|c| c.tls.as_ref()) {
            Some(tls) => Some(RouteTls::new(tls)?),
            None => None,
        };
        let state = Arc::new(ServerState::new(options));
        state.load_client_tls(&state.options())?;
        state
            .start_operator_mode(&state.options())
            .map_err(|error| io::Error::other(format!("operator mode: {error}")))?;
        crate::jetstream::start(&state)?;
        *lock(&state.client_addr) = Some(client_listener.local_addr()?);
        Ok(Server {
            state,
            client_listener,
            monitor_listener,
            route_listener,
            route_tls,
        })
    }

    /// Where clients connect.
    pub fn client_addr(&self) -> io::Result<SocketAddr> {
        self.client_listener.local_addr()
    }

    /// Where routes connect, if clustered.
    pub fn route_addr(&self) -> Option<SocketAddr> {
        self.route_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Where monitoring answers, if enabled.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// A handle for shutdown and reload.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            state: self.state.clone(),
        }
    }

    /// Serve until [`ServerHandle::shutdown`]; then stop accepting, close
    /// every connection and wait (bounded) for them to finish.
    pub async fn run(self) {
        let Server {
            state,
            client_listener,
            monitor_listener,
            route_listener,
            route_tls,
        } = self;
        let tracker = TaskTracker::new();
        if let Some(listener) = route_listener {
            start_cluster(&state, listener, route_tls);
        }
        let http_port = monitor_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
            .map_or(0, |addr| addr.port());
        tracker.spawn(crate::system::run(state.clone(), http_port));
        tracker.spawn(crate::system::claims::run(state.clone()));
        if let Some(listener) = monitor_listener {
            tracker.spawn(monitor::serve(state.clone(), listener));
        }
        accept_loop(&state, client_listener, &tracker).await;
        // Lame duck stops accepting first; the server runs on until shutdown.
        state.shutdown.cancelled().await;
        if let Some(jetstream) = state.jetstream.get() {
            jetstream.wait_stopped().await;
        }
        tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("connections still closing after {SHUTDOWN_GRACE:?}; exiting anyway");
        }
        tracing::info!("server stopped");
    }
}

impl ServerHandle {
    /// Stop the server (idempotent).
    pub fn shutdown(&self) {
        self.state.shutdown.cancel();
    }

    /// The shared state (monitoring, tests).
    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }

    /// True once lame duck mode began.
    pub fn in_lame_duck(&self) -> bool {
        self.state.lame_duck.load(Ordering::SeqCst)
    }

    /// Enter lame duck mode (idempotent): stop accepting, tell clients with
    /// an INFO carrying `ldm: true`, wait the grace period, then close the
    /// clients spread over the rest of `lame_duck_duration`, and stop.
    pub fn enter_lame_duck(&self) {
        if self.state.lame_duck.swap(true, Ordering::SeqCst) {
            return;
        }
        self.state.stop_accepting.cancel();
        let state = self.state.clone();
        tokio::spawn(async move { lame_duck(state).await });
    }

    /// Apply reloaded options: authorization and limits for new operations.
    /// Connections whose credentials no longer pass are closed.
    pub fn reload(&self, options: Options) {
        self.state.replace_options(options);
    }
}

/// Bind `host:port`, or an error that says which listener and address
/// failed, in the kind of the underlying error.
async fn bind_listener(what: &str, host: &str, port: u16) -> io::Result<TcpListener> {
    TcpListener::bind((host, port)).await.map_err(|error| {
        let address = match host.contains(':') {
            true => format!("[{host}]:{port}"),
            false => format!("{host}:{port}"),
        };
        io::Error::new(
            error.kind(),
            format!(
                "cannot listen for {what} on {address}: {}",
                describe_bind_error(&error)
            ),
        )
    })
}

/// The OS error in words, without Rust's `(os error N)` suffix for the
/// common cases.
fn describe_bind_error(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::AddrInUse => "address already in use".to_string(),
        io::ErrorKind::AddrNotAvailable => "address not available on this host".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    }
}

fn start_cluster(state: &Arc<ServerState>, listener: TcpListener, tls: Option<RouteTls>) {
    let options = state.options();
    let Some(cluster_options) = &options.cluster else {
        return;
    };
    let client_addr = lock(&state.client_addr)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], options.port)));
    let config = route::setup::cluster_config(
        &options,
        cluster_options,
        &state.server_id,
        &state.server_name(),
        client_addr,
    );
    let _ = state.own_client_urls.set(config.client_urls.clone());
    let glue = Arc::new(route::ClusterGlue::new(state));
    let shutdown = state.shutdown.clone();
    let cluster = match tls {
        None => Cluster::start(config, listener, glue, shutdown),
        Some(tls) => Cluster::start_with(
            config,
            Box::new(TlsRouteListener::new(listener, tls.clone())),
            Arc::new(TlsTransport::new(tls)),
            rand::make_rng(),
            glue,
            shutdown,
        ),
    };
    let _ = state.cluster.set(cluster);
}

async fn accept_loop(state: &Arc<ServerState>, listener: TcpListener, tracker: &TaskTracker) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = state.stop_accepting.cancelled() => return,
            _ = state.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                match state.connection_permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tracker.spawn(conn::serve(state.clone(), stream, peer, permit));
                    }
                    Err(_) => {
                        tracker.spawn(reject_max_connections(state.clone(), stream, peer));
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "accept failed; retrying in {backoff:?}");
                tokio::select! {
                    _ = state.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

/// nats-server sends INFO, then the error, then closes.
async fn reject_max_connections(state: Arc<ServerState>, mut stream: TcpStream, peer: SocketAddr) {
    tracing::warn!(%peer, "maximum connections exceeded, rejecting connection");
    let mut bytes = BytesMut::new();
    let info = state.client_info(0, peer, state.authenticator().announces_auth_required());
    encode::encode_info(&mut bytes, &info);
    encode::encode_err(&mut bytes, "maximum connections exceeded");
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn lame_duck(state: Arc<ServerState>) {
    let options = state.options();
    tracing::info!(clients = state.client_count(), "entering lame duck mode");
    if let Some(cluster) = state.cluster.get() {
        cluster.enter_lame_duck();
    }
    // Every client gets INFO with ldm:true (and, clustered, without this
    // node in connect_urls), so it moves on before being closed.
    state.send_info_to_clients(false);
    let shutdown = state.shutdown.clone();
    let grace = options.lame_duck_grace_period;
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = tokio::time::sleep(grace) => {}
    }
    let clients = state.clients();
    if !clients.is_empty() {
        // nats-server: at most one close per second on average, jittered.
        let window = options.lame_duck_duration.saturating_sub(grace);
        let interval = (window / clients.len() as u32).min(Duration::from_secs(1));
        for client in clients {
            client.close(crate::close::CloseReason::ServerShutdown);
            let pause = jittered_half(interval);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
    tracing::info!("lame duck mode complete, shutting down");
    state.shutdown.cancel();
}

/// A random pause in [interval/2, interval).
fn jittered_half(interval: Duration) -> Duration {
    use rand::RngExt;
    let half = interval / 2;
    let spread = half.as_micros() as u64;
    if spread == 0 {
        return interval;
    }
    half + Duration::from_micros(rand::rng().random_range(0..spread))
}
