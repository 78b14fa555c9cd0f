//! nats-server's command line turned into a [`Command`]: version, help and
//! signal requests first, then `-c` loaded and the other flags applied over
//! it (the last occurrence of a flag wins, whatever its position), as
//! nats-server's `ConfigureOptions` does.

use std::path::{Path, PathBuf};

use super::address::{check_route_url, parse_url, Port};
use super::error::ConfigError;
use super::field::non_empty;
use super::flags::{scan, Flag, Occurrence};
use super::load::load_file;
use super::usage::usage_text;
use crate::limits;
use crate::options::{ClusterOptions, Options};

/// What the command line asks the binary to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run a server with these options.
    Run(Options),
    /// `-t`: the configuration is valid; print that and exit.
    TestConfig(Options),
    /// `-v` / `--version`.
    Version,
    /// `-h` / `--help`: print this usage text.
    Help(String),
    /// `-sl` / `--signal`: signal a running server and exit.
    Signal {
        /// What to ask for.
        signal: SignalKind,
        /// A PID or the path of a PID file; None = find the process.
        target: Option<String>,
    },
}

/// The commands of `--signal`, with the Unix signal each one sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// `ldm`: SIGUSR2, enter lame duck mode.
    Ldm,
    /// `stop`: SIGKILL.
    Stop,
    /// `quit`: SIGINT, graceful stop.
    Quit,
    /// `term`: SIGTERM, graceful stop.
    Term,
    /// `reopen`: SIGUSR1, reopen the log file.
    Reopen,
    /// `reload`: SIGHUP, reload the config file.
    Reload,
}

impl SignalKind {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SignalKind::Ldm => "ldm",
            SignalKind::Stop => "stop",
            SignalKind::Quit => "quit",
            SignalKind::Term => "term",
            SignalKind::Reopen => "reopen",
            SignalKind::Reload => "reload",
        }
    }

    fn from_name(name: &str) -> Option<SignalKind> {
        [
            SignalKind::Ldm,
            SignalKind::Stop,
            SignalKind::Quit,
            SignalKind::Term,
            SignalKind::Reopen,
            SignalKind::Reload,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }
}

/// Parses the arguments (without the program name) into a [`Command`].
/// With `-c`, the file is loaded first and the other flags applied over it.
///
/// # Errors
/// [`ConfigError::BadFlag`] for an unknown flag, a missing or malformed
/// value or inconsistent flags (`--routes` without a cluster, `-t` without
/// `-c`); [`ConfigError::Unsupported`] for a nats-server flag Starling does
/// not implement; any error of loading the `-c` file.
pub fn parse_command_line<I: IntoIterator<Item = String>>(args: I) -> Result<Command, ConfigError> {
    let args: Vec<String> = args.into_iter().collect();
    let (flags, positionals) = scan(&args)?;
    let last = |flag: Flag| {
        flags
            .iter()
            .rev()
            .find(|occurrence| occurrence.flag == flag)
    };
    if last(Flag::Version).is_some_and(Occurrence::boolean) {
        return Ok(Command::Version);
    }
    if last(Flag::Help).is_some_and(Occurrence::boolean) {
        return Ok(Command::Help(usage_text()));
    }
    if let Some(first) = positionals.first() {
        return match first.to_ascii_lowercase().as_str() {
            "version" => Ok(Command::Version),
            "help" => Ok(Command::Help(usage_text())),
            _ => Err(ConfigError::BadFlag(format!(
                "unrecognized command: {first:?}"
            ))),
        };
    }
    if let Some(unsupported) = flags.iter().find(|o| o.flag == Flag::Unsupported) {
        return Err(ConfigError::Unsupported {
            name: unsupported.written.clone(),
        });
    }
    if let Some(signal) = last(Flag::Signal).filter(|o| !o.text().is_empty()) {
        return parse_signal(signal.text());
    }
    let test_config = last(Flag::TestConfig).is_some_and(Occurrence::boolean);
    let config_file = last(Flag::Config)
        .map(Occurrence::text)
        .filter(|path| !path.is_empty());
    let mut options = match config_file {
        Some(path) => load_file(Path::new(path))?,
        None if test_config => {
            return Err(ConfigError::BadFlag(
                "must specify [-c, --config] option to check configuration file syntax".into(),
            ))
        }
        None => Options::default(),
    };
    apply_flags(&flags, &mut options)?;
    Ok(if test_config {
        Command::TestConfig(options)
    } else {
        Command::Run(options)
    })
}

