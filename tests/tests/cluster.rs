//! A cluster of in-process nodes on loopback: the mesh forms from one seed,
//! interest crosses it, messages go only where interest is, queue groups
//! get each message once cluster-wide, and nodes come and go.

mod common;

use std::time::Duration;

use common::raw::Raw;
use common::{eventually, nats_client, TestServer, DEADLINE};
use futures::StreamExt;
use starling::options::Options;

fn node_options(name: &str, seeds: &[&TestServer]) -> Options {
    common::cluster_node_options(name, "test-cluster", seeds)
}

async fn node(name: &str, seeds: &[&TestServer]) -> TestServer {
    TestServer::start(node_options(name, seeds)).await
}

async fn routez(server: &TestServer) -> serde_json::Value {
    server.monitor_json("/routez").await
}

async fn num_routes(server: &TestServer) -> u64 {
    routez(server).await["num_routes"].as_u64().unwrap_or(0)
}

/// The route on `from` whose peer is `to`.
async fn route_to(from: &TestServer, to: &TestServer) -> Option<serde_json::Value> {
    let to_id = to.handle.state().server_id.clone();
    routez(from).await["routes"]
        .as_array()?
        .iter()
        .find(|r| r["remote_id"] == to_id.as_str())
        .cloned()
}

async fn wait_for_mesh(nodes: &[&TestServer]) {
    let expected = nodes.len() as u64 - 1;
    for node in nodes {
        eventually("full mesh", || async { num_routes(node).await == expected }).await;
    }
}

/// Wait until `from` has `count` interest entries from `to`'s clients (plus
/// the system account service's own, which every node announces).
async fn wait_for_interest(from: &TestServer, to: &TestServer, count: u64) {
    let count = count + starling::system::ANNOUNCED_SUBSCRIPTIONS as u64;
    eventually("interest propagated", || async {
        route_to(from, to)
            .await
            .is_some_and(|r| r["subscriptions"].as_u64() == Some(count))
    })
    .await;
}

#[tokio::test]
async fn three_nodes_form_a_full_mesh_from_one_seed() {
    let a = node("a", &[]).await;
    let b = node("b", &[&a]).await;
    let c = node("c", &[&a]).await;
    wait_for_mesh(&[&a, &b, &c]).await;
    // Exactly one route per pair, on both sides.
    for (x, y) in [(&a, &b), (&a, &c), (&b, &c)] {
        assert!(route_to(x, y).await.is_some());
        assert!(route_to(y, x).await.is_some());
    }
    let varz = c.monitor_json("/varz").await;
    assert_eq!(varz["routes"], 2);
    assert_eq!(varz["cluster"]["name"], "test-cluster");
}

