//! JetStream on one node, through async-nats's JetStream API against a
//! real `starling -js` process: streams, PubAcks, duplicates, expected
//! sequences, info, get, purge, delete, names/list, restart after SIGKILL,
//! no-responders for uncaptured subjects, and the cluster refusal.

mod common;

use async_nats::jetstream::{self, message::PublishMessage as Publish, stream};
use common::jetstream::{context, start};
use common::process::{run_to_end, Process};
use futures::TryStreamExt;

fn orders() -> stream::Config {
    stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    }
}

fn api_code(error: &impl std::fmt::Display) -> String {
    error.to_string()
}

#[tokio::test]
async fn create_stream_is_idempotent_and_a_different_config_is_10058() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let mut created = js.create_stream(orders()).await.expect("create");
    let info = created.info().await.unwrap();
    assert_eq!(info.config.name, "ORDERS");
    assert_eq!(info.config.max_messages, -1);
    assert_eq!(
        info.config.duplicate_window,
        std::time::Duration::from_secs(120)
    );
    assert_eq!(info.state.messages, 0);
    assert_eq!(info.state.first_sequence, 1);
    js.create_stream(orders())
        .await
        .expect("same config again succeeds");
    let different = stream::Config {
        max_messages: 10,
        ..orders()
    };
    let error = js
        .create_stream(different)
        .await
        .expect_err("different config");
    assert!(api_code(&error).contains("10058"), "{error}");
    let overlapping = stream::Config {
        name: "OTHER".into(),
        subjects: vec!["orders.new".into()],
        ..Default::default()
    };
    let error = js.create_stream(overlapping).await.expect_err("overlap");
    assert!(api_code(&error).contains("10065"), "{error}");
}

#[tokio::test]
async fn publish_gets_a_puback_with_its_sequence_and_duplicates_are_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    js.create_stream(orders()).await.unwrap();
    let ack = js
        .publish("orders.new", "one".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        (ack.stream.as_str(), ack.sequence, ack.duplicate),
        ("ORDERS", 1, false)
    );
    let with_id = || Publish::build().payload("two".into()).message_id("m1");
    let ack = js
        .send_publish("orders.new", with_id())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((ack.sequence, ack.duplicate), (2, false));
    let ack = js
        .send_publish("orders.new", with_id())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((ack.sequence, ack.duplicate), (2, true));
    let mut stream = js.get_stream("ORDERS").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 2);
}

#[tokio::test]
async fn expected_last_sequence_mismatch_is_error_10071() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    js.create_stream(orders()).await.unwrap();
    js.publish("orders.a", "1".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let wrong = Publish::build()
        .payload("x".into())
        .expected_last_sequence(7);
    let error = js
        .send_publish("orders.a", wrong)
        .await
        .unwrap()
        .await
        .expect_err("wrong last sequence");
    assert_eq!(
        error.kind(),
        jetstream::context::PublishErrorKind::WrongLastSequence
    );
    let right = Publish::build()
        .payload("x".into())
        .expected_last_sequence(1);
    let ack = js
        .send_publish("orders.a", right)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 2);
    let subject_zero = Publish::build()
        .payload("x".into())
        .expected_last_subject_sequence(0);
    let error = js
        .send_publish("orders.a", subject_zero.clone())
        .await
        .unwrap()
        .await
        .expect_err("subject not empty");
    assert_eq!(
        error.kind(),
        jetstream::context::PublishErrorKind::WrongLastSequence
    );
    let ack = js
        .send_publish("orders.b", subject_zero)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 3);
}