/// `ldm`, `ldm=1234`, `ldm=/var/run/starling.pid`.
fn parse_signal(text: &str) -> Result<Command, ConfigError> {
    let parts: Vec<&str> = text.split('=').collect();
    if parts.len() > 2 {
        return Err(ConfigError::BadFlag(format!(
            "invalid signal parameters: {:?}",
            &parts[2..]
        )));
    }
    let signal = SignalKind::from_name(parts[0])
        .ok_or_else(|| ConfigError::BadFlag(format!("unknown signal {:?}", parts[0])))?;
    let target = parts.get(1).filter(|target| !target.is_empty());
    Ok(Command::Signal {
        signal,
        target: target.map(|target| target.to_string()),
    })
}

/// Applies the flags over options loaded from the defaults or the file.
fn apply_flags(flags: &[Occurrence], options: &mut Options) -> Result<(), ConfigError> {
    let mut cluster_listen = None;
    let mut routes = None;
    let mut cluster_flags = Vec::new();
    let mut tls_flags = Vec::new();
    for occurrence in flags {
        let text = || non_empty(occurrence.text().to_string());
        let on = occurrence.boolean();
        match occurrence.flag {
            Flag::Addr => options.host = text().unwrap_or_else(|| limits::DEFAULT_HOST.into()),
            Flag::Port => options.port = occurrence.port()?.to_bind(),
            Flag::ServerName => {
                if occurrence.text().contains(' ') {
                    return Err(occurrence.bad_value("server name cannot contain spaces"));
                }
                options.server_name = text();
            }
            Flag::HttpPort => {
                options.http_port = match occurrence.port()? {
                    Port::Random => Some(0),
                    Port::Number(0) => None,
                    Port::Number(number) => Some(number),
                }
            }
            Flag::PidFile => options.pid_file = text().map(PathBuf::from),
            Flag::PortsFileDir => options.ports_file_dir = text().map(PathBuf::from),
            Flag::LogFile => options.log_file = text().map(PathBuf::from),
            Flag::Logtime => options.logtime = on,
            Flag::Debug => options.debug = on,
            Flag::Trace => options.trace = on,
            Flag::DebugTrace => {
                options.debug = on;
                options.trace = on;
            }
            Flag::User => options.authorization.user = text(),
            Flag::Pass => options.authorization.password = text(),
            Flag::Auth => options.authorization.token = text(),
            Flag::ClientAdvertise => options.client_advertise = text(),
            Flag::MaxTracedMsgLen => {
                occurrence.integer()?;
            }
            Flag::JetStream => options.jetstream.enabled = on,
            Flag::StoreDir => options.jetstream.store_dir = text().map(PathBuf::from),
            Flag::Tls | Flag::TlsVerify | Flag::TlsCert | Flag::TlsKey | Flag::TlsCaCert => {
                tls_flags.push(occurrence)
            }
            Flag::ClusterListen => cluster_listen = Some(occurrence),
            Flag::Routes => routes = Some(occurrence),
            Flag::ClusterName
            | Flag::ClusterAdvertise
            | Flag::NoAdvertise
            | Flag::ConnectRetries => cluster_flags.push(occurrence),
            Flag::Config
            | Flag::TestConfig
            | Flag::Signal
            | Flag::Version
            | Flag::Help
            | Flag::Unsupported => {}
        }
    }
    if !tls_flags.is_empty() {
        apply_tls_flags(&tls_flags, options)?;
    }
    if let Some(listen) = cluster_listen {
        apply_cluster_listen(listen, options)?;
    }
    let routes = routes.map(|occurrence| (occurrence, occurrence.text().trim()));
    let named = cluster_flags
        .iter()
        .any(|occurrence| matches!(occurrence.flag, Flag::ClusterName));
    if options.cluster.is_none() && named {
        // nats-server: `--cluster_name` alone names the cluster (announced
        // to clients) without a route listener.
        options.cluster = Some(ClusterOptions {
            listen: false,
            ..ClusterOptions::default()
        });
    }
    let Some(cluster) = options.cluster.as_mut() else {
        if routes.is_some_and(|(_, list)| !list.is_empty()) {
            return Err(ConfigError::BadFlag(
                "solicited routes require cluster capabilities, e.g. --cluster".into(),
            ));
        }
        if let Some(first) = cluster_flags.first() {
            return Err(ConfigError::BadFlag(format!(
                "{} requires cluster capabilities, e.g. --cluster",
                first.written
            )));
        }
        return Ok(());
    };
    for occurrence in cluster_flags {
        let text = non_empty(occurrence.text().to_string());
        match occurrence.flag {
            Flag::ClusterName => {
                if occurrence.text().contains(char::is_whitespace) {
                    return Err(occurrence.bad_value("cluster name cannot contain spaces"));
                }
                cluster.name = text;
            }
            Flag::ClusterAdvertise => cluster.advertise = text,
            Flag::NoAdvertise => cluster.no_advertise = occurrence.boolean(),
            _ => {
                cluster.connect_retries = u32::try_from(occurrence.integer()?)
                    .map_err(|_| occurrence.bad_value("out of range"))?;
            }
        }
    }
    if let Some((occurrence, list)) = routes {
        if !cluster.listen && !list.is_empty() {
            return Err(ConfigError::BadFlag(
                "solicited routes require cluster capabilities, e.g. --cluster".into(),
            ));
        }
        cluster.routes = list
            .split(',')
            .map(str::trim)
            .filter(|route| !route.is_empty())
            .map(|route| check_route_url(route).map_err(|reason| occurrence.bad_value(&reason)))
            .collect::<Result<_, _>>()?;
    }
    Ok(())
}

