//! Why a connection closed: one enum used by logs, monitoring and metrics.

/// Every reason a client connection can close. The text is nats-server's
/// (`ClosedState.String` in server/monitor.go) so /connz readers see the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client closed the socket.
    ClientClosed,
    /// No CONNECT within the auth timeout.
    AuthenticationTimeout,
    /// Bad or missing credentials.
    AuthenticationViolation,
    /// The user JWT expired while connected.
    AuthenticationExpired,
    /// The account revoked the user while connected.
    Revocation,
    /// The TLS handshake failed, timed out, or the client spoke plain text
    /// to a TLS-only server.
    TlsHandshakeFailure,
    /// Outbound bytes passed max_pending.
    SlowConsumerPendingBytes,
    /// A write took longer than write_deadline.
    SlowConsumerWriteDeadline,
    /// Writing to the socket failed.
    WriteError,
    /// Reading from the socket failed.
    ReadError,
    /// Unparsable input.
    ParseError,
    /// Too many PINGs unanswered.
    StaleConnection,
    /// Input that breaks the protocol (e.g. HPUB without headers).
    ProtocolViolation,
    /// CONNECT with an unknown protocol level.
    BadClientProtocolVersion,
    /// max_connections was reached.
    MaxConnectionsExceeded,
    /// The account's `max_connections` was reached.
    MaxAccountConnectionsExceeded,
    /// A payload over max_payload.
    MaxPayloadExceeded,
    /// More subscriptions than a new account JWT allows.
    MaxSubscriptionsExceeded,
    /// A control line over max_control_line.
    MaxControlLineExceeded,
    /// no_responders without headers.
    NoRespondersRequiresHeaders,
    /// The server is stopping (or evicting in lame duck mode).
    ServerShutdown,
}

impl CloseReason {
    /// nats-server's text for this reason.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::AuthenticationViolation => "Authentication Failure",
            CloseReason::AuthenticationExpired => "Authentication Expired",
            CloseReason::Revocation => "Credentials Revoked",
            CloseReason::TlsHandshakeFailure => "TLS Handshake Failure",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::WriteError => "Write Error",
            CloseReason::ReadError => "Read Error",
            CloseReason::ParseError => "Parse Error",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::BadClientProtocolVersion => "Bad Client Protocol Version",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::MaxAccountConnectionsExceeded => "Maximum Account Connections Exceeded",
            CloseReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            CloseReason::MaxSubscriptionsExceeded => "Maximum Subscriptions Exceeded",
            CloseReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            CloseReason::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            CloseReason::ServerShutdown => "Server Shutdown",
        }
    }

    /// True for the two slow-consumer reasons.
    pub fn is_slow_consumer(self) -> bool {
        matches!(
            self,
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
        )
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
