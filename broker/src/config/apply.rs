//! The parsed [`Map`] of a config file applied onto [`Options`], key by key,
//! as nats-server's `opts.go` (`processConfigFileLine` and helpers) does.
//!
//! Option names match case-insensitively. Each key is one of: supported
//! (sets a field), a harmless no-op that is accepted (logging or tuning
//! knobs with no observable effect here), unsupported (a clear
//! [`ConfigError::Unsupported`]), or unknown ([`ConfigError::UnknownField`]
//! unless it was used as a `$variable`, nats-server's rule). Type errors are
//! [`ConfigError::InvalidValue`] with the line of the key.

use std::path::PathBuf;

use super::accounts::{apply_accounts, check_users};
use super::auth::apply_authorization;
use super::cluster::parse_cluster;
use super::duration::format_go_duration;
use super::error::ConfigError;
use super::field::{non_empty, Field};
use super::no_auth_user::check_no_auth_user;
use super::operator::{apply_operators, apply_preload, apply_resolver, check_operator_mode};
use super::tls::{parse_tls, TlsBlock};
use super::value::Map;
use crate::limits;
use crate::options::Options;

/// Top-level keys of nats-server that Starling rejects as unsupported.
const UNSUPPORTED_TOP_LEVEL: &[&str] = &[
    "gateway",
    "leaf",
    "leafnodes",
    "websocket",
    "ws",
    "mqtt",
    "default_js_domain",
    "roots",
    "root",
    "resolver_tls",
    "resolver_pinned_accounts",
    "trusted",
    "trusted_keys",
    "allow_non_tls",
    "ocsp",
    "ocsp_cache",
    "https",
    "https_port",
    "http_base_path",
    "remote_syslog",
    "log_size_limit",
    "logfile_size_limit",
    "prof_port",
    "max_sub_tokens",
    "max_subscription_tokens",
    "server_tags",
];

/// Applies every key of a parsed file onto `options`.
pub(crate) fn apply(map: &Map, options: &mut Options) -> Result<(), ConfigError> {
    let mut payload_key = None;
    let mut pending_key = None;
    let mut operator_key = None;
    let mut accounts_key = None;
    let mut no_auth_user_key = None;
    for entry in map.entries() {
        let field = Field::new("", entry);
        match field.lower_key().as_str() {
            "max_payload" => payload_key = Some(field.clone()),
            "max_pending" => pending_key = Some(field.clone()),
            "operator" | "operators" | "root_operator" | "root_operators" | "resolver"
            | "account_resolver" | "accounts_resolver" | "resolver_preload" => {
                operator_key = Some(field.clone())
            }
            "accounts" => accounts_key = Some(field.clone()),
            "no_auth_user" => no_auth_user_key = Some(field.clone()),
            _ => {}
        }
        apply_top_level(&field, options)?;
    }
    if let Some(field) = operator_key {
        check_operator_mode(&field, &options.operator)?;
    }
    check_users(accounts_key.as_ref(), options)?;
    if let Some(field) = no_auth_user_key {
        check_no_auth_user(&field, options)?;
    }
    if options.max_payload > options.max_pending {
        if let Some(field) = payload_key.or(pending_key) {
            return Err(field.invalid(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                options.max_payload, options.max_pending
            )));
        }
    }
    Ok(())
}

