//! Go `flag` package scanning of nats-server's flag set: one or two dashes,
//! `-flag value` or `-flag=value`, booleans take no value unless written
//! `-flag=false`, and scanning stops at the first non-flag argument or `--`.

use super::address::{port_from_integer, Port};
use super::error::ConfigError;

/// What a flag does, shared by its aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flag {
    Addr,
    Port,
    ServerName,
    HttpPort,
    Config,
    TestConfig,
    PidFile,
    LogFile,
    Logtime,
    Debug,
    Trace,
    DebugTrace,
    User,
    Pass,
    Auth,
    Routes,
    ClusterListen,
    ClusterName,
    ClusterAdvertise,
    NoAdvertise,
    ConnectRetries,
    ClientAdvertise,
    /// `--ports_file_dir DIR`.
    PortsFileDir,
    /// `--tls`: serve clients over TLS.
    Tls,
    /// `--tlsverify`: TLS, and require verified client certificates.
    TlsVerify,
    /// `--tlscert FILE`.
    TlsCert,
    /// `--tlskey FILE`.
    TlsKey,
    /// `--tlscacert FILE`.
    TlsCaCert,
    Signal,
    Version,
    Help,
    /// Accepted for compatibility, no effect.
    MaxTracedMsgLen,
    /// `-js` / `--jetstream`: enable JetStream.
    JetStream,
    /// `-sd` / `--store_dir DIR`.
    StoreDir,
    /// A nats-server flag Starling does not implement.
    Unsupported,
}

/// `(name, flag, takes a value)`, nats-server 2.9's flag set.
pub(super) const FLAGS: &[(&str, Flag, bool)] = &[
    ("a", Flag::Addr, true),
    ("addr", Flag::Addr, true),
    ("net", Flag::Addr, true),
    ("p", Flag::Port, true),
    ("port", Flag::Port, true),
    ("n", Flag::ServerName, true),
    ("name", Flag::ServerName, true),
    ("server_name", Flag::ServerName, true),
    ("m", Flag::HttpPort, true),
    ("http_port", Flag::HttpPort, true),
    ("c", Flag::Config, true),
    ("config", Flag::Config, true),
    ("t", Flag::TestConfig, false),
    ("P", Flag::PidFile, true),
    ("pid", Flag::PidFile, true),
    ("l", Flag::LogFile, true),
    ("log", Flag::LogFile, true),
    ("T", Flag::Logtime, false),
    ("logtime", Flag::Logtime, false),
    ("D", Flag::Debug, false),
    ("debug", Flag::Debug, false),
    ("V", Flag::Trace, false),
    ("trace", Flag::Trace, false),
    ("VV", Flag::Trace, false),
    ("DV", Flag::DebugTrace, false),
    ("DVV", Flag::DebugTrace, false),
    ("user", Flag::User, true),
    ("pass", Flag::Pass, true),
    ("auth", Flag::Auth, true),
    ("routes", Flag::Routes, true),
    ("cluster", Flag::ClusterListen, true),
    ("cluster_listen", Flag::ClusterListen, true),
    ("cluster_name", Flag::ClusterName, true),
    ("cluster_advertise", Flag::ClusterAdvertise, true),
    ("no_advertise", Flag::NoAdvertise, false),
    ("connect_retries", Flag::ConnectRetries, true),
    ("client_advertise", Flag::ClientAdvertise, true),
    ("sl", Flag::Signal, true),
    ("signal", Flag::Signal, true),
    ("v", Flag::Version, false),
    ("version", Flag::Version, false),
    ("h", Flag::Help, false),
    ("help", Flag::Help, false),
    ("max_traced_msg_len", Flag::MaxTracedMsgLen, true),
    ("js", Flag::JetStream, false),
    ("jetstream", Flag::JetStream, false),
    ("sd", Flag::StoreDir, true),
    ("store_dir", Flag::StoreDir, true),
    ("tls", Flag::Tls, false),
    ("tlsverify", Flag::TlsVerify, false),
    ("tlscert", Flag::TlsCert, true),
    ("tlskey", Flag::TlsKey, true),
    ("tlscacert", Flag::TlsCaCert, true),
    ("help_tls", Flag::Unsupported, false),
    ("ms", Flag::Unsupported, true),
    ("https_port", Flag::Unsupported, true),
    ("profile", Flag::Unsupported, true),
    ("s", Flag::Unsupported, false),
    ("syslog", Flag::Unsupported, false),
    ("r", Flag::Unsupported, true),
    ("remote_syslog", Flag::Unsupported, true),
    ("ports_file_dir", Flag::PortsFileDir, true),
    ("log_size_limit", Flag::Unsupported, true),
];

/// A flag's value: booleans are parsed while scanning, others kept as text.
#[derive(Debug)]
pub(super) enum FlagValue {
    Bool(bool),
    Text(String),
}

/// One flag as found on the command line.
#[derive(Debug)]
pub(super) struct Occurrence {
    pub flag: Flag,
    /// As written, dashes included (`--port`), for messages.
    pub written: String,
    pub value: FlagValue,
}

impl Occurrence {
    pub fn text(&self) -> &str {
        match &self.value {
            FlagValue::Text(text) => text,
            FlagValue::Bool(_) => "",
        }
    }

    pub fn boolean(&self) -> bool {
        matches!(self.value, FlagValue::Bool(true))
    }

    pub fn bad_value(&self, reason: &str) -> ConfigError {
        ConfigError::BadFlag(format!(
            "invalid value {:?} for flag {}: {reason}",
            self.text(),
            self.written
        ))
    }

