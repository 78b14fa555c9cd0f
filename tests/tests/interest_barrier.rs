//! The interest barrier with real processes: a PING after a SUB is answered
//! only once every peer has the interest, so a message published on another
//! node right after the PONG is delivered (nats-server issue 1142), the
//! PONG keeps its place among the client's output, and a flush after SUB
//! costs about one more route round trip than a plain flush (printed).
//!
//! The subscriber is a raw protocol client because its flush must be a
//! PING/PONG round trip, as in the Go, Java, C and Python clients
//! (async-nats' `flush` only writes to the socket); the publisher is
//! async-nats.

mod common;

use std::path::Path;
use std::time::Duration;

use common::process::Process;
use common::raw::Raw;
use common::{http_get_json, DEADLINE};
use tokio::time::Instant;

/// Iterations of the publish-right-after-flush race.
const RACE_ITERATIONS: usize = 200;
/// Longest one iteration's message may take before it counts as lost.
const MESSAGE_WAIT: Duration = Duration::from_secs(2);
/// Round trips per figure of the flush measurement.
const MEASURE_ROUNDS: usize = 300;

/// Write `cluster.conf` for a node named `name` and start it.
async fn start_node(dir: &Path, name: &str, seed: Option<&str>, barrier: &str) -> Process {
    let routes = seed.map_or(String::new(), |seed| format!("routes: [\"{seed}\"]"));
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "server_name: {name}\nhost: 127.0.0.1\nport: -1\nhttp: \"127.0.0.1:-1\"\n\
             cluster {{\n  name: barrier\n  host: 127.0.0.1\n  port: -1\n  {routes}\n  \
             interest_barrier_timeout: {barrier}\n}}\n"
        ),
    )
    .expect("write config");
    Process::start(&["-c", conf.to_str().expect("utf-8 path")]).await
}

/// Three nodes in a full mesh: (A, B, C).
async fn three_nodes(dir: &Path, barrier: &str) -> [Process; 3] {
    let a = start_node(dir, "a", None, barrier).await;
    let seed = format!("nats://{}", a.route.expect("route listener"));
    let b = start_node(dir, "b", Some(&seed), barrier).await;
    let c = start_node(dir, "c", Some(&seed), barrier).await;
    for node in [&a, &b, &c] {
        wait_routes(node, 2).await;
    }
    [a, b, c]
}

async fn wait_routes(process: &Process, expected: u64) {
    let monitor = process.monitor.expect("monitoring on");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let routez = http_get_json(monitor, "/routez").await;
        if routez["num_routes"].as_u64() == Some(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "routes never reached {expected}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SUB on C, PING/PONG, then publish on A at once: does the first message
/// arrive within `wait`? Returns how many of `iterations` were lost.
async fn race(a: &Process, c: &Process, iterations: usize, tag: &str, wait: Duration) -> usize {
    let publisher = common::nats_client(&format!("nats://{}", a.addr)).await;
    let mut subscriber = Raw::connected(c.addr).await;
    let mut lost = 0;
    for i in 0..iterations {
        let subject = format!("race.{tag}.{i}");
        subscriber
            .send(&format!("SUB {subject} {i}\r\nPING\r\n"))
            .await;
        // A message that came after its wait (barrier off) is skipped here.
        loop {
            let line = subscriber.line().await;
            if line == "PONG" {
                break;
            }
            assert!(line.starts_with("MSG "), "unexpected {line}");
            subscriber.payload(5).await;
        }
        publisher
            .publish(subject.clone(), "first".into())
            .await
            .expect("publish");
        publisher.flush().await.expect("flush");
        match tokio::time::timeout(wait, subscriber.line()).await {
            Ok(line) => {
                assert_eq!(line, format!("MSG {subject} {i} 5"));
                assert_eq!(subscriber.payload(5).await, b"first");
            }
            Err(_) => lost += 1,
        }
        subscriber.send(&format!("UNSUB {i}\r\n")).await;
    }
    lost
}

#[tokio::test]
async fn message_published_on_another_node_right_after_flush_is_delivered_every_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let [a, _b, c] = three_nodes(dir.path(), "\"5s\"").await;
    let lost = race(&a, &c, RACE_ITERATIONS, "on", MESSAGE_WAIT).await;
    assert_eq!(
        lost, 0,
        "{lost} of {RACE_ITERATIONS} first messages lost with the barrier on"
    );
}

#[tokio::test]
async fn pong_after_sub_keeps_its_place_among_the_clients_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    let [_a, _b, c] = three_nodes(dir.path(), "\"5s\"").await;
    let mut client = Raw::connected(c.addr).await;
    client.send("SUB order.a 1\r\n").await;
    client.flush().await;
    // One write: a message to itself, a SUB (so the PING waits at the
    // barrier), the PING, then more ops behind it.
    client
        .send("PUB order.a 6\r\nbefore\r\nSUB order.b 2\r\nPING\r\nPUB order.a 5\r\nafter\r\nPUB order.b 4\r\nnext\r\nPING\r\n")
        .await;
    client.expect_msg("order.a", "1", None, "before").await;
    client.expect("PONG").await;
    client.expect_msg("order.a", "1", None, "after").await;
    client.expect_msg("order.b", "2", None, "next").await;
    client.expect("PONG").await;
}

