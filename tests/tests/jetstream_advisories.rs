//! JetStream advisories, push consumer rate limits and the required API
//! level, through async-nats against a real `starling -js`: the
//! `$JS.EVENT.ADVISORY.>` subjects and JSON fields nats-server publishes
//! for API calls and stream and consumer changes, `rate_limit_bps` pacing
//! a push consumer, and `Nats-Required-Api-Level` above the server's
//! level refused with 10185.

mod common;

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, push, AckPolicy};
use async_nats::jetstream::{self, stream};
use common::jetstream::{context, start};
use futures::StreamExt;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(5);

/// The next message on `subscriber`, as (subject, JSON).
async fn next_advisory(subscriber: &mut async_nats::Subscriber) -> (String, Value) {
    let message = tokio::time::timeout(WAIT, subscriber.next())
        .await
        .expect("advisory in time")
        .expect("subscription open");
    let json: Value = serde_json::from_slice(&message.payload).expect("advisory is JSON");
    (message.subject.to_string(), json)
}

/// Checks every advisory shares: `type`, a 22-character NUID-like `id`,
/// an RFC 3339 UTC `timestamp` with a fraction, no `domain` without one.
fn assert_typed_event(json: &Value, kind: &str) {
    assert_eq!(json["type"], kind, "{json}");
    let id = json["id"].as_str().expect("id");
    assert_eq!(id.len(), 22, "{json}");
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{json}");
    let timestamp = json["timestamp"].as_str().expect("timestamp");
    assert!(
        timestamp.starts_with("20") && timestamp.ends_with('Z') && timestamp.contains('.'),
        "{json}"
    );
    assert!(json.get("domain").is_none(), "{json}");
}

