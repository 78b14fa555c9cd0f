//! The system account: server PINGs answered cluster-wide, per-server and
//! per-account requests, connect/disconnect events, isolation from other
//! accounts, and /accountz, /accstatz.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{eventually, next_message, sync, test_options, TestServer, DEADLINE};
use futures::StreamExt;
use serde_json::Value;
use starling::options::Options;

const ACCOUNTS: &str = r#"
accounts {
  "$SYS": { users: [ {user: sys, password: psys} ] }
  A: { users: [ {user: a, password: pa} ] }
}
"#;

fn with_accounts(mut options: Options) -> Options {
    let parsed = starling::config::parse_str(ACCOUNTS, Path::new(".")).expect("config parses");
    options.accounts = parsed.accounts;
    options.authorization = parsed.authorization;
    options
}

async fn client(server: &TestServer, user: &str, password: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .user_and_password(user.into(), password.into())
        .connect(server.addr.to_string())
        .await
        .expect("connects")
}

fn json(message: &async_nats::Message) -> Value {
    serde_json::from_slice(&message.payload).expect("JSON payload")
}

/// Publish `subject` with a reply inbox and collect answers until `want`
/// arrived or the deadline passed.
async fn gather(client: &async_nats::Client, subject: &str, body: &str, want: usize) -> Vec<Value> {
    gather_within(client, subject, body, want, DEADLINE).await
}

/// [`gather`] with its own wait.
async fn gather_within(
    client: &async_nats::Client,
    subject: &str,
    body: &str,
    want: usize,
    within: Duration,
) -> Vec<Value> {
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await.expect("subscribe");
    sync(client).await;
    client
        .publish_with_reply(subject.to_string(), inbox, body.to_string().into())
        .await
        .expect("publish");
    let mut answers = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while answers.len() < want {
        match tokio::time::timeout_at(deadline, replies.next()).await {
            Ok(Some(message)) => answers.push(json(&message)),
            _ => break,
        }
    }
    answers
}

fn clustered(name: &str, seeds: &[&TestServer]) -> Options {
    with_accounts(common::cluster_node_options(name, "sys", seeds))
}

