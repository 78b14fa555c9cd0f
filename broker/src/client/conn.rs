//! One client connection: its reader task (read, parse, act) and the
//! timers that belong to it (keep-alive PINGs, the auth deadline).
//!
//! The reader and the writer are generic over the stream halves: plain TCP
//! uses `TcpStream::into_split` (no lock between the halves), TLS uses
//! `tokio::io::split` of the upgraded stream (see [`super::tls`]). The auth
//! deadline starts once TLS is up, as nats-server's auth timer does, and
//! applies only when auth is required: without auth, a client that never
//! sends CONNECT is bounded by the keep-alive PINGs (nats-server does the
//! same).
//!
//! The reader parses every complete op in a read buffer before reading again
//! and wakes each destination once per buffer (see [`crate::router::Batch`]).
//! The writer is a separate task (see [`super::writer`]).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use rand::RngExt;
use starling_proto::client::{encode, ClientParser, ConnectInfo, ParseError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use super::barrier::InterestBarrier;
use super::handle::ClientHandle;
use super::{tls, writer};
use crate::account::Account;
use crate::auth::nkey::generate_nonce;
use crate::auth::PermissionChecker;
use crate::close::CloseReason;
use crate::options::Options;
use crate::router::Batch;
use crate::server::ServerState;

/// First read buffer size; it doubles while reads fill it.
const MIN_READ_SIZE: usize = 512;
/// Largest read buffer size.
const MAX_READ_SIZE: usize = 64 * 1024;
/// The first server PING comes after at most this long (nats-server's
/// `firstClientPingInterval`), so a dead peer is found early.
const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);

/// Reader-side state of one connection.
pub(super) struct Connection {
    pub(super) server: Arc<ServerState>,
    pub(super) handle: Arc<ClientHandle>,
    pub(super) options: Arc<Options>,
    /// The account this connection publishes and subscribes in: `$G` until
    /// CONNECT names another. Held here so a publish costs no lookup.
    pub(super) account: Arc<Account>,
    pub(super) parser: ClientParser,
    /// CONNECT options (nats-server defaults until CONNECT arrives).
    pub(super) connect: ConnectInfo,
    /// True once a CONNECT was accepted.
    pub(super) connected: bool,
    /// Clients must authenticate before anything else.
    pub(super) auth_required: bool,
    /// The nonce sent in INFO for NKey users to sign; None when no NKey
    /// users exist.
    pub(super) nonce: Option<String>,
    /// A CONNECT whose credentials must be checked on a blocking thread
    /// (bcrypt); the read loop does that before processing further ops.
    pub(super) pending_connect: Option<Box<ConnectInfo>>,
    /// Publish/subscribe limits of the authenticated user.
    pub(super) permissions: Option<Arc<PermissionChecker>>,
    /// Destinations to wake and counts to publish after this read buffer.
    pub(super) batch: Batch,
    /// A SUB since the last PING: that PING may have to wait for the peers.
    pub(super) interest_changed: bool,
    /// A PING waiting for peers' interest acknowledgements; the read loop
    /// waits it out before processing further ops (see `super::barrier`).
    pub(super) pending_barrier: Option<InterestBarrier>,
    /// Subscriptions this connection may hold; None = unlimited
    /// (`max_subscriptions`, tightened by a user JWT's `subs`).
    pub(super) max_subscriptions: Option<usize>,
    /// Set at CONNECT when the user JWT expires: the connection ends then
    /// with `User Authentication Expired`. Taken by the read loop.
    pub(super) auth_expires: Option<Instant>,
    /// A JWT user's own limits; None for other clients.
    pub(super) user_limits: Option<super::limits::UserLimits>,
    /// The account's limits generation last applied (see `super::limits`).
    pub(super) limits_generation: u64,
    /// A JWT CONNECT whose account this node does not hold: the read loop
    /// asks the cluster for it, then retries the CONNECT.
    pub(super) pending_account_lookup: Option<(Box<ConnectInfo>, String)>,
    /// Server PINGs not yet answered.
    pings_outstanding: u32,
    /// When the last unanswered PING went out, for the RTT.
    ping_sent_at: Option<Instant>,
    /// Inbound data since the last ping timer fired.
    active_since_ping: bool,
}

