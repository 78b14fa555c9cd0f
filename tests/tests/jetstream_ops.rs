//! JetStream operations on one node, against the real binary: account and
//! server limits with nats-server's error codes, `/jsz`, `$SYS` JSZ,
//! `/varz`'s `jetstream`, `/healthz`, `/metrics`, leader stepdown, and
//! what a clean shutdown (SIGTERM) or a SIGKILL leaves for the restart.

mod common;

use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use common::jetstream::context;
use common::process::Process;
use common::{http_get, http_get_json, DEADLINE};
use futures::StreamExt;
use serde_json::{json, Value};

fn write_conf(dir: &Path, text: &str) -> String {
    let path = dir.join("server.conf");
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

async fn start_conf(conf: &str) -> Process {
    Process::start(&["-c", conf, "-a", "127.0.0.1", "-p", "-1", "-m", "-1"]).await
}

async fn connect(process: &Process, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .connect(format!("nats://{}", process.addr))
        .await
        .expect("connect")
}

/// A request and its JSON answer.
async fn request(client: &async_nats::Client, subject: &str, body: Value) -> Value {
    let payload = if body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(body.to_string())
    };
    let reply = tokio::time::timeout(DEADLINE, client.request(subject.to_string(), payload))
        .await
        .expect("answer in time")
        .expect("request");
    serde_json::from_slice(&reply.payload).expect("JSON answer")
}

fn err_code(answer: &Value) -> u64 {
    answer["error"]["err_code"].as_u64().unwrap_or(0)
}

const LIMITS_CONF: &str = r#"
jetstream { store_dir: "STORE", max_memory_store: 10MB, max_file_store: 100MB }
accounts {
  SYS: { users: [{user: sys, password: sys}] }
  A: { users: [{user: a, password: a}], jetstream: { max_mem: 1MB, max_file: 5MB, max_streams: 2, max_consumers: 2 } }
  B: { users: [{user: b, password: b}], jetstream: { max_bytes_required: true, storage_max_stream_bytes: 1000 } }
}
system_account: SYS
"#;

