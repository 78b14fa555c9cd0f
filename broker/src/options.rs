//! The resolved runtime options of one Starling node.
//!
//! Built from defaults, then the config file, then command-line flags (the CLI
//! wins), by `config::load`. Everything else in the broker reads only this.

use std::path::PathBuf;
use std::time::Duration;

use crate::jwt::options::OperatorOptions;
use crate::limits;

/// Every setting a node runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Client listener bind address (`host`, `net`, `-a`).
    pub host: String,
    /// Client listener port (`port`, `-p`); 0 picks an ephemeral port
    /// (nats-server's `-1` is mapped to 0 as well).
    pub port: u16,
    /// Server name (`server_name`, `-n`); defaults to the server id.
    pub server_name: Option<String>,
    /// Client URL advertised to others (`client_advertise`).
    pub client_advertise: Option<String>,
    /// Monitoring listener host (`http: host:port`); defaults to `host`.
    pub http_host: Option<String>,
    /// Monitoring listener port (`http_port`, `monitor_port`, `-m`); None = off.
    pub http_port: Option<u16>,
    /// Largest payload in bytes (headers included).
    pub max_payload: usize,
    /// Longest control line in bytes.
    pub max_control_line: usize,
    /// Per-client outbound bytes before slow consumer.
    pub max_pending: usize,
    /// Open client connections at most.
    pub max_connections: usize,
    /// Subscriptions per connection at most; 0 = unlimited.
    pub max_subscriptions: usize,
    /// Interval between server PINGs.
    pub ping_interval: Duration,
    /// Unanswered PINGs before `Stale Connection`.
    pub ping_max: u32,
    /// Longest a single write to a client may take.
    pub write_deadline: Duration,
    /// Lame duck: total eviction time.
    pub lame_duck_duration: Duration,
    /// Lame duck: wait before the first close.
    pub lame_duck_grace_period: Duration,
    /// `-D` / `debug`.
    pub debug: bool,
    /// `-V` / `trace`.
    pub trace: bool,
    /// `-T` / `logtime` (default true).
    pub logtime: bool,
    /// `-l` / `log_file`: log to this file instead of stderr.
    pub log_file: Option<PathBuf>,
    /// `-P` / `pid_file`.
    pub pid_file: Option<PathBuf>,
    /// `--ports_file_dir` / `ports_file_dir`: write `<executable>_<pid>.ports`
    /// (the listeners' URLs as JSON) there, as nats-server does.
    pub ports_file_dir: Option<PathBuf>,
    /// `no_header_support`: INFO says `headers: false`, a CONNECT asking
    /// for headers is treated as not asking, HPUB closes the connection.
    pub no_header_support: bool,
    /// `disable_sublist_cache`: match every publish against the trie.
    pub disable_sublist_cache: bool,
    /// `no_auth_user`: a client that presents no credentials is logged in
    /// as this user of `authorization { users }`.
    pub no_auth_user: Option<String>,
    /// Client authentication and permissions.
    pub authorization: Authorization,
    /// Client TLS (`tls { ... }`, `--tls*`); None = plain TCP only.
    pub tls: Option<TlsOptions>,
    /// The route listener and seeds; None = not clustered.
    pub cluster: Option<ClusterOptions>,
    /// `accounts { NAME: { users, limits } }`: accounts besides `$G`.
    pub accounts: Vec<AccountOptions>,
    /// Top-level `mappings`: subject mappings of `$G`.
    pub mappings: Vec<crate::account::MappingRule>,
    /// The config file these options came from, for reload.
    pub config_file: Option<PathBuf>,
    /// JWT operator mode (`operator`, `resolver`, `resolver_preload`).
    pub operator: OperatorOptions,
    /// `system_account` / `system`: the system account (its public key in
    /// operator mode); None = the operator's, else `$SYS`.
    pub system_account: Option<String>,
    /// JetStream (`-js`, `-sd`, `jetstream { ... }`).
    pub jetstream: JetStreamOptions,
}

