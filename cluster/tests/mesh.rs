//! Mesh formation, duplicates, reconnects and traffic between in-process
//! nodes on loopback TCP.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use starling_proto::route::{InterestChange, MsgParts};
use support::*;
use tokio::net::TcpListener;
use tokio::time::Instant;

const FORM: Duration = Duration::from_secs(5);

#[tokio::test]
async fn three_nodes_where_c_is_seeded_only_with_a_form_a_full_mesh() {
    let a = tcp_node(config("node-a", vec![])).await;
    let b = tcp_node(config("node-b", vec![seed(a.addr())])).await;
    let c = tcp_node(config("node-c", vec![seed(a.addr())])).await;
    let nodes = [&a, &b, &c];
    wait_for(FORM, "full mesh", || is_full_mesh(&nodes)).await;

    let bc = b.peer("node-c").unwrap();
    assert!(!bc.is_configured, "b learned c through gossip");
    assert!(c.peer("node-a").unwrap().is_configured);
    for node in nodes {
        assert_eq!(node.cluster.peers().len(), 2);
        assert!(
            node.recorder.violations().is_empty(),
            "{:?}",
            node.recorder.violations()
        );
    }
    let mut urls = a.cluster.client_urls();
    urls.sort();
    assert_eq!(
        urls,
        [
            "node-a.clients:4222",
            "node-b.clients:4222",
            "node-c.clients:4222"
        ]
    );
}

#[tokio::test]
async fn nodes_that_all_list_each_other_and_themselves_converge_to_one_route_per_pair() {
    let listeners = [
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    ];
    let seeds: Vec<String> = listeners
        .iter()
        .map(|l| seed(l.local_addr().unwrap()))
        .collect();
    let ids = ["node-a", "node-b", "node-c"];
    let nodes: Vec<Node> = listeners
        .into_iter()
        .zip(ids)
        .map(|(listener, id)| tcp_node_on(config(id, seeds.clone()), listener))
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for(FORM, "full mesh", || is_full_mesh(&refs)).await;
    // The route kept for each pair is the one the smaller id dialed.
    for (i, low) in nodes.iter().enumerate() {
        for high in &nodes[i + 1..] {
            assert!(
                low.peer(&high.id).unwrap().did_solicit,
                "{} -> {}",
                low.id,
                high.id
            );
        }
    }
    for node in &nodes {
        assert!(
            node.recorder.violations().is_empty(),
            "{:?}",
            node.recorder.violations()
        );
    }
}

#[tokio::test]
async fn five_node_cluster_forms_from_one_seed() {
    let started = Instant::now();
    let a = tcp_node(config("node-a", vec![])).await;
    let mut nodes = vec![a];
    for id in ["node-b", "node-c", "node-d", "node-e"] {
        let node = tcp_node(config(id, vec![seed(nodes[0].addr())])).await;
        nodes.push(node);
    }
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for(FORM, "5-node mesh", || is_full_mesh(&refs)).await;
    println!("5-node full mesh formed in {:?}", started.elapsed());
    for node in &nodes {
        assert_eq!(node.cluster.peers().len(), 4);
        assert!(
            node.recorder.violations().is_empty(),
            "{:?}",
            node.recorder.violations()
        );
    }
}

