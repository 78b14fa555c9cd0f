//! Consumer state machine throughput, no network: pull batches of 100 with
//! an explicit ack per message from a 200,000-message memory stream, plus a
//! filtered and a last-per-subject consumer. `cargo bench -p starling-jetstream`.
//!
//! Wall-clock timing is what a benchmark measures, hence `Instant`.
#![allow(clippy::disallowed_types)]

use std::time::Instant;

use starling_jetstream::api::consumer::{AckPolicy, ConsumerConfig, DeliverPolicy};
use starling_jetstream::consumer::{apply_defaults, AckKind, Consumer, Outbound, StreamContext};
use starling_store::{MemStore, MessageStore, StoreConfig};

const MESSAGES: u64 = 200_000;

fn consumer(store: &MemStore, mut config: ConsumerConfig) -> Consumer {
    config.durable_name = Some("C".into());
    config.ack_policy = AckPolicy::Explicit;
    apply_defaults(&mut config, &StreamContext::default());
    Consumer::new("S", "C", config, store, 0)
}

fn drain(label: &str, store: &MemStore, mut consumer: Consumer) {
    let started = Instant::now();
    let mut delivered = 0u64;
    loop {
        let out = consumer.add_pull_request(store, "reply", br#"{"batch":100,"no_wait":true}"#, 1);
        let seqs: Vec<u64> = out
            .iter()
            .filter_map(|item| match item {
                Outbound::Message { delivery, .. } => Some(delivery.message.seq),
                _ => None,
            })
            .collect();
        if seqs.is_empty() {
            break;
        }
        for seq in seqs {
            consumer.ack(seq, &AckKind::Ack, 1);
            delivered += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{label}: {delivered} messages pulled and acked in {seconds:.3} s = {:.0} msgs/s",
        delivered as f64 / seconds
    );
}

fn main() {
    let mut store = MemStore::new(StoreConfig::default());
    for index in 0..MESSAGES {
        let subject = format!("orders.{}", index % 1000);
        let stored = store.store_msg(&subject, b"", &[0u8; 16], index as i64, None);
        assert!(stored.is_ok(), "store failed");
    }
    drain(
        "unfiltered",
        &store,
        consumer(&store, ConsumerConfig::default()),
    );
    let filtered = ConsumerConfig {
        filter_subject: "orders.7".into(),
        ..ConsumerConfig::default()
    };
    drain(
        "filtered (1 subject in 1000)",
        &store,
        consumer(&store, filtered),
    );
    let wildcard = ConsumerConfig {
        filter_subjects: vec!["orders.*".into()],
        ..ConsumerConfig::default()
    };
    drain(
        "filter_subjects [orders.*]",
        &store,
        consumer(&store, wildcard),
    );
    let last = ConsumerConfig {
        deliver_policy: DeliverPolicy::LastPerSubject,
        filter_subject: "orders.*".into(),
        ..ConsumerConfig::default()
    };
    drain(
        "last_per_subject (1000 subjects)",
        &store,
        consumer(&store, last),
    );
}
