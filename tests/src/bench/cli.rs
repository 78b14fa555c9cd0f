//! Command-line options of `starling-bench`.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use super::clients::Clients;
use super::server::ServerSpec;

/// Usage text printed by `--help` and on a bad option.
pub const USAGE: &str = "\
usage: starling-bench --server NAME=PATH [--server NAME=PATH ...] [options]

Starts each server on ephemeral loopback ports (nats-server flags: -a 127.0.0.1
-p PORT, and --cluster/--routes/--cluster_name for cluster scenarios), runs the
same scenarios against each, alternating servers within every round, and prints
the median per server and the ratio candidate / baseline for each baseline.

options:
  --server NAME=PATH   a server binary to benchmark (repeatable)
  --config NAME=FILE   start server NAME with `-c FILE` as well (e.g. the same
                       binary once with accounts configured: see accounts.conf)
  --candidate NAME     the server compared against all others (default: starling);
                       when no server has this name, no ratios are printed
  --rounds N           rounds of every scenario (default 5, or 1 with --quick)
  --scenarios LIST     comma-separated scenario names, or the groups `all`
                       (the default: single-server core scenarios), `cluster`,
                       `js` (JetStream, async-nats as the load; each server
                       gets -js -sd on a fresh temporary directory)
  --cluster            also run the 3-node cluster scenarios
  --clients MODE       who drives the core scenarios: `raw` (the default: the
                       bench's raw-wire clients) or `async-nats` (the official
                       Rust client, default options, a connection per publisher
                       and per subscriber; rows are named `NAME@async-nats`;
                       scenarios without such a version, e.g. TLS and memory,
                       are skipped)
  --quick              a quarter of the messages and requests, 1 round
  --connections N      idle connections in the memory scenario (default 10000)
  --out DIR            where the JSON results and server logs go (default bench-results)
  --list               print the scenario names (and messages or requests per
                       run, where they have them) and exit
  --help               print this text
";

/// Parsed options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Servers in the order given.
    pub servers: Vec<ServerSpec>,
    /// Name of the server compared against all the others.
    pub candidate: String,
    /// Rounds of every scenario.
    pub rounds: usize,
    /// Explicit scenario selection (names or groups), if given.
    pub scenarios: Option<Vec<String>>,
    /// Whether cluster scenarios join the default selection.
    pub cluster: bool,
    /// Which clients drive the core scenarios.
    pub clients: Clients,
    /// Smaller message counts for development.
    pub quick: bool,
    /// Idle connections for the memory scenario.
    pub connections: usize,
    /// Output directory.
    pub out_dir: PathBuf,
    /// Print scenario names and exit.
    pub list: bool,
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    /// Run the benchmark.
    Run(Options),
    /// Print usage and exit 0.
    Help,
}

/// Parses `args` (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command> {
    let mut args = args.into_iter();
    let mut servers = Vec::new();
    let mut candidate = "starling".to_string();
    let mut rounds = None;
    let mut scenarios = None;
    let mut cluster = false;
    let mut clients = Clients::default();
    let mut quick = false;
    let mut connections = 10_000;
    let mut out_dir = PathBuf::from("bench-results");
    let mut list = false;
    let mut configs: Vec<(String, PathBuf)> = Vec::new();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| anyhow!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--server" => servers.push(parse_server(&value()?)?),
            "--config" => configs.push(parse_config(&value()?)?),
            "--candidate" => candidate = value()?,
            "--rounds" => rounds = Some(parse_count(&value()?, "--rounds")?),
            "--scenarios" => {
                scenarios = Some(
                    value()?
                        .split(',')
                        .map(str::trim)
                        .filter(|name| !name.is_empty())
                        .map(str::to_string)
                        .collect(),
                )
            }
            "--cluster" => cluster = true,
            "--clients" => clients = value()?.parse()?,
            "--quick" => quick = true,
            "--connections" => connections = parse_count(&value()?, "--connections")?,
            "--out" => out_dir = PathBuf::from(value()?),
            "--list" => list = true,
            "--help" | "-h" => return Ok(Command::Help),
            other => bail!("unknown option {other}"),
        }
    }
    for (name, file) in configs {
        let server = servers
            .iter_mut()
            .find(|server| server.name == name)
            .ok_or_else(|| anyhow!("--config names server {name}, which no --server gives"))?;
        server.config = Some(file);
    }
    if servers.is_empty() && !list {
        bail!("give at least one --server NAME=PATH");
    }
    for (index, server) in servers.iter().enumerate() {
        if servers[..index]
            .iter()
            .any(|other| other.name == server.name)
        {
            bail!("server name {} given twice", server.name);
        }
    }
    Ok(Command::Run(Options {
        servers,
        candidate,
        rounds: rounds.unwrap_or(if quick { 1 } else { 5 }),
        scenarios,
        cluster,
        clients,
        quick,
        connections,
        out_dir,
        list,
    }))
}

