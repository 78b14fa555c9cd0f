//! A three-node cluster of real `starling` processes, configured with
//! nats-server's flags, and a node killed by PID while traffic flows.

mod common;

use std::time::Duration;

use common::process::Process;
use common::{http_get_json, DEADLINE};
use futures::StreamExt;

async fn routes_of(process: &Process) -> u64 {
    let monitor = process.monitor.expect("monitoring on");
    http_get_json(monitor, "/routez").await["num_routes"]
        .as_u64()
        .unwrap_or(0)
}

async fn wait_routes(process: &Process, expected: u64) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while routes_of(process).await != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "routes never reached {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publish on `publisher` until `sub` receives (interest may still be on its way).
async fn exchange(publisher: &async_nats::Client, sub: &mut async_nats::Subscriber, subject: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        publisher
            .publish(subject.to_string(), "ping".into())
            .await
            .unwrap();
        publisher.flush().await.unwrap();
        if let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(100), sub.next()).await
        {
            assert_eq!(message.payload, "ping");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message crossed the cluster"
        );
    }
}

#[tokio::test]
async fn three_processes_cluster_with_nats_server_flags() {
    let common_args = [
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-m",
        "-1",
        "--cluster_name",
        "procs",
    ];
    let mut n1_args = common_args.to_vec();
    n1_args.extend(["-n", "n1", "--cluster", "nats://127.0.0.1:-1"]);
    let n1 = Process::start(&n1_args).await;
    let seed = format!(
        "nats://{}",
        n1.route.expect("n1 announces its route listener")
    );
    let start_peer = |name: &'static str| {
        let seed = seed.clone();
        async move {
            let mut args = common_args.to_vec();
            args.extend(["-n", name, "--cluster", "nats://127.0.0.1:-1", "--routes"]);
            args.push(&seed);
            Process::start(&args).await
        }
    };
    let mut n2 = start_peer("n2").await;
    let n3 = start_peer("n3").await;
    for node in [&n1, &n2, &n3] {
        wait_routes(node, 2).await;
    }

    let subscriber = async_nats::connect(format!("nats://{}", n3.addr))
        .await
        .unwrap();
    let mut sub = subscriber.subscribe("procs.test").await.unwrap();
    subscriber.flush().await.unwrap();
    let publisher = async_nats::connect(format!("nats://{}", n1.addr))
        .await
        .unwrap();
    exchange(&publisher, &mut sub, "procs.test").await;

    // Kill n2 outright while traffic flows; n1 and n3 carry on.
    n2.signal(9);
    n2.wait().await;
    wait_routes(&n1, 1).await;
    wait_routes(&n3, 1).await;
    for _ in 0..100 {
        exchange(&publisher, &mut sub, "procs.test").await;
    }

    // A replacement joins from the seed and its subscribers receive.
    let n2b = start_peer("n2b").await;
    for node in [&n1, &n2b, &n3] {
        wait_routes(node, 2).await;
    }
    let late = async_nats::connect(format!("nats://{}", n2b.addr))
        .await
        .unwrap();
    let mut late_sub = late.subscribe("procs.late").await.unwrap();
    late.flush().await.unwrap();
    exchange(&publisher, &mut late_sub, "procs.late").await;
}