/// `--tls`, `--tlsverify`, `--tlscert`, `--tlskey`, `--tlscacert` over the
/// file's `tls` block (nats-server's `overrideTLS`): TLS is on when the file
/// has it or `--tls`/`--tlsverify` is given, and then needs a certificate
/// and a key. A file flag without TLS on is an error rather than ignored.
fn apply_tls_flags(flags: &[&Occurrence], options: &mut Options) -> Result<(), ConfigError> {
    let mut enabled = options.tls.is_some();
    let mut tls = options.tls.clone().unwrap_or_default();
    for occurrence in flags {
        let path = || non_empty(occurrence.text().to_string()).map(PathBuf::from);
        match occurrence.flag {
            Flag::Tls => enabled = occurrence.boolean(),
            Flag::TlsVerify => {
                tls.verify = occurrence.boolean();
                enabled |= tls.verify;
            }
            Flag::TlsCert => tls.cert_file = path().unwrap_or_default(),
            Flag::TlsKey => tls.key_file = path().unwrap_or_default(),
            _ => tls.ca_file = path(),
        }
    }
    if !enabled {
        options.tls = None;
        return match flags
            .iter()
            .find(|o| !matches!(o.flag, Flag::Tls | Flag::TlsVerify))
        {
            Some(file_flag) => Err(ConfigError::BadFlag(format!(
                "{} requires TLS to be enabled, e.g. --tls",
                file_flag.written
            ))),
            None => Ok(()),
        };
    }
    // nats-server's texts (opts.go `overrideTLS`).
    if tls.cert_file.as_os_str().is_empty() {
        return Err(ConfigError::BadFlag(
            "TLS Server certificate must be present and valid".into(),
        ));
    }
    if tls.key_file.as_os_str().is_empty() {
        return Err(ConfigError::BadFlag(
            "TLS Server private key must be present and valid".into(),
        ));
    }
    if tls.verify && tls.ca_file.is_none() {
        return Err(ConfigError::BadFlag(
            "--tlsverify requires --tlscacert (or ca_file) to check client certificates".into(),
        ));
    }
    options.tls = Some(tls);
    Ok(())
}