#[tokio::test]
async fn account_limits_refuse_with_nats_server_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let conf = write_conf(
        dir.path(),
        &LIMITS_CONF.replace("STORE", &store.display().to_string()),
    );
    let server = start_conf(&conf).await;
    let a = connect(&server, "a").await;
    let create = |name: &str, config: Value| {
        let a = a.clone();
        let subject = format!("$JS.API.STREAM.CREATE.{name}");
        async move { request(&a, &subject, config).await }
    };
    // Reservations over the account's limits (nats-server's order and codes).
    let answer = create(
        "S1",
        json!({"name":"S1","subjects":["s1"],"storage":"file","max_bytes":6_000_000}),
    )
    .await;
    assert_eq!(err_code(&answer), 10047, "{answer}");
    assert_eq!(
        answer["error"]["description"],
        "insufficient storage resources available"
    );
    let answer = create(
        "S1",
        json!({"name":"S1","subjects":["s1"],"storage":"memory","max_bytes":2_000_000}),
    )
    .await;
    assert_eq!(err_code(&answer), 10028, "{answer}");
    let answer = create(
        "S1",
        json!({"name":"S1","subjects":["s1"],"max_consumers":5}),
    )
    .await;
    assert_eq!(err_code(&answer), 10026, "{answer}");
    assert!(create("S1", json!({"name":"S1","subjects":["s1"]})).await["error"].is_null());
    assert!(create(
        "S2",
        json!({"name":"S2","subjects":["s2"],"storage":"memory"})
    )
    .await["error"]
        .is_null());
    let answer = create("S3", json!({"name":"S3","subjects":["s3"]})).await;
    assert_eq!(err_code(&answer), 10027, "{answer}");
    assert_eq!(
        answer["error"]["description"],
        "maximum number of streams reached"
    );

    // Consumers: two for the account, the third is refused.
    for (name, expected) in [("c1", 0), ("c2", 0), ("c3", 10026)] {
        let answer = request(
            &a,
            &format!("$JS.API.CONSUMER.CREATE.S1.{name}"),
            json!({"stream_name":"S1","config":{"name":name,"durable_name":name,"ack_policy":"explicit"}}),
        )
        .await;
        assert_eq!(err_code(&answer), expected, "{name}: {answer}");
    }

    // Publishing past the account's 5 MB: an error PubAck 10002.
    let payload = Bytes::from(vec![b'x'; 900_000]);
    let mut acks = Vec::new();
    for _ in 0..7 {
        let reply = a.request("s1", payload.clone()).await.expect("PubAck");
        acks.push(serde_json::from_slice::<Value>(&reply.payload).expect("JSON"));
    }
    for ack in &acks[..5] {
        assert!(ack["error"].is_null(), "{ack}");
    }
    for ack in &acks[5..] {
        assert_eq!(err_code(ack), 10002, "{ack}");
        assert_eq!(
            ack["error"]["description"],
            "resource limits exceeded for account"
        );
    }

    let info = request(&a, "$JS.API.INFO", Value::Null).await;
    assert_eq!(info["limits"]["max_memory"], 1024 * 1024, "{info}");
    assert_eq!(info["limits"]["max_storage"], 5 * 1024 * 1024);
    assert_eq!(info["limits"]["max_streams"], 2);
    assert_eq!(info["limits"]["max_consumers"], 2);
    assert_eq!(info["limits"]["max_ack_pending"], -1);
    assert_eq!(info["streams"], 2);
    assert_eq!(info["consumers"], 2);
    let storage = info["storage"].as_u64().expect("storage");
    assert!(
        (4_500_000..5_000_000).contains(&storage),
        "five messages: {info}"
    );

    // Account B: max_bytes is required and capped per stream.
    let b = connect(&server, "b").await;
    let answer = request(
        &b,
        "$JS.API.STREAM.CREATE.B1",
        json!({"name":"B1","subjects":["b1"]}),
    )
    .await;
    assert_eq!(err_code(&answer), 10113, "{answer}");
    let answer = request(
        &b,
        "$JS.API.STREAM.CREATE.B1",
        json!({"name":"B1","subjects":["b1"],"max_bytes":1001}),
    )
    .await;
    assert_eq!(err_code(&answer), 10122, "{answer}");
    let answer = request(
        &b,
        "$JS.API.STREAM.CREATE.B1",
        json!({"name":"B1","subjects":["b1"],"max_bytes":1000}),
    )
    .await;
    assert!(answer["error"].is_null(), "{answer}");
    let info = request(&b, "$JS.API.INFO", Value::Null).await;
    assert_eq!(info["reserved_storage"], 1000, "{info}");
    assert_eq!(info["limits"]["max_bytes_required"], true);
}

#[tokio::test]
async fn server_storage_limit_refuses_reservations_and_publishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = write_conf(
        dir.path(),
        &format!(
            "jetstream {{ store_dir: \"{}\", max_file_store: 20000 }}\n",
            dir.path().join("store").display()
        ),
    );
    let server = start_conf(&conf).await;
    let (client, js) = context(&server).await;
    let answer = request(
        &client,
        "$JS.API.STREAM.CREATE.BIG",
        json!({"name":"BIG","subjects":["big"],"max_bytes":30000}),
    )
    .await;
    assert_eq!(err_code(&answer), 10047, "{answer}");
    js.create_stream(stream::Config {
        name: "S".into(),
        subjects: vec!["s".into()],
        ..Default::default()
    })
    .await
    .expect("create");
    let payload = Bytes::from(vec![b'x'; 4000]);
    let mut refused = None;
    for i in 0..10 {
        let reply = client.request("s", payload.clone()).await.expect("PubAck");
        let ack: Value = serde_json::from_slice(&reply.payload).expect("JSON");
        if !ack["error"].is_null() {
            refused = Some((i, ack));
            break;
        }
    }
    let (at, ack) = refused.expect("the server limit refuses a publish");
    assert_eq!(at, 4, "four 4 kB messages fit in 20 kB: {ack}");
    assert_eq!(err_code(&ack), 10023, "{ack}");
    assert_eq!(ack["error"]["description"], "insufficient resources");
    let varz = http_get_json(server.monitor.expect("monitor"), "/varz").await;
    assert_eq!(varz["jetstream"]["config"]["max_storage"], 20000, "{varz}");
}