#[tokio::test]
async fn stream_and_consumer_changes_and_api_calls_are_advised() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let mut advisories = client
        .subscribe("$JS.EVENT.ADVISORY.>")
        .await
        .expect("subscribe");
    client.flush().await.unwrap();

    let config = stream::Config {
        name: "ADV".into(),
        subjects: vec!["adv.>".into()],
        ..Default::default()
    };
    let stream = js.create_stream(config.clone()).await.expect("create");
    js.update_stream(stream::Config {
        description: Some("changed".into()),
        ..config
    })
    .await
    .expect("update");
    stream
        .create_consumer(pull::Config {
            durable_name: Some("C".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let until = async_nats::datetime::add_std_duration(
        async_nats::datetime::now(),
        Duration::from_secs(60),
    )
    .unwrap();
    stream.pause_consumer("C", until).await.expect("pause");
    stream.delete_consumer("C").await.expect("delete consumer");
    stream
        .create_consumer(pull::Config {
            durable_name: Some("D".into()),
            ..Default::default()
        })
        .await
        .expect("second consumer");
    js.delete_stream("ADV").await.expect("delete stream");

    let mut changes = Vec::new();
    let mut audits = Vec::new();
    while !changes.iter().any(|(subject, _): &(String, Value)| {
        subject.starts_with("$JS.EVENT.ADVISORY.STREAM.DELETED")
    }) {
        let (subject, json) = next_advisory(&mut advisories).await;
        if subject == "$JS.EVENT.ADVISORY.API" {
            audits.push(json);
        } else {
            changes.push((subject, json));
        }
    }
    // As nats-server: the change's advisory, then the reply, then the audit.
    let (subject, last) = next_advisory(&mut advisories).await;
    assert_eq!(subject, "$JS.EVENT.ADVISORY.API");
    assert_eq!(last["subject"], "$JS.API.STREAM.DELETE.ADV", "{last}");
    audits.push(last);
    let subjects: Vec<&str> = changes
        .iter()
        .map(|(subject, _)| subject.as_str())
        .collect();
    assert_eq!(
        subjects,
        [
            "$JS.EVENT.ADVISORY.STREAM.CREATED.ADV",
            "$JS.EVENT.ADVISORY.STREAM.UPDATED.ADV",
            "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.C",
            "$JS.EVENT.ADVISORY.CONSUMER.PAUSE.ADV.C",
            "$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.C",
            "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.D",
            "$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.D",
            "$JS.EVENT.ADVISORY.STREAM.DELETED.ADV",
        ]
    );
    let actions: Vec<(&str, &str)> = changes
        .iter()
        .map(|(_, json)| {
            (
                json["action"].as_str().unwrap_or("-"),
                json["consumer"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("create", "-"),
            ("modify", "-"),
            ("create", "C"),
            ("-", "C"),
            ("delete", "C"),
            ("create", "D"),
            ("delete", "D"),
            ("delete", "-"),
        ]
    );
    for (subject, json) in &changes {
        assert_eq!(json["stream"], "ADV", "{json}");
        let kind = if subject.contains(".STREAM.") {
            "io.nats.jetstream.advisory.v1.stream_action"
        } else if subject.contains(".PAUSE.") {
            "io.nats.jetstream.advisory.v1.consumer_pause"
        } else {
            "io.nats.jetstream.advisory.v1.consumer_action"
        };
        assert_typed_event(json, kind);
    }
    let pause = &changes[3].1;
    assert_eq!(pause["paused"], true, "{pause}");
    assert!(
        pause["pause_until"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{pause}"
    );

    // One audit per API call, in order, each with the client and both bodies.
    let audited: Vec<&str> = audits
        .iter()
        .filter_map(|json| json["subject"].as_str())
        .collect();
    for expected in [
        "$JS.API.STREAM.CREATE.ADV",
        "$JS.API.STREAM.UPDATE.ADV",
        "$JS.API.CONSUMER.CREATE.ADV.C",
        "$JS.API.CONSUMER.PAUSE.ADV.C",
        "$JS.API.CONSUMER.DELETE.ADV.C",
        "$JS.API.STREAM.DELETE.ADV",
    ] {
        assert!(audited.contains(&expected), "{expected} in {audited:?}");
    }
    let create = audits
        .iter()
        .find(|json| json["subject"] == "$JS.API.STREAM.CREATE.ADV")
        .expect("create audited");
    assert_typed_event(create, "io.nats.jetstream.advisory.v1.api_audit");
    assert!(
        create["server"].as_str().is_some_and(|s| !s.is_empty()),
        "{create}"
    );
    let request = create["request"].as_str().expect("request body");
    assert!(request.contains("\"adv.>\""), "{request}");
    let response: Value =
        serde_json::from_str(create["response"].as_str().expect("response")).unwrap();
    assert_eq!(
        response["type"], "io.nats.jetstream.api.v1.stream_create_response",
        "{response}"
    );
    // nats-server's unshared `ClientInfo`: account, RTT, server.
    let audit_client = &create["client"];
    assert_eq!(audit_client["acc"], "$G", "{create}");
    assert_eq!(audit_client["server"], create["server"], "{create}");
    let mut keys: Vec<&str> = audit_client
        .as_object()
        .expect("client object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert!(
        keys == ["acc", "rtt", "server"] || keys == ["acc", "server"],
        "{create}"
    );
    // An error answer is audited too.
    let missing = client
        .request("$JS.API.STREAM.INFO.NOPE", "".into())
        .await
        .expect("answered");
    let (subject, audit) = next_advisory(&mut advisories).await;
    assert_eq!(subject, "$JS.EVENT.ADVISORY.API");
    assert_eq!(audit["subject"], "$JS.API.STREAM.INFO.NOPE");
    assert!(
        audit.get("request").is_none(),
        "empty request omitted: {audit}"
    );
    assert_eq!(
        audit["response"].as_str(),
        std::str::from_utf8(&missing.payload).ok()
    );
}

#[tokio::test]
async fn a_required_api_level_above_ours_is_refused_with_10185() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let account_info = || {
        let client = client.clone();
        async move {
            let reply = client
                .request("$JS.API.INFO", "".into())
                .await
                .expect("account info");
            serde_json::from_slice::<Value>(&reply.payload).expect("JSON")
        }
    };
    let level = account_info().await["api"]["level"]
        .as_u64()
        .expect("api.level");
    let request = |subject: &'static str, required: String, body: &'static str| {
        let client = client.clone();
        async move {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Required-Api-Level", required.as_str());
            let reply = client
                .request_with_headers(subject, headers, body.into())
                .await
                .expect("answered");
            serde_json::from_slice::<Value>(&reply.payload).expect("JSON")
        }
    };
    let refused = request("$JS.API.INFO", (level + 1).to_string(), "").await;
    assert_eq!(
        refused["type"],
        "io.nats.jetstream.api.v1.account_info_response"
    );
    assert_eq!(refused["error"]["code"], 412, "{refused}");
    assert_eq!(refused["error"]["err_code"], 10185, "{refused}");
    assert_eq!(
        refused["error"]["description"], "JetStream minimum api level required",
        "{refused}"
    );
    let garbage = request("$JS.API.INFO", "two".into(), "").await;
    assert_eq!(garbage["error"]["err_code"], 10185, "{garbage}");
    let accepted = request("$JS.API.INFO", level.to_string(), "").await;
    assert!(accepted.get("error").is_none(), "{accepted}");
    assert_eq!(accepted["api"]["level"], level);
    // A refused create creates nothing.
    let create = request(
        "$JS.API.STREAM.CREATE.LEVEL",
        (level + 1).to_string(),
        r#"{"name":"LEVEL","subjects":["level"]}"#,
    )
    .await;
    assert_eq!(
        create["type"],
        "io.nats.jetstream.api.v1.stream_create_response"
    );
    assert_eq!(create["error"]["err_code"], 10185, "{create}");
    assert!(js.get_stream("LEVEL").await.is_err(), "not created");
    let errors = account_info().await["api"]["errors"].as_u64();
    assert!(
        errors >= Some(3),
        "refusals count as API errors: {errors:?}"
    );
}

#[tokio::test]
async fn a_rate_limited_push_consumer_is_paced_to_its_bits_per_second() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    // A 1100 byte burst (the stream's max_msg_size), then 4000 bytes/s.
    let stream = js
        .create_stream(stream::Config {
            name: "RATE".into(),
            subjects: vec!["rate".into()],
            max_message_size: 1100,
            ..Default::default()
        })
        .await
        .expect("create");
    const COUNT: usize = 10;
    for _ in 0..COUNT {
        js.publish("rate", vec![b'x'; 1000].into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let inbox = client.new_inbox();
    let mut deliveries = client.subscribe(inbox.clone()).await.unwrap();
    client.flush().await.unwrap();
    let started = tokio::time::Instant::now();
    let _consumer: jetstream::consumer::PushConsumer = stream
        .create_consumer(push::Config {
            deliver_subject: inbox,
            ack_policy: AckPolicy::None,
            rate_limit: 4000 * 8,
            ..Default::default()
        })
        .await
        .expect("push consumer");
    let mut bytes = 0;
    for _ in 0..COUNT {
        let message = tokio::time::timeout(WAIT, deliveries.next())
            .await
            .expect("delivered in time")
            .unwrap();
        bytes += message.payload.len();
    }
    let elapsed = started.elapsed();
    assert_eq!(bytes, COUNT * 1000);
    // Nine messages of over 1000 bytes each after the burst: at least
    // 2.25 s at 4000 bytes/s; only a loose lower bound is asserted.
    assert!(
        elapsed >= Duration::from_millis(1800),
        "{COUNT} messages in {elapsed:?}"
    );
}

#[tokio::test]
async fn pinning_and_unpinning_a_client_are_advised() {
    use async_nats::jetstream::consumer::PriorityPolicy;
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let stream = js
        .create_stream(stream::Config {
            name: "PIN".into(),
            subjects: vec!["pin".into()],
            ..Default::default()
        })
        .await
        .expect("create");
    stream
        .create_consumer(pull::Config {
            durable_name: Some("P".into()),
            ack_policy: AckPolicy::None,
            priority_policy: PriorityPolicy::PinnedClient,
            priority_groups: vec!["A".into()],
            priority_timeout: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut pins = client
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.*.PIN.P")
        .await
        .unwrap();
    client.flush().await.unwrap();
    js.publish("pin", "m".into()).await.unwrap().await.unwrap();
    let consumer: jetstream::consumer::PullConsumer = stream.get_consumer("P").await.unwrap();
    let mut messages = consumer
        .stream()
        .group("A")
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    let message = tokio::time::timeout(WAIT, messages.next())
        .await
        .expect("delivered")
        .unwrap()
        .unwrap();
    let pin = message
        .headers
        .as_ref()
        .and_then(|headers| headers.get_last("Nats-Pin-Id"))
        .expect("pin header")
        .to_string();
    let (subject, pinned) = next_advisory(&mut pins).await;
    assert_eq!(subject, "$JS.EVENT.ADVISORY.CONSUMER.PINNED.PIN.P");
    assert_typed_event(
        &pinned,
        "io.nats.jetstream.advisory.v1.consumer_group_pinned",
    );
    assert_eq!(pinned["account"], "$G", "{pinned}");
    assert_eq!(pinned["stream"], "PIN", "{pinned}");
    assert_eq!(pinned["consumer"], "P", "{pinned}");
    assert_eq!(pinned["group"], "A", "{pinned}");
    assert_eq!(pinned["pinned_id"].as_str(), Some(pin.as_str()), "{pinned}");
    stream.unpin_consumer("P", "A").await.expect("unpin");
    let (subject, unpinned) = next_advisory(&mut pins).await;
    assert_eq!(subject, "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.PIN.P");
    assert_typed_event(
        &unpinned,
        "io.nats.jetstream.advisory.v1.consumer_group_unpinned",
    );
    assert_eq!(unpinned["group"], "A", "{unpinned}");
    assert_eq!(unpinned["reason"], "admin", "{unpinned}");
}

#[tokio::test]
async fn the_end_of_a_pause_is_advised_with_paused_false() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let stream = js
        .create_stream(stream::Config {
            name: "PAUSE".into(),
            subjects: vec!["pause".into()],
            ..Default::default()
        })
        .await
        .expect("create");
    stream
        .create_consumer(pull::Config {
            durable_name: Some("W".into()),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut pauses = client
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.PAUSE.W")
        .await
        .unwrap();
    client.flush().await.unwrap();
    let until = async_nats::datetime::add_std_duration(
        async_nats::datetime::now(),
        Duration::from_millis(800),
    )
    .unwrap();
    stream.pause_consumer("W", until).await.expect("pause");
    let (_, paused) = next_advisory(&mut pauses).await;
    assert_eq!(paused["paused"], true, "{paused}");
    let (_, ended) = next_advisory(&mut pauses).await;
    assert_typed_event(&ended, "io.nats.jetstream.advisory.v1.consumer_pause");
    assert_eq!(ended["paused"], false, "{ended}");
    assert_eq!(ended["pause_until"], paused["pause_until"], "{ended}");
    // A resume by request is advised with Go's zero time.
    stream.resume_consumer("W").await.expect("resume");
    let (_, resumed) = next_advisory(&mut pauses).await;
    assert_eq!(resumed["paused"], false, "{resumed}");
    assert_eq!(resumed["pause_until"], "0001-01-01T00:00:00Z", "{resumed}");
}
