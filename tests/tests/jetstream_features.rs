//! JetStream stream features of nats-server 2.11+, through async-nats
//! against a real `starling -js`: per-message TTL (refusals, expiry,
//! `never`, surviving a SIGKILL), subject delete markers, KV limit
//! markers, republish, the ingest subject transform, and the API level.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, kv, message::PublishMessage as Publish, stream};
use common::jetstream::{context, start};
use futures::StreamExt;

async fn publish(js: &jetstream::Context, subject: &str, message: Publish) -> Result<u64, String> {
    let ack = js
        .send_publish(subject.to_string(), message)
        .await
        .map_err(|e| e.to_string())?;
    ack.await.map(|ack| ack.sequence).map_err(|e| e.to_string())
}

fn ttl_stream(name: &str, subject: &str) -> stream::Config {
    stream::Config {
        name: name.into(),
        subjects: vec![subject.into()],
        allow_message_ttl: true,
        allow_direct: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn ttl_headers_are_refused_with_nats_servers_codes() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    js.create_stream(stream::Config {
        name: "PLAIN".into(),
        subjects: vec!["plain".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let disabled = publish(&js, "plain", Publish::build().ttl(Duration::from_secs(5)))
        .await
        .expect_err("TTL on a stream without allow_msg_ttl");
    assert!(disabled.contains("10166"), "{disabled}");
    let invalid = publish(&js, "plain", Publish::build().header("Nats-TTL", "500ms"))
        .await
        .expect_err("sub-second TTL");
    assert!(invalid.contains("10165"), "{invalid}");
    js.create_stream(ttl_stream("TTL", "ttl.>")).await.unwrap();
    let invalid = publish(&js, "ttl.a", Publish::build().header("Nats-TTL", "-1"))
        .await
        .expect_err("-1 is not a TTL");
    assert!(invalid.contains("10165"), "{invalid}");
    assert_eq!(
        publish(&js, "ttl.a", Publish::build().header("Nats-TTL", "never")).await,
        Ok(1)
    );
}

#[tokio::test]
async fn a_ttl_message_expires_and_the_ttl_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().to_str().unwrap();
    let process = start(store_dir).await;
    let (_, js) = context(&process).await;
    js.create_stream(ttl_stream("TTL", "ttl.>")).await.unwrap();
    let build = || Publish::build().payload("v".into());
    publish(&js, "ttl.short", build().ttl(Duration::from_secs(2)))
        .await
        .unwrap();
    publish(&js, "ttl.kept", build()).await.unwrap();
    // Dropping the process sends SIGKILL: the TTL must come back from disk.
    drop(process);
    let process = start(store_dir).await;
    let (_, js) = context(&process).await;
    let mut stream = js.get_stream("TTL").await.expect("stream restored");
    let first = stream.direct_get(1).await.expect("still there");
    assert_eq!(
        first
            .headers
            .get("Nats-TTL")
            .map(|v| v.as_str().to_string()),
        Some("2".to_string())
    );
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let info = stream.info().await.unwrap();
    assert_eq!((info.state.messages, info.state.first_sequence), (1, 2));
}

#[tokio::test]
async fn max_age_leaves_a_delete_marker_and_never_outlives_it() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let mut stream = js
        .create_stream(stream::Config {
            max_age: Duration::from_secs(1),
            subject_delete_marker_ttl: Some(Duration::from_secs(30)),
            ..ttl_stream("MK", "mk.>")
        })
        .await
        .unwrap();
    let config = stream.info().await.unwrap().config.clone();
    assert!(config.allow_message_ttl && config.allow_rollup);
    let build = || Publish::build().payload("v".into());
    publish(&js, "mk.a", build().ttl(Duration::from_secs(20)))
        .await
        .unwrap();
    publish(&js, "mk.a", build()).await.unwrap();
    publish(&js, "mk.never", build().header("Nats-TTL", "never"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let marker = stream.direct_get_last_for_subject("mk.a").await.unwrap();
    assert_eq!(
        marker.sequence, 4,
        "one marker, after the subject's last message"
    );
    let header = |name: &str| marker.headers.get(name).map(|v| v.as_str().to_string());
    assert_eq!(header("Nats-Marker-Reason").as_deref(), Some("MaxAge"));
    assert_eq!(header("Nats-TTL").as_deref(), Some("30s"));
    assert!(marker.payload.is_empty());
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 2, "the never message and the marker");
}

#[tokio::test]
async fn kv_limit_markers_ttl_create_and_watch() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let account = js.query_account().await.unwrap();
    assert_eq!(account.requests.level, 1);
    let kv = js
        .create_key_value(kv::Config {
            bucket: "ttl".into(),
            history: 5,
            max_age: Duration::from_millis(800),
            limit_markers: Some(Duration::from_secs(5)),
            ..Default::default()
        })
        .await
        .expect("limit markers need API level 1");
    kv.create_with_ttl("short", "v".into(), Duration::from_secs(1))
        .await
        .unwrap();
    let mut watcher = kv.watch("aged").await.unwrap();
    kv.put("aged", "v".into()).await.unwrap();
    let put = watcher.next().await.unwrap().unwrap();
    assert_eq!(put.operation, kv::Operation::Put);
    let marker = tokio::time::timeout(Duration::from_secs(5), watcher.next())
        .await
        .expect("the max-age marker reaches the watcher")
        .unwrap()
        .unwrap();
    assert_eq!(marker.operation, kv::Operation::Purge);
    assert!(kv.get("short").await.unwrap().is_none());
    assert!(kv.get("aged").await.unwrap().is_none());
}

#[tokio::test]
async fn republish_copies_stored_messages_with_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let cycle = js
        .create_stream(stream::Config {
            name: "CYCLE".into(),
            subjects: vec!["cy.>".into()],
            republish: Some(stream::Republish {
                source: ">".into(),
                destination: "cy.out.>".into(),
                headers_only: false,
            }),
            ..Default::default()
        })
        .await
        .expect_err("a destination inside the stream's subjects");
    assert!(cycle.to_string().contains("10052"), "{cycle}");
    js.create_stream(stream::Config {
        name: "RP".into(),
        subjects: vec!["rp.>".into()],
        republish: Some(stream::Republish {
            source: "rp.>".into(),
            destination: "out.>".into(),
            headers_only: false,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    js.create_stream(stream::Config {
        name: "RH".into(),
        subjects: vec!["rh.>".into()],
        republish: Some(stream::Republish {
            source: ">".into(),
            destination: "outh.>".into(),
            headers_only: true,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut out = client.subscribe("out.>").await.unwrap();
    let mut headers_only = client.subscribe("outh.>").await.unwrap();
    client.flush().await.unwrap();
    js.publish("rp.a", "one".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("rp.b", "two".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("rp.a", "three".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("rh.x", "body!".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(out.next().await.unwrap());
    }
    let last = &got[2];
    assert_eq!(last.subject.as_str(), "out.a");
    assert_eq!(&last.payload[..], b"three");
    let header = |name: &str| {
        last.headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_string())
    };
    assert_eq!(header("Nats-Stream").as_deref(), Some("RP"));
    assert_eq!(header("Nats-Subject").as_deref(), Some("rp.a"));
    assert_eq!(header("Nats-Sequence").as_deref(), Some("3"));
    assert_eq!(header("Nats-Last-Sequence").as_deref(), Some("1"));
    assert!(header("Nats-Time-Stamp").is_some());
    let bare = headers_only.next().await.unwrap();
    assert!(bare.payload.is_empty());
    let size = bare.headers.as_ref().and_then(|h| h.get("Nats-Msg-Size"));
    assert_eq!(size.map(|v| v.as_str()), Some("5"));
}

#[tokio::test]
async fn subject_transform_renames_on_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let bad = js
        .create_stream(stream::Config {
            name: "BAD".into(),
            subjects: vec!["bad.*".into()],
            subject_transform: Some(stream::SubjectTransform {
                source: "bad.*".into(),
                destination: "moved.$2".into(),
            }),
            ..Default::default()
        })
        .await
        .expect_err("wildcard index out of range");
    assert!(bad.to_string().contains("10156"), "{bad}");
    let transform = stream::SubjectTransform {
        source: "in.*.*".into(),
        destination: "moved.{{wildcard(2)}}.$1".into(),
    };
    let mut stream = js
        .create_stream(stream::Config {
            name: "TR".into(),
            subjects: vec!["in.>".into()],
            subject_transform: Some(transform.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    js.publish("in.a.b", "v".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("in.only", "w".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        stream.get_raw_message(1).await.unwrap().subject.as_str(),
        "moved.b.a"
    );
    assert_eq!(
        stream.get_raw_message(2).await.unwrap().subject.as_str(),
        "in.only",
        "a subject the source does not match is stored as published"
    );
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.subject_transform, Some(transform));
}