#[tokio::test]
async fn messages_cross_only_where_interest_is() {
    let a = node("a", &[]).await;
    let b = node("b", &[&a]).await;
    let c = node("c", &[&a]).await;
    wait_for_mesh(&[&a, &b, &c]).await;

    let subscriber = nats_client(&c.url()).await;
    let mut sub = subscriber.subscribe("orders.>").await.unwrap();
    subscriber.flush().await.unwrap();
    wait_for_interest(&a, &c, 1).await;

    let publisher = nats_client(&a.url()).await;
    publisher
        .publish("orders.new", "from a".into())
        .await
        .unwrap();
    let message = common::next_message(&mut sub).await;
    assert_eq!(message.payload, "from a");

    // 10,000 messages nobody wants: nothing crosses any route.
    let before_b = route_to(&a, &b).await.unwrap()["out_msgs"]
        .as_u64()
        .unwrap();
    let before_c = route_to(&a, &c).await.unwrap()["out_msgs"]
        .as_u64()
        .unwrap();
    for _ in 0..10_000 {
        publisher
            .publish("nobody.listens", "x".into())
            .await
            .unwrap();
    }
    // And 100 that C wants: they go to C only.
    for _ in 0..100 {
        publisher.publish("orders.more", "y".into()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    for _ in 0..100 {
        common::next_message(&mut sub).await;
    }
    let after_b = route_to(&a, &b).await.unwrap()["out_msgs"]
        .as_u64()
        .unwrap();
    let after_c = route_to(&a, &c).await.unwrap()["out_msgs"]
        .as_u64()
        .unwrap();
    assert_eq!(after_b, before_b, "nothing to B, which has no interest");
    assert_eq!(after_c - before_c, 100, "exactly the wanted messages to C");

    // Unsubscribe on C: A stops sending to C.
    sub.unsubscribe().await.unwrap();
    subscriber.flush().await.unwrap();
    wait_for_interest(&a, &c, 0).await;
    for _ in 0..100 {
        publisher.publish("orders.more", "z".into()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    let last_c = route_to(&a, &c).await.unwrap()["out_msgs"]
        .as_u64()
        .unwrap();
    assert_eq!(last_c, after_c, "no traffic to C after its unsubscribe");
}

#[tokio::test]
async fn one_message_per_peer_whatever_its_subscriber_count() {
    let a = node("a", &[]).await;
    let b = node("b", &[&a]).await;
    wait_for_mesh(&[&a, &b]).await;
    let subscriber = nats_client(&b.url()).await;
    let mut subs = Vec::new();
    for subject in ["fan.x", "fan.*", "fan.>", "fan.x", ">"] {
        subs.push(subscriber.subscribe(subject).await.unwrap());
    }
    subscriber.flush().await.unwrap();
    wait_for_interest(&a, &b, 4).await;
    let publisher = nats_client(&a.url()).await;
    publisher.publish("fan.x", "once".into()).await.unwrap();
    publisher.flush().await.unwrap();
    for sub in &mut subs {
        let message = common::next_message(sub).await;
        assert_eq!(message.payload, "once");
    }
    let route = route_to(&a, &b).await.unwrap();
    assert_eq!(
        route["out_msgs"], 1,
        "one copy crossed for five subscribers"
    );
}

#[tokio::test]
async fn queue_group_gets_each_message_once_cluster_wide() {
    let a = node("a", &[]).await;
    let b = node("b", &[&a]).await;
    let c = node("c", &[&a]).await;
    wait_for_mesh(&[&a, &b, &c]).await;
    let mut members = Vec::new();
    let mut clients = Vec::new();
    for server in [&a, &b, &c] {
        let client = nats_client(&server.url()).await;
        members.push(
            client
                .queue_subscribe("work", "workers".into())
                .await
                .unwrap(),
        );
        client.flush().await.unwrap();
        clients.push(client);
    }
    wait_for_interest(&a, &b, 1).await;
    wait_for_interest(&a, &c, 1).await;
    let publisher = nats_client(&a.url()).await;
    let total = 3000;
    for i in 0..total {
        publisher
            .publish("work", format!("{i}").into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut per_member = Vec::new();
    for member in &mut members {
        let mut count = 0;
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(500), member.next()).await
        {
            assert!(seen.insert(message.payload.clone()), "delivered twice");
            count += 1;
        }
        per_member.push(count);
    }
    assert_eq!(
        seen.len(),
        total,
        "every message exactly once: {per_member:?}"
    );
    for count in &per_member {
        assert!(*count > 600, "uniform choice over members: {per_member:?}");
    }
}

#[tokio::test]
async fn request_reply_and_no_responders_across_nodes() {
    let a = node("a", &[]).await;
    let b = node("b", &[&a]).await;
    wait_for_mesh(&[&a, &b]).await;
    let responder = nats_client(&b.url()).await;
    let mut service = responder.subscribe("svc.time").await.unwrap();
    responder.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(request) = service.next().await {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, "noon".into()).await;
            }
        }
    });
    wait_for_interest(&a, &b, 1).await;
    let client = nats_client(&a.url()).await;
    // The requester's inbox interest must reach B before B answers.
    client.flush().await.unwrap();
    let response = client.request("svc.time", "now?".into()).await.unwrap();
    assert_eq!(response.payload, "noon");
    let error = client.request("svc.nobody", "x".into()).await.unwrap_err();
    assert_eq!(error.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn a_node_leaves_and_rejoins() {
    let a = node("a", &[]).await;
    let b = node("b", &[&a]).await;
    let c = node("c", &[&a]).await;
    wait_for_mesh(&[&a, &b, &c]).await;
    let subscriber = nats_client(&c.url()).await;
    let mut sub = subscriber.subscribe("live").await.unwrap();
    subscriber.flush().await.unwrap();
    wait_for_interest(&a, &c, 1).await;
    let publisher = nats_client(&a.url()).await;

    b.stop().await;
    eventually("A sees B gone", || async { num_routes(&a).await == 1 }).await;
    publisher
        .publish("live", "still here".into())
        .await
        .unwrap();
    let message = common::next_message(&mut sub).await;
    assert_eq!(message.payload, "still here");

    let b2 = node("b2", &[&a]).await;
    wait_for_mesh(&[&a, &b2, &c]).await;
    let late = nats_client(&b2.url()).await;
    let mut late_sub = late.subscribe("live").await.unwrap();
    late.flush().await.unwrap();
    wait_for_interest(&a, &b2, 1).await;
    publisher
        .publish("live", "welcome back".into())
        .await
        .unwrap();
    let message = common::next_message(&mut late_sub).await;
    assert_eq!(message.payload, "welcome back");
}

#[tokio::test]
async fn clients_learn_connect_urls_and_fail_over() {
    let a = node("a", &[]).await;
    let b = node("b", &[&a]).await;
    wait_for_mesh(&[&a, &b]).await;
    let mut raw = Raw::connect(b.addr).await;
    let urls: Vec<String> = raw.info["connect_urls"]
        .as_array()
        .expect("connect_urls")
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    assert!(urls.contains(&a.addr.to_string()), "{urls:?}");
    assert!(urls.contains(&b.addr.to_string()), "{urls:?}");
    raw.send("CONNECT {\"verbose\":false}\r\n").await;

    // Connected only to B, the client learns A and moves there when B dies.
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(b.url())
        .await
        .unwrap();
    let mut sub = client.subscribe("failover").await.unwrap();
    client.flush().await.unwrap();
    b.stop().await;
    let publisher = nats_client(&a.url()).await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        publisher.publish("failover", "after".into()).await.unwrap();
        publisher.flush().await.unwrap();
        if let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(200), sub.next()).await
        {
            assert_eq!(message.payload, "after");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "client never failed over to A"
        );
    }
}

#[tokio::test]
async fn five_nodes_form_a_mesh_from_one_seed() {
    let started = tokio::time::Instant::now();
    let seed = node("n0", &[]).await;
    let mut nodes = vec![seed];
    for i in 1..5 {
        let next = node(&format!("n{i}"), &[&nodes[0]]).await;
        nodes.push(next);
    }
    let refs: Vec<&TestServer> = nodes.iter().collect();
    wait_for_mesh(&refs).await;
    println!("5-node mesh formed in {:?}", started.elapsed());
}

#[tokio::test]
async fn garbage_on_the_route_port_leaves_the_cluster_healthy() {
    use rand::{Rng, RngExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let a = node("a", &[]).await;
    let b = node("b", &[&a]).await;
    wait_for_mesh(&[&a, &b]).await;
    let route = a.route.unwrap();
    let mut rng = rand::rng();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for _ in 0..20 {
        let mut junk = vec![0u8; rng.random_range(1..4096)];
        rng.fill_bytes(&mut junk);
        inputs.push(junk);
    }
    inputs.push(vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3]); // oversized length prefix
    inputs.push(b"CONNECT {\"lang\":\"go\"}\r\nPING\r\n".to_vec()); // a NATS client
    inputs.push(vec![0, 0, 0, 4, 0x0a, 0x02, 0x08, 0x01]); // a frame with the wrong magic
    for input in inputs {
        let mut stream = tokio::net::TcpStream::connect(route).await.unwrap();
        let _ = stream.write_all(&input).await;
        let mut sink = Vec::new();
        // The node must close the connection (bounded by the handshake timeout).
        let closed = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut sink)).await;
        assert!(closed.is_ok(), "stranger connection not closed");
    }
    assert_eq!(num_routes(&a).await, 1);
    assert_eq!(num_routes(&b).await, 1);
    let subscriber = nats_client(&b.url()).await;
    let mut sub = subscriber.subscribe("after.garbage").await.unwrap();
    subscriber.flush().await.unwrap();
    wait_for_interest(&a, &b, 1).await;
    let publisher = nats_client(&a.url()).await;
    publisher
        .publish("after.garbage", "fine".into())
        .await
        .unwrap();
    let message = common::next_message(&mut sub).await;
    assert_eq!(message.payload, "fine");
}