/// The p50 of `rounds` round trips of `ops` (which must end in one PING).
async fn round_trip_p50(
    client: &mut Raw,
    rounds: usize,
    ops: impl Fn(usize) -> String,
) -> Duration {
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let text = ops(round);
        let started = Instant::now();
        client.send(&text).await;
        client.expect("PONG").await;
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

/// Prints the cost of a flush after SUB in a three-node cluster against a
/// plain flush, with the barrier on, and how many first messages the race
/// loses with the barrier off (a figure, not an assertion: on loopback the
/// interest usually wins the race anyway). With a release binary:
/// `cargo build --release -p starling && STARLING_BIN=target/release/starling
/// cargo test -p starling-tests --test interest_barrier -- --nocapture flush_cost`
#[tokio::test]
async fn flush_cost_after_sub_is_printed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let [_a, _b, c] = three_nodes(dir.path(), "\"100ms\"").await;
    let mut client = Raw::connected(c.addr).await;
    // Warm up both paths.
    round_trip_p50(&mut client, 20, |_| "PING\r\n".to_string()).await;
    round_trip_p50(&mut client, 20, |i| {
        format!("SUB warm.{i} w{i}\r\nPING\r\n")
    })
    .await;
    let plain = round_trip_p50(&mut client, MEASURE_ROUNDS, |_| "PING\r\n".to_string()).await;
    let after_sub = round_trip_p50(&mut client, MEASURE_ROUNDS, |i| {
        format!("SUB cost.{i} c{i}\r\nPING\r\n")
    })
    .await;
    let ratio = after_sub.as_secs_f64() / plain.as_secs_f64();
    println!(
        "interest barrier, 3 nodes: flush after SUB p50 {after_sub:?}, plain flush p50 {plain:?}, ratio {ratio:.2} (goal <= 1.5)"
    );
    drop(c);

    let off_dir = tempfile::tempdir().expect("temp dir");
    let [a, _b, c] = three_nodes(off_dir.path(), "0").await;
    let mut client = Raw::connected(c.addr).await;
    round_trip_p50(&mut client, 20, |i| {
        format!("SUB warm.{i} w{i}\r\nPING\r\n")
    })
    .await;
    let unguarded = round_trip_p50(&mut client, MEASURE_ROUNDS, |i| {
        format!("SUB cost.{i} c{i}\r\nPING\r\n")
    })
    .await;
    println!("interest barrier off, 3 nodes: flush after SUB p50 {unguarded:?}");
    let lost = race(&a, &c, RACE_ITERATIONS, "off", Duration::from_millis(200)).await;
    println!("interest barrier off: {lost} of {RACE_ITERATIONS} first messages lost");
}
