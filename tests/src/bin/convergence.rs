//! `starling-convergence`: the cluster convergence figures of issue 8 for
//! Starling and nats-server releases side by side.
//!
//! ```text
//! starling-convergence --server starling=target/release/starling \
//!     --server nats-2.9.10=/usr/bin/nats-server [--figures interest,snapshot,wire,partition]
//!     [--samples 300] [--subs 100000] [--rounds 5] [--messages 50000]
//!     [--partition-secs 10] [--partition-rounds 3] [--logs DIR]
//! ```
//! Every server is started on ephemeral loopback ports and killed by its own
//! child handle. Prints one line per figure and server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use starling_tests::convergence::figures;
use starling_tests::convergence::node::ServerSpec;
use starling_tests::convergence::percentile;

#[derive(Debug)]
struct Options {
    servers: Vec<ServerSpec>,
    figures: Vec<String>,
    samples: usize,
    subs: usize,
    rounds: usize,
    messages: usize,
    partition: Duration,
    partition_rounds: usize,
    logs: PathBuf,
}

fn parse() -> Result<Options> {
    let mut options = Options {
        servers: Vec::new(),
        figures: ["interest", "snapshot", "wire", "partition"]
            .map(String::from)
            .to_vec(),
        samples: 300,
        subs: 100_000,
        rounds: 5,
        messages: 50_000,
        partition: Duration::from_secs(10),
        partition_rounds: 3,
        logs: PathBuf::from("bench-results/convergence-logs"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        let count = |text: String| -> Result<usize> {
            text.parse()
                .with_context(|| format!("{flag} wants a number"))
        };
        match flag.as_str() {
            "--server" => {
                let text = value()?;
                let (name, path) = text
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--server wants NAME=PATH"))?;
                options.servers.push(ServerSpec {
                    name: name.to_string(),
                    path: PathBuf::from(path),
                });
            }
            "--figures" => options.figures = value()?.split(',').map(String::from).collect(),
            "--samples" => options.samples = count(value()?)?.max(1),
            "--subs" => options.subs = count(value()?)?.max(1),
            "--rounds" => options.rounds = count(value()?)?.max(1),
            "--messages" => options.messages = count(value()?)?.max(1),
            "--partition-secs" => options.partition = Duration::from_secs(count(value()?)? as u64),
            "--partition-rounds" => options.partition_rounds = count(value()?)?.max(1),
            "--logs" => options.logs = PathBuf::from(value()?),
            other => bail!("unknown option {other}"),
        }
    }
    if options.servers.is_empty() {
        bail!("give at least one --server NAME=PATH");
    }
    Ok(options)
}

fn ms(duration: Option<Duration>) -> String {
    duration.map_or("-".into(), |d| {
        format!("{:.3} ms", d.as_secs_f64() * 1000.0)
    })
}

async fn run(options: Options) -> Result<()> {
    std::fs::create_dir_all(&options.logs)?;
    let logs = &options.logs;
    for figure in &options.figures {
        for spec in &options.servers {
            let line = match figure.as_str() {
                "interest" => figures::interest(spec, logs, options.samples).await.map(|mut t| {
                    format!(
                        "SUB on C usable by a publisher on A ({} samples): p50 {} p90 {} p99 {} max {}",
                        t.len(),
                        ms(percentile(&mut t, 50.0)),
                        ms(percentile(&mut t, 90.0)),
                        ms(percentile(&mut t, 99.0)),
                        ms(percentile(&mut t, 100.0)),
                    )
                }),
                "snapshot" => figures::snapshot(spec, logs, options.subs, options.rounds)
                    .await
                    .map(|rounds| {
                        let mut t: Vec<Duration> = rounds.iter().map(|r| r.elapsed).collect();
                        let mut receiver: Vec<Duration> = rounds.iter().map(|r| r.receiver_cpu).collect();
                        let mut sender: Vec<Duration> = rounds.iter().map(|r| r.sender_cpu).collect();
                        format!(
                            "{} subscriptions, route comes up, peer has the full count ({} rounds): p50 {} min {} max {}; CPU p50 receiver {} sender {}",
                            options.subs,
                            t.len(),
                            ms(percentile(&mut t, 50.0)),
                            ms(percentile(&mut t, 0.0)),
                            ms(percentile(&mut t, 100.0)),
                            ms(percentile(&mut receiver, 50.0)),
                            ms(percentile(&mut sender, 50.0)),
                        )
                    }),
                "wire" => figures::wire_bytes(spec, logs, options.messages)
                    .await
                    .map(|bytes| {
                        format!(
                            "route bytes per 16 B message, subject {:?} ({} messages): {bytes:.2}",
                            figures::WIRE_SUBJECT,
                            options.messages
                        )
                    }),
                "partition" => figures::partition_heal(
                    spec,
                    logs,
                    options.partition,
                    options.partition_rounds,
                )
                .await
                .map(|mut t| {
                    let all: Vec<String> = t.iter().map(|d| ms(Some(*d))).collect();
                    format!(
                        "after a {:?} partition heals, a new SUB on C receives from A: p50 {} max {} (all: {})",
                        options.partition,
                        ms(percentile(&mut t, 50.0)),
                        ms(percentile(&mut t, 100.0)),
                        all.join(", ")
                    )
                }),
                other => bail!("unknown figure {other} (interest, snapshot, wire, partition)"),
            };
            match line {
                Ok(line) => println!("{:<14} {figure:<9} {line}", spec.name),
                Err(error) => println!("{:<14} {figure:<9} FAILED: {error:#}", spec.name),
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("starling-convergence: {error:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("starling-convergence: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("starling-convergence: {error:#}");
            ExitCode::FAILURE
        }
    }
}