/// Serve one accepted client connection until it closes.
pub async fn serve(
    server: Arc<ServerState>,
    stream: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    // Latency matters more than packet count: the writer batches already.
    let _ = stream.set_nodelay(true);
    let options = server.options();
    let cid = server.next_client_id();
    let handle = Arc::new(ClientHandle::new(
        cid,
        peer,
        options.max_pending,
        server.shutdown.child_token(),
    ));
    server.register_client(&handle);
    let authenticator = server.authenticator();
    // Operator mode: every client must present a user JWT and sign the nonce.
    let operator_mode = server.operator_mode().is_some();
    let auth_required = operator_mode || authenticator.required();
    let nonce = (operator_mode || authenticator.uses_nonce()).then(generate_nonce);
    let info = server.client_info_with_nonce(
        cid,
        peer,
        operator_mode || authenticator.announces_auth_required(),
        nonce.as_deref(),
    );
    let mut info_line = BytesMut::new();
    encode::encode_info(&mut info_line, &info);

    let max_subscriptions = (options.max_subscriptions > 0).then_some(options.max_subscriptions);
    let connection = Connection {
        server: server.clone(),
        handle: handle.clone(),
        parser: ClientParser::new(options.max_control_line, options.max_payload),
        options,
        account: server.accounts.global().clone(),
        connect: ConnectInfo::default(),
        connected: false,
        auth_required,
        nonce,
        pending_connect: None,
        permissions: None,
        batch: Batch::default(),
        interest_changed: false,
        pending_barrier: None,
        max_subscriptions,
        auth_expires: None,
        user_limits: None,
        limits_generation: 0,
        pending_account_lookup: None,
        pings_outstanding: 0,
        ping_sent_at: None,
        active_since_ping: false,
    };
    match server.client_tls() {
        None => {
            handle.outbound.push_control_bytes(&info_line);
            let (read_half, write_half) = stream.into_split();
            connection.serve(read_half, write_half).await;
        }
        // Boxed: the TLS handshake's state is large, and inline it would size
        // every plain connection's task by it (measured: 5.1 -> 7.7 KiB per
        // idle connection).
        Some(tls) => Box::pin(serve_tls(tls, stream, info_line, connection)).await,
    }
    server.unregister_client(&handle);
    if let Some(operator) = server.operator_mode() {
        operator.forget(cid);
    }
}

/// Upgrade to TLS (INFO first, or handshake first), then serve.
async fn serve_tls(
    tls: Arc<crate::tls::ClientTls>,
    stream: TcpStream,
    info_line: BytesMut,
    connection: Connection,
) {
    let handle = connection.handle.clone();
    let upgraded = tokio::select! {
        biased;
        _ = handle.closed.cancelled() => Err(CloseReason::ServerShutdown),
        upgraded = tls::upgrade(&tls, stream, &info_line, &handle) => upgraded,
    };
    match upgraded {
        Ok((stream, info_sent)) => {
            if !info_sent {
                handle.outbound.push_control_bytes(&info_line);
            }
            let (read_half, write_half) = tokio::io::split(stream);
            connection.serve(read_half, write_half).await;
        }
        Err(reason) => handle.close(reason),
    }
}