/// JetStream settings (`-js`, `--store_dir`, `jetstream { ... }`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JetStreamOptions {
    /// JetStream runs (`-js`, `jetstream: enabled`, a `jetstream {}` block).
    pub enabled: bool,
    /// `store_dir` / `-sd`; None = nats-server's default,
    /// `$TMPDIR/nats`. Streams live under `<store_dir>/jetstream/`.
    pub store_dir: Option<PathBuf>,
    /// `max_memory_store` in bytes; None = no server limit.
    pub max_memory_store: Option<i64>,
    /// `max_file_store` in bytes; None = no server limit.
    pub max_file_store: Option<i64>,
    /// `sync_interval`: None = fsync before every PubAck (group commit),
    /// Starling's default; Some = nats-server's lazy mode.
    pub sync_interval: Option<Duration>,
    /// `domain`: also serve `$JS.<domain>.API.>`, and name it in PubAcks
    /// and `$JS.API.INFO`.
    pub domain: Option<String>,
    /// `strict`: accepted (unknown request fields are ignored either way).
    pub strict: bool,
    /// `limits { max_request_batch }`: the largest pull batch, copied into
    /// pull consumers without `max_batch`; 0 = none.
    pub max_request_batch: i64,
    /// `limits { max_ack_pending }` (or `max_ack_pending`): the most a
    /// consumer may have unacknowledged; 0 = none.
    pub max_ack_pending: i64,
}

impl JetStreamOptions {
    /// The directory that holds the accounts' streams: nats-server's
    /// `<store_dir>/jetstream`, `$TMPDIR/nats/jetstream` by default.
    pub fn jetstream_dir(&self) -> PathBuf {
        self.store_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("nats"))
            .join("jetstream")
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: limits::DEFAULT_HOST.to_string(),
            port: limits::DEFAULT_PORT,
            server_name: None,
            client_advertise: None,
            http_host: None,
            http_port: None,
            max_payload: limits::MAX_PAYLOAD,
            max_control_line: limits::MAX_CONTROL_LINE,
            max_pending: limits::MAX_PENDING,
            max_connections: limits::MAX_CONNECTIONS,
            max_subscriptions: 0,
            ping_interval: limits::PING_INTERVAL,
            ping_max: limits::PING_MAX,
            write_deadline: limits::WRITE_DEADLINE,
            lame_duck_duration: limits::LAME_DUCK_DURATION,
            lame_duck_grace_period: limits::LAME_DUCK_GRACE_PERIOD,
            debug: false,
            trace: false,
            logtime: true,
            log_file: None,
            pid_file: None,
            ports_file_dir: None,
            no_header_support: false,
            disable_sublist_cache: false,
            no_auth_user: None,
            authorization: Authorization::default(),
            tls: None,
            cluster: None,
            accounts: Vec::new(),
            mappings: Vec::new(),
            config_file: None,
            operator: OperatorOptions::default(),
            system_account: None,
            jetstream: JetStreamOptions::default(),
        }
    }
}

/// `authorization { ... }` plus `--user/--pass/--auth`.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// Single user name (`user`, `--user`).
    pub user: Option<String>,
    /// Its password (`password`/`pass`, `--pass`); may be a bcrypt hash.
    pub password: Option<String>,
    /// Token (`token`, `--auth`).
    pub token: Option<String>,
    /// `users: [...]`.
    pub users: Vec<User>,
    /// Time a client has to authenticate (`timeout`, seconds in the file).
    pub timeout: Duration,
    /// Permissions for users that name none (`default_permissions`).
    pub default_permissions: Option<Permissions>,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            user: None,
            password: None,
            token: None,
            users: Vec::new(),
            timeout: limits::AUTH_TIMEOUT,
            default_permissions: None,
        }
    }
}

impl Authorization {
    /// True when clients must authenticate.
    pub fn required(&self) -> bool {
        self.user.is_some() || self.token.is_some() || !self.users.is_empty()
    }
}