fn apply_top_level(field: &Field<'_>, options: &mut Options) -> Result<(), ConfigError> {
    let key = field.lower_key();
    match key.as_str() {
        "listen" => {
            let (host, port) = field.listen()?;
            options.host = host.unwrap_or_else(|| limits::DEFAULT_HOST.to_string());
            options.port = port.to_bind();
        }
        "host" | "net" => options.host = field.host()?,
        "port" => options.port = field.port()?.to_bind(),
        "server_name" => {
            let name = field.string()?;
            if name.contains(' ') {
                return Err(field.invalid("server name cannot contain spaces"));
            }
            options.server_name = non_empty(name);
        }
        "client_advertise" => options.client_advertise = non_empty(field.string()?),
        "http" | "monitor" => {
            let (host, port) = field.listen()?;
            options.http_host = host;
            options.http_port = port.to_monitor();
        }
        "http_port" | "monitor_port" => options.http_port = field.port()?.to_monitor(),
        "debug" => options.debug = field.boolean()?,
        "trace" => options.trace = field.boolean()?,
        // Starling has one trace level; verbose trace implies trace, as in nats-server.
        "trace_verbose" => options.trace = field.boolean()?,
        "logtime" => options.logtime = field.boolean()?,
        "logfile" | "log_file" => options.log_file = non_empty(field.string()?).map(PathBuf::from),
        "pidfile" | "pid_file" => options.pid_file = non_empty(field.string()?).map(PathBuf::from),
        "ports_file_dir" => options.ports_file_dir = non_empty(field.string()?).map(PathBuf::from),
        "no_auth_user" => options.no_auth_user = non_empty(field.string()?),
        "no_header_support" => options.no_header_support = field.boolean()?,
        "disable_sublist_cache" | "no_sublist_cache" => {
            options.disable_sublist_cache = field.boolean()?
        }
        "max_control_line" => {
            options.max_control_line = field.size_within_i32(limits::MAX_CONTROL_LINE)?
        }
        "max_payload" => options.max_payload = field.size_within_i32(limits::MAX_PAYLOAD)?,
        "max_pending" => options.max_pending = field.size_or(limits::MAX_PENDING)?,
        "max_connections" | "max_conn" => {
            options.max_connections = field.size_or(limits::MAX_CONNECTIONS)?
        }
        "max_subscriptions" | "max_subs" => {
            // Zero or negative: unlimited.
            options.max_subscriptions = usize::try_from(field.integer()?).unwrap_or(0);
        }
        "ping_interval" => options.ping_interval = field.duration_or(limits::PING_INTERVAL)?,
        "ping_max" => options.ping_max = field.count_or(limits::PING_MAX)?,
        "write_deadline" => options.write_deadline = field.duration_or(limits::WRITE_DEADLINE)?,
        "lame_duck_duration" => {
            let duration = field.duration_string()?;
            if duration < limits::LAME_DUCK_DURATION_MIN {
                return Err(field.invalid(format!(
                    "invalid lame_duck_duration of {}, minimum is {} seconds",
                    format_go_duration(duration),
                    limits::LAME_DUCK_DURATION_MIN.as_secs()
                )));
            }
            options.lame_duck_duration = duration;
        }
        "lame_duck_grace_period" => {
            let duration = field.duration_string()?;
            options.lame_duck_grace_period = if duration.is_zero() {
                limits::LAME_DUCK_GRACE_PERIOD
            } else {
                duration
            };
        }
        "authorization" => apply_authorization(field, &mut options.authorization)?,
        "cluster" => options.cluster = Some(parse_cluster(field)?),
        "accounts" => apply_accounts(field, options)?,
        "mappings" | "maps" => options.mappings = super::mappings::parse_mappings(field)?,
        "tls" => options.tls = Some(parse_tls(field, TlsBlock::Client)?),
        "operator" | "operators" | "root_operator" | "root_operators" => {
            apply_operators(field, &mut options.operator)?
        }
        "resolver" | "account_resolver" | "accounts_resolver" => {
            apply_resolver(field, &mut options.operator)?
        }
        "resolver_preload" => apply_preload(field, &mut options.operator)?,
        "system_account" | "system" => options.system_account = non_empty(field.string()?),
        // Accepted without effect (docs/CONFIG-OPTIONS.md says why): traces
        // never print payloads; every failed route dial is logged at debug.
        "max_traced_msg_len" | "connect_error_reports" | "reconnect_error_reports" => {
            field.integer()?;
        }
        // Starling never creates a system account, so this is always true.
        "no_system_account" | "no_system" | "no_sys_acc" => {
            field.boolean()?;
        }
        "jetstream" => super::jetstream::apply_jetstream(field, options)?,
        "store_dir" | "storedir" => super::jetstream::apply_store_dir(field, options)?,
        "syslog" => {
            if field.value().as_bool() != Some(false) {
                return Err(field.unsupported());
            }
        }
        other if UNSUPPORTED_TOP_LEVEL.contains(&other) => return Err(field.unsupported()),
        _ => field.unknown()?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::load::parse_str_with_env;
    use crate::config::test_support::{options, options_ok, TempDir};
    use std::path::Path;

    fn invalid_line(text: &str) -> (usize, String) {
        match options(text) {
            Err(ConfigError::InvalidValue { line, name, .. }) => (line, name),
            other => panic!("expected InvalidValue for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn listen_sets_host_and_port() {
        let parsed = options_ok("listen: 127.0.0.1:4333");
        assert_eq!((parsed.host.as_str(), parsed.port), ("127.0.0.1", 4333));
        let parsed = options_ok("listen: \"[::1]:-1\"");
        assert_eq!((parsed.host.as_str(), parsed.port), ("::1", 0));
        let parsed = options_ok("host: 10.0.0.1\nlisten: 4444");
        assert_eq!((parsed.host.as_str(), parsed.port), ("0.0.0.0", 4444));
        let parsed = options_ok("listen: \":4555\"");
        assert_eq!((parsed.host.as_str(), parsed.port), ("0.0.0.0", 4555));
        assert_eq!(invalid_line("\nlisten: localhost"), (2, "listen".into()));
    }

    #[test]
    fn host_net_and_port() {
        assert_eq!(options_ok("host: 127.0.0.1").host, "127.0.0.1");
        assert_eq!(options_ok("net: 10.1.1.1").host, "10.1.1.1");
        assert_eq!(options_ok("port: 4333").port, 4333);
        assert_eq!(options_ok("port: -1").port, 0);
        assert_eq!(options_ok("port: 0").port, 0);
        assert_eq!(invalid_line("\nport: 70000").0, 2);
        assert_eq!(invalid_line("port: \"4222\"").0, 1);
    }

    #[test]
    fn names_and_advertise() {
        let parsed = options_ok("server_name: n1\nclient_advertise: \"nats.example.com:4222\"");
        assert_eq!(parsed.server_name.as_deref(), Some("n1"));
        assert_eq!(
            parsed.client_advertise.as_deref(),
            Some("nats.example.com:4222")
        );
        assert_eq!(invalid_line("server_name: \"has space\"").1, "server_name");
    }

    #[test]
    fn monitoring_listener_forms() {
        let parsed = options_ok("http: 127.0.0.1:8222");
        assert_eq!(
            (parsed.http_host.as_deref(), parsed.http_port),
            (Some("127.0.0.1"), Some(8222))
        );
        let parsed = options_ok("http: 8222");
        assert_eq!((parsed.http_host, parsed.http_port), (None, Some(8222)));
        assert_eq!(
            options_ok("monitor: \"localhost:8000\"").http_port,
            Some(8000)
        );
        assert_eq!(options_ok("http_port: 8222").http_port, Some(8222));
        assert_eq!(options_ok("monitor_port: 8333").http_port, Some(8333));
        assert_eq!(options_ok("http_port: -1").http_port, Some(0));
        assert_eq!(options_ok("http_port: 0").http_port, None);
    }

    #[test]
    fn limits_take_size_suffixes_and_zero_means_default() {
        let parsed = options_ok(
            "max_payload: 2MB\nmax_control_line: 8KB\nmax_pending: 128MB\nmax_connections: 100\nmax_subscriptions: 10",
        );
        assert_eq!(parsed.max_payload, 2 * 1024 * 1024);
        assert_eq!(parsed.max_control_line, 8 * 1024);
        assert_eq!(parsed.max_pending, 128 * 1024 * 1024);
        assert_eq!(parsed.max_connections, 100);
        assert_eq!(parsed.max_subscriptions, 10);
        let aliases = options_ok("max_conn: 5\nmax_subs: 6\nmax_payload: 0");
        assert_eq!((aliases.max_connections, aliases.max_subscriptions), (5, 6));
        assert_eq!(aliases.max_payload, limits::MAX_PAYLOAD);
        assert_eq!(options_ok("max_subs: -1").max_subscriptions, 0);
        assert_eq!(invalid_line("max_payload: 3GB").1, "max_payload");
        assert_eq!(invalid_line("max_pending: -5").1, "max_pending");
    }

    #[test]
    fn max_payload_above_max_pending_is_rejected() {
        assert_eq!(
            invalid_line("max_pending: 1MB\n\nmax_payload: 2MB"),
            (3, "max_payload".into())
        );
        assert_eq!(invalid_line("max_pending: 1KB"), (1, "max_pending".into()));
    }

    #[test]
    fn durations_as_strings_or_seconds() {
        let parsed = options_ok("ping_interval: \"30s\"\nping_max: 5\nwrite_deadline: 500ms");
        assert_eq!(parsed.ping_interval, Duration::from_secs(30));
        assert_eq!(parsed.ping_max, 5);
        assert_eq!(parsed.write_deadline, Duration::from_millis(500));
        let parsed = options_ok("ping_interval: 60\nwrite_deadline: \"1m30s\"");
        assert_eq!(parsed.ping_interval, Duration::from_secs(60));
        assert_eq!(parsed.write_deadline, Duration::from_secs(90));
        // nats-server quirk kept: unquoted `2m` is the integer 2,000,000 (seconds).
        assert_eq!(
            options_ok("ping_interval: 2m").ping_interval,
            Duration::from_secs(2_000_000)
        );
        assert_eq!(
            invalid_line("ping_interval: \"2 minutes\"").1,
            "ping_interval"
        );
        assert_eq!(invalid_line("write_deadline: \"-1s\"").1, "write_deadline");
        assert_eq!(invalid_line("ping_max: -1").1, "ping_max");
    }

    #[test]
    fn lame_duck_duration_has_a_30s_minimum() {
        match options("\nlame_duck_duration: \"10s\"") {
            Err(error @ ConfigError::InvalidValue { line: 2, .. }) => assert_eq!(
                error.to_string(),
                "line 2: invalid lame_duck_duration of 10s, minimum is 30 seconds"
            ),
            other => panic!("unexpected {other:?}"),
        }
        let parsed = options_ok("lame_duck_duration: 45s\nlame_duck_grace_period: 5s");
        assert_eq!(parsed.lame_duck_duration, Duration::from_secs(45));
        assert_eq!(parsed.lame_duck_grace_period, Duration::from_secs(5));
        assert_eq!(
            options_ok("lame_duck_grace_period: \"0s\"").lame_duck_grace_period,
            limits::LAME_DUCK_GRACE_PERIOD
        );
        assert_eq!(
            invalid_line("lame_duck_duration: 60").1,
            "lame_duck_duration"
        );
        assert_eq!(
            invalid_line("lame_duck_grace_period: \"-1s\"").1,
            "lame_duck_grace_period"
        );
    }

    #[test]
    fn logging_switches_and_files() {
        let parsed = options_ok("debug: true\ntrace: on\nlogtime: false\nlog_file: /tmp/s.log\npid_file: \"/tmp/s.pid\"");
        assert!(parsed.debug && parsed.trace && !parsed.logtime);
        assert_eq!(parsed.log_file, Some(PathBuf::from("/tmp/s.log")));
        assert_eq!(parsed.pid_file, Some(PathBuf::from("/tmp/s.pid")));
        let aliases = options_ok("logfile: a.log\npidfile: a.pid\ntrace_verbose: true");
        assert_eq!(aliases.log_file, Some(PathBuf::from("a.log")));
        assert_eq!(aliases.pid_file, Some(PathBuf::from("a.pid")));
        assert!(aliases.trace);
        assert_eq!(invalid_line("debug: 1").1, "debug");
    }

    #[test]
    fn option_names_are_case_insensitive() {
        let parsed = options_ok("PORT: 4333\nMax_Payload: 1KB\nCluster { Port: 7000 }");
        assert_eq!(parsed.port, 4333);
        assert_eq!(parsed.max_payload, 1024);
        assert_eq!(parsed.cluster.map(|cluster| cluster.port), Some(7000));
    }

    #[test]
    fn unknown_key_is_an_error_with_name_and_line() {
        match options("port: 1\n\nfoo: bar") {
            Err(ConfigError::UnknownField { line, name }) => {
                assert_eq!((line, name.as_str()), (3, "foo"))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn variables_are_unknown_fields_only_when_unused() {
        assert!(matches!(
            options("unusedvar = 1"),
            Err(ConfigError::UnknownField { line: 1, .. })
        ));
        let parsed =
            options_ok("TOKEN = s3cret\nPORT = 4333\nport: $PORT\nauthorization { token: $TOKEN }");
        assert_eq!(parsed.authorization.token.as_deref(), Some("s3cret"));
        assert_eq!(parsed.port, 4333);
        let env = |name: &str| (name == "SERVER_NAME").then(|| "nats-0".to_string());
        let parsed =
            parse_str_with_env("server_name: $SERVER_NAME", Path::new("."), &env).expect("parses");
        assert_eq!(parsed.server_name.as_deref(), Some("nats-0"));
    }

    #[test]
    fn unsupported_top_level_keys_name_the_option() {
        for key in UNSUPPORTED_TOP_LEVEL {
            match options(&format!("{key}: {{}}")) {
                Err(ConfigError::Unsupported { name }) => assert_eq!(&name, key),
                other => panic!("{key}: unexpected {other:?}"),
            }
        }
        let https = options("https_port: 8443").expect_err("https");
        assert_eq!(https.to_string(), "https_port is not supported yet");
        assert!(matches!(
            options("syslog: true"),
            Err(ConfigError::Unsupported { .. })
        ));
    }

    #[test]
    fn harmless_keys_are_accepted_without_effect() {
        let parsed = options_ok(
            "jetstream: false\njetstream: disabled\nsyslog: false\nno_header_support: false\nmax_traced_msg_len: 100\nconnect_error_reports: 10\nreconnect_error_reports: 5\nno_sublist_cache: false\nno_system_account: true",
        );
        assert_eq!(parsed, Options::default());
        assert_eq!(
            invalid_line("max_traced_msg_len: long").1,
            "max_traced_msg_len"
        );
    }

    #[test]
    fn errors_from_included_files_name_the_file() {
        let dir = TempDir::new();
        dir.write("extra.conf", "ok_var = 1\nbogus: 2\n");
        let error = parse_str_with_env("port: 1\ninclude extra.conf", dir.path(), &|_| None)
            .expect_err("unknown field");
        match &error {
            ConfigError::Include {
                path,
                line: 2,
                source,
            } => {
                assert!(path.ends_with("extra.conf"));
                assert!(matches!(
                    **source,
                    ConfigError::UnknownField { line: 1, .. }
                ));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_json_config_applies() {
        let parsed = options_ok(
            r#"{"port": 4333, "debug": true, "max_payload": 65536,
                "authorization": {"users": [{"user": "a", "password": "b"}]},
                "cluster": {"name": "c1", "port": 6333, "routes": ["nats://x:6333"]}}"#,
        );
        assert_eq!(parsed.port, 4333);
        assert!(parsed.debug);
        assert_eq!(parsed.max_payload, 65536);
        assert_eq!(parsed.authorization.users.len(), 1);
        assert_eq!(
            parsed.cluster.map(|cluster| cluster.routes),
            Some(vec!["nats://x:6333".to_string()])
        );
    }

    #[test]
    fn helm_chart_config_applies() {
        let env = |name: &str| (name == "SERVER_NAME").then(|| "nats-1".to_string());
        let text = "\
server_name: $SERVER_NAME
lame_duck_grace_period: 10s
lame_duck_duration: 30s
pid_file: /var/run/nats/nats.pid
port: 4222
http_port: 8222
cluster {
  name: nats
  port: 6222
  no_advertise: true
  routes: [
    nats://nats-0.nats-headless:6222,nats://nats-1.nats-headless:6222,nats://nats-2.nats-headless:6222
  ]
}
";
        let parsed = parse_str_with_env(text, Path::new("."), &env).expect("parses");
        assert_eq!(parsed.server_name.as_deref(), Some("nats-1"));
        assert_eq!(parsed.lame_duck_duration, Duration::from_secs(30));
        assert_eq!(parsed.http_port, Some(8222));
        let cluster = parsed.cluster.expect("cluster");
        assert_eq!(
            (cluster.name.as_deref(), cluster.port, cluster.no_advertise),
            (Some("nats"), 6222, true)
        );
        assert_eq!(cluster.routes.len(), 3);
    }

    #[test]
    fn docker_image_default_config_applies() {
        let parsed = options_ok(
            "# Client port of 4222 on all interfaces\nport: 4222\n\n# HTTP monitoring port\nmonitor_port: 8222\n\ncluster {\n  port: 6222\n  authorization {\n    user: ruser\n    password: T0pS3cr3t\n    timeout: 2\n  }\n  routes = []\n}\n",
        );
        assert_eq!(parsed.http_port, Some(8222));
        let cluster = parsed.cluster.expect("cluster");
        assert_eq!(cluster.user.as_deref(), Some("ruser"));
        assert_eq!(cluster.password.as_deref(), Some("T0pS3cr3t"));
        assert_eq!(cluster.auth_timeout, Duration::from_secs(2));
        assert!(cluster.routes.is_empty());
    }
}