#[tokio::test]
async fn info_counts_get_message_purge_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    js.create_stream(orders()).await.unwrap();
    for subject in ["orders.a", "orders.b", "orders.a", "orders.c"] {
        js.publish(subject, subject.as_bytes().to_vec().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut stream = js.get_stream("ORDERS").await.unwrap();
    let info = stream.info().await.unwrap().clone();
    assert_eq!(info.state.messages, 4);
    assert_eq!(info.state.last_sequence, 4);
    assert_eq!(info.state.subjects_count, 3);
    assert!(info.state.bytes > 0);
    let message = stream.get_raw_message(2).await.unwrap();
    assert_eq!(message.subject.as_str(), "orders.b");
    assert_eq!(&message.payload[..], b"orders.b");
    let last = stream
        .get_last_raw_message_by_subject("orders.a")
        .await
        .unwrap();
    assert_eq!(last.sequence, 3);
    let missing = stream
        .get_raw_message(99)
        .await
        .expect_err("no such message");
    assert!(
        missing.to_string().contains("no message found"),
        "{missing}"
    );

    assert!(stream.delete_message(2).await.unwrap());
    assert!(stream.get_raw_message(2).await.is_err());
    let purged = stream.purge().filter("orders.a").await.unwrap();
    assert_eq!((purged.success, purged.purged), (true, 2));
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 1);
    let purged = stream.purge().await.unwrap();
    assert_eq!(purged.purged, 1);
    let info = stream.info().await.unwrap();
    assert_eq!(
        (
            info.state.messages,
            info.state.first_sequence,
            info.state.last_sequence
        ),
        (0, 5, 4)
    );

    assert!(js.delete_stream("ORDERS").await.unwrap().success);
    let error = js.get_stream("ORDERS").await.expect_err("deleted");
    assert!(
        error.to_string().contains("10059") || error.to_string().contains("not found"),
        "{error}"
    );
    assert!(!dir.path().join("jetstream/$G/streams/ORDERS").exists());
}

#[tokio::test]
async fn names_and_list_find_streams_by_subject() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    js.create_stream(orders()).await.unwrap();
    js.create_stream(stream::Config {
        name: "EVENTS".into(),
        subjects: vec!["events.*".into()],
        storage: stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, vec!["EVENTS".to_string(), "ORDERS".to_string()]);
    let infos: Vec<stream::Info> = js.streams().try_collect().await.unwrap();
    assert_eq!(infos.len(), 2);
    assert_eq!(js.stream_by_subject("events.x").await.unwrap(), "EVENTS");
    assert_eq!(js.stream_by_subject("orders.x.y").await.unwrap(), "ORDERS");
    assert!(js.stream_by_subject("nothing.here").await.is_err());
}

#[tokio::test]
async fn streams_and_acknowledged_messages_survive_sigkill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().to_str().unwrap();
    let process = start(store_dir).await;
    let (_, js) = context(&process).await;
    js.create_stream(stream::Config {
        max_messages_per_subject: 5,
        ..orders()
    })
    .await
    .unwrap();
    for n in 0..50u32 {
        let ack = js
            .send_publish(
                "orders.n",
                Publish::build()
                    .payload(n.to_string().into())
                    .message_id(format!("id-{n}")),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, u64::from(n) + 1);
    }
    // Dropping the process sends SIGKILL: no graceful close of the store.
    drop(process);
    let process = start(store_dir).await;
    let (_, js) = context(&process).await;
    let mut stream = js.get_stream("ORDERS").await.expect("stream restored");
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.max_messages_per_subject, 5);
    assert_eq!((info.state.messages, info.state.last_sequence), (5, 50));
    assert_eq!(
        &stream.get_raw_message(50).await.unwrap().payload[..],
        b"49"
    );
    // The duplicate window was rebuilt from the stored message ids.
    let ack = js
        .send_publish(
            "orders.n",
            Publish::build().payload("again".into()).message_id("id-49"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((ack.sequence, ack.duplicate), (50, true));
    let ack = js
        .publish("orders.n", "next".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 51);
}

#[tokio::test]
async fn publish_to_a_subject_no_stream_captures_gets_no_responders() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    js.create_stream(orders()).await.unwrap();
    let error = js
        .publish("nosuch.subject", "x".into())
        .await
        .unwrap()
        .await
        .expect_err("no stream");
    assert_eq!(
        error.kind(),
        jetstream::context::PublishErrorKind::StreamNotFound
    );
}

#[tokio::test]
async fn account_info_has_the_fields_async_nats_needs_and_counts_requests() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let first = js.query_account().await.expect("account info decodes");
    assert_eq!(first.streams, 0);
    assert_eq!(first.requests.total, 0);
    js.create_stream(orders()).await.unwrap();
    js.publish("orders.a", "12345".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let second = js.query_account().await.unwrap();
    assert_eq!(second.streams, 1);
    assert!(second.storage > 0);
    assert_eq!(second.requests.total, 2);
}

