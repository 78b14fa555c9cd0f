//! The scenario catalogue: what each scenario measures, which rows of the
//! report it fills, and which rows gate the comparison.

use std::path::Path;

use anyhow::{anyhow, Result};

use async_nats::jetstream::stream::StorageType;

use super::async_client;
use super::async_request_reply;
use super::clients::Clients;
use super::js::JetStream;
use super::latency::{self, RequestReply};
use super::limits::{JS_SMALL_WINDOW, JS_WINDOW};
use super::memory;
use super::server::{ServerSpec, Target, Topology};
use super::throughput::{self, Pattern, Throughput};

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Throughput: more is better.
    HigherIsBetter,
    /// Latency, memory: less is better.
    LowerIsBetter,
}

/// One row of the report, filled by one value per run.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is measured, e.g. `msgs/s` or `p99 us`.
    pub metric: &'static str,
    /// Which way is better.
    pub direction: Direction,
    /// Whether the candidate must match or beat the stronger baseline here.
    pub gate: bool,
}

/// What a scenario does.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Messages per second.
    Throughput(Throughput),
    /// Round-trip percentiles.
    RequestReply(RequestReply),
    /// RSS per idle connection, on a fresh single server.
    Memory {
        /// Idle connections to open.
        connections: usize,
    },
    /// A JetStream scenario (async-nats load; see [`super::js`]).
    JetStream(JetStream),
}

/// One named scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name used in the report: the catalogue name, suffixed with the
    /// client mode unless raw (`pubsub-16b@async-nats`).
    pub name: String,
    /// What it measures.
    pub kind: Kind,
    /// Which clients drive it (the JetStream scenarios always use
    /// async-nats, whatever this says).
    pub clients: Clients,
    /// Which target it runs against (memory starts its own server).
    pub topology: Topology,
    /// Rows it fills, in the order [`Scenario::run`] returns values.
    pub rows: Vec<Row>,
    /// Runs at most this many rounds (memory: its result barely varies and
    /// each run opens thousands of connections).
    pub max_rounds: Option<usize>,
}

/// Sizes that depend on `--quick` and `--connections`.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Divides every message and request count (1 for a full run).
    pub divisor: u64,
    /// Idle connections in the memory scenario.
    pub connections: usize,
}

/// Rounds of the memory scenario at most.
pub const MEMORY_ROUNDS: usize = 3;

/// Rounds of the restart scenario at most (each fills a large stream).
pub const JS_RESTART_ROUNDS: usize = 3;

/// Rounds of the footprint scenario at most (its result barely varies).
pub const JS_FOOTPRINT_ROUNDS: usize = 1;

/// Nodes in the cluster target.
pub const CLUSTER_NODES: usize = 3;

const SMALL: usize = 16;
const LARGE: usize = 1024;