#[tokio::test]
async fn leader_stepdown_needs_a_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::jetstream::start(&dir.path().display().to_string()).await;
    let (client, js) = context(&server).await;
    js.create_stream(stream::Config {
        name: "S".into(),
        subjects: vec!["s".into()],
        ..Default::default()
    })
    .await
    .expect("create");
    for (subject, kind) in [
        (
            "$JS.API.STREAM.LEADER.STEPDOWN.S",
            "io.nats.jetstream.api.v1.stream_leader_stepdown_response",
        ),
        (
            "$JS.API.STREAM.LEADER.STEPDOWN.NOPE",
            "io.nats.jetstream.api.v1.stream_leader_stepdown_response",
        ),
        (
            "$JS.API.CONSUMER.LEADER.STEPDOWN.S.C",
            "io.nats.jetstream.api.v1.consumer_leader_stepdown_response",
        ),
    ] {
        let answer = request(&client, subject, Value::Null).await;
        assert_eq!(answer["type"], kind, "{answer}");
        assert_eq!(
            answer["error"],
            json!({"code":503,"err_code":10010,"description":"JetStream clustering support required"})
        );
    }
}

const MONITOR_CONF: &str = r#"
jetstream { store_dir: "STORE" }
accounts {
  SYS: { users: [{user: sys, password: sys}] }
  A: { users: [{user: a, password: a}], jetstream: enabled }
}
system_account: SYS
"#;

#[tokio::test]
async fn jsz_varz_healthz_metrics_and_sys_jsz_report_jetstream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let conf = write_conf(
        dir.path(),
        &MONITOR_CONF.replace("STORE", &store.display().to_string()),
    );
    let server = start_conf(&conf).await;
    let monitor = server.monitor.expect("monitor");
    let a = connect(&server, "a").await;
    let js = jetstream::new(a.clone());
    js.create_stream(stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    })
    .await
    .expect("create");
    for i in 0..3 {
        js.publish(format!("orders.{i}"), "x".into())
            .await
            .expect("publish")
            .await
            .expect("ack");
    }
    js.get_stream("ORDERS")
        .await
        .expect("stream")
        .create_consumer(consumer::pull::Config {
            durable_name: Some("C".into()),
            ..Default::default()
        })
        .await
        .expect("consumer");

    let jsz = http_get_json(monitor, "/jsz").await;
    assert_eq!(
        (&jsz["streams"], &jsz["consumers"], &jsz["messages"]),
        (&json!(1), &json!(1), &json!(3)),
        "{jsz}"
    );
    assert_eq!(jsz["accounts"], 1);
    assert!(jsz["config"]["max_storage"].as_i64().unwrap_or(0) > 0);
    assert_eq!(
        jsz["config"]["store_dir"],
        store.join("jetstream").display().to_string()
    );
    assert!(jsz["storage"].as_u64().unwrap_or(0) > 0, "{jsz}");
    assert!(jsz.get("account_details").is_none());

    let detail = http_get_json(
        monitor,
        "/jsz?accounts=true&streams=true&consumers=true&config=true",
    )
    .await;
    let account = &detail["account_details"][0];
    assert_eq!(account["name"], "A", "{detail}");
    let stream = &account["stream_detail"][0];
    assert_eq!(stream["name"], "ORDERS");
    assert_eq!(stream["state"]["messages"], 3);
    assert_eq!(stream["state"]["consumer_count"], 1);
    assert_eq!(stream["config"]["subjects"], json!(["orders.>"]));
    assert_eq!(stream["consumer_detail"][0]["name"], "C");
    assert_eq!(stream["consumer_detail"][0]["num_pending"], 3);
    assert!(stream["consumer_detail"][0]["config"].is_object());
    let no_config = http_get_json(monitor, "/jsz?consumers=true&acc=A&leader-only=true").await;
    let stream = &no_config["account_details"][0]["stream_detail"][0];
    assert!(stream.get("config").is_none(), "{no_config}");
    assert!(stream["consumer_detail"][0].get("config").is_none());
    let other = http_get_json(monitor, "/jsz?acc=NONE").await;
    assert_eq!(other["account_details"], json!([]), "{other}");
    let (status, body) = http_get(monitor, "/jsz?accounts=bogus").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("Error decoding boolean for 'accounts'"),
        "{body}"
    );

    let varz = http_get_json(monitor, "/varz").await;
    assert_eq!(varz["jetstream"]["stats"]["accounts"], 1, "{varz}");
    assert!(
        varz["jetstream"]["config"]["max_memory"]
            .as_i64()
            .unwrap_or(0)
            > 0
    );

    for query in [
        "",
        "?js-enabled-only=true",
        "?js-server-only=true",
        "?js-enabled=true",
    ] {
        let (status, body) = http_get(monitor, &format!("/healthz{query}")).await;
        assert_eq!(
            (status, body.trim()),
            (200, r#"{"status":"ok"}"#),
            "{query}"
        );
    }

    // The system account gets the same data.
    let sys = connect(&server, "sys").await;
    let ping = request(&sys, "$SYS.REQ.SERVER.PING.JSZ", Value::Null).await;
    assert_eq!(ping["data"]["streams"], 1, "{ping}");
    let id = ping["server"]["id"]
        .as_str()
        .expect("server id")
        .to_string();
    let direct = request(
        &sys,
        &format!("$SYS.REQ.SERVER.{id}.JSZ"),
        json!({"accounts": true, "streams": true}),
    )
    .await;
    assert_eq!(
        direct["data"]["account_details"][0]["stream_detail"][0]["state"]["messages"], 3,
        "{direct}"
    );

    let (status, metrics) = http_get(monitor, "/metrics").await;
    assert_eq!(status, 200);
    for series in [
        "starling_jetstream_streams{account=\"A\",storage=\"file\"} 1",
        "starling_jetstream_messages{account=\"A\",storage=\"file\"} 3",
        "starling_jetstream_consumers{account=\"A\"} 1",
        "# TYPE starling_jetstream_fsync_seconds histogram",
        "starling_jetstream_fsync_seconds_bucket{le=\"+Inf\"}",
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }
    let count: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("starling_jetstream_fsync_seconds_count "))
        .and_then(|value| value.trim().parse().ok())
        .expect("fsync count");
    assert!(count >= 3, "one sync per acknowledged publish batch");
    assert!(metrics.contains("starling_jetstream_api_requests_total{account=\"A\"}"));
    promtool_lint(&metrics);
}