/// `--cluster nats://[user:pass@]host:port`: the route listener, overriding
/// the file's; an empty value turns clustering off. Credentials in the URL
/// become the route credentials; without them the file's are cleared, as in
/// nats-server.
fn apply_cluster_listen(occurrence: &Occurrence, options: &mut Options) -> Result<(), ConfigError> {
    if occurrence.text().is_empty() {
        options.cluster = None;
        return Ok(());
    }
    let parts = parse_url(occurrence.text()).map_err(|reason| occurrence.bad_value(&reason))?;
    let cluster = options.cluster.get_or_insert_with(ClusterOptions::default);
    cluster.host = non_empty(parts.host).unwrap_or_else(|| limits::DEFAULT_HOST.into());
    cluster.port = parts.port.map_or(limits::DEFAULT_ROUTE_PORT, Port::to_bind);
    cluster.listen = true;
    match parts.user {
        Some(user) => {
            let password = parts
                .password
                .ok_or_else(|| occurrence.bad_value("expected cluster password to be set"))?;
            cluster.user = non_empty(user);
            cluster.password = Some(password);
        }
        None => {
            cluster.user = None;
            cluster.password = None;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::test_support::TempDir;

    fn command(args: &[&str]) -> Result<Command, ConfigError> {
        parse_command_line(args.iter().map(|arg| arg.to_string()))
    }

    fn run(args: &[&str]) -> Options {
        match command(args) {
            Ok(Command::Run(options)) => options,
            other => panic!("{args:?}: expected Run, got {other:?}"),
        }
    }

    fn bad_flag(args: &[&str]) -> String {
        match command(args) {
            Err(ConfigError::BadFlag(message)) => message,
            other => panic!("{args:?}: expected BadFlag, got {other:?}"),
        }
    }

    #[test]
    fn no_arguments_run_with_defaults() {
        assert_eq!(run(&[]), Options::default());
    }

    #[test]
    fn server_flags_map_to_options() {
        let options = run(&[
            "-a",
            "127.0.0.1",
            "-n",
            "n1",
            "-m",
            "8222",
            "-P",
            "/tmp/s.pid",
            "-l",
            "/tmp/s.log",
            "--client_advertise",
            "c.example:4222",
            "--user",
            "u",
            "--pass",
            "p",
            "--auth",
            "tok",
            "--max_traced_msg_len",
            "10",
        ]);
        assert_eq!(options.host, "127.0.0.1");
        assert_eq!(options.server_name.as_deref(), Some("n1"));
        assert_eq!(options.http_port, Some(8222));
        assert_eq!(options.pid_file, Some(PathBuf::from("/tmp/s.pid")));
        assert_eq!(options.log_file, Some(PathBuf::from("/tmp/s.log")));
        assert_eq!(options.client_advertise.as_deref(), Some("c.example:4222"));
        assert_eq!(options.authorization.user.as_deref(), Some("u"));
        assert_eq!(options.authorization.password.as_deref(), Some("p"));
        assert_eq!(options.authorization.token.as_deref(), Some("tok"));
        assert_eq!(run(&["--addr", "10.0.0.1"]).host, "10.0.0.1");
        assert_eq!(run(&["--net", "10.0.0.2"]).host, "10.0.0.2");
        assert_eq!(run(&["--name", "x"]).server_name.as_deref(), Some("x"));
        assert_eq!(
            run(&["--server_name", "y"]).server_name.as_deref(),
            Some("y")
        );
        assert_eq!(run(&["--http_port", "-1"]).http_port, Some(0));
        assert_eq!(
            run(&["--pid", "a.pid", "--log", "a.log"]).log_file,
            Some(PathBuf::from("a.log"))
        );
    }

    #[test]
    fn logging_booleans_and_combinations() {
        let options = run(&["-D", "-V", "-T=false"]);
        assert!(options.debug && options.trace && !options.logtime);
        let options = run(&["-DV"]);
        assert!(options.debug && options.trace);
        assert!(run(&["-VV"]).trace);
        let options = run(&["-DVV"]);
        assert!(options.debug && options.trace);
        let options = run(&["--debug", "--trace", "--logtime"]);
        assert!(options.debug && options.trace && options.logtime);
        let options = run(&["-DV", "-DV=false"]);
        assert!(!options.debug && !options.trace);
        assert!(!run(&["-D=0"]).debug);
        assert!(run(&["--debug=True"]).debug);
    }

    #[test]
    fn a_boolean_flag_does_not_consume_the_next_argument() {
        assert_eq!(
            bad_flag(&["-D", "false"]),
            "unrecognized command: \"false\""
        );
        assert!(bad_flag(&["-D=maybe"]).contains("invalid boolean value"));
    }

    #[test]
    fn port_values_are_checked() {
        assert_eq!(run(&["-p", "-1"]).port, 0);
        assert!(bad_flag(&["-p", "abc"]).contains("invalid value \"abc\" for flag -p"));
        assert!(bad_flag(&["--port", "70000"]).contains("--port"));
        assert_eq!(bad_flag(&["-p"]), "flag needs an argument: -p");
    }

    #[test]
    fn version_and_help_in_flag_and_command_form() {
        for args in [
            &["-v"][..],
            &["--version"],
            &["version"],
            &["-p", "1", "VERSION"],
        ] {
            assert_eq!(command(args).ok(), Some(Command::Version), "{args:?}");
        }
        for args in [&["-h"][..], &["--help"], &["help"]] {
            assert!(matches!(command(args), Ok(Command::Help(text)) if text.contains("--routes")));
        }
        assert!(matches!(command(&["-v=false"]), Ok(Command::Run(_))));
        assert_eq!(bad_flag(&["start"]), "unrecognized command: \"start\"");
        assert_eq!(bad_flag(&["--", "-p"]), "unrecognized command: \"-p\"");
    }

    #[test]
    fn signal_forms() {
        let cases = [
            ("ldm", SignalKind::Ldm, None),
            ("ldm=1234", SignalKind::Ldm, Some("1234")),
            (
                "ldm=/var/run/nats/nats.pid",
                SignalKind::Ldm,
                Some("/var/run/nats/nats.pid"),
            ),
            ("stop", SignalKind::Stop, None),
            ("quit=1", SignalKind::Quit, Some("1")),
            ("term", SignalKind::Term, None),
            ("reopen", SignalKind::Reopen, None),
            ("reload=", SignalKind::Reload, None),
        ];
        for (value, signal, target) in cases {
            let expected = Command::Signal {
                signal,
                target: target.map(String::from),
            };
            assert_eq!(
                command(&["--signal", value]).ok(),
                Some(expected.clone()),
                "{value}"
            );
            assert_eq!(
                command(&[&format!("-sl={value}")]).ok(),
                Some(expected),
                "{value}"
            );
        }
        assert_eq!(bad_flag(&["-sl", "kill"]), "unknown signal \"kill\"");
        assert!(bad_flag(&["-sl", "ldm=1=2"]).starts_with("invalid signal parameters"));
        assert_eq!(SignalKind::Reload.name(), "reload");
    }

    #[test]
    fn unsupported_flags_are_named_as_written() {
        for (args, name) in [
            (&["-ms", "8443"][..], "-ms"),
            (&["--https_port", "8443"], "--https_port"),
            (&["--profile", "6060"], "--profile"),
            (&["-s"], "-s"),
            (&["--syslog"], "--syslog"),
            (&["-r", "udp://h:514"], "-r"),
            (&["--remote_syslog", "udp://h:514"], "--remote_syslog"),
        ] {
            match command(args) {
                Err(ConfigError::Unsupported { name: reported }) => assert_eq!(reported, name),
                other => panic!("{args:?}: unexpected {other:?}"),
            }
        }
        let https = command(&["-ms", "8443"]).expect_err("https");
        assert_eq!(https.to_string(), "-ms is not supported yet");
    }

    #[test]
    fn jetstream_flags_enable_it_and_set_the_store_dir() {
        let options = run(&["-js", "-sd", "/data"]);
        assert!(options.jetstream.enabled);
        assert_eq!(options.jetstream.store_dir, Some(PathBuf::from("/data")));
        assert_eq!(
            options.jetstream.jetstream_dir(),
            PathBuf::from("/data/jetstream")
        );
        let options = run(&["--jetstream", "--store_dir=/x"]);
        assert!(options.jetstream.enabled);
        assert!(!run(&["--store_dir=/x"]).jetstream.enabled);
        assert!(!run(&[]).jetstream.enabled);
    }

    #[test]
    fn tls_flags_enable_client_tls_with_nats_server_checks() {
        let options = run(&["--tls", "--tlscert", "c.pem", "--tlskey", "k.pem"]);
        let tls = options.tls.expect("tls");
        assert_eq!(tls.cert_file, PathBuf::from("c.pem"));
        assert_eq!(tls.key_file, PathBuf::from("k.pem"));
        assert!(!tls.verify);
        let verify = run(&[
            "--tlsverify",
            "--tlscert=c.pem",
            "--tlskey=k.pem",
            "--tlscacert=ca.pem",
        ])
        .tls
        .expect("tls");
        assert!(verify.verify);
        assert_eq!(verify.ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(
            bad_flag(&["--tls", "--tlskey", "k.pem"]),
            "TLS Server certificate must be present and valid"
        );
        assert_eq!(
            bad_flag(&["--tls", "--tlscert", "c.pem"]),
            "TLS Server private key must be present and valid"
        );
        assert!(
            bad_flag(&["--tlsverify", "--tlscert", "c", "--tlskey", "k"]).contains("--tlscacert")
        );
        assert!(bad_flag(&["--tlscert", "c.pem"]).contains("requires TLS"));
        assert_eq!(run(&["--tls=false"]).tls, None);
    }

    #[test]
    fn tls_flags_override_the_files_block() {
        let dir = TempDir::new();
        let path = dir.write(
            "tls.conf",
            "tls { cert_file: a.pem, key_file: b.pem, timeout: 3 }\n",
        );
        let path = path.to_string_lossy().to_string();
        let tls = run(&["-c", &path, "--tlscert", "c.pem"]).tls.expect("tls");
        assert_eq!(tls.cert_file, PathBuf::from("c.pem"));
        assert_eq!(tls.key_file, PathBuf::from("b.pem"));
        assert_eq!(tls.timeout, Duration::from_secs(3));
    }

    #[test]
    fn flags_override_the_file_wherever_they_appear() {
        let dir = TempDir::new();
        let path = dir.write(
            "s.conf",
            "port: 1111\ndebug: false\nserver_name: from-file\nmax_payload: 64KB\n",
        );
        let path = path.to_string_lossy().to_string();
        let options = run(&["-p", "2222", "-D", "-c", &path, "-n", "from-flag"]);
        assert_eq!(options.port, 2222);
        assert!(options.debug);
        assert_eq!(options.server_name.as_deref(), Some("from-flag"));
        assert_eq!(options.max_payload, 64 * 1024);
        assert_eq!(options.config_file, Some(PathBuf::from(&path)));
        assert_eq!(run(&["--config", &path]).port, 1111);
    }

    #[test]
    fn test_config_needs_a_file_and_reports_its_errors() {
        assert_eq!(
            bad_flag(&["-t"]),
            "must specify [-c, --config] option to check configuration file syntax"
        );
        let dir = TempDir::new();
        let good = dir
            .write("good.conf", "port: 4333\n")
            .to_string_lossy()
            .to_string();
        match command(&["-t", "-c", &good, "-p", "5555"]) {
            Ok(Command::TestConfig(options)) => assert_eq!(options.port, 5555),
            other => panic!("unexpected {other:?}"),
        }
        let bad = dir
            .write("bad.conf", "port: 4333\nnope: 1\n")
            .to_string_lossy()
            .to_string();
        assert!(matches!(
            command(&["-t", "-c", &bad]),
            Err(ConfigError::UnknownField { line: 2, .. })
        ));
        let missing = dir
            .path()
            .join("missing.conf")
            .to_string_lossy()
            .to_string();
        assert!(matches!(
            command(&["-c", &missing]),
            Err(ConfigError::Io { .. })
        ));
    }

    #[test]
    fn cluster_flags_build_the_cluster() {
        let options = run(&[
            "--cluster_name",
            "NATS",
            "--cluster",
            "nats://0.0.0.0:6222",
            "--routes=nats://ruser:T0pS3cr3t@nats:6222",
            "--http_port",
            "8222",
        ]);
        assert_eq!(options.http_port, Some(8222));
        let cluster = options.cluster.expect("cluster");
        assert_eq!(cluster.name.as_deref(), Some("NATS"));
        assert_eq!((cluster.host.as_str(), cluster.port), ("0.0.0.0", 6222));
        assert_eq!(cluster.routes, vec!["nats://ruser:T0pS3cr3t@nats:6222"]);
        let cluster = run(&[
            "--cluster_listen",
            "nats://u:p%21@127.0.0.1:-1",
            "--no_advertise",
            "--connect_retries",
            "3",
            "--cluster_advertise",
            "ext:6222",
            "--routes",
            " nats://a:1 , nats://b:2 ,",
        ])
        .cluster
        .expect("cluster");
        assert_eq!((cluster.host.as_str(), cluster.port), ("127.0.0.1", 0));
        assert_eq!(
            (cluster.user.as_deref(), cluster.password.as_deref()),
            (Some("u"), Some("p!"))
        );
        assert!(cluster.no_advertise);
        assert_eq!(cluster.connect_retries, 3);
        assert_eq!(cluster.advertise.as_deref(), Some("ext:6222"));
        assert_eq!(cluster.routes, vec!["nats://a:1", "nats://b:2"]);
        let default_port = run(&["--cluster", "nats://10.0.0.1"])
            .cluster
            .expect("cluster");
        assert_eq!(
            (default_port.host.as_str(), default_port.port),
            ("10.0.0.1", 6222)
        );
    }

    #[test]
    fn cluster_name_alone_names_without_listening() {
        let cluster = run(&["--cluster_name", "solo"]).cluster.expect("cluster");
        assert_eq!(cluster.name.as_deref(), Some("solo"));
        assert!(!cluster.listen);
        let dir = TempDir::new();
        let path = dir.write("named.conf", "cluster { name: filed }\n");
        let path = path.to_string_lossy();
        let cluster = run(&["-c", &path, "--cluster", "nats://127.0.0.1:7100"])
            .cluster
            .expect("cluster");
        assert_eq!(cluster.name.as_deref(), Some("filed"));
        assert!(cluster.listen);
        assert_eq!(cluster.port, 7100);
    }

    #[test]
    fn cluster_flag_errors() {
        assert_eq!(
            bad_flag(&["--routes", "nats://a:6222"]),
            "solicited routes require cluster capabilities, e.g. --cluster"
        );
        assert_eq!(
            bad_flag(&["--cluster_advertise", "x:1"]),
            "--cluster_advertise requires cluster capabilities, e.g. --cluster"
        );
        assert_eq!(
            bad_flag(&["--cluster_name", "x", "--routes", "nats://a:6222"]),
            "solicited routes require cluster capabilities, e.g. --cluster"
        );
        assert!(bad_flag(&["--cluster", "nats://u@h:1"]).contains("expected cluster password"));
        assert!(bad_flag(&["--cluster", "nats://h:port"]).contains("--cluster"));
        assert!(bad_flag(&["--cluster", "nats://h:1", "--routes", "bad"]).contains("route url"));
        assert!(
            bad_flag(&["--cluster", "nats://h:1", "--connect_retries", "-1"])
                .contains("--connect_retries")
        );
        assert!(matches!(command(&["--routes", ""]), Ok(Command::Run(_))));
    }

    #[test]
    fn cluster_flags_override_the_file_cluster() {
        let dir = TempDir::new();
        let path = dir
            .write(
                "c.conf",
                "cluster {\n  name: file\n  port: 7000\n  authorization { user: ruser, password: pw }\n  routes: [nats://old:7000]\n  ping_max: 9\n}\n",
            )
            .to_string_lossy()
            .to_string();
        let cluster = run(&[
            "-c",
            &path,
            "--cluster",
            "nats://127.0.0.1:7100",
            "--routes",
            "nats://new:7100",
        ])
        .cluster
        .expect("cluster");
        assert_eq!((cluster.host.as_str(), cluster.port), ("127.0.0.1", 7100));
        assert_eq!((cluster.user, cluster.password), (None, None));
        assert_eq!(cluster.routes, vec!["nats://new:7100"]);
        assert_eq!(
            (cluster.name.as_deref(), cluster.ping_max),
            (Some("file"), 9)
        );
        let renamed = run(&["--cluster_name", "flag", "-c", &path])
            .cluster
            .expect("cluster");
        assert_eq!(
            (renamed.name.as_deref(), renamed.port),
            (Some("flag"), 7000)
        );
        assert_eq!(renamed.routes, vec!["nats://old:7000"]);
        assert!(run(&["-c", &path, "--routes", ""])
            .cluster
            .is_some_and(|c| c.routes.is_empty()));
        assert_eq!(run(&["-c", &path, "--cluster", ""]).cluster, None);
        assert_eq!(
            run(&["-c", &path]).cluster.map(|c| c.auth_timeout),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn last_occurrence_of_a_flag_wins() {
        assert_eq!(run(&["-p", "1", "--port", "2", "-p=3"]).port, 3);
        assert!(!run(&["-D", "--debug=false"]).debug);
    }
}
