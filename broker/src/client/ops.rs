//! What the server does for each client op, with nats-server's replies and
//! its choice of which errors close the connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use starling_proto::client::{ClientOp, ConnectInfo};
use starling_proto::subject;

use super::conn::Connection;
use super::handle::Subscription;
use crate::auth::{AuthError, ClientIdentity, Credentials, OwnedCredentials};
use crate::close::CloseReason;
use crate::router::{self, Message, Origin};

impl Connection {
    /// Act on one op. `Err` closes the connection (after any queued `-ERR`).
    pub(super) fn handle_op(&mut self, op: ClientOp<'_>) -> Result<(), CloseReason> {
        if self.auth_required && !self.connected && !matches!(op, ClientOp::Connect(_)) {
            self.send_err("Authorization Violation");
            return Err(CloseReason::AuthenticationViolation);
        }
        match op {
            ClientOp::Pub {
                subject,
                reply,
                payload,
            } => self.handle_pub(subject, reply, None, payload),
            ClientOp::HPub {
                subject,
                reply,
                header_len,
                message,
            } => {
                if !self.connect.headers {
                    // nats-server closes without an -ERR here.
                    return Err(CloseReason::ProtocolViolation);
                }
                self.handle_pub(subject, reply, Some(header_len), message)
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                self.handle_sub(subject, queue, sid);
                Ok(())
            }
            ClientOp::Unsub { sid, max } => {
                self.handle_unsub(sid, max);
                Ok(())
            }
            ClientOp::Ping => {
                self.handle_ping();
                Ok(())
            }
            ClientOp::Pong => {
                self.on_pong();
                Ok(())
            }
            ClientOp::Connect(json) => self.handle_connect(json),
            ClientOp::Info(_) | ClientOp::Ok => Ok(()),
            ClientOp::Err(text) => {
                tracing::debug!(cid = self.handle.cid, error = %String::from_utf8_lossy(text), "client sent -ERR");
                Err(CloseReason::ParseError)
            }
        }
    }

    fn handle_connect(&mut self, json: &[u8]) -> Result<(), CloseReason> {
        let mut connect = match ConnectInfo::parse(json) {
            Ok(connect) => connect,
            Err(error) => {
                // nats-server logs this and closes without an -ERR.
                tracing::debug!(cid = self.handle.cid, %error, "bad CONNECT");
                return Err(CloseReason::ParseError);
            }
        };
        if !(0..=1).contains(&connect.protocol) {
            self.send_err("invalid client protocol");
            return Err(CloseReason::BadClientProtocolVersion);
        }
        // nats-server: with `no_header_support` a client asking for headers
        // is treated as not asking (so HPUB closes it, no_responders fails).
        connect.headers &= !self.options.no_header_support;
        if connect.no_responders && !connect.headers {
            self.send_err("no responders requires headers support");
            return Err(CloseReason::NoRespondersRequiresHeaders);
        }
        *super::handle::lock(&self.handle.credentials) = Some(OwnedCredentials::from_borrowed(
            &credentials(&connect, self.nonce.as_deref()),
        ));
        if let Some(operator) = self.server.operator_mode().cloned() {
            return self.connect_with_jwt(&operator, Box::new(connect));
        }
        let authenticator = self.server.authenticator();
        if !authenticator.required() {
            return self.finish_connect(Box::new(connect), ClientIdentity::default());
        }
        if authenticator.uses_bcrypt() {
            // bcrypt costs tens of milliseconds of CPU: the read loop runs
            // it on a blocking thread before it reads further ops.
            self.pending_connect = Some(Box::new(connect));
            return Ok(());
        }
        let result = authenticator.authenticate(&credentials(&connect, self.nonce.as_deref()));
        self.connect_authenticated(Box::new(connect), result)
    }

