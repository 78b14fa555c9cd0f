//! Mirrors and sources on one node, through async-nats against a real
//! `starling -js` process: a mirror keeps its origin's sequences and gaps
//! and keeps up with new messages; sources add `Nats-Stream-Source`, apply
//! filters and subject transforms, and resume where they stopped after a
//! SIGKILL and restart; an origin that does not exist yet is no error; the
//! config errors carry nats-server's codes; a mirror can be promoted.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use common::jetstream::{context, start};
use futures::StreamExt;

fn origin(name: &str, subjects: &[&str]) -> stream::Config {
    stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn source(name: &str) -> stream::Source {
    stream::Source {
        name: name.into(),
        ..Default::default()
    }
}

async fn publish(js: &jetstream::Context, subject: &str, payload: &str) -> u64 {
    js.publish(subject.to_string(), payload.to_string().into())
        .await
        .expect("publish")
        .await
        .expect("puback")
        .sequence
}

/// Wait (at most 10 s) until the stream's info satisfies `done`.
async fn wait_for(
    js: &jetstream::Context,
    name: &str,
    done: impl Fn(&stream::Info) -> bool,
) -> stream::Info {
    let mut last = None;
    for _ in 0..200 {
        let mut handle = js.get_stream(name).await.expect("stream");
        let info = handle.info().await.expect("info").clone();
        if done(&info) {
            return info;
        }
        last = Some(info);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never got there: {last:#?}");
}

/// The raw `STREAM.INFO` JSON (for fields async-nats does not decode).
async fn raw_info(client: &async_nats::Client, name: &str) -> serde_json::Value {
    let reply = client
        .request(format!("$JS.API.STREAM.INFO.{name}"), "".into())
        .await
        .expect("info request");
    serde_json::from_slice(&reply.payload).expect("info json")
}

async fn api_error(client: &async_nats::Client, verb: &str, config: serde_json::Value) -> u64 {
    let name = config["name"].as_str().unwrap_or_default().to_string();
    let reply = client
        .request(
            format!("$JS.API.STREAM.{verb}.{name}"),
            serde_json::to_vec(&config).unwrap().into(),
        )
        .await
        .expect("request");
    let body: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    body["error"]["err_code"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_mirror_keeps_the_origin_sequences_and_gaps_and_keeps_up() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let origin_stream = js.create_stream(origin("ORIGIN", &["o.>"])).await.unwrap();
    for n in 1..=5 {
        publish(&js, &format!("o.{n}"), &format!("m{n}")).await;
    }
    origin_stream.delete_message(3).await.unwrap();
    js.create_stream(stream::Config {
        name: "M".into(),
        mirror: Some(source("ORIGIN")),
        ..Default::default()
    })
    .await
    .expect("create mirror");
    let info = wait_for(&js, "M", |i| i.state.last_sequence == 5).await;
    assert_eq!(info.state.messages, 4);
    assert_eq!(info.state.first_sequence, 1);
    let mirror = js.get_stream("M").await.unwrap();
    let fourth = mirror.get_raw_message(4).await.unwrap();
    assert_eq!(
        (&fourth.payload[..], fourth.subject.as_str()),
        (&b"m4"[..], "o.4")
    );
    assert!(fourth.headers.get("Nats-Stream-Source").is_none());
    assert!(
        mirror.get_raw_message(3).await.is_err(),
        "the gap stays a gap"
    );
    // New origin messages follow, with the origin's sequences.
    assert_eq!(publish(&js, "o.6", "m6").await, 6);
    let info = wait_for(&js, "M", |i| i.state.last_sequence == 6).await;
    assert_eq!(info.state.messages, 5);
    let shown = info.mirror.expect("mirror info");
    assert_eq!((shown.name.as_str(), shown.lag), ("ORIGIN", 0));
    assert!(shown.active.is_some());
    let raw = raw_info(&client, "M").await;
    assert!(raw["config"].get("subjects").is_none(), "{raw}");
    assert!(raw["mirror"].get("error").is_none(), "{raw}");
    // A mirror captures nothing and may not be re-pointed.
    let code = api_error(
        &client,
        "UPDATE",
        serde_json::json!({"name":"M","mirror":{"name":"OTHER"}}),
    )
    .await;
    assert_eq!(code, 10055);
}

#[tokio::test]
async fn a_mirror_starts_where_asked_and_keeps_filtered_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    js.create_stream(origin("ORIGIN", &["o.>"])).await.unwrap();
    for (subject, payload) in [("o.a", "1"), ("o.b", "2"), ("o.a", "3"), ("o.b", "4")] {
        publish(&js, subject, payload).await;
    }
    js.create_stream(stream::Config {
        name: "FROM2".into(),
        mirror: Some(stream::Source {
            start_sequence: Some(2),
            ..source("ORIGIN")
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    js.create_stream(stream::Config {
        name: "ONLYB".into(),
        mirror: Some(stream::Source {
            filter_subject: Some("o.b".into()),
            ..source("ORIGIN")
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let from2 = wait_for(&js, "FROM2", |i| i.state.last_sequence == 4).await;
    assert_eq!((from2.state.first_sequence, from2.state.messages), (2, 3));
    let only_b = wait_for(&js, "ONLYB", |i| i.state.last_sequence == 4).await;
    assert_eq!(only_b.state.messages, 2);
    let stream = js.get_stream("ONLYB").await.unwrap();
    assert_eq!(&stream.get_raw_message(2).await.unwrap().payload[..], b"2");
    assert_eq!(&stream.get_raw_message(4).await.unwrap().payload[..], b"4");
    // A pull consumer on the mirror sees the mirrored messages.
    let consumer = js
        .get_stream("FROM2")
        .await
        .unwrap()
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("c".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let first = messages.next().await.unwrap().unwrap();
    assert_eq!(&first.payload[..], b"2");
}

#[tokio::test]
async fn sources_add_their_header_and_resume_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().to_str().unwrap();
    let process = start(store_dir).await;
    let (_, js) = context(&process).await;
    js.create_stream(origin("A", &["a.>"])).await.unwrap();
    js.create_stream(origin("B", &["b.>"])).await.unwrap();
    publish(&js, "a.x", "a1").await;
    publish(&js, "a.y", "skipped by the filter").await;
    publish(&js, "b.1", "b1").await;
    js.create_stream(stream::Config {
        name: "S".into(),
        sources: Some(vec![
            stream::Source {
                filter_subject: Some("a.x".into()),
                ..source("A")
            },
            stream::Source {
                subject_transforms: vec![stream::SubjectTransform {
                    source: "b.>".into(),
                    destination: "from.b.>".into(),
                }],
                ..source("B")
            },
        ]),
        ..Default::default()
    })
    .await
    .expect("create sourcing stream");
    let info = wait_for(&js, "S", |i| i.state.messages == 2).await;
    assert_eq!(info.sources.len(), 2);
    assert!(info.sources.iter().all(|s| s.lag == 0));
    let s = js.get_stream("S").await.unwrap();
    let mut headers = Vec::new();
    for seq in 1..=2 {
        let message = s.get_raw_message(seq).await.unwrap();
        let value = message
            .headers
            .get("Nats-Stream-Source")
            .map(|v| v.to_string())
            .unwrap_or_default();
        headers.push((message.subject.to_string(), value));
    }
    headers.sort();
    assert_eq!(
        headers,
        vec![
            ("a.x".to_string(), "A 1 a.x >".to_string()),
            ("from.b.1".to_string(), "B 1 b.> from.b.>".to_string()),
        ]
    );
    // SIGKILL, restart: each source resumes after what it brought.
    drop(process);
    let process = start(store_dir).await;
    let (_, js) = context(&process).await;
    publish(&js, "a.x", "a2").await;
    publish(&js, "b.2", "b2").await;
    let info = wait_for(&js, "S", |i| i.state.messages >= 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = wait_for(&js, "S", |i| i.state.messages >= 4).await;
    assert_eq!(
        (info.state.messages, again.state.messages),
        (4, 4),
        "nothing taken twice"
    );
    let s = js.get_stream("S").await.unwrap();
    let last = s.get_raw_message(again.state.last_sequence).await.unwrap();
    let value = last.headers.get("Nats-Stream-Source").unwrap().to_string();
    assert!(
        value == "A 3 a.x >" || value == "B 2 b.> from.b.>",
        "{value}"
    );
}

#[tokio::test]
async fn a_source_that_does_not_exist_yet_becomes_active_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    js.create_stream(stream::Config {
        name: "S".into(),
        sources: Some(vec![source("LATER")]),
        ..Default::default()
    })
    .await
    .expect("a missing source is no error");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let raw = raw_info(&client, "S").await;
    assert_eq!(raw["sources"][0]["name"], "LATER", "{raw}");
    assert_eq!(raw["sources"][0]["error"]["err_code"], 10059, "{raw}");
    assert_eq!(raw["sources"][0]["active"], -1, "{raw}");
    js.create_stream(origin("LATER", &["later"])).await.unwrap();
    publish(&js, "later", "hello").await;
    wait_for(&js, "S", |i| i.state.messages == 1).await;
    let raw = raw_info(&client, "S").await;
    assert!(raw["sources"][0].get("error").is_none(), "{raw}");
}

#[tokio::test]
async fn config_errors_carry_nats_server_codes() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    js.create_stream(origin("O", &["o"])).await.unwrap();
    let create = |config| api_error(&client, "CREATE", config);
    assert_eq!(
        create(serde_json::json!({"name":"M","mirror":{"name":"O"},"subjects":["m"]})).await,
        10034
    );
    assert_eq!(
        create(serde_json::json!({"name":"M","mirror":{"name":"O"},"sources":[{"name":"O"}]}))
            .await,
        10031
    );
    assert_eq!(
        create(serde_json::json!({"name":"M","mirror":{"name":"O","filter_subject":"o","subject_transforms":[{"src":"o","dest":"p"}]}})).await,
        10150
    );
    assert_eq!(
        create(serde_json::json!({"name":"S","sources":[{"name":"O","filter_subject":"o","subject_transforms":[{"src":"o","dest":"p"}]}]})).await,
        10144
    );
    assert_eq!(
        create(serde_json::json!({"name":"S","sources":[{"name":"O"},{"name":"O"}]})).await,
        10140
    );
    assert_eq!(
        create(serde_json::json!({"name":"M","mirror":{"name":"M"}})).await,
        10052,
        "a mirror of itself is a cycle"
    );
}

#[tokio::test]
async fn a_mirror_is_promoted_by_removing_its_mirror_config() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    js.create_stream(origin("source", &["test"])).await.unwrap();
    js.create_stream(stream::Config {
        name: "mirror".into(),
        mirror: Some(source("source")),
        ..Default::default()
    })
    .await
    .unwrap();
    publish(&js, "test", "data").await;
    wait_for(&js, "mirror", |i| i.state.messages == 1).await;
    js.delete_stream("source").await.unwrap();
    let error = js
        .publish("test", "data".into())
        .await
        .unwrap()
        .await
        .expect_err("nobody captures test");
    assert_eq!(
        error.kind(),
        jetstream::context::PublishErrorKind::StreamNotFound
    );
    js.update_stream(stream::Config {
        name: "mirror".into(),
        subjects: vec!["test".into()],
        ..Default::default()
    })
    .await
    .expect("promote");
    assert_eq!(publish(&js, "test", "data").await, 2);
}