fn parse_server(value: &str) -> Result<ServerSpec> {
    let (name, path) = value
        .split_once('=')
        .ok_or_else(|| anyhow!("--server wants NAME=PATH, got {value}"))?;
    if name.is_empty() || path.is_empty() {
        bail!("--server wants NAME=PATH, got {value}");
    }
    Ok(ServerSpec {
        name: name.to_string(),
        path: PathBuf::from(path),
        config: None,
    })
}

fn parse_config(value: &str) -> Result<(String, PathBuf)> {
    match value.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => {
            Ok((name.to_string(), PathBuf::from(file)))
        }
        _ => bail!("--config wants NAME=FILE, got {value}"),
    }
}

fn parse_count(value: &str, flag: &str) -> Result<usize> {
    let count: usize = value
        .parse()
        .with_context(|| format!("{flag} wants a positive number, got {value}"))?;
    if count == 0 {
        bail!("{flag} wants a positive number, got 0");
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options> {
        match parse(args.iter().map(|arg| arg.to_string()))? {
            Command::Run(options) => Ok(options),
            Command::Help => bail!("help"),
        }
    }

    #[test]
    fn parse_accepts_servers_and_inline_values() {
        let options = run(&[
            "--server",
            "a=/bin/a",
            "--server=b=/bin/b",
            "--rounds=3",
            "--scenarios",
            "pub-16b, reqrep",
        ])
        .expect("valid");
        assert_eq!(options.servers.len(), 2);
        assert_eq!(options.servers[1].name, "b");
        assert_eq!(options.servers[1].path, PathBuf::from("/bin/b"));
        assert_eq!(options.rounds, 3);
        assert_eq!(
            options.scenarios,
            Some(vec!["pub-16b".to_string(), "reqrep".to_string()])
        );
    }

    #[test]
    fn config_attaches_to_the_named_server_only() {
        let options = run(&[
            "--server",
            "a=/bin/s",
            "--server",
            "b=/bin/s",
            "--config",
            "b=/etc/b.conf",
        ])
        .expect("valid");
        assert_eq!(options.servers[0].config, None);
        assert_eq!(
            options.servers[1].config,
            Some(PathBuf::from("/etc/b.conf"))
        );
        assert!(run(&["--server", "a=/a", "--config", "c=/c.conf"]).is_err());
    }

    #[test]
    fn clients_default_to_raw_and_accept_async_nats() {
        assert_eq!(
            run(&["--server", "a=/a"]).expect("valid").clients,
            Clients::Raw
        );
        for args in [
            ["--server", "a=/a", "--clients", "async-nats"].as_slice(),
            ["--server", "a=/a", "--clients=async-nats"].as_slice(),
        ] {
            assert_eq!(run(args).expect("valid").clients, Clients::AsyncNats);
        }
        assert_eq!(
            run(&["--server", "a=/a", "--clients", "raw"])
                .expect("valid")
                .clients,
            Clients::Raw
        );
        assert!(run(&["--server", "a=/a", "--clients", "go"]).is_err());
        assert!(run(&["--server", "a=/a", "--clients"]).is_err());
    }

    #[test]
    fn parse_quick_defaults_to_one_round() {
        assert_eq!(
            run(&["--server", "a=/a", "--quick"]).expect("valid").rounds,
            1
        );
    }

    #[test]
    fn parse_rejects_duplicate_names_and_missing_servers() {
        assert!(run(&["--server", "a=/a", "--server", "a=/b"]).is_err());
        assert!(run(&["--rounds", "2"]).is_err());
        assert!(run(&["--server", "a"]).is_err());
    }
}