    /// Check a pending CONNECT's credentials on a blocking thread (bcrypt),
    /// then finish it as [`Connection::handle_connect`] would have.
    pub(super) async fn authenticate_blocking(
        &mut self,
        connect: Box<ConnectInfo>,
    ) -> Result<(), CloseReason> {
        let authenticator = self.server.authenticator();
        let nonce = self.nonce.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let result = authenticator.authenticate(&credentials(&connect, nonce.as_deref()));
            (connect, result)
        })
        .await;
        match checked {
            Ok((connect, result)) => self.connect_authenticated(connect, result),
            Err(error) => {
                tracing::warn!(cid = self.handle.cid, %error, "authentication task failed");
                self.send_err("Authorization Violation");
                Err(CloseReason::AuthenticationViolation)
            }
        }
    }

    fn connect_authenticated(
        &mut self,
        connect: Box<ConnectInfo>,
        result: Result<ClientIdentity, AuthError>,
    ) -> Result<(), CloseReason> {
        match result {
            Ok(identity) => self.finish_connect(connect, identity),
            Err(error) => {
                self.server.auth_failures.fetch_add(1, Ordering::Relaxed);
                tracing::info!(cid = self.handle.cid, peer = %self.handle.peer, %error, "authorization violation");
                self.send_err("Authorization Violation");
                Err(CloseReason::AuthenticationViolation)
            }
        }
    }

    /// The CONNECT is accepted: record who the client is, its account and
    /// what it may do. Err when the account is full.
    pub(super) fn finish_connect(
        &mut self,
        connect: Box<ConnectInfo>,
        identity: ClientIdentity,
    ) -> Result<(), CloseReason> {
        let account = match identity.account.as_deref() {
            None => self.server.accounts.global().clone(),
            // An account named in the config always exists.
            Some(name) => self
                .server
                .accounts
                .get_or_create(name)
                .unwrap_or_else(|| self.server.accounts.global().clone()),
        };
        if account.add_connection().is_err() {
            self.send_err("maximum account active connections exceeded");
            return Err(CloseReason::MaxAccountConnectionsExceeded);
        }
        self.handle.set_account(account.clone());
        self.account = account;
        self.apply_limits();
        self.permissions = identity.permissions;
        {
            let mut description = super::handle::lock(&self.handle.description);
            description.name = connect.name.clone().unwrap_or_default();
            description.lang = connect.lang.clone().unwrap_or_default();
            description.version = connect.version.clone().unwrap_or_default();
            description.user = identity.user;
            description.account =
                (!self.account.is_global()).then(|| self.account.name.to_string());
        }
        if let Some(permission) = self.permissions.as_ref().and_then(|p| p.allow_responses()) {
            self.handle.enable_response_tracking(permission.clone());
        }
        self.handle
            .async_info
            .store(connect.protocol >= 1, Ordering::Relaxed);
        self.handle
            .headers
            .store(connect.headers, Ordering::Relaxed);
        self.connect = *connect;
        self.connected = true;
        self.server
            .emit_system_event(crate::system::SystemEvent::Connect(self.handle.clone()));
        self.send_ok_if_verbose();
        Ok(())
    }

    fn handle_pub(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        payload: &[u8],
    ) -> Result<(), CloseReason> {
        // A subject that is not UTF-8 cannot match any subscription (those are
        // validated as UTF-8), so it is counted and dropped.
        let subject = std::str::from_utf8(subject).ok();
        if self.connect.pedantic && !subject.is_some_and(subject::is_valid_literal_subject) {
            self.send_err("Invalid Publish Subject");
        }
        // nats-server acknowledges on the PUB line, before delivery.
        self.send_ok_if_verbose();
        let bytes = payload.len() as u64;
        self.batch.traffic.in_msgs += 1;
        self.batch.traffic.in_bytes += bytes;
        let Some(subject) = subject else {
            return Ok(());
        };
        if let Some(permissions) = &self.permissions {
            if !permissions.can_publish(subject) && !self.handle.response_allowed(subject) {
                self.send_err(&format!(
                    "Permissions Violation for Publish to \"{subject}\""
                ));
                return Ok(());
            }
        }
        // Mappings apply after the permission check, before matching.
        let mapped = self.account.map_subject(subject);
        let subject = mapped.as_deref().unwrap_or(subject);
        let message = Message {
            subject,
            reply,
            header_len,
            payload,
            deliver_as: None,
        };
        let origin = Origin::Client {
            publisher: &self.handle,
            echo: self.connect.echo,
        };
        let delivered = router::route(
            &self.server,
            &self.account,
            origin,
            &message,
            &mut self.batch,
        );
        if delivered == 0 && self.connect.no_responders {
            if let Some(reply) = reply {
                router::send_no_responders(&self.handle, reply, &mut self.batch);
            }
        }
        Ok(())
    }

    fn handle_sub(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let subject = std::str::from_utf8(subject)
            .ok()
            .filter(|s| subject::is_valid_subject(s));
        let queue = match queue.map(std::str::from_utf8) {
            None => Ok(None),
            Some(Ok(q)) if subject::is_valid_queue_name(q) => Ok(Some(q)),
            Some(_) => Err(()),
        };
        let (Some(subject), Ok(queue)) = (subject, queue) else {
            self.send_err("Invalid Subject");
            return;
        };
        let mut deny = None;
        if let Some(permissions) = &self.permissions {
            if !permissions.can_subscribe(subject, queue) {
                let text = match queue {
                    None => format!("Permissions Violation for Subscription to \"{subject}\""),
                    Some(q) => format!("Permissions Violation for Subscription to \"{subject}\" using queue \"{q}\""),
                };
                self.send_err(&text);
                return;
            }
            if subject::has_wildcard(subject) {
                deny = Some(permissions.clone());
            }
        }
        // The stricter of the server's and the account's limit (0 = none).
        let account_or_server = match self.account.limits().max_subscriptions {
            Some(account_max) if self.options.max_subscriptions == 0 => account_max.max(1),
            Some(account_max) => account_max.min(self.options.max_subscriptions),
            None => self.options.max_subscriptions,
        };
        // A user JWT's `subs` tightens it further (None = unlimited).
        let max_subscriptions = match (account_or_server, self.max_subscriptions) {
            (0, jwt) => jwt,
            (limit, None) => Some(limit),
            (limit, Some(jwt)) => Some(limit.min(jwt)),
        };
        {
            let mut subscriptions = self.handle.subscriptions();
            if subscriptions.contains_key(sid) {
                // nats-server keeps the first subscription for a duplicate sid.
                drop(subscriptions);
                self.send_ok_if_verbose();
                return;
            }
            if max_subscriptions.is_some_and(|max| subscriptions.len() >= max) {
                drop(subscriptions);
                self.send_err("maximum subscriptions exceeded");
                return;
            }
            let subscription = Arc::new(Subscription {
                client: self.handle.clone(),
                account: self.account.clone(),
                subject: Arc::from(subject),
                queue: queue.map(Arc::from),
                sid: Bytes::copy_from_slice(sid),
                max: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                deny,
            });
            subscriptions.insert(subscription.sid.clone(), subscription.clone());
            // Inserted into the index while the client's map is locked, so an
            // UNSUB racing with a close cannot leave it behind.
            self.server.add_subscription(subscription);
        }
        // The next PING waits for the peers' acknowledgement (barrier.rs).
        self.interest_changed = true;
        self.send_ok_if_verbose();
    }

    fn handle_unsub(&mut self, sid: &[u8], max: Option<u64>) {
        let subscription = self.handle.subscriptions().get(sid).cloned();
        if let Some(subscription) = subscription {
            match max {
                Some(max) if max > subscription.delivered.load(Ordering::Relaxed) => {
                    subscription.max.store(max, Ordering::Relaxed);
                    // A delivery may have reached the limit in between.
                    if subscription.delivered.load(Ordering::Relaxed) >= max {
                        self.server.remove_subscription(&subscription);
                    }
                }
                _ => self.server.remove_subscription(&subscription),
            }
        }
        self.send_ok_if_verbose();
    }
}

/// The credentials a CONNECT presents, with the nonce of this connection.
fn credentials<'a>(connect: &'a ConnectInfo, nonce: Option<&'a str>) -> Credentials<'a> {
    Credentials {
        user: connect.user.as_deref(),
        pass: connect.pass.as_deref(),
        auth_token: connect.auth_token.as_deref(),
        nkey: connect.nkey.as_deref(),
        sig: connect.sig.as_deref(),
        nonce: nonce.map_or(&[][..], str::as_bytes),
    }
}