/// Every scenario, in report order. Message counts keep one run at about a
/// second on a 2-core machine (2-3 s for the slowest server while others
/// compile), so a full 5-round run of three servers takes a few minutes.
pub fn catalogue(scale: Scale) -> Vec<Scenario> {
    let messages = |count: u64| (count / scale.divisor).max(1000);
    let throughput = |name: &str, pattern, payload, count, gate, topology| Scenario {
        name: name.to_string(),
        kind: Kind::Throughput(Throughput {
            pattern,
            payload,
            messages: messages(count),
        }),
        clients: Clients::Raw,
        topology,
        rows: vec![Row {
            metric: "msgs/s",
            direction: Direction::HigherIsBetter,
            gate,
        }],
        max_rounds: None,
    };
    let request_reply = |name: &str, topology, gate: bool| Scenario {
        name: name.to_string(),
        kind: Kind::RequestReply(RequestReply {
            payload: SMALL,
            warmup: (2000 / scale.divisor as usize).max(100),
            requests: (20_000 / scale.divisor as usize).max(1000),
        }),
        clients: Clients::Raw,
        topology,
        rows: ["p50 us", "p99 us", "p99.9 us"]
            .into_iter()
            .map(|metric| Row {
                metric,
                direction: Direction::LowerIsBetter,
                gate: gate && metric == "p99 us",
            })
            .collect(),
        max_rounds: None,
    };
    let single = Topology::Single;
    let single_tls = Topology::SingleTls;
    let cluster = Topology::Cluster(CLUSTER_NODES);
    // (name, pattern, payload, messages in a full run, gate, topology)
    let throughputs = [
        ("pub-16b", Pattern::PubOnly, SMALL, 5_000_000, false, single),
        ("pub-1k", Pattern::PubOnly, LARGE, 1_500_000, false, single),
        (
            "pubsub-16b",
            Pattern::Broadcast(1),
            SMALL,
            2_500_000,
            true,
            single,
        ),
        (
            "pubsub-1k",
            Pattern::Broadcast(1),
            LARGE,
            600_000,
            false,
            single,
        ),
        (
            "fanout-16b",
            Pattern::Broadcast(10),
            SMALL,
            400_000,
            true,
            single,
        ),
        (
            "fanout-1k",
            Pattern::Broadcast(10),
            LARGE,
            100_000,
            false,
            single,
        ),
        (
            "queue-16b",
            Pattern::Queue(4),
            SMALL,
            2_000_000,
            false,
            single,
        ),
        ("queue-1k", Pattern::Queue(4), LARGE, 500_000, false, single),
        // 1:1 pub/sub with both clients on TLS (a certificate made at
        // bench start, the same for every server).
        (
            "pubsub-tls-16b",
            Pattern::Broadcast(1),
            SMALL,
            2_000_000,
            false,
            single_tls,
        ),
        (
            "cluster-pubsub-16b",
            Pattern::Broadcast(1),
            SMALL,
            1_500_000,
            false,
            cluster,
        ),
        (
            "cluster-pubsub-1k",
            Pattern::Broadcast(1),
            LARGE,
            400_000,
            false,
            cluster,
        ),
    ];
    let mut scenarios: Vec<Scenario> = throughputs
        .into_iter()
        .map(|(name, pattern, payload, count, gate, topology)| {
            throughput(name, pattern, payload, count, gate, topology)
        })
        .collect();
    let memory = Scenario {
        name: "memory".to_string(),
        kind: Kind::Memory {
            connections: scale.connections,
        },
        clients: Clients::Raw,
        topology: single,
        rows: ["KiB/conn", "idle RSS KiB", "loaded RSS KiB"]
            .into_iter()
            .map(|metric| Row {
                metric,
                direction: Direction::LowerIsBetter,
                gate: false,
            })
            .collect(),
        max_rounds: Some(MEMORY_ROUNDS),
    };
    // Single-server scenarios first, then the cluster ones.
    let first_cluster = scenarios
        .iter()
        .position(|scenario| matches!(scenario.topology, Topology::Cluster(_)))
        .unwrap_or(scenarios.len());
    scenarios.splice(
        first_cluster..first_cluster,
        [request_reply("reqrep", single, true), memory],
    );
    scenarios.push(request_reply("cluster-reqrep", cluster, false));
    scenarios.extend(jetstream_catalogue(scale));
    scenarios
}

/// Messages in the pre-filled stream of the consume scenarios (both use the
/// same count, so one fill per server serves both).
const CONSUME_MESSAGES: u64 = 300_000;