#[tokio::test]
async fn new_subscription_becomes_visible_on_other_nodes_quickly() {
    let a = node("a", &[]).await;
    let b = node("b", &[&a]).await;
    let c = node("c", &[&a]).await;
    wait_for_mesh(&[&a, &b, &c]).await;
    let subscriber = nats_client(&c.url()).await;
    let started = tokio::time::Instant::now();
    let _sub = subscriber.subscribe("visible.soon").await.unwrap();
    subscriber.flush().await.unwrap();
    // Poll the index on A and B directly (no HTTP, 1 ms steps) for precision.
    for server in [&a, &b] {
        let state = server.handle.state().clone();
        while state
            .accounts
            .global()
            .sublist
            .match_subject("visible.soon")
            .plain
            .is_empty()
        {
            assert!(started.elapsed() < DEADLINE, "interest never arrived");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    println!(
        "subscription visible on both other nodes after {:?}",
        started.elapsed()
    );
}

/// A route coming up to a node that already has many subscriptions: the
/// peer gets every one in one snapshot (several Interest frames), a queue
/// group with its member count, and drops them all when the node goes.
#[tokio::test]
async fn a_large_snapshot_arrives_whole_and_leaves_whole() {
    use starling::interest::Interest;
    const SUBJECTS: usize = 20_000;
    let b = node("b", &[]).await;
    let mut raw = Raw::connected(b.addr).await;
    let mut ops = String::new();
    for index in 0..SUBJECTS {
        ops.push_str(&format!("SUB snap.{index} {}\r\n", index + 1));
    }
    for member in 0..3 {
        ops.push_str(&format!(
            "SUB work.queue workers {}\r\n",
            SUBJECTS + 1 + member
        ));
    }
    raw.send(&ops).await;
    raw.flush().await;

    let a = node("a", &[&b]).await;
    wait_for_mesh(&[&a, &b]).await;
    wait_for_interest(&a, &b, SUBJECTS as u64 + 1).await;
    let state = a.handle.state().clone();
    let sublist = &state.accounts.global().sublist;
    for subject in ["snap.0", "snap.9999", "snap.19999"] {
        assert_eq!(sublist.match_subject(subject).plain.len(), 1, "{subject}");
    }
    assert!(sublist.match_subject("snap.20000").is_empty());
    let queue = sublist.match_subject("work.queue");
    let [group] = queue.queues.as_slice() else {
        panic!("one queue group expected: {queue:?}");
    };
    assert_eq!(&*group.name, "workers");
    match group.members.as_slice() {
        [Interest::Remote(remote)] => assert_eq!(remote.weight(), 3, "B's member count"),
        other => panic!("one remote member expected: {other:?}"),
    }
    let with_b = sublist.count();

    b.stop().await;
    eventually("B's interest leaves A", || async {
        state.remote_interest.total() == 0
    })
    .await;
    // B's system account interest is in A's $SYS sublist, not this one.
    assert_eq!(sublist.count(), with_b - (SUBJECTS + 1));
    assert!(sublist.match_subject("snap.19999").is_empty());
    assert!(sublist.match_subject("work.queue").is_empty());
}
