//! Accounts: isolated subject spaces on one node and across a cluster,
//! per-account limits, and the account in monitoring.

mod common;

use std::path::Path;
use std::time::Duration;

use common::raw::Raw;
use common::{eventually, next_message, sync, test_options, TestServer, DEADLINE};
use futures::StreamExt;
use starling::options::Options;

const ACCOUNTS: &str = r#"
accounts {
  A: { users: [ {user: a, password: pa}, {user: a2, password: pa2} ] }
  B: { users: [ {user: b, password: pb} ] }
  L: { users: [ {user: l1, password: pl}, {user: l2, password: pl}, {user: l3, password: pl} ],
       limits { max_connections: 2, max_subscriptions: 2 } }
  P: { users: [ {user: p, password: pp} ], limits { max_payload: 8 } }
}
authorization { users: [ {user: g, password: pg} ] }
"#;

/// `test_options` plus the accounts of `config` (nats-server syntax).
fn options_with(config: &str) -> Options {
    let parsed = starling::config::parse_str(config, Path::new(".")).expect("config parses");
    Options {
        accounts: parsed.accounts,
        authorization: parsed.authorization,
        ..test_options()
    }
}

async fn client(server: &TestServer, user: &str, password: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .user_and_password(user.into(), password.into())
        .connect(server.addr.to_string())
        .await
        .expect("connects")
}

/// No message arrives on `sub` within a short wait (after the publisher
/// synced, so anything routed would already be queued).
async fn assert_silent(sub: &mut async_nats::Subscriber) {
    let got = tokio::time::timeout(Duration::from_millis(200), sub.next()).await;
    assert!(got.is_err(), "unexpected message: {got:?}");
}

#[tokio::test]
async fn messages_stay_in_their_account_both_ways() {
    let server = TestServer::start(options_with(ACCOUNTS)).await;
    let a = client(&server, "a", "pa").await;
    let a2 = client(&server, "a2", "pa2").await;
    let b = client(&server, "b", "pb").await;
    let global = client(&server, "g", "pg").await;
    let mut in_a = a2.subscribe("orders.>").await.unwrap();
    let mut in_b = b.subscribe("orders.>").await.unwrap();
    let mut in_g = global.subscribe("orders.>").await.unwrap();
    for c in [&a2, &b, &global] {
        sync(c).await;
    }

    a.publish("orders.1", "from A".into()).await.unwrap();
    sync(&a).await;
    assert_eq!(next_message(&mut in_a).await.payload, "from A");
    assert_silent(&mut in_b).await;
    assert_silent(&mut in_g).await;

    b.publish("orders.2", "from B".into()).await.unwrap();
    sync(&b).await;
    assert_eq!(next_message(&mut in_b).await.payload, "from B");
    assert_silent(&mut in_a).await;
    assert_silent(&mut in_g).await;

    global.publish("orders.3", "from G".into()).await.unwrap();
    sync(&global).await;
    assert_eq!(next_message(&mut in_g).await.payload, "from G");
    assert_silent(&mut in_a).await;
    assert_silent(&mut in_b).await;
}

#[tokio::test]
async fn requests_find_no_responder_in_another_account() {
    let server = TestServer::start(options_with(ACCOUNTS)).await;
    let a = client(&server, "a", "pa").await;
    let b = client(&server, "b", "pb").await;
    let mut service = b.subscribe("svc").await.unwrap();
    sync(&b).await;
    let answer = a.request("svc", "ping".into()).await;
    assert!(
        matches!(&answer, Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders),
        "{answer:?}"
    );
    assert_silent(&mut service).await;
}

