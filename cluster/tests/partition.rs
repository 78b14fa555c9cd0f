//! Partitions, heals and restarts on the in-memory transport, under paused
//! time (the clock jumps whenever every task is idle, so the timings below
//! are exact in virtual time and the tests take milliseconds).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use starling_cluster::memory::MemoryNetwork;
use support::*;
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_secs(30);

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7000 + u16::from(i)))
}

fn seed_urls(addrs: &[SocketAddr]) -> Vec<String> {
    addrs.iter().map(|a| seed(*a)).collect()
}

#[tokio::test(start_paused = true)]
async fn partitioned_node_is_detected_by_pings_and_rejoins_quickly_after_the_heal() {
    let network = MemoryNetwork::new();
    let addrs = [addr(1), addr(2), addr(3)];
    let nodes: Vec<Node> = ["node-a", "node-b", "node-c"]
        .iter()
        .zip(addrs)
        .enumerate()
        .map(|(i, (id, at))| memory_node(&network, at, config(id, seed_urls(&addrs)), i as u64))
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for(LIMIT, "full mesh", || is_full_mesh(&refs)).await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);

    let cut = Instant::now();
    network.partition(a.addr(), c.addr());
    network.partition(b.addr(), c.addr());
    wait_for(LIMIT, "partition detected on both sides", || {
        c.cluster.peers().is_empty()
            && c.recorder.live_nodes().is_empty()
            && a.peer_ids() == ["node-b"]
            && b.peer_ids() == ["node-a"]
            && a.recorder.live_nodes() == ["node-b"]
    })
    .await;
    let detected = cut.elapsed();
    println!("partition detected after {detected:?} (virtual)");
    // ping_interval 200 ms, ping_max 2: the third tick finds 2 unanswered.
    assert!(detected <= Duration::from_millis(700), "{detected:?}");

    // Stay cut long enough that every backoff reaches its cap.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let ups = a.recorder.ups.load(std::sync::atomic::Ordering::SeqCst);
    let healed = Instant::now();
    network.heal(a.addr(), c.addr());
    network.heal(b.addr(), c.addr());
    wait_for(LIMIT, "mesh back", || is_full_mesh(&refs)).await;
    let back = healed.elapsed();
    println!("mesh back {back:?} (virtual) after the heal");
    // Redials are capped at 150 ms, so the mesh is back well within 0.2 s
    // of virtual time (the handshakes take none).
    assert!(back <= Duration::from_millis(200), "{back:?}");
    assert!(
        a.recorder.ups.load(std::sync::atomic::Ordering::SeqCst) > ups,
        "a new peer_up (interest snapshot)"
    );
    for node in &nodes {
        assert!(
            node.recorder.violations().is_empty(),
            "{:?}",
            node.recorder.violations()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn gossiped_route_lost_in_a_long_partition_comes_back_through_regossip() {
    let network = MemoryNetwork::new();
    let a = memory_node(&network, addr(11), config("node-a", vec![]), 1);
    let b = memory_node(
        &network,
        addr(12),
        config("node-b", vec![seed(addr(11))]),
        2,
    );
    let c = memory_node(
        &network,
        addr(13),
        config("node-c", vec![seed(addr(11))]),
        3,
    );
    let nodes = [&a, &b, &c];
    wait_for(LIMIT, "full mesh", || is_full_mesh(&nodes)).await;

    network.partition(b.addr(), c.addr());
    wait_for(LIMIT, "b-c lost", || {
        b.peer_ids() == ["node-a"] && c.peer_ids() == ["node-a"]
    })
    .await;
    // Long enough for the bounded retries of the gossiped member to run out.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(b.peer_ids(), ["node-a"]);
    let healed = Instant::now();
    network.heal(b.addr(), c.addr());
    wait_for(LIMIT, "mesh back", || is_full_mesh(&nodes)).await;
    println!(
        "gossiped route back {:?} (virtual) after the heal",
        healed.elapsed()
    );
    assert!(healed.elapsed() <= Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn restarted_node_with_a_new_id_replaces_the_old_one_everywhere() {
    let network = MemoryNetwork::new();
    let a = memory_node(&network, addr(21), config("node-a", vec![]), 1);
    let b = memory_node(
        &network,
        addr(22),
        config("node-b", vec![seed(addr(21))]),
        2,
    );
    let c = memory_node(
        &network,
        addr(23),
        config("node-c", vec![seed(addr(21))]),
        3,
    );
    wait_for(LIMIT, "full mesh", || is_full_mesh(&[&a, &b, &c])).await;

    c.stop().await;
    wait_for(LIMIT, "c gone", || {
        a.peer_ids() == ["node-b"] && b.peer_ids() == ["node-a"]
    })
    .await;
    let c2 = memory_node(
        &network,
        addr(23),
        config("node-c2", vec![seed(addr(21))]),
        4,
    );
    wait_for(LIMIT, "mesh with the restarted node", || {
        is_full_mesh(&[&a, &b, &c2])
    })
    .await;
    // Nobody keeps trying the old id: the mesh stays exactly this.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(is_full_mesh(&[&a, &b, &c2]));
    for node in [&a, &b, &c2] {
        assert!(
            node.recorder.violations().is_empty(),
            "{:?}",
            node.recorder.violations()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn many_nodes_started_together_with_the_same_seed_list_form_one_mesh() {
    let network = MemoryNetwork::new();
    let addrs: Vec<SocketAddr> = (31..38).map(addr).collect();
    let started = Instant::now();
    let nodes: Vec<Node> = addrs
        .iter()
        .enumerate()
        .map(|(i, at)| {
            memory_node(
                &network,
                *at,
                config(&format!("node-{i}"), seed_urls(&addrs)),
                i as u64,
            )
        })
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for(LIMIT, "7-node mesh", || is_full_mesh(&refs)).await;
    println!("7-node mesh in {:?} (virtual)", started.elapsed());
    for node in &nodes {
        assert!(
            node.recorder.violations().is_empty(),
            "{:?}",
            node.recorder.violations()
        );
    }
}
