//! `starling-bench`: runs the same scenarios against Starling and
//! nats-server releases and reports medians and ratios.
//!
//! Each server is started by this program on ephemeral loopback ports and
//! killed by its own child handle at the end, on error and on Ctrl-C. Rounds
//! alternate servers within every scenario (rotating the order each round),
//! so drift on a shared machine affects all servers alike. See
//! `tests/bench/bench-compare.sh` (`make bench-compare`) for the usual
//! invocation, and `starling-bench --help` for the options.

#[path = "../bench/mod.rs"]
mod bench;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use rustix::process::{getrlimit, setrlimit, wait, Resource, Rlimit, WaitOptions};

use bench::cli::{self, Command, Options};
use bench::report::{self, Results, RunMeta, ServerMeta};
use bench::scenario::{catalogue, default_selection, Scale, Scenario, CLUSTER_NODES};
use bench::server::{self, Target, Topology};

/// Exit status when a server could not be started.
const EXIT_START_FAILED: u8 = 1;
/// Exit status for bad options.
const EXIT_USAGE: u8 = 2;
/// Exit status when interrupted by a signal (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;
/// File descriptors the bench needs beyond the memory scenario's connections.
const SPARE_FILES: u64 = 256;

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("starling-bench: {error:#}\n\n{}", cli::USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("starling-bench: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let exit = runtime.block_on(async {
        // Dropping `bench_run` (on a signal) drops every Target, and with
        // them the children, which are spawned with kill_on_drop.
        tokio::select! {
            outcome = bench_run(options) => match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("starling-bench: {error:#}");
                    ExitCode::from(EXIT_START_FAILED)
                }
            },
            signal = shutdown_signal() => {
                eprintln!("starling-bench: {signal}; stopping servers");
                ExitCode::from(EXIT_INTERRUPTED)
            }
        }
    });
    drop(runtime);
    reap_children();
    exit
}

/// Reaps servers that were killed on drop (error or signal paths) rather
/// than stopped and waited for, so none is left as a zombie. Bounded.
fn reap_children() {
    let deadline = std::time::Duration::from_secs(5);
    let started = tokio::time::Instant::now();
    loop {
        match wait(WaitOptions::NOHANG) {
            Ok(Some(_)) => continue,
            Ok(None) if started.elapsed() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            // No children left (ECHILD), or the deadline passed.
            _ => return,
        }
    }
}

/// Resolves on SIGINT, SIGTERM or SIGHUP, naming the signal.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return "interrupted";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = terminate.recv() => "terminated",
        _ = hangup.recv() => "hung up",
    }
}

/// The whole run. An error means a server could not be started (or the
/// options named an unknown scenario); failed scenario runs are reported in
/// the table instead.
async fn bench_run(options: Options) -> Result<()> {
    let scale = Scale {
        divisor: if options.quick { 4 } else { 1 },
        connections: options.connections,
    };
    let all = catalogue(scale);
    if options.list {
        for scenario in &all {
            match scenario.messages() {
                Some(messages) => println!("{} {messages}", scenario.name),
                None => println!("{}", scenario.name),
            }
        }
        return Ok(());
    }
    let scenarios = select(&all, &options)?;
    if scenarios.iter().any(|scenario| !scenario.needs_target()) {
        raise_file_limit(options.connections as u64 + SPARE_FILES);
    }

    let timestamp = report::utc_timestamp();
    let load_average_start = report::load_average();
    let log_dir = options.out_dir.join("logs");
    let _ = std::fs::remove_dir_all(&log_dir);
    std::fs::create_dir_all(&log_dir).with_context(|| format!("create {}", log_dir.display()))?;

    let mut servers = Vec::new();
    for spec in &options.servers {
        let version = server::version_of(&spec.path).await;
        eprintln!("{:<16} {} ({version})", spec.name, spec.path.display());
        servers.push(ServerMeta {
            name: spec.name.clone(),
            path: spec.path.display().to_string(),
            version,
        });
    }
    if !options
        .servers
        .iter()
        .any(|spec| spec.name == options.candidate)
    {
        eprintln!(
            "no server named {}: reporting medians without ratios",
            options.candidate
        );
    }

    let mut targets = start_targets(&options, &scenarios, &log_dir).await?;
    let results = run_rounds(&options, &scenarios, &mut targets, &log_dir).await;
    for target in targets.into_iter().flatten().flatten() {
        target.stop().await;
    }

    let meta = RunMeta {
        timestamp,
        rounds: options.rounds,
        quick: options.quick,
        cpus: std::thread::available_parallelism().map_or(0, usize::from),
        load_average_start,
        load_average_end: report::load_average(),
        servers,
    };
    let text = format!(
        "Starling bench {} ({} round(s){}; load average {} at start, {} at end on {} CPUs).\n\
         Medians per server; ratios are {} / baseline: above 1 is better for msgs/s, \
         below 1 for latency and memory.\n\n{}",
        meta.timestamp,
        meta.rounds,
        if meta.quick { ", quick" } else { "" },
        meta.load_average_start,
        meta.load_average_end,
        meta.cpus,
        options.candidate,
        results.table()
    );
    println!("\n{text}");
    match results.write_files(&options.out_dir, &meta, &text) {
        Ok(path) => println!("Results: {} (and .md)", path.display()),
        Err(error) => eprintln!("warning: could not write the results: {error:#}"),
    }
    Ok(())
}

/// `targets[slot][server]`: slot 0 single node, slot 1 cluster, slot 2
/// single node serving TLS, slot 3 single node with JetStream; `None` where
/// a target was not needed or (cluster, JetStream) could not be started.
type Targets = [Vec<Option<Target>>; 4];