#[tokio::test]
async fn closed_routes_are_reestablished_by_the_dialing_side() {
    let a = tcp_node(config("node-a", vec![])).await;
    let b = tcp_node(config("node-b", vec![seed(a.addr())])).await;
    let c = tcp_node(config("node-c", vec![seed(a.addr())])).await;
    let nodes = [&a, &b, &c];
    wait_for(FORM, "full mesh", || is_full_mesh(&nodes)).await;

    // Closed by the seed's side: b (which dialed its seed) redials.
    let old = a.peer("node-b").unwrap();
    old.close("test closes it");
    wait_for(FORM, "a-b route back", || {
        is_full_mesh(&nodes) && a.peer("node-b").is_some_and(|p| p.rid != old.rid)
    })
    .await;
    assert!(old.is_closed());

    // A gossiped route closed by the side that accepted it: the dialer
    // redials it.
    let (dialer, acceptor) = if b.peer("node-c").unwrap().did_solicit {
        (&b, &c)
    } else {
        (&c, &b)
    };
    let old = acceptor.peer(&dialer.id).unwrap();
    let downs = dialer.recorder.downs.load(Ordering::SeqCst);
    old.close("test closes it");
    wait_for(FORM, "gossiped route back", || {
        is_full_mesh(&nodes)
            && acceptor.peer(&dialer.id).is_some_and(|p| p.rid != old.rid)
            && dialer.recorder.downs.load(Ordering::SeqCst) > downs
    })
    .await;
    for node in nodes {
        assert!(
            node.recorder.violations().is_empty(),
            "{:?}",
            node.recorder.violations()
        );
    }
}

#[tokio::test]
async fn interest_and_messages_sent_through_a_peer_reach_the_other_node() {
    let a = tcp_node(config("node-a", vec![])).await;
    let b = tcp_node(config("node-b", vec![seed(a.addr())])).await;
    wait_for(FORM, "route", || is_full_mesh(&[&a, &b])).await;

    let to_b = a.peer("node-b").unwrap();
    let change = InterestChange::Subscribe {
        account: "$G".to_string(),
        subject: "orders.>".to_string(),
        queue: Some("workers".to_string()),
        weight: 2,
    };
    to_b.send_interest(std::slice::from_ref(&change)).unwrap();
    to_b.send_msg(&MsgParts {
        account: b"$G",
        subject: b"orders.1",
        reply: Some(b"_INBOX.x"),
        queues: &["workers"],
        header_len: None,
        payload: b"hello",
    })
    .unwrap();
    to_b.send_msg(&MsgParts {
        account: b"TEAM",
        subject: b"orders.2",
        reply: None,
        queues: &[],
        header_len: Some(12),
        payload: b"NATS/1.0\r\n\r\nbody",
    })
    .unwrap();
    to_b.wake();

    wait_for(FORM, "interest and messages", || {
        b.recorder.messages.lock().unwrap().len() == 2
            && !b.recorder.interest.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        b.recorder.interest.lock().unwrap()[0],
        ("node-a".to_string(), change)
    );
    let messages = b.recorder.messages.lock().unwrap().clone();
    assert_eq!(messages[0].0, "node-a");
    assert_eq!(messages[0].1.subject, Bytes::from_static(b"orders.1"));
    assert_eq!(messages[0].1.reply.as_deref(), Some(&b"_INBOX.x"[..]));
    assert_eq!(messages[0].1.queues, ["workers"]);
    assert_eq!(messages[1].1.header_len, Some(12));
    assert_eq!(messages[0].1.account, Bytes::from_static(b"$G"));
    assert_eq!(messages[1].1.account, Bytes::from_static(b"TEAM"));
    assert_eq!(
        messages[1].1.payload,
        Bytes::from_static(b"NATS/1.0\r\n\r\nbody")
    );

    assert_eq!(to_b.stats.out_msgs.load(Ordering::Relaxed), 2);
    assert_eq!(to_b.stats.out_bytes.load(Ordering::Relaxed), 21);
    let from_a = b.peer("node-a").unwrap();
    assert_eq!(from_a.stats.in_msgs.load(Ordering::Relaxed), 2);
    assert_eq!(from_a.stats.in_bytes.load(Ordering::Relaxed), 21);
    wait_for(FORM, "a ping round trip", || to_b.rtt().is_some()).await;
}

#[tokio::test]
async fn a_subject_sent_repeatedly_is_interned_and_every_message_arrives_whole() {
    let a = tcp_node(config("node-a", vec![])).await;
    let b = tcp_node(config("node-b", vec![seed(a.addr())])).await;
    wait_for(FORM, "route", || is_full_mesh(&[&a, &b])).await;

    let to_b = a.peer("node-b").unwrap();
    // One subject in two accounts: an id stands for an (account, subject).
    let account_of = |index: usize| -> &'static [u8] {
        if index.is_multiple_of(2) {
            b"$G"
        } else {
            b"TEAM"
        }
    };
    for index in 0..6u8 {
        to_b.send_msg(&MsgParts {
            account: account_of(usize::from(index)),
            subject: b"orders.eu",
            reply: None,
            queues: &[],
            header_len: None,
            payload: &[index],
        })
        .unwrap();
    }
    to_b.wake();
    wait_for(FORM, "six messages", || {
        b.recorder.messages.lock().unwrap().len() == 6
    })
    .await;
    // Both pairs were seen twice or more: each has an id, and the messages
    // that named only the id came out with the full subject and account.
    assert_eq!(to_b.interned_subjects(), 2);
    let messages = b.recorder.messages.lock().unwrap().clone();
    for (index, (from, message)) in messages.iter().enumerate() {
        assert_eq!(from, "node-a");
        assert_eq!(message.account, Bytes::copy_from_slice(account_of(index)));
        assert_eq!(message.subject, Bytes::from_static(b"orders.eu"));
        assert_eq!(message.payload, Bytes::copy_from_slice(&[index as u8]));
    }
}