impl Connection {
    /// Run the writer task and the read loop over an established stream
    /// (plain TCP halves, or the halves of a TLS stream) until the
    /// connection closes, then wait for the writer's final flush.
    async fn serve<R, W>(mut self, read_half: R, write_half: W)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let writer = tokio::spawn(writer::run(
            self.server.clone(),
            self.handle.clone(),
            write_half,
            self.options.write_deadline,
        ));
        let reason = self.run(read_half).await;
        self.handle.close(reason);
        let _ = writer.await;
    }

    async fn run<R: AsyncRead + Unpin>(&mut self, mut socket: R) -> CloseReason {
        let mut buffer = BytesMut::with_capacity(MIN_READ_SIZE);
        let mut read_size = MIN_READ_SIZE;
        let first_ping = self.options.ping_interval.min(FIRST_PING_INTERVAL);
        let mut ping_timer: Pin<Box<Sleep>> = Box::pin(tokio::time::sleep(with_jitter(first_ping)));
        let auth_deadline = tokio::time::sleep(self.server.options().authorization.timeout);
        tokio::pin!(auth_deadline);
        // Armed once CONNECT set `auth_expires` (JWT users with `exp`).
        let auth_expiry = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(auth_expiry);
        let mut auth_expiry_armed = false;
        let closed = self.handle.closed.clone();

        loop {
            let wanted = self.parser.bytes_needed().unwrap_or(0).max(read_size);
            buffer.reserve(wanted.saturating_sub(buffer.len()).max(MIN_READ_SIZE / 2));
            // Every branch is cancel-safe: read_buf either read bytes into the
            // buffer or did nothing; the timers are only polled.
            tokio::select! {
                biased;
                _ = closed.cancelled() => {
                    return self.handle.close_reason().unwrap_or(CloseReason::ServerShutdown);
                }
                result = socket.read_buf(&mut buffer) => {
                    let read = match result {
                        Ok(0) => return CloseReason::ClientClosed,
                        Ok(read) => read,
                        Err(error) => {
                            tracing::debug!(cid = self.handle.cid, %error, "read error");
                            return CloseReason::ReadError;
                        }
                    };
                    read_size = next_read_size(read_size, read);
                    self.active_since_ping = true;
                    self.handle.touch();
                    self.refresh_limits();
                    let mut outcome = self.process(&mut buffer);
                    // A CONNECT checked against bcrypt hashes stops the
                    // buffer's processing; the rest follows once it passed.
                    while outcome.is_ok() {
                        if let Some(barrier) = self.pending_barrier.take() {
                            outcome = self.pass_barrier(barrier, &mut buffer).await;
                            continue;
                        }
                        if let Some((connect, account)) = self.pending_account_lookup.take() {
                            outcome = match self.connect_after_lookup(connect, &account).await {
                                Ok(()) => self.process(&mut buffer),
                                Err(reason) => Err(reason),
                            };
                            continue;
                        }
                        let Some(connect) = self.pending_connect.take() else {
                            break;
                        };
                        outcome = match self.authenticate_blocking(connect).await {
                            Ok(()) => self.process(&mut buffer),
                            Err(reason) => Err(reason),
                        };
                    }
                    self.batch.finish(&self.server, Some(&self.handle));
                    if let Err(reason) = outcome {
                        return reason;
                    }
                    if let Some(expires) = self.auth_expires.take() {
                        auth_expiry.as_mut().reset(expires);
                        auth_expiry_armed = true;
                    }
                    if buffer.is_empty() && buffer.capacity() > 2 * read_size {
                        buffer = BytesMut::with_capacity(read_size);
                    }
                }
                _ = &mut ping_timer => {
                    if let Err(reason) = self.on_ping_timer() {
                        return reason;
                    }
                    ping_timer.as_mut().reset(Instant::now() + self.options.ping_interval);
                }
                _ = &mut auth_deadline, if self.auth_required && !self.connected => {
                    self.send_err("Authentication Timeout");
                    return CloseReason::AuthenticationTimeout;
                }
                _ = &mut auth_expiry, if auth_expiry_armed => {
                    tracing::debug!(cid = self.handle.cid, "user JWT expired, closing");
                    self.send_err("User Authentication Expired");
                    return CloseReason::AuthenticationExpired;
                }
            }
        }
    }

    /// Parse and act on every complete op in the buffer, then consume them
    /// (up to a CONNECT checked on a blocking thread, or a PING waiting at
    /// the interest barrier).
    pub(super) fn process(&mut self, buffer: &mut BytesMut) -> Result<(), CloseReason> {
        let mut consumed = 0;
        let outcome = loop {
            match self.parser.parse(&buffer[consumed..]) {
                Ok(Some((op, used))) => {
                    consumed += used;
                    if let Err(reason) = self.handle_op(op) {
                        break Err(reason);
                    }
                    if self.pending_connect.is_some()
                        || self.pending_barrier.is_some()
                        || self.pending_account_lookup.is_some()
                    {
                        break Ok(());
                    }
                }
                Ok(None) => break Ok(()),
                Err(error) => break Err(self.parse_failed(error)),
            }
        };
        buffer.advance(consumed);
        outcome
    }

    fn parse_failed(&mut self, error: ParseError) -> CloseReason {
        tracing::debug!(cid = self.handle.cid, peer = %self.handle.peer, %error, "client protocol error");
        if let Some(text) = error.client_error() {
            self.send_err(text);
        }
        match error {
            ParseError::ControlLineTooLong => CloseReason::MaxControlLineExceeded,
            ParseError::PayloadTooLarge { .. } => CloseReason::MaxPayloadExceeded,
            ParseError::UnknownOperation => CloseReason::ParseError,
            ParseError::BadArguments { .. } => CloseReason::ProtocolViolation,
        }
    }

    /// The keep-alive timer fired: send a PING, unless the client was active
    /// recently and its RTT is known (nats-server delays PINGs then), or
    /// close the connection if too many PINGs went unanswered.
    fn on_ping_timer(&mut self) -> Result<(), CloseReason> {
        let rtt_known = self.handle.rtt_nanos.load(Ordering::Relaxed) != 0;
        if std::mem::take(&mut self.active_since_ping) && rtt_known {
            return Ok(());
        }
        if self.pings_outstanding + 1 > self.options.ping_max {
            tracing::debug!(cid = self.handle.cid, "stale client connection, closing");
            self.send_err("Stale Connection");
            return Err(CloseReason::StaleConnection);
        }
        self.pings_outstanding += 1;
        self.ping_sent_at.get_or_insert_with(Instant::now);
        self.handle.outbound.push_control_bytes(encode::PING);
        Ok(())
    }

    /// A PONG arrived: the client is alive.
    pub(super) fn on_pong(&mut self) {
        self.pings_outstanding = 0;
        if let Some(sent) = self.ping_sent_at.take() {
            let rtt = sent.elapsed().as_nanos().max(1) as u64;
            self.handle.rtt_nanos.store(rtt, Ordering::Relaxed);
        }
    }

    /// Queue `-ERR '<text>'`.
    pub(super) fn send_err(&self, text: &str) {
        let mut line = BytesMut::new();
        encode::encode_err(&mut line, text);
        self.handle.outbound.push_control_bytes(&line);
    }

    /// Queue `+OK` when the client asked for verbose mode.
    pub(super) fn send_ok_if_verbose(&self) {
        if self.connect.verbose {
            self.handle.outbound.push_control_bytes(encode::OK);
        }
    }
}

fn next_read_size(current: usize, read: usize) -> usize {
    if read >= current {
        (current * 2).min(MAX_READ_SIZE)
    } else if read < current / 4 {
        (current / 2).max(MIN_READ_SIZE)
    } else {
        current
    }
}

/// `base` plus up to 20% (nats-server spreads first PINGs this way).
fn with_jitter(base: Duration) -> Duration {
    let fifth = (base.as_millis() / 5) as u64;
    if fifth == 0 {
        return base;
    }
    base + Duration::from_millis(rand::rng().random_range(0..fifth))
}
