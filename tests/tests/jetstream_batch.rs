//! Atomic batch publish (nats-server 2.12, ADR-50) through async-nats
//! against a real `starling -js`: the batch headers sent by hand
//! (`Nats-Batch-Id`, `Nats-Batch-Sequence`, `Nats-Batch-Commit`), one
//! PubAck for the commit, nothing stored from a batch that fails, and the
//! `allow_atomic` / `allow_batched` config fields.

mod common;

use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use common::jetstream::{context, start};
use serde_json::Value;

fn batch_headers(id: &str, seq: u64, commit: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Batch-Id", id);
    headers.insert("Nats-Batch-Sequence", seq.to_string().as_str());
    if let Some(commit) = commit {
        headers.insert("Nats-Batch-Commit", commit);
    }
    headers
}

/// Send with a reply and return the reply's payload.
async fn request(client: &async_nats::Client, subject: &str, headers: HeaderMap) -> Vec<u8> {
    let reply = client
        .request_with_headers(subject.to_string(), headers, "x".into())
        .await
        .expect("a reply");
    reply.payload.to_vec()
}

async fn pub_ack(client: &async_nats::Client, subject: &str, headers: HeaderMap) -> Value {
    let payload = request(client, subject, headers).await;
    serde_json::from_slice(&payload).expect("a JSON PubAck")
}

fn err_code(ack: &Value) -> Option<u64> {
    ack["error"]["err_code"].as_u64()
}

async fn msgs(js: &jetstream::Context, name: &str) -> u64 {
    let mut stream = js.get_stream(name).await.expect("stream");
    stream.info().await.expect("info").state.messages
}

async fn atomic_stream(js: &jetstream::Context, name: &str, subject: &str) {
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: vec![subject.into()],
        allow_atomic_publish: true,
        ..Default::default()
    })
    .await
    .expect("create");
}