#[tokio::test]
async fn route_past_max_pending_closes_itself_as_slow_and_is_redialed() {
    let mut small = config("node-a", vec![]);
    small.max_pending = 1024;
    let a = tcp_node(small).await;
    let b = tcp_node(config("node-b", vec![seed(a.addr())])).await;
    wait_for(FORM, "route", || is_full_mesh(&[&a, &b])).await;

    let to_b = a.peer("node-b").unwrap();
    assert!(to_b
        .send_msg(&MsgParts {
            account: b"$G",
            subject: b"small",
            reply: None,
            queues: &[],
            header_len: None,
            payload: &[0u8; 100]
        })
        .is_ok());
    assert!(to_b
        .send_msg(&MsgParts {
            account: b"$G",
            subject: b"big",
            reply: None,
            queues: &[],
            header_len: None,
            payload: &[0u8; 2000]
        })
        .is_err());
    assert!(to_b.is_closed());
    assert_eq!(to_b.close_reason().as_deref(), Some("slow route"));
    wait_for(FORM, "route redialed", || {
        is_full_mesh(&[&a, &b]) && a.peer("node-b").is_some_and(|p| p.rid != to_b.rid)
    })
    .await;
}

#[tokio::test]
async fn lame_duck_node_leaves_everyones_client_urls() {
    let a = tcp_node(config("node-a", vec![])).await;
    let b = tcp_node(config("node-b", vec![seed(a.addr())])).await;
    wait_for(FORM, "route", || is_full_mesh(&[&a, &b])).await;
    let changes = a.recorder.members_changed.load(Ordering::SeqCst);

    b.cluster.enter_lame_duck();
    wait_for(FORM, "a drops b's client URL", || {
        a.cluster.client_urls() == ["node-a.clients:4222"]
    })
    .await;
    assert!(a.recorder.members_changed.load(Ordering::SeqCst) > changes);
    wait_for(FORM, "b drops its own client URL", || {
        b.cluster.client_urls() == ["node-a.clients:4222"]
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_every_route_and_peers_call_it_down() {
    let a = tcp_node(config("node-a", vec![])).await;
    let b = tcp_node(config("node-b", vec![seed(a.addr())])).await;
    wait_for(FORM, "route", || is_full_mesh(&[&a, &b])).await;
    b.stop().await;
    wait_for(FORM, "a calls b down", || {
        a.recorder.live_nodes().is_empty()
    })
    .await;
    assert!(a.cluster.peers().is_empty());
    assert!(
        b.recorder.live_nodes().is_empty(),
        "b called its routes down too"
    );
}