    pub fn integer(&self) -> Result<i64, ConfigError> {
        self.text()
            .parse()
            .map_err(|_| self.bad_value("parse error"))
    }

    pub fn port(&self) -> Result<Port, ConfigError> {
        port_from_integer(self.integer()?).map_err(|reason| self.bad_value(&reason))
    }
}

/// Go `flag` scanning: returns the flags in order and the arguments left
/// after the first non-flag argument (or `--`).
pub(super) fn scan(args: &[String]) -> Result<(Vec<Occurrence>, Vec<String>), ConfigError> {
    let mut flags = Vec::new();
    let mut index = 0;
    while let Some(arg) = args.get(index) {
        if arg == "--" {
            index += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        index += 1;
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(ConfigError::BadFlag(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(&(_, flag, takes_value)) = FLAGS.iter().find(|(known, ..)| *known == name) else {
            return Err(ConfigError::BadFlag(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        let written = format!("{}{name}", &arg[..arg.len() - body.len()]);
        let value = match (takes_value, inline) {
            (false, None) => FlagValue::Bool(true),
            (false, Some(text)) => FlagValue::Bool(parse_go_bool(text).ok_or_else(|| {
                ConfigError::BadFlag(format!(
                    "invalid boolean value {text:?} for -{name}: parse error"
                ))
            })?),
            (true, Some(text)) => FlagValue::Text(text.to_string()),
            (true, None) => {
                let text = args.get(index).ok_or_else(|| {
                    ConfigError::BadFlag(format!("flag needs an argument: -{name}"))
                })?;
                index += 1;
                FlagValue::Text(text.clone())
            }
        };
        flags.push(Occurrence {
            flag,
            written,
            value,
        });
    }
    Ok((flags, args[index.min(args.len())..].to_vec()))
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| arg.to_string()).collect()
    }

    fn scan_ok(list: &[&str]) -> (Vec<Occurrence>, Vec<String>) {
        match scan(&args(list)) {
            Ok(scanned) => scanned,
            Err(error) => panic!("{list:?}: {error}"),
        }
    }

    fn bad_flag(list: &[&str]) -> String {
        match scan(&args(list)) {
            Err(ConfigError::BadFlag(message)) => message,
            other => panic!("{list:?}: expected BadFlag, got {other:?}"),
        }
    }

    #[test]
    fn one_or_two_dashes_and_inline_values() {
        for list in [
            &["-p", "4333"][..],
            &["--p", "4333"],
            &["-port", "4333"],
            &["--port", "4333"],
            &["-p=4333"],
            &["--port=4333"],
        ] {
            let (flags, rest) = scan_ok(list);
            assert_eq!(flags.len(), 1);
            assert_eq!(
                (flags[0].flag, flags[0].text()),
                (Flag::Port, "4333"),
                "{list:?}"
            );
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn written_form_keeps_the_dashes() {
        let (flags, _) = scan_ok(&["--cluster_name=x", "-D"]);
        let written: Vec<_> = flags.iter().map(|flag| flag.written.as_str()).collect();
        assert_eq!(written, vec!["--cluster_name", "-D"]);
    }

    #[test]
    fn value_flags_take_the_next_argument_even_with_a_dash() {
        let (flags, _) = scan_ok(&["-p", "-1"]);
        assert_eq!(flags[0].port().ok(), Some(Port::Random));
        assert_eq!(bad_flag(&["-p"]), "flag needs an argument: -p");
    }

    #[test]
    fn boolean_flags_take_only_inline_values() {
        let (flags, rest) = scan_ok(&["-D", "false"]);
        assert!(flags[0].boolean());
        assert_eq!(rest, vec!["false"]);
        for (text, expected) in [
            ("true", true),
            ("1", true),
            ("T", true),
            ("False", false),
            ("0", false),
            ("f", false),
        ] {
            let (flags, _) = scan_ok(&[&format!("-D={text}")]);
            assert_eq!(flags[0].boolean(), expected, "{text}");
        }
        assert!(bad_flag(&["-D=maybe"]).contains("invalid boolean value"));
    }

    #[test]
    fn scanning_stops_at_the_first_argument_or_double_dash() {
        let (flags, rest) = scan_ok(&["-D", "version", "-p", "1"]);
        assert_eq!(flags.len(), 1);
        assert_eq!(rest, vec!["version", "-p", "1"]);
        let (flags, rest) = scan_ok(&["-D", "--", "-p"]);
        assert_eq!(flags.len(), 1);
        assert_eq!(rest, vec!["-p"]);
        let (_, rest) = scan_ok(&["-"]);
        assert_eq!(rest, vec!["-"]);
    }

    #[test]
    fn unknown_and_malformed_flags_are_bad_flags() {
        assert_eq!(
            bad_flag(&["--bogus"]),
            "flag provided but not defined: -bogus"
        );
        assert_eq!(bad_flag(&["-d"]), "flag provided but not defined: -d");
        assert_eq!(bad_flag(&["---p", "1"]), "bad flag syntax: ---p");
        assert_eq!(bad_flag(&["-=1"]), "bad flag syntax: -=1");
        assert_eq!(
            bad_flag(&["--max_payload", "1"]),
            "flag provided but not defined: -max_payload"
        );
    }

    #[test]
    fn values_are_checked_when_read() {
        let (flags, _) = scan_ok(&["-p", "abc", "--port", "70000", "--connect_retries", "x"]);
        assert!(flags[0].port().is_err());
        assert!(flags[1].port().is_err());
        assert!(flags[2].integer().is_err());
    }
}