/// Starts one target per server and needed topology. A single server that
/// fails to start ends the bench; a cluster that fails to form, or a
/// server that refuses JetStream, only fails those rows of that server.
async fn start_targets(
    options: &Options,
    scenarios: &[Scenario],
    log_dir: &Path,
) -> Result<Targets> {
    let slots: BTreeSet<usize> = scenarios
        .iter()
        .filter(|scenario| scenario.needs_target())
        .map(|scenario| topology_slot(scenario.topology))
        .collect();
    let mut targets: Targets = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for slot in slots {
        for spec in &options.servers {
            let target = match slot {
                0 => Some(Target::start(spec, Topology::Single, log_dir).await?),
                2 => Some(Target::start(spec, Topology::SingleTls, log_dir).await?),
                _ => {
                    let (topology, rows) = if slot == 1 {
                        (Topology::Cluster(CLUSTER_NODES), "cluster")
                    } else {
                        (Topology::JetStream, "JetStream")
                    };
                    match Target::start(spec, topology, log_dir).await {
                        Ok(target) => Some(target),
                        Err(error) => {
                            eprintln!("warning: {error:#}; its {rows} rows will fail");
                            None
                        }
                    }
                }
            };
            targets[slot].push(target);
        }
    }
    Ok(targets)
}

/// Every round of every scenario, servers alternating within each scenario
/// (the order rotates each round). Failed runs are recorded, not fatal.
async fn run_rounds(
    options: &Options,
    scenarios: &[Scenario],
    targets: &mut Targets,
    log_dir: &Path,
) -> Results {
    let names = options
        .servers
        .iter()
        .map(|spec| spec.name.clone())
        .collect();
    let mut results = Results::new(names, &options.candidate, scenarios);
    let count = options.servers.len();
    for round in 0..options.rounds {
        for scenario in scenarios {
            if scenario.max_rounds.is_some_and(|max| round >= max) {
                continue;
            }
            for turn in 0..count {
                let index = (turn + round) % count;
                let spec = &options.servers[index];
                let target = targets[topology_slot(scenario.topology)]
                    .get_mut(index)
                    .and_then(Option::as_mut);
                let outcome = match target {
                    Some(target) => match target.ensure_running().await {
                        Ok(restarted) => {
                            if restarted {
                                eprintln!("warning: {} had exited and was restarted", spec.name);
                            }
                            scenario.run(Some(target), spec, log_dir).await
                        }
                        Err(error) => Err(error.context("restart failed")),
                    },
                    None => scenario.run(None, spec, log_dir).await,
                };
                let label = format!(
                    "[round {}/{}] {:<20} {:<14}",
                    round + 1,
                    options.rounds,
                    scenario.name,
                    spec.name
                );
                match outcome {
                    Ok(values) => {
                        let shown: Vec<String> = scenario
                            .rows
                            .iter()
                            .zip(&values)
                            .map(|(row, value)| format!("{value:.1} {}", row.metric))
                            .collect();
                        eprintln!("{label} {}", shown.join(", "));
                        results.record(&scenario.name, index, &values);
                    }
                    Err(error) => {
                        eprintln!("{label} FAILED: {error:#}");
                        results.record_failure(&scenario.name, index, &format!("{error:#}"));
                    }
                }
            }
        }
    }
    results
}

fn topology_slot(topology: Topology) -> usize {
    match topology {
        Topology::Single => 0,
        Topology::Cluster(_) => 1,
        Topology::SingleTls => 2,
        Topology::JetStream => 3,
    }
}

/// The scenarios to run, in catalogue order.
fn select(all: &[Scenario], options: &Options) -> Result<Vec<Scenario>> {
    let wanted: Vec<String> = match &options.scenarios {
        None => default_selection(all, options.cluster)
            .into_iter()
            .map(str::to_string)
            .collect(),
        Some(names) => {
            let mut wanted = Vec::new();
            for name in names {
                match name.as_str() {
                    "all" => wanted.extend(
                        default_selection(all, options.cluster)
                            .into_iter()
                            .map(str::to_string),
                    ),
                    "js" => wanted.extend(
                        all.iter()
                            .filter(|scenario| scenario.is_jetstream())
                            .map(|scenario| scenario.name.clone()),
                    ),
                    "cluster" => wanted.extend(
                        all.iter()
                            .filter(|scenario| matches!(scenario.topology, Topology::Cluster(_)))
                            .map(|scenario| scenario.name.clone()),
                    ),
                    name if all.iter().any(|scenario| scenario.name == name) => {
                        wanted.push(name.to_string())
                    }
                    name => bail!("unknown scenario {name} (see --list)"),
                }
            }
            wanted
        }
    };
    let selected = all
        .iter()
        .filter(|scenario| wanted.contains(&scenario.name))
        .cloned();
    let mut scenarios = Vec::new();
    for scenario in selected {
        // The JetStream group runs on async-nats in every mode.
        if scenario.is_jetstream() {
            scenarios.push(scenario);
            continue;
        }
        let name = scenario.name.clone();
        match scenario.with_clients(options.clients) {
            Some(scenario) => scenarios.push(scenario),
            None => eprintln!(
                "note: {name} has no --clients {} version: skipped",
                options.clients
            ),
        }
    }
    if scenarios.is_empty() {
        bail!(
            "no selected scenario runs with --clients {}",
            options.clients
        );
    }
    Ok(scenarios)
}

/// Raises the soft open-files limit towards the hard limit (children inherit
/// it), and warns when even that is below what the memory scenario needs.
fn raise_file_limit(needed: u64) {
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if soft < hard {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            eprintln!("warning: cannot raise the open-files limit: {error}");
        }
    }
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    if now < needed {
        eprintln!(
            "warning: open-files limit {now} is below the {needed} the memory scenario needs"
        );
    }
}