/// `promtool check metrics` when promtool is installed (as tests/ops.rs).
fn promtool_lint(metrics: &str) {
    use std::io::Write;
    let Some(promtool) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("promtool"))
            .find(|path| path.is_file())
    }) else {
        assert!(
            std::env::var("STARLING_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "promtool is required but not on PATH"
        );
        println!("skipped promtool lint: not on PATH");
        return;
    };
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(metrics.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("promtool ends");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn publish_with_id(js: &jetstream::Context, subject: &str, id: &str) -> (u64, bool) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    let ack = js
        .publish_with_headers(subject.to_string(), headers, "m".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    (ack.sequence, ack.duplicate)
}

/// SIGTERM; the process must end on its own.
async fn terminate(mut process: Process) {
    process.signal(15);
    process.wait().await;
}

#[tokio::test]
async fn sigterm_saves_streams_consumers_and_the_duplicate_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().display().to_string();
    let server = common::jetstream::start(&store).await;
    let (_client, js) = context(&server).await;
    let stream = js
        .create_stream(stream::Config {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            ..Default::default()
        })
        .await
        .expect("create");
    for i in 0..10 {
        publish_with_id(&js, &format!("s.{i}"), &format!("id-{i}")).await;
    }
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("C".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer
        .fetch()
        .max_messages(4)
        .messages()
        .await
        .expect("fetch");
    while let Some(message) = messages.next().await {
        message.expect("message").double_ack().await.expect("ack");
    }
    terminate(server).await;
    let stream_dir = dir.path().join("jetstream/$G/streams/S");
    for file in ["index.snap", "dedup.json", "obs/C/o.dat"] {
        assert!(stream_dir.join(file).exists(), "{file} written at shutdown");
    }

    let server = common::jetstream::start(&store).await;
    let (_client, js) = context(&server).await;
    let mut stream = js.get_stream("S").await.expect("restored");
    let info = stream.info().await.expect("info");
    assert_eq!((info.state.messages, info.state.last_sequence), (10, 10));
    let mut consumer: consumer::PullConsumer =
        stream.get_consumer("C").await.expect("consumer restored");
    let info = consumer.info().await.expect("consumer info");
    assert_eq!(info.ack_floor.stream_sequence, 4, "acks survived");
    assert_eq!(info.num_pending, 6);
    assert_eq!(publish_with_id(&js, "s.0", "id-0").await, (1, true));
    assert_eq!(publish_with_id(&js, "s.9", "id-9").await, (10, true));
    assert_eq!(publish_with_id(&js, "s.x", "new").await, (11, false));
}

#[tokio::test]
async fn sigkill_keeps_the_duplicate_window_of_messages_after_the_last_clean_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().display().to_string();
    let server = common::jetstream::start(&store).await;
    let (_client, js) = context(&server).await;
    js.create_stream(stream::Config {
        name: "S".into(),
        subjects: vec!["s".into()],
        ..Default::default()
    })
    .await
    .expect("create");
    assert_eq!(publish_with_id(&js, "s", "before").await, (1, false));
    terminate(server).await;
    let server = common::jetstream::start(&store).await;
    let (_client, js) = context(&server).await;
    assert_eq!(publish_with_id(&js, "s", "after").await, (2, false));
    server.signal(9);
    drop(server);
    let server = common::jetstream::start(&store).await;
    let (_client, js) = context(&server).await;
    assert_eq!(publish_with_id(&js, "s", "before").await, (1, true));
    assert_eq!(publish_with_id(&js, "s", "after").await, (2, true));
    assert_eq!(publish_with_id(&js, "s", "third").await, (3, false));
}

#[tokio::test]
async fn lame_duck_ends_with_everything_saved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = write_conf(
        dir.path(),
        &format!(
            "jetstream {{ store_dir: \"{}\" }}\nlame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n",
            dir.path().join("store").display()
        ),
    );
    let mut server = start_conf(&conf).await;
    let (_client, js) = context(&server).await;
    js.create_stream(stream::Config {
        name: "S".into(),
        subjects: vec!["s".into()],
        ..Default::default()
    })
    .await
    .expect("create");
    for i in 0..5 {
        publish_with_id(&js, "s", &format!("m{i}")).await;
    }
    server.signal(12); // SIGUSR2
    server.wait().await;
    let stream_dir = dir.path().join("store/jetstream/$G/streams/S");
    assert!(stream_dir.join("index.snap").exists());
    assert!(stream_dir.join("dedup.json").exists());
    let server = start_conf(&conf).await;
    let (_client, js) = context(&server).await;
    let info = js
        .get_stream("S")
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .clone();
    assert_eq!(info.state.messages, 5);
    assert_eq!(publish_with_id(&js, "s", "m4").await, (5, true));
}