/// One entry of `authorization { users: [...] }`: a user name with a
/// password, or an NKey (a user public key, `U...`) that signs the nonce.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    /// `user` / `username`; empty for an NKey user.
    pub username: String,
    /// `password` / `pass`; may be a bcrypt hash (`$2a$...`).
    pub password: String,
    /// `nkey`: the user's public NKey; when set, the entry authenticates by
    /// signature and has no user name or password.
    pub nkey: Option<String>,
    /// `permissions`; None falls back to `default_permissions`.
    pub permissions: Option<Permissions>,
    /// The account the user belongs to (set for users of an `accounts`
    /// entry); None = the global account `$G`.
    pub account: Option<String>,
}

/// One entry of `accounts { NAME: { ... } }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountOptions {
    /// The account name.
    pub name: String,
    /// Its users; each has `account` set to `name`.
    pub users: Vec<User>,
    /// `default_permissions` of the account's users that name none.
    pub default_permissions: Option<Permissions>,
    /// `limits { max_connections, max_subscriptions, max_payload, max_leafnodes }`.
    pub limits: crate::account::AccountLimits,
    /// `exports: [ {stream: ...} | {service: ...} ]`.
    pub exports: Vec<ExportOptions>,
    /// `imports: [ {stream: {account, subject}} | {service: {account, subject}} ]`.
    pub imports: Vec<ImportOptions>,
    /// `mappings { "src": "dest" }`.
    pub mappings: Vec<crate::account::MappingRule>,
    /// `jetstream: enabled|disabled` or a limits block; None = not said.
    pub jetstream: Option<bool>,
    /// The limits of a `jetstream { max_mem, max_file, ... }` block
    /// (unlimited, -1, when not given).
    pub jetstream_limits: starling_jetstream::api::account::AccountLimits,
}

/// Whether an export or import is of a stream or a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// Messages flow from the exporter to the importer.
    Stream,
    /// Requests flow to the exporter, responses back.
    Service,
}

/// One entry of an account's `exports`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// Stream or service.
    pub kind: ImportKind,
    /// Exported subject, wildcards allowed.
    pub subject: String,
    /// `accounts: [..]`: who may import it; None = public.
    pub accounts: Option<Vec<String>>,
    /// `response_type` of a service export (singleton when absent).
    pub response: crate::account::ResponseType,
}

/// One entry of an account's `imports`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Stream or service.
    pub kind: ImportKind,
    /// The exporting account.
    pub account: String,
    /// The subject imported (in the exporter's subject space).
    pub subject: String,
    /// Stream `prefix`: the importer sees `prefix.subject`.
    pub prefix: Option<String>,
    /// `to`: the subject in the importer's space (stream: where messages
    /// appear; service: where the importer sends requests).
    pub to: Option<String>,
}

/// `permissions { publish, subscribe, allow_responses }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Permissions {
    /// `publish` / `pub`.
    pub publish: Option<SubjectPermission>,
    /// `subscribe` / `sub`. An entry may be `"subject queue"`.
    pub subscribe: Option<SubjectPermission>,
    /// `allow_responses`: may publish to reply subjects of requests it got.
    pub allow_responses: Option<ResponsePermission>,
}

/// An allow list and a deny list of subjects (wildcards allowed).
/// A bare list in the config file is an allow list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubjectPermission {
    /// Empty = everything allowed (unless denied).
    pub allow: Vec<String>,
    /// Wins over `allow`.
    pub deny: Vec<String>,
}

/// `allow_responses: true` or `{ max: N, expires: "1m" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePermission {
    /// Responses allowed per request (nats-server default 1).
    pub max_msgs: usize,
    /// How long a reply subject stays allowed; zero = forever.
    pub expires: Duration,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max_msgs: 1,
            expires: Duration::ZERO,
        }
    }
}