#[tokio::test]
async fn direct_get_answers_only_for_streams_that_allow_it() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    js.create_stream(stream::Config {
        allow_direct: true,
        ..orders()
    })
    .await
    .unwrap();
    js.publish("orders.a", "first".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("orders.a", "second".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let stream = js.get_stream("ORDERS").await.unwrap();
    let last = stream
        .direct_get_last_for_subject("orders.a")
        .await
        .unwrap();
    assert_eq!((&last.payload[..], last.sequence), (&b"second"[..], 2));
    let first = stream.direct_get(1).await.unwrap();
    assert_eq!(&first.payload[..], b"first");
    assert!(stream.direct_get(9).await.is_err());
}

#[tokio::test]
async fn jetstream_with_a_cluster_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run_to_end(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-js",
        "-sd",
        dir.path().to_str().unwrap(),
        "--cluster",
        "nats://127.0.0.1:-1",
    ])
    .await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("JetStream with a cluster is not supported yet"),
        "{stderr}"
    );
}

#[tokio::test]
async fn with_accounts_only_those_enabling_jetstream_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("accounts.conf");
    std::fs::write(
        &conf,
        format!(
            "jetstream {{ store_dir: {:?} }}\naccounts {{\n  A: {{ jetstream: enabled, users: [{{user: 'a', password: 'a'}}] }}\n  B: {{ users: [{{user: 'b', password: 'b'}}] }}\n}}\n",
            dir.path().to_str().unwrap()
        ),
    )
    .unwrap();
    let process =
        Process::start(&["-a", "127.0.0.1", "-p", "-1", "-c", conf.to_str().unwrap()]).await;
    let connect = |user: &'static str| {
        let options = async_nats::ConnectOptions::new().user_and_password(user.into(), user.into());
        let address = process.addr.to_string();
        async move { options.connect(address).await.expect("connect") }
    };
    let a = jetstream::new(connect("a").await);
    a.create_stream(orders()).await.expect("A has JetStream");
    assert!(dir
        .path()
        .join("jetstream/A/streams/ORDERS/meta.json")
        .exists());
    let b = jetstream::new(connect("b").await);
    let error = b.query_account().await.expect_err("B has no JetStream");
    // async-nats reports the no-responders answer as "JetStream unavailable".
    assert!(
        error.to_string().contains("JetStream unavailable"),
        "{error}"
    );
}

#[tokio::test]
async fn update_changes_limits_and_captured_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    js.create_stream(orders()).await.unwrap();
    for n in 0..5 {
        js.publish("orders.a", format!("{n}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let updated = js
        .update_stream(stream::Config {
            subjects: vec!["shipments.>".into()],
            max_messages: 2,
            ..orders()
        })
        .await
        .expect("update");
    assert_eq!(updated.config.subjects, vec!["shipments.>".to_string()]);
    assert_eq!(updated.state.messages, 2);
    let ack = js
        .publish("shipments.x", "s".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 6);
    // The old subjects are no longer captured: a request there has no responders.
    let error = client
        .request("orders.a", "x".into())
        .await
        .expect_err("not captured");
    assert_eq!(error.kind(), async_nats::RequestErrorKind::NoResponders);
    let storage_change = stream::Config {
        storage: stream::StorageType::Memory,
        ..orders()
    };
    let error = js
        .update_stream(storage_change)
        .await
        .expect_err("storage type is fixed");
    assert!(
        error.to_string().contains("10069") || error.to_string().contains("storage type"),
        "{error}"
    );
    let missing = stream::Config {
        name: "MISSING".into(),
        ..Default::default()
    };
    let error = js.update_stream(missing).await.expect_err("no such stream");
    assert!(error.to_string().contains("not found"), "{error}");
}

#[tokio::test]
async fn memory_stream_limits_and_max_age_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let mut stream = js
        .create_stream(stream::Config {
            name: "MEM".into(),
            subjects: vec!["mem.*".into()],
            storage: stream::StorageType::Memory,
            max_age: std::time::Duration::from_millis(300),
            max_messages_per_subject: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    for subject in ["mem.a", "mem.a", "mem.b"] {
        js.publish(subject, "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    assert_eq!(stream.info().await.unwrap().state.messages, 2);
    assert!(!dir.path().join("jetstream/$G/streams/MEM").exists());
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    loop {
        if stream.info().await.unwrap().state.messages == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(stream.info().await.unwrap().state.last_sequence, 3);
}