/// Restart time of a stream of 1,000,000 16-byte messages, after SIGTERM
/// and after SIGKILL. `STARLING_BIN=/path/to/nats-server` measures
/// nats-server the same way. Run with `--ignored --nocapture`.
#[tokio::test]
#[ignore = "benchmark: about a minute"]
async fn restart_time_of_a_million_messages() {
    let count: u64 = std::env::var("RESTART_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().display().to_string();
    let server = common::jetstream::start(&store).await;
    let (_client, js) = context(&server).await;
    js.create_stream(stream::Config {
        name: "BIG".into(),
        subjects: vec!["big".into()],
        ..Default::default()
    })
    .await
    .expect("create");
    let payload = Bytes::from_static(b"0123456789abcdef");
    let mut pending = std::collections::VecDeque::new();
    for i in 0..count {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", i.to_string().as_str());
        pending.push_back(
            js.publish_with_headers("big", headers, payload.clone())
                .await
                .expect("publish"),
        );
        if pending.len() >= 4096 {
            pending.pop_front().expect("ack").await.expect("ack");
        }
    }
    for ack in pending {
        ack.await.expect("ack");
    }
    let measure = |label: &'static str, store: String| async move {
        let started = Instant::now();
        let server = common::jetstream::start(&store).await;
        let (_client, js) = context(&server).await;
        let info = js
            .get_stream("BIG")
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .clone();
        let took = started.elapsed();
        assert_eq!(info.state.messages, count);
        println!("{label}: restart until STREAM.INFO answers: {took:?}");
        server
    };
    // Killed right after publishing: nothing saved for the restart.
    server.signal(9);
    drop(server);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let server = measure("after SIGKILL", store.clone()).await;
    terminate(server).await;
    let server = measure("after SIGTERM", store.clone()).await;
    terminate(server).await;
}