/// `cluster { ... }` plus `--cluster`, `--routes`, `--cluster_name` ...
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOptions {
    /// `name` / `--cluster_name`; None = generated.
    pub name: Option<String>,
    /// Route listener host (`listen`, `host`, or the host of `--cluster URL`).
    pub host: String,
    /// Route listener port (0 = ephemeral).
    pub port: u16,
    /// False for a `cluster` block with no `port` or `listen` (nats-server's
    /// cluster port 0): no route listener, no routes dialed; only the name
    /// is announced to clients.
    pub listen: bool,
    /// Seed route URLs (`routes`, `--routes`), e.g. `nats://user:pass@host:6222`.
    pub routes: Vec<String>,
    /// Route URL advertised to peers (`advertise`, `cluster_advertise`).
    pub advertise: Option<String>,
    /// Keep peers' client URLs out of client INFO (`no_advertise`).
    pub no_advertise: bool,
    /// Retries for gossiped (implicit) routes (`connect_retries`).
    pub connect_retries: u32,
    /// Credentials a peer must present (`authorization { user, password }`).
    pub user: Option<String>,
    /// See `user`.
    pub password: Option<String>,
    /// Route handshake timeout (`authorization { timeout }`).
    pub auth_timeout: Duration,
    /// Interval between route PINGs (`ping_interval`).
    pub ping_interval: Duration,
    /// Unanswered route PINGs before the route is closed (`ping_max`).
    pub ping_max: u32,
    /// Route TLS (`cluster { tls { ... } }`): both sides present a
    /// certificate and verify the peer's against `ca_file`.
    pub tls: Option<TlsOptions>,
    /// Longest a client's PONG after a SUB waits for the peers to
    /// acknowledge the interest (`interest_barrier_timeout`; 0 = no barrier).
    pub interest_barrier_timeout: Duration,
    /// Longest a node waits for its seeds before `/healthz` reports ready
    /// anyway (`readiness_grace_period`).
    pub readiness_grace_period: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            name: None,
            host: limits::DEFAULT_HOST.to_string(),
            port: limits::DEFAULT_ROUTE_PORT,
            listen: true,
            routes: Vec::new(),
            advertise: None,
            no_advertise: false,
            connect_retries: 0,
            user: None,
            password: None,
            auth_timeout: limits::AUTH_TIMEOUT,
            ping_interval: Duration::from_secs(1),
            ping_max: 3,
            tls: None,
            interest_barrier_timeout: limits::INTEREST_BARRIER_TIMEOUT,
            readiness_grace_period: limits::READINESS_GRACE_PERIOD,
        }
    }
}

/// `tls { cert_file, key_file, ca_file, verify, timeout, handshake_first }`
/// plus `--tls`, `--tlscert`, `--tlskey`, `--tlscacert`, `--tlsverify`.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsOptions {
    /// PEM certificate chain this server presents.
    pub cert_file: PathBuf,
    /// PEM private key of that certificate.
    pub key_file: PathBuf,
    /// PEM CA certificates that peers' certificates must chain to (client
    /// certificates with `verify`; route peers always).
    pub ca_file: Option<PathBuf>,
    /// Require and verify client certificates against `ca_file`.
    pub verify: bool,
    /// Longest a TLS handshake may take (nats-server's `tls_timeout`).
    pub timeout: Duration,
    /// Handshake before INFO (clients' `tls_first`); INFO then goes
    /// encrypted. Clients only.
    pub handshake_first: HandshakeFirst,
    /// `pinned_certs`: lowercase hex SHA-256 digests of the peer
    /// certificates (DER) accepted; empty = any certificate that verifies.
    pub pinned_certs: Vec<String>,
}

/// `tls { handshake_first: ... }` (nats-server 2.10.4+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandshakeFirst {
    /// `false` (default): INFO in plain text, then the client upgrades.
    #[default]
    Off,
    /// `true`: the client must start the TLS handshake at once.
    Required,
    /// `"auto"` or a duration: a client that has not started a handshake
    /// within this delay gets the plain-text INFO and upgrades as usual.
    Fallback(Duration),
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            ca_file: None,
            verify: false,
            timeout: limits::TLS_TIMEOUT,
            handshake_first: HandshakeFirst::Off,
            pinned_certs: Vec::new(),
        }
    }
}