#[tokio::test]
async fn ping_is_answered_by_every_node_of_a_cluster() {
    let n1 = TestServer::start(clustered("n1", &[])).await;
    let n2 = TestServer::start(clustered("n2", &[&n1])).await;
    let n3 = TestServer::start(clustered("n3", &[&n1])).await;
    for node in [&n1, &n2, &n3] {
        eventually("full mesh", || async {
            node.monitor_json("/routez").await["num_routes"] == 2
        })
        .await;
    }

    let sys = client(&n1, "sys", "psys").await;
    // Interest propagation is asynchronous: poll until all three answer.
    let mut names = Vec::new();
    for _ in 0..10 {
        let answers =
            gather_within(&sys, "$SYS.REQ.SERVER.PING", "", 3, Duration::from_secs(1)).await;
        names = answers
            .iter()
            .map(|a| a["server"]["name"].as_str().unwrap_or("").to_string())
            .collect();
        if answers.len() == 3 {
            for answer in &answers {
                let statsz = &answer["statsz"];
                for field in ["start", "mem", "cores", "connections", "total_connections"] {
                    assert!(!statsz[field].is_null(), "statsz.{field} in {answer}");
                }
                assert_eq!(statsz["active_servers"], 3, "{answer}");
                assert_eq!(statsz["routes"].as_array().map(Vec::len), Some(2));
                assert_eq!(answer["server"]["cluster"], "sys");
                assert_eq!(answer["server"]["jetstream"], false);
                assert!(answer["server"]["seq"].as_u64().is_some());
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    names.sort();
    assert_eq!(names, ["n1", "n2", "n3"]);

    // The filter: only the named server answers.
    // (All three answered the plain PING above, so a second answer to this
    // one would arrive about as fast as the first.)
    let only = gather_within(
        &sys,
        "$SYS.REQ.SERVER.PING.VARZ",
        r#"{"server_name":"n2"}"#,
        2,
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(only.len(), 1, "{only:?}");
    assert_eq!(only[0]["data"]["server_name"], "n2");
    assert_eq!(only[0]["server"]["name"], "n2");

    // A request addressed to another node's id crosses the route to it.
    let n3_id = n3.monitor_json("/varz").await["server_id"]
        .as_str()
        .expect("id")
        .to_string();
    let connz = gather(&sys, &format!("$SYS.REQ.SERVER.{n3_id}.CONNZ"), "", 1).await;
    assert_eq!(connz.len(), 1);
    assert_eq!(connz[0]["server"]["name"], "n3");
    assert_eq!(connz[0]["data"]["server_id"], n3_id.as_str());
}

#[tokio::test]
async fn server_endpoints_answer_with_server_and_data() {
    let server = TestServer::start(with_accounts(test_options())).await;
    let sys = client(&server, "sys", "psys").await;
    let _a = client(&server, "a", "pa").await;
    let id = server.monitor_json("/varz").await["server_id"]
        .as_str()
        .expect("server id")
        .to_string();

    let varz = gather(&sys, "$SYS.REQ.SERVER.PING.VARZ", "", 1).await;
    assert_eq!(varz.len(), 1);
    assert_eq!(varz[0]["server"]["id"], id.as_str());
    assert_eq!(varz[0]["data"]["server_id"], id.as_str());
    assert!(varz[0]["data"]["max_payload"].as_u64().is_some());

    let connz = gather(&sys, &format!("$SYS.REQ.SERVER.{id}.CONNZ"), "", 1).await;
    assert_eq!(connz.len(), 1);
    assert_eq!(connz[0]["data"]["num_connections"], 2, "{}", connz[0]);

    let in_a = gather(&sys, "$SYS.REQ.ACCOUNT.A.CONNZ", "", 1).await;
    assert_eq!(in_a.len(), 1);
    assert_eq!(in_a[0]["data"]["num_connections"], 1, "{}", in_a[0]);

    let jsz = gather(&sys, "$SYS.REQ.SERVER.PING.JSZ", "", 1).await;
    assert_eq!(jsz[0]["data"]["disabled"], true);
    let healthz = gather(&sys, "$SYS.REQ.SERVER.PING.HEALTHZ", "", 1).await;
    assert_eq!(healthz[0]["data"]["status"], "ok");

    let bad = gather(&sys, "$SYS.REQ.SERVER.PING.CONNZ", r#"{"sort":"nope"}"#, 1).await;
    assert_eq!(bad[0]["error"]["code"], 400, "{}", bad[0]);

    let info = gather(&sys, "$SYS.REQ.ACCOUNT.A.INFO", "", 1).await;
    assert_eq!(info[0]["data"]["account_name"], "A");
}

#[tokio::test]
async fn user_info_answers_for_the_requester_in_its_account() {
    let server = TestServer::start(with_accounts(test_options())).await;
    let a = client(&server, "a", "pa").await;
    let answer = gather(&a, "$SYS.REQ.USER.INFO", "", 1).await;
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0]["data"]["user"], "a");
    assert_eq!(answer[0]["data"]["account"], "A");
}

#[tokio::test]
async fn connect_and_disconnect_events_reach_system_subscribers() {
    let server = TestServer::start(with_accounts(test_options())).await;
    let sys = client(&server, "sys", "psys").await;
    let mut connects = sys.subscribe("$SYS.ACCOUNT.A.CONNECT").await.unwrap();
    let mut disconnects = sys.subscribe("$SYS.ACCOUNT.A.DISCONNECT").await.unwrap();
    let mut account_conns = sys.subscribe("$SYS.ACCOUNT.A.SERVER.CONNS").await.unwrap();
    sync(&sys).await;

    let a = async_nats::ConnectOptions::new()
        .user_and_password("a".into(), "pa".into())
        .name("evented")
        .connect(server.addr.to_string())
        .await
        .expect("connects");
    let connect = json(&next_message(&mut connects).await);
    assert_eq!(connect["type"], "io.nats.server.advisory.v1.client_connect");
    assert_eq!(connect["client"]["acc"], "A");
    assert_eq!(connect["client"]["user"], "a");
    assert_eq!(connect["client"]["name"], "evented");
    assert_eq!(connect["client"]["kind"], "Client");
    drop(a);
    let disconnect = json(&next_message(&mut disconnects).await);
    let mut conns = Vec::new();
    while conns.last().map(|c: &Value| c["conns"].clone()) != Some(Value::from(0)) {
        conns.push(json(&next_message(&mut account_conns).await));
    }
    assert_eq!(
        conns[0]["type"],
        "io.nats.server.advisory.v1.account_connections"
    );
    assert_eq!(conns[0]["acc"], "A");
    assert_eq!(conns[0]["conns"], 1, "{conns:?}");
    assert_eq!(
        disconnect["type"],
        "io.nats.server.advisory.v1.client_disconnect"
    );
    assert_eq!(disconnect["client"]["id"], connect["client"]["id"]);
    assert!(disconnect["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(disconnect["client"]["stop"].as_str().is_some());
}

#[tokio::test]
async fn other_accounts_cannot_see_system_traffic() {
    let server = TestServer::start(with_accounts(test_options())).await;
    let a = client(&server, "a", "pa").await;
    let mut events = a.subscribe("$SYS.>").await.unwrap();
    sync(&a).await;
    // A PING in account A reaches no system service.
    let answers = gather_within(
        &a,
        "$SYS.REQ.SERVER.PING",
        "",
        1,
        Duration::from_millis(300),
    )
    .await;
    assert!(answers.is_empty(), "{answers:?}");
    // A connect event is published in $SYS, not in A.
    let _other = client(&server, "a", "pa").await;
    let sys = client(&server, "sys", "psys").await;
    sync(&sys).await;
    // Only A's own PING may appear; no event crosses into A.
    let window = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(message) = tokio::time::timeout_at(window, events.next()).await {
        let message = message.expect("subscription open");
        assert_eq!(&*message.subject, "$SYS.REQ.SERVER.PING", "{message:?}");
    }
}

#[tokio::test]
async fn accountz_and_accstatz_shapes() {
    let server = TestServer::start(with_accounts(test_options())).await;
    let a = client(&server, "a", "pa").await;
    a.publish("work", "x".into()).await.unwrap();
    sync(&a).await;

    let accountz = server.monitor_json("/accountz").await;
    assert_eq!(accountz["system_account"], "$SYS");
    let names: Vec<&str> = accountz["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in ["$G", "$SYS", "A"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let detail = server.monitor_json("/accountz?acc=A").await;
    assert_eq!(detail["account_detail"]["account_name"], "A");
    assert_eq!(detail["account_detail"]["client_connections"], 1);
    assert!(
        detail["account_detail"]["sublist_stats"]["num_subscriptions"]
            .as_u64()
            .is_some()
    );

    eventually("account A's traffic counted", || async {
        let statz = server.monitor_json("/accstatz").await;
        statz["account_statz"]
            .as_array()
            .and_then(|list| list.iter().find(|s| s["acc"] == "A"))
            .is_some_and(|s| s["conns"] == 1 && s["received"]["msgs"].as_u64() >= Some(2))
    })
    .await;
}

/// The `account` label values of `series` in a /metrics text.
fn account_labels(metrics: &str, series: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|line| line.starts_with(&format!("{series}{{")))
        .filter_map(|line| line.split("account=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn metrics_account_label_is_bounded_by_configured_accounts() {
    let server = TestServer::start(with_accounts(test_options())).await;
    // Accounts nobody configured (as peers or JWT resolution create them).
    for n in 0..20 {
        server
            .handle
            .state()
            .accounts
            .get_or_create(&format!("LEARNED{n}"))
            .expect("valid name");
    }
    let a = client(&server, "a", "pa").await;
    a.publish("work", "x".into()).await.unwrap();
    sync(&a).await;
    let (status, metrics) = common::http_get(server.monitor.expect("monitoring"), "/metrics").await;
    assert_eq!(status, 200);
    let mut labels = account_labels(&metrics, "starling_account_connections");
    labels.sort();
    assert_eq!(labels, ["$G", "$SYS", "A", "other"], "{metrics}");
    let line = metrics
        .lines()
        .find(|l| l.starts_with("starling_account_connections{account=\"A\"}"))
        .expect("A's connections");
    assert!(line.ends_with(" 1"), "{line}");
    let in_msgs = metrics
        .lines()
        .find(|l| l.starts_with("starling_account_in_msgs_total{account=\"A\"}"))
        .expect("A's in msgs");
    let count: u64 = in_msgs
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number");
    assert!(count >= 2, "{in_msgs}");
}

#[tokio::test]
async fn varz_names_the_system_account() {
    let server = TestServer::start(with_accounts(test_options())).await;
    assert_eq!(server.monitor_json("/varz").await["system_account"], "$SYS");
}