/// The JetStream group (`--scenarios js`), not in the default selection.
/// Counts are upper bounds: each measured loop also stops after
/// [`super::limits::JS_BUDGET`].
fn jetstream_catalogue(scale: Scale) -> Vec<Scenario> {
    let count = |full: u64| (full / scale.divisor).max(1000);
    let rows = |metrics: &[(&'static str, Direction)]| -> Vec<Row> {
        metrics
            .iter()
            .map(|&(metric, direction)| Row {
                metric,
                direction,
                gate: false,
            })
            .collect()
    };
    let higher = Direction::HigherIsBetter;
    let lower = Direction::LowerIsBetter;
    let scenario = |name: &str, kind, rows, max_rounds| Scenario {
        name: name.to_string(),
        kind: Kind::JetStream(kind),
        clients: Clients::AsyncNats,
        topology: Topology::JetStream,
        rows,
        max_rounds,
    };
    let async_publish = |payload, storage, messages| JetStream::PubAsync {
        payload,
        window: JS_WINDOW,
        storage,
        messages: count(messages),
    };
    let small_window = |payload, messages| JetStream::PubAsync {
        payload,
        window: JS_SMALL_WINDOW,
        storage: StorageType::File,
        messages: count(messages),
    };
    vec![
        scenario(
            "js-pub-async-16b",
            async_publish(SMALL, StorageType::File, 300_000),
            rows(&[("msgs/s", higher)]),
            None,
        ),
        scenario(
            "js-pub-async-1k",
            async_publish(LARGE, StorageType::File, 150_000),
            rows(&[("msgs/s", higher)]),
            None,
        ),
        scenario(
            "js-pub-async-16b-w256",
            small_window(SMALL, 300_000),
            rows(&[("msgs/s", higher)]),
            None,
        ),
        scenario(
            "js-pub-async-1k-w256",
            small_window(LARGE, 150_000),
            rows(&[("msgs/s", higher)]),
            None,
        ),
        scenario(
            "js-pub-sync",
            JetStream::PubSync {
                messages: count(10_000),
            },
            rows(&[("msgs/s", higher), ("p50 us", lower), ("p99 us", lower)]),
            None,
        ),
        scenario(
            "js-pub-mem-16b",
            async_publish(SMALL, StorageType::Memory, 300_000),
            rows(&[("msgs/s", higher)]),
            None,
        ),
        scenario(
            "js-fetch-16b",
            JetStream::Fetch {
                messages: count(CONSUME_MESSAGES),
            },
            rows(&[("msgs/s", higher)]),
            None,
        ),
        scenario(
            "js-push-16b",
            JetStream::Push {
                messages: count(CONSUME_MESSAGES),
            },
            rows(&[("msgs/s", higher)]),
            None,
        ),
        scenario(
            "kv-put",
            JetStream::KvPut { ops: count(10_000) },
            rows(&[("ops/s", higher)]),
            None,
        ),
        scenario(
            "kv-get",
            JetStream::KvGet { ops: count(10_000) },
            rows(&[("ops/s", higher)]),
            None,
        ),
        scenario(
            "js-restart",
            JetStream::Restart {
                messages: count(1_000_000),
            },
            rows(&[("restart ms", lower), ("disk B/msg", lower)]),
            Some(JS_RESTART_ROUNDS),
        ),
        scenario(
            "js-footprint",
            JetStream::Footprint {
                streams: count(1000) as usize,
                consumers: count(1000) as usize,
            },
            rows(&[("KiB/stream", lower), ("KiB/consumer", lower)]),
            Some(JS_FOOTPRINT_ROUNDS),
        ),
    ]
}

/// Names selected by default: everything on a single server (TLS included)
/// except the JetStream group.
pub fn default_selection(catalogue: &[Scenario], with_cluster: bool) -> Vec<&str> {
    catalogue
        .iter()
        .filter(|scenario| !scenario.is_jetstream())
        .filter(|scenario| with_cluster || !matches!(scenario.topology, Topology::Cluster(_)))
        .map(|scenario| scenario.name.as_str())
        .collect()
}

impl Scenario {
    /// Whether the scenario runs against a long-lived target (memory starts
    /// a fresh server of its own instead).
    pub fn needs_target(&self) -> bool {
        match self.kind {
            Kind::Memory { .. } => false,
            Kind::JetStream(js) => js.needs_target(),
            _ => true,
        }
    }

    /// This scenario driven by `clients`, renamed to show the mode, or
    /// `None` when it has no version for those clients: with async-nats,
    /// the throughput and request/reply scenarios on plain TCP (single node
    /// or cluster); not TLS, memory (idle raw connections) or JetStream
    /// (async-nats already).
    pub fn with_clients(self, clients: Clients) -> Option<Scenario> {
        match clients {
            Clients::Raw => Some(self),
            Clients::AsyncNats => {
                let core = matches!(self.kind, Kind::Throughput(_) | Kind::RequestReply(_));
                let plain = matches!(self.topology, Topology::Single | Topology::Cluster(_));
                // The gates stay on the raw rows: they compare servers,
                // and a client's own cost (the same for every server)
                // would only dilute the ratios.
                let rows = self
                    .rows
                    .iter()
                    .map(|row| Row {
                        gate: false,
                        ..row.clone()
                    })
                    .collect();
                (core && plain).then(|| Scenario {
                    name: clients.scenario_name(&self.name),
                    clients,
                    rows,
                    ..self
                })
            }
        }
    }

    /// Messages published (throughput) or requests sent (request/reply,
    /// warm-up included) in one full run; `None` for the other kinds.
    /// `--list` prints it, for per-message figures such as
    /// `tests/bench/syscalls.sh`'s.
    pub fn messages(&self) -> Option<u64> {
        match self.kind {
            Kind::Throughput(throughput) => Some(throughput.messages),
            Kind::RequestReply(request_reply) => {
                Some((request_reply.warmup + request_reply.requests) as u64)
            }
            Kind::Memory { .. } | Kind::JetStream(_) => None,
        }
    }

    /// Whether the scenario belongs to the JetStream group (`js`).
    pub fn is_jetstream(&self) -> bool {
        matches!(self.kind, Kind::JetStream(_))
    }

    /// Runs once. `target` is the running target of this scenario's topology
    /// for `spec`; the memory, restart and footprint scenarios ignore it and
    /// start a fresh server.
    /// Returns one value per row.
    pub async fn run(
        &self,
        target: Option<&Target>,
        spec: &ServerSpec,
        log_dir: &Path,
    ) -> Result<Vec<f64>> {
        let endpoints = || {
            target
                .map(Target::endpoints)
                .ok_or_else(|| anyhow!("no running target (it failed to start)"))
        };
        match (self.kind, self.clients) {
            (Kind::Throughput(throughput), Clients::Raw) => {
                Ok(vec![throughput::run(endpoints()?, throughput).await?])
            }
            (Kind::Throughput(throughput), Clients::AsyncNats) => Ok(vec![
                async_client::run_throughput(endpoints()?, throughput).await?,
            ]),
            (Kind::RequestReply(request_reply), clients) => {
                let result = match clients {
                    Clients::Raw => latency::run(endpoints()?, request_reply).await?,
                    Clients::AsyncNats => {
                        async_request_reply::run_request_reply(endpoints()?, request_reply).await?
                    }
                };
                Ok(vec![result.p50, result.p99, result.p999])
            }
            (Kind::Memory { connections }, _) => {
                let result = memory::run(spec, connections, log_dir).await?;
                Ok(vec![
                    result.per_connection_kib,
                    result.idle_rss_kib as f64,
                    result.loaded_rss_kib as f64,
                ])
            }
            (Kind::JetStream(js), _) => js.run(target, spec, log_dir).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale() -> Scale {
        Scale {
            divisor: 1,
            connections: 10,
        }
    }

    #[test]
    fn async_nats_versions_exist_for_plain_core_scenarios_only() {
        let renamed: Vec<String> = catalogue(scale())
            .into_iter()
            .filter(|scenario| !scenario.is_jetstream())
            .filter_map(|scenario| scenario.with_clients(Clients::AsyncNats))
            .map(|scenario| scenario.name)
            .collect();
        for name in [
            "pubsub-16b@async-nats",
            "pubsub-1k@async-nats",
            "fanout-16b@async-nats",
            "queue-1k@async-nats",
            "reqrep@async-nats",
            "cluster-pubsub-16b@async-nats",
        ] {
            assert!(renamed.iter().any(|got| got == name), "{name} missing");
        }
        for scenario in catalogue(scale())
            .into_iter()
            .filter_map(|scenario| scenario.with_clients(Clients::AsyncNats))
        {
            assert!(
                scenario.rows.iter().all(|row| !row.gate),
                "{}",
                scenario.name
            );
        }
        for name in ["pubsub-tls-16b", "memory"] {
            assert!(
                !renamed.iter().any(|got| got.starts_with(name)),
                "{name} has no async-nats version"
            );
        }
    }

    #[test]
    fn messages_are_the_published_count_or_the_requests() {
        let all = catalogue(Scale {
            divisor: 4,
            connections: 10,
        });
        let find = |name: &str| {
            all.iter()
                .find(|scenario| scenario.name == name)
                .and_then(Scenario::messages)
        };
        assert_eq!(find("pubsub-16b"), Some(625_000));
        assert_eq!(find("reqrep"), Some(500 + 5000));
        assert_eq!(find("memory"), None);
    }

    #[test]
    fn raw_clients_keep_the_catalogue_names() {
        for scenario in catalogue(scale()) {
            let name = scenario.name.clone();
            let kept = scenario.with_clients(Clients::Raw).expect("raw keeps all");
            assert_eq!(kept.name, name);
        }
    }
}