#[tokio::test]
async fn raw_protocol_queue_groups_are_per_account() {
    let server = TestServer::start(options_with(ACCOUNTS)).await;
    let mut a = Raw::connect_with(server.addr, r#"{"verbose":false,"user":"a","pass":"pa"}"#).await;
    let mut b = Raw::connect_with(server.addr, r#"{"verbose":false,"user":"b","pass":"pb"}"#).await;
    a.send("SUB work q 1\r\n").await;
    b.send("SUB work q 1\r\n").await;
    a.expect_nothing().await;
    b.expect_nothing().await;
    for i in 0..20 {
        a.send(&format!("PUB work {}\r\nm{i:02}\r\n", 3)).await;
    }
    for i in 0..20 {
        a.expect_msg("work", "1", None, &format!("m{i:02}")).await;
    }
    b.expect_nothing().await;
}

#[tokio::test]
async fn account_connection_and_subscription_limits_refuse_with_nats_errors() {
    let server = TestServer::start(options_with(ACCOUNTS)).await;
    let _first =
        Raw::connect_with(server.addr, r#"{"verbose":false,"user":"l1","pass":"pl"}"#).await;
    let mut second =
        Raw::connect_with(server.addr, r#"{"verbose":false,"user":"l2","pass":"pl"}"#).await;
    second.expect_nothing().await;
    let mut third = Raw::connect(server.addr).await;
    third
        .send("CONNECT {\"verbose\":false,\"user\":\"l3\",\"pass\":\"pl\"}\r\nPING\r\n")
        .await;
    let lines = third.expect_closed().await;
    assert_eq!(
        lines,
        ["-ERR 'maximum account active connections exceeded'"]
    );

    second.send("SUB s.1 1\r\nSUB s.2 2\r\nSUB s.3 3\r\n").await;
    second.expect("-ERR 'maximum subscriptions exceeded'").await;
    second.expect_nothing().await;
    // Another account is not limited by L's limits.
    let mut other =
        Raw::connect_with(server.addr, r#"{"verbose":false,"user":"a","pass":"pa"}"#).await;
    other.send("SUB s.1 1\r\nSUB s.2 2\r\nSUB s.3 3\r\n").await;
    other.expect_nothing().await;
}

#[tokio::test]
async fn account_max_payload_is_enforced_below_the_servers() {
    let server = TestServer::start(options_with(ACCOUNTS)).await;
    let mut small =
        Raw::connect_with(server.addr, r#"{"verbose":false,"user":"p","pass":"pp"}"#).await;
    small.send("PUB a 8\r\n12345678\r\n").await;
    small.expect_nothing().await;
    small.send("PUB a 9\r\n123456789\r\n").await;
    assert_eq!(
        small.expect_closed().await,
        ["-ERR 'Maximum Payload Violation'"]
    );
    // Another account keeps the server's max_payload.
    let mut other =
        Raw::connect_with(server.addr, r#"{"verbose":false,"user":"a","pass":"pa"}"#).await;
    other.send("PUB a 9\r\n123456789\r\n").await;
    other.expect_nothing().await;
}

#[tokio::test]
async fn no_auth_user_puts_anonymous_clients_in_that_users_account() {
    let mut options = options_with(ACCOUNTS);
    options.no_auth_user = Some("a".into());
    let server = TestServer::start(options).await;
    let anonymous = common::nats_client(&server.url()).await;
    let in_a = client(&server, "a2", "pa2").await;
    let in_b = client(&server, "b", "pb").await;
    let mut a_sub = in_a.subscribe("anon").await.unwrap();
    let mut b_sub = in_b.subscribe("anon").await.unwrap();
    sync(&in_a).await;
    sync(&in_b).await;
    anonymous.publish("anon", "hi".into()).await.unwrap();
    sync(&anonymous).await;
    assert_eq!(next_message(&mut a_sub).await.payload, "hi");
    assert_silent(&mut b_sub).await;
}

#[tokio::test]
async fn a_closed_connection_frees_its_account_slot() {
    let server = TestServer::start(options_with(ACCOUNTS)).await;
    let first = client(&server, "l1", "pl").await;
    let _second = client(&server, "l2", "pl").await;
    drop(first);
    eventually("slot freed", || async {
        async_nats::ConnectOptions::new()
            .user_and_password("l3".into(), "pl".into())
            .connect(server.addr.to_string())
            .await
            .is_ok()
    })
    .await;
}

#[tokio::test]
async fn monitoring_shows_the_account_of_each_connection_and_subscription() {
    let server = TestServer::start(options_with(ACCOUNTS)).await;
    let a = client(&server, "a", "pa").await;
    let b = client(&server, "b", "pb").await;
    let _sa = a.subscribe("only.in.a").await.unwrap();
    let _sb = b.subscribe("only.in.b").await.unwrap();
    sync(&a).await;
    sync(&b).await;
    let connz = server.monitor_json("/connz?auth=1&acc=A").await;
    let connections = connz["connections"].as_array().expect("connections");
    assert_eq!(connections.len(), 1, "{connz}");
    assert_eq!(connections[0]["account"], "A");
    assert_eq!(connections[0]["authorized_user"], "a");

    let subsz = server.monitor_json("/subsz?subs=1&acc=B").await;
    let subjects: Vec<&str> = subsz["subscriptions_list"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["subject"].as_str())
        .filter(|s| !s.starts_with("_INBOX") && !s.starts_with("_SYNC"))
        .collect();
    assert_eq!(subjects, ["only.in.b"]);
    assert!(subsz["subscriptions_list"][0]["account"] == "B");
}

fn clustered(name: &str, seeds: &[&TestServer]) -> Options {
    let mut options = common::cluster_node_options(name, "accounts", seeds);
    let accounts = options_with(ACCOUNTS);
    options.accounts = accounts.accounts;
    options.authorization = accounts.authorization;
    options
}

async fn route_subscriptions(server: &TestServer) -> u64 {
    server.monitor_json("/routez").await["routes"]
        .as_array()
        .map(|routes| {
            routes
                .iter()
                .filter_map(|r| r["subscriptions"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn accounts_stay_isolated_across_three_nodes() {
    let n1 = TestServer::start(clustered("n1", &[])).await;
    let n2 = TestServer::start(clustered("n2", &[&n1])).await;
    let n3 = TestServer::start(clustered("n3", &[&n1])).await;
    for node in [&n1, &n2, &n3] {
        eventually("mesh", || async {
            node.monitor_json("/routez").await["num_routes"] == 2
        })
        .await;
    }
    let sub_a = client(&n3, "a", "pa").await;
    let sub_b = client(&n3, "b", "pb").await;
    let mut in_a = sub_a.subscribe("events.*").await.unwrap();
    let mut in_b = sub_b.subscribe("events.*").await.unwrap();
    let mut queue_a = sub_a.queue_subscribe("jobs", "w".into()).await.unwrap();
    sync(&sub_a).await;
    sync(&sub_b).await;
    // n1 hears of n3's interest: A's subject, B's subject and A's queue group.
    eventually("interest reached n1", || async {
        route_subscriptions(&n1).await >= 3
    })
    .await;
    let before = n1.monitor_json("/routez").await;

    let pub_b = client(&n1, "b", "pb").await;
    let pub_a = client(&n2, "a", "pa").await;
    pub_a.publish("events.1", "A on n2".into()).await.unwrap();
    pub_a.publish("jobs", "job for A".into()).await.unwrap();
    sync(&pub_a).await;
    assert_eq!(next_message(&mut in_a).await.payload, "A on n2");
    assert_eq!(next_message(&mut queue_a).await.payload, "job for A");
    assert_silent(&mut in_b).await;

    pub_b.publish("events.2", "B on n1".into()).await.unwrap();
    pub_b.publish("jobs", "nobody in B".into()).await.unwrap();
    sync(&pub_b).await;
    assert_eq!(next_message(&mut in_b).await.payload, "B on n1");
    assert_silent(&mut in_a).await;
    assert_silent(&mut queue_a).await;

    // B's "jobs" has no interest anywhere in B: nothing crossed from n1.
    let after = n1.monitor_json("/routez").await;
    let out = |routez: &serde_json::Value| -> u64 {
        routez["routes"]
            .as_array()
            .map(|rs| rs.iter().filter_map(|r| r["out_msgs"].as_u64()).sum())
            .unwrap_or(0)
    };
    assert_eq!(
        out(&after) - out(&before),
        1,
        "only B's events.2 crossed from n1"
    );
}

#[tokio::test]
async fn a_user_of_one_account_cannot_log_in_with_another_accounts_password() {
    let server = TestServer::start(options_with(ACCOUNTS)).await;
    let refused = tokio::time::timeout(
        DEADLINE,
        async_nats::ConnectOptions::new()
            .user_and_password("a".into(), "pb".into())
            .connect(server.addr.to_string()),
    )
    .await;
    assert!(!matches!(refused, Ok(Ok(_))), "wrong password accepted");
}