#[tokio::test]
async fn a_committed_batch_is_stored_whole_with_one_pub_ack() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    atomic_stream(&js, "B", "b.>").await;
    // The first message asks for a reply: an empty one, as nats-server.
    let first = request(&client, "b.1", batch_headers("uuid", 1, None)).await;
    assert!(first.is_empty(), "{}", String::from_utf8_lossy(&first));
    for seq in 2..=4 {
        client
            .publish_with_headers(
                format!("b.{seq}"),
                batch_headers("uuid", seq, None),
                "x".into(),
            )
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    // Staged, not stored.
    assert_eq!(msgs(&js, "B").await, 0);
    let ack = pub_ack(&client, "b.5", batch_headers("uuid", 5, Some("1"))).await;
    assert_eq!(ack["stream"], "B", "{ack}");
    assert_eq!(ack["seq"], 5, "{ack}");
    assert_eq!(ack["batch"], "uuid", "{ack}");
    assert_eq!(ack["count"], 5, "{ack}");
    assert_eq!(msgs(&js, "B").await, 5);
    let stream = js.get_stream("B").await.unwrap();
    let third = stream.get_raw_message(3).await.unwrap();
    assert_eq!(third.subject.as_str(), "b.3");
    assert_eq!(
        third.headers.get("Nats-Batch-Sequence").map(|v| v.as_str()),
        Some("3")
    );
    // `eob` commits without storing the commit message.
    request(&client, "b.1", batch_headers("eob", 1, None)).await;
    let ack = pub_ack(&client, "b.2", batch_headers("eob", 2, Some("eob"))).await;
    assert_eq!(
        (ack["seq"].as_u64(), ack["count"].as_u64()),
        (Some(6), Some(1)),
        "{ack}"
    );
    assert_eq!(msgs(&js, "B").await, 6);
    // A mirror and a source take the messages without the batch headers.
    js.create_stream(stream::Config {
        name: "M".into(),
        mirror: Some(stream::Source {
            name: "B".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    js.create_stream(stream::Config {
        name: "S".into(),
        sources: Some(vec![stream::Source {
            name: "B".into(),
            ..Default::default()
        }]),
        ..Default::default()
    })
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while msgs(&js, "M").await < 6 || msgs(&js, "S").await < 6 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "mirror and source caught up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for name in ["M", "S"] {
        let copy = js.get_stream(name).await.unwrap();
        let first = copy.get_raw_message(1).await.unwrap();
        assert_eq!(first.subject.as_str(), "b.1");
        assert!(first.headers.get("Nats-Batch-Id").is_none(), "{name}");
        assert!(first.headers.get("Nats-Batch-Sequence").is_none(), "{name}");
    }
}

#[tokio::test]
async fn a_failing_batch_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    js.create_stream(stream::Config {
        name: "PLAIN".into(),
        subjects: vec!["plain".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let disabled = pub_ack(&client, "plain", batch_headers("p", 1, Some("1"))).await;
    assert_eq!(err_code(&disabled), Some(10174), "{disabled}");
    assert_eq!(msgs(&js, "PLAIN").await, 0);

    atomic_stream(&js, "B", "b.>").await;
    let mut no_seq = HeaderMap::new();
    no_seq.insert("Nats-Batch-Id", "x");
    assert_eq!(
        err_code(&pub_ack(&client, "b.1", no_seq).await),
        Some(10175)
    );
    // Not started at 1.
    let unknown = pub_ack(&client, "b.1", batch_headers("u", 2, Some("1"))).await;
    assert_eq!(err_code(&unknown), Some(10176), "{unknown}");
    // A gap abandons the batch: neither message is stored.
    request(&client, "b.1", batch_headers("gap", 1, None)).await;
    let gap = pub_ack(&client, "b.3", batch_headers("gap", 3, Some("1"))).await;
    assert_eq!(err_code(&gap), Some(10176), "{gap}");
    // A message failing its check at commit refuses the whole batch:
    // only the first message may expect a last sequence.
    request(&client, "b.1", batch_headers("check", 1, None)).await;
    let mut expects = batch_headers("check", 2, None);
    expects.insert("Nats-Expected-Last-Sequence", "0");
    request(&client, "b.2", expects).await;
    let refused = pub_ack(&client, "b.3", batch_headers("check", 3, Some("1"))).await;
    assert_eq!(err_code(&refused), Some(10164), "{refused}");
    let long = "A".repeat(65);
    let invalid = pub_ack(&client, "b.1", batch_headers(&long, 1, Some("1"))).await;
    assert_eq!(err_code(&invalid), Some(10179), "{invalid}");
    assert_eq!(msgs(&js, "B").await, 0);
    // The stream still takes a good batch afterwards.
    let ack = pub_ack(&client, "b.1", batch_headers("good", 1, Some("1"))).await;
    assert_eq!(
        (ack["seq"].as_u64(), err_code(&ack)),
        (Some(1), None),
        "{ack}"
    );
}

#[tokio::test]
async fn batch_config_fields_round_trip_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let created = js
        .create_stream(stream::Config {
            name: "CFG".into(),
            subjects: vec!["cfg.>".into()],
            allow_atomic_publish: true,
            allow_batch_publish: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let config = &created.cached_info().config;
    assert!(config.allow_atomic_publish && config.allow_batch_publish);
    let mut stream = js.get_stream("CFG").await.unwrap();
    let info = stream.info().await.unwrap();
    assert!(info.config.allow_atomic_publish && info.config.allow_batch_publish);
    let mut off = info.config.clone();
    off.allow_atomic_publish = false;
    let updated = js.update_stream(off).await.unwrap();
    assert!(!updated.config.allow_atomic_publish && updated.config.allow_batch_publish);
    for (atomic, batched, code) in [(true, false, "10198"), (false, true, "10209")] {
        let refused = js
            .create_stream(stream::Config {
                name: format!("M{code}"),
                mirror: Some(stream::Source {
                    name: "CFG".into(),
                    ..Default::default()
                }),
                allow_atomic_publish: atomic,
                allow_batch_publish: batched,
                ..Default::default()
            })
            .await
            .expect_err("a mirror cannot batch");
        assert!(refused.to_string().contains(code), "{refused}");
    }
}

/// The next message on `advisories` (within 5 s): its subject and JSON.
async fn next_advisory(advisories: &mut async_nats::Subscriber) -> (String, Value) {
    use futures::StreamExt;
    let message = tokio::time::timeout(std::time::Duration::from_secs(5), advisories.next())
        .await
        .expect("an advisory in time")
        .expect("subscription open");
    let body: Value = serde_json::from_slice(&message.payload).expect("JSON");
    (message.subject.to_string(), body)
}

/// A batch dropped before its commit is advised on
/// `$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.<stream>` with nats-server's
/// reason: a gap is `incomplete`, a message past the largest batch `large`.
#[tokio::test]
async fn an_abandoned_batch_is_advised_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    atomic_stream(&js, "AB", "ab.>").await;
    let mut advisories = client
        .subscribe("$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.*")
        .await
        .unwrap();
    client.flush().await.unwrap();
    // Sequence 1, then 3: a gap.
    let first = request(&client, "ab.x", batch_headers("gap", 1, None)).await;
    assert!(first.is_empty());
    let ack = pub_ack(&client, "ab.x", batch_headers("gap", 3, None)).await;
    assert_eq!(err_code(&ack), Some(10176), "{ack}");
    let (subject, body) = next_advisory(&mut advisories).await;
    assert_eq!(subject, "$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.AB");
    assert_eq!(
        body["type"],
        "io.nats.jetstream.advisory.v1.stream_batch_abandoned"
    );
    assert_eq!(
        (&body["stream"], &body["batch"], &body["reason"]),
        (
            &Value::from("AB"),
            &Value::from("gap"),
            &Value::from("incomplete")
        )
    );
    // A refused message of a batch that was never staged abandons nothing;
    // the next advisory is the too-large batch's.
    let ack = pub_ack(&client, "ab.x", batch_headers("never", 2, None)).await;
    assert_eq!(err_code(&ack), Some(10176), "{ack}");
    for seq in 1..=1000u64 {
        client
            .publish_with_headers("ab.x", batch_headers("big", seq, None), "x".into())
            .await
            .unwrap();
    }
    let ack = pub_ack(&client, "ab.x", batch_headers("big", 1001, Some("1"))).await;
    assert_eq!(err_code(&ack), Some(10199), "{ack}");
    let (_, body) = next_advisory(&mut advisories).await;
    assert_eq!(
        (&body["batch"], &body["reason"]),
        (&Value::from("big"), &Value::from("large"))
    );
    assert_eq!(msgs(&js, "AB").await, 0);
}
