//! JetStream consumers through async-nats's consumer API against a real
//! `starling -js` process: durable and ephemeral pull consumers (create,
//! info, names, list, delete), fetch and ack with exact counters, NAK
//! and ack-wait redelivery, the `messages()` loop, `+NXT`, push
//! consumers, and consumer state kept across a SIGKILL and restart.

mod common;

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, push, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, stream, AckKind};
use common::jetstream::{context, start};

use futures::{StreamExt, TryStreamExt};

async fn orders(js: &jetstream::Context, storage: stream::StorageType) -> stream::Stream {
    js.create_stream(stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        storage,
        ..Default::default()
    })
    .await
    .expect("create stream")
}

async fn publish(js: &jetstream::Context, count: u32) {
    for n in 0..count {
        js.publish(format!("orders.{}", n % 3), n.to_string().into())
            .await
            .expect("publish")
            .await
            .expect("puback");
    }
}

fn durable(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.into()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn durable_pull_consumer_create_info_names_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let mut stream = orders(&js, stream::StorageType::File).await;
    publish(&js, 4).await;
    let mut consumer = stream
        .create_consumer(durable("worker"))
        .await
        .expect("create consumer");
    let info = consumer.info().await.expect("info");
    assert_eq!(info.name, "worker");
    assert_eq!(info.stream_name, "ORDERS");
    assert_eq!(info.config.ack_wait, Duration::from_secs(30));
    assert_eq!(info.config.max_ack_pending, 1000);
    assert_eq!((info.num_pending, info.num_ack_pending), (4, 0));
    // The same config again is a success; a different one is an update.
    stream
        .create_consumer(durable("worker"))
        .await
        .expect("same config again");
    let updated = pull::Config {
        description: Some("updated".into()),
        ..durable("worker")
    };
    let info = stream
        .create_consumer(updated)
        .await
        .expect("update")
        .cached_info()
        .clone();
    assert_eq!(info.config.description.as_deref(), Some("updated"));
    stream
        .create_consumer(durable("second"))
        .await
        .expect("second");
    let mut names: Vec<String> = stream.consumer_names().try_collect().await.expect("names");
    names.sort();
    assert_eq!(names, vec!["second".to_string(), "worker".to_string()]);
    let listed: Vec<_> = stream.consumers().try_collect().await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(stream.info().await.unwrap().state.consumer_count, 2);
    stream.delete_consumer("second").await.expect("delete");
    let error = stream.consumer_info("second").await.expect_err("deleted");
    assert!(error.to_string().contains("not found"), "{error}");
    assert_eq!(stream.info().await.unwrap().state.consumer_count, 1);
}

#[tokio::test]
async fn fetch_a_batch_and_ack_gives_exact_counters() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::File).await;
    publish(&js, 10).await;
    let mut consumer = stream.create_consumer(durable("worker")).await.unwrap();
    let batch: Vec<_> = consumer
        .fetch()
        .max_messages(4)
        .messages()
        .await
        .expect("fetch")
        .try_collect()
        .await
        .expect("messages");
    assert_eq!(batch.len(), 4);
    let payloads: Vec<&[u8]> = batch.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(payloads, vec![b"0", b"1", b"2", b"3"]);
    assert_eq!(batch[1].subject.as_str(), "orders.1");
    let meta = batch[3].info().expect("ack metadata");
    assert_eq!(
        (
            meta.stream_sequence,
            meta.consumer_sequence,
            meta.delivered,
            meta.pending
        ),
        (4, 4, 1, 6)
    );
    let info = consumer.info().await.unwrap().clone();
    assert_eq!((info.num_pending, info.num_ack_pending), (6, 4));
    assert_eq!(info.delivered.stream_sequence, 4);
    // Ack 1 and 2 (plain acks), then ask at once: the counters include them.
    batch[0].ack().await.unwrap();
    batch[1].ack().await.unwrap();
    let info = consumer.info().await.unwrap().clone();
    assert_eq!(info.num_ack_pending, 2);
    assert_eq!(info.ack_floor.stream_sequence, 2);
    assert_eq!(info.ack_floor.consumer_sequence, 2);
    // A double ack is answered once applied; acking out of order keeps the floor.
    batch[3].double_ack().await.expect("double ack");
    let info = consumer.info().await.unwrap().clone();
    assert_eq!(
        (info.num_ack_pending, info.ack_floor.stream_sequence),
        (1, 2)
    );
    batch[2].double_ack().await.expect("double ack");
    let info = consumer.info().await.unwrap().clone();
    assert_eq!(
        (
            info.num_ack_pending,
            info.ack_floor.stream_sequence,
            info.num_pending
        ),
        (0, 4, 6)
    );
}

#[tokio::test]
async fn nak_and_ack_wait_redeliver() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::Memory).await;
    publish(&js, 2).await;
    let consumer = stream
        .create_consumer(pull::Config {
            ack_wait: Duration::from_millis(500),
            ..durable("worker")
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.expect("messages");
    let first = tokio::time::timeout(WAIT, messages.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&first.payload[..], b"0");
    let second = tokio::time::timeout(WAIT, messages.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&second.payload[..], b"1");
    let started = tokio::time::Instant::now();
    first.ack_with(AckKind::Nak(None)).await.unwrap();
    let again = tokio::time::timeout(WAIT, messages.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&again.payload[..], b"0", "a NAK redelivers");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "at once, not after the ack wait"
    );
    assert_eq!(again.info().unwrap().delivered, 2);
    again.ack().await.unwrap();
    // Message 1 is not acked: it comes back after the 500 ms ack wait.
    let redelivered = tokio::time::timeout(WAIT, messages.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&redelivered.payload[..], b"1");
    let info = redelivered.info().unwrap();
    assert_eq!(info.delivered, 2);
    redelivered.double_ack().await.unwrap();
    let mut consumer = consumer;
    let info = consumer.info().await.unwrap().clone();
    assert_eq!(
        (
            info.num_ack_pending,
            info.num_redelivered,
            info.ack_floor.stream_sequence
        ),
        (0, 0, 2)
    );
}

#[tokio::test]
async fn messages_loop_receives_messages_published_later() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::File).await;
    let consumer = stream.create_consumer(durable("worker")).await.unwrap();
    let mut messages = consumer.messages().await.expect("messages");
    let publisher = js.clone();
    let publishing = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        publish(&publisher, 50).await;
    });
    for n in 0..50u32 {
        let message = tokio::time::timeout(WAIT, messages.next())
            .await
            .expect("in time")
            .unwrap()
            .unwrap();
        assert_eq!(message.payload, n.to_string());
        message.ack().await.unwrap();
    }
    publishing.await.unwrap();
}

#[tokio::test]
async fn ephemeral_consumer_gets_a_generated_name_and_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::Memory).await;
    publish(&js, 3).await;
    let mut consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::Last,
            ..Default::default()
        })
        .await
        .expect("ephemeral");
    let info = consumer.info().await.unwrap().clone();
    assert_eq!(info.name.len(), 8, "{}", info.name);
    assert_eq!(info.config.inactive_threshold, Duration::from_secs(5));
    assert_eq!(info.num_pending, 1);
    let batch: Vec<_> = consumer
        .fetch()
        .max_messages(5)
        .expires(Duration::from_millis(300))
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(&batch[0].payload[..], b"2");
}

#[tokio::test]
async fn consumer_state_survives_sigkill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().to_str().unwrap();
    let process = start(store_dir).await;
    let (_, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::File).await;
    publish(&js, 6).await;
    let consumer = stream.create_consumer(durable("worker")).await.unwrap();
    let batch: Vec<_> = consumer
        .fetch()
        .max_messages(3)
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for message in &batch {
        message.double_ack().await.unwrap();
    }
    drop(process);
    let process = start(store_dir).await;
    let (_, js) = context(&process).await;
    let stream = js.get_stream("ORDERS").await.unwrap();
    let mut consumer: jetstream::consumer::PullConsumer = stream
        .get_consumer("worker")
        .await
        .expect("consumer restored");
    let info = consumer.info().await.unwrap().clone();
    assert_eq!(
        (
            info.ack_floor.stream_sequence,
            info.num_pending,
            info.num_ack_pending
        ),
        (3, 3, 0)
    );
    let batch: Vec<_> = consumer
        .fetch()
        .max_messages(10)
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let payloads: Vec<&[u8]> = batch.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(payloads, vec![b"3", b"4", b"5"]);
}

#[tokio::test]
async fn no_wait_fetch_on_an_empty_consumer_ends_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::Memory).await;
    let consumer = stream.create_consumer(durable("worker")).await.unwrap();
    let started = tokio::time::Instant::now();
    let batch: Vec<_> = consumer
        .fetch()
        .max_messages(5)
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(batch.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the 404 ended the batch"
    );
}

#[tokio::test]
async fn push_consumer_delivers_to_its_subject() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::Memory).await;
    publish(&js, 3).await;
    let inbox = client.new_inbox();
    let consumer: jetstream::consumer::PushConsumer = stream
        .create_consumer(push::Config {
            durable_name: Some("pusher".into()),
            deliver_subject: inbox,
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("push consumer");
    let mut messages = consumer.messages().await.expect("subscribe");
    publish(&js, 2).await;
    for n in 0..5u32 {
        let message = tokio::time::timeout(WAIT, messages.next())
            .await
            .expect("in time")
            .unwrap()
            .unwrap();
        let expected = ["0", "1", "2", "0", "1"][n as usize];
        assert_eq!(message.payload, expected);
        message.ack().await.unwrap();
    }
}

#[tokio::test]
async fn push_consumer_with_flow_control_and_heartbeats_delivers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::Memory).await;
    let payload = bytes::Bytes::from(vec![b'x'; 8 * 1024]);
    // 2 MiB of messages: more than the first flow control window (2 MiB / 16 * 16).
    for _ in 0..256 {
        js.publish("orders.big", payload.clone())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let consumer: jetstream::consumer::PushConsumer = stream
        .create_consumer(push::Config {
            durable_name: Some("flow".into()),
            deliver_subject: client.new_inbox(),
            ack_policy: AckPolicy::None,
            flow_control: true,
            idle_heartbeat: Duration::from_millis(200),
            ..Default::default()
        })
        .await
        .expect("push consumer with flow control");
    let mut messages = consumer.messages().await.expect("subscribe");
    for _ in 0..256 {
        let message = tokio::time::timeout(WAIT, messages.next())
            .await
            .expect("in time")
            .unwrap()
            .unwrap();
        assert_eq!(message.payload.len(), 8 * 1024);
    }
    // Idle: heartbeats keep the subscription alive (async-nats would report
    // missed heartbeats as an error item).
    let idle = tokio::time::timeout(Duration::from_millis(900), messages.next()).await;
    assert!(
        idle.is_err(),
        "no message and no heartbeat error while idle: {idle:?}"
    );
    let mut consumer = consumer;
    let info = consumer.info().await.unwrap().clone();
    assert!(info.push_bound);
    assert_eq!((info.delivered.stream_sequence, info.num_pending), (256, 0));
}

#[tokio::test]
async fn next_with_a_reply_acks_and_sends_the_next_message_there() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::Memory).await;
    publish(&js, 3).await;
    let consumer = stream.create_consumer(durable("worker")).await.unwrap();
    let batch: Vec<_> = consumer
        .fetch()
        .max_messages(1)
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let ack_subject = batch[0].reply.clone().expect("ack subject");
    assert!(
        ack_subject.starts_with("$JS.ACK.ORDERS.worker.1.1.1."),
        "{ack_subject}"
    );
    // As with nats-server, the delivery shows the stored subject, so a muxed
    // `request` would not see it: use a plain inbox subscription.
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await.unwrap();
    client
        .publish_with_reply(ack_subject, inbox, "+NXT".into())
        .await
        .unwrap();
    let next = tokio::time::timeout(WAIT, replies.next())
        .await
        .expect("in time")
        .expect("next message");
    assert_eq!(&next.payload[..], b"1");
    assert_eq!(next.subject.as_str(), "orders.1");
    let mut consumer = consumer;
    let info = consumer.info().await.unwrap().clone();
    assert_eq!(
        (
            info.ack_floor.stream_sequence,
            info.num_ack_pending,
            info.num_pending
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn term_stops_redelivery_and_max_deliver_gives_up() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::Memory).await;
    publish(&js, 2).await;
    let mut advisories = client
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.>")
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            ack_wait: Duration::from_millis(200),
            max_deliver: 2,
            ..durable("worker")
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut deliveries = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, messages.next()).await {
        let info = message.info().unwrap();
        deliveries.push((info.stream_sequence, info.delivered));
        if info.stream_sequence == 1 {
            message.ack_with(AckKind::Term).await.unwrap();
        }
    }
    // 1 is terminated after one delivery; 2 is delivered max_deliver times.
    assert_eq!(deliveries, vec![(1, 1), (2, 1), (2, 2)]);
    let mut subjects = Vec::new();
    while let Ok(Some(advisory)) =
        tokio::time::timeout(Duration::from_millis(300), advisories.next()).await
    {
        subjects.push(advisory.subject.to_string());
    }
    assert!(
        subjects.contains(&"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERS.worker".to_string()),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.worker".to_string()),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn paused_consumer_delivers_nothing_until_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::Memory).await;
    publish(&js, 2).await;
    let mut consumer = stream.create_consumer(durable("worker")).await.unwrap();
    let until = async_nats::datetime::add_std_duration(
        async_nats::datetime::now(),
        Duration::from_secs(30),
    )
    .unwrap();
    let paused = stream.pause_consumer("worker", until).await.expect("pause");
    assert!(paused.paused);
    assert!(consumer.info().await.unwrap().paused);
    let batch: Vec<_> = consumer
        .batch()
        .max_messages(2)
        .expires(Duration::from_millis(300))
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(batch.is_empty(), "nothing while paused");
    let resumed = stream.resume_consumer("worker").await.expect("resume");
    assert!(!resumed.paused);
    let batch: Vec<_> = consumer
        .batch()
        .max_messages(2)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(batch.len(), 2);
}

#[tokio::test]
async fn pinned_client_gets_every_message_and_unpin_releases_it() {
    use async_nats::jetstream::consumer::PriorityPolicy;
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::Memory).await;
    stream
        .create_consumer(pull::Config {
            durable_name: Some("pinned".into()),
            ack_policy: AckPolicy::None,
            priority_policy: PriorityPolicy::PinnedClient,
            priority_groups: vec!["A".into()],
            priority_timeout: Duration::from_secs(3),
            ..Default::default()
        })
        .await
        .unwrap();
    let first: jetstream::consumer::PullConsumer = stream.get_consumer("pinned").await.unwrap();
    let second: jetstream::consumer::PullConsumer = stream.get_consumer("pinned").await.unwrap();
    publish(&js, 1).await;
    let mut pinned = first
        .stream()
        .group("A")
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    let message = tokio::time::timeout(WAIT, pinned.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let pin = message
        .headers
        .as_ref()
        .and_then(|h| h.get_last("Nats-Pin-Id"))
        .expect("pin header")
        .to_string();
    let mut standby = second
        .stream()
        .group("A")
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    publish(&js, 3).await;
    for _ in 0..3 {
        let message = tokio::time::timeout(WAIT, pinned.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            message
                .headers
                .as_ref()
                .and_then(|h| h.get_last("Nats-Pin-Id"))
                .map(|v| v.to_string()),
            Some(pin.clone())
        );
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), standby.next())
            .await
            .is_err(),
        "standby gets nothing"
    );
    let mut info_consumer = first.clone();
    let info = info_consumer.info().await.unwrap().clone();
    assert_eq!(
        info.priority_groups[0].pinned_client_id.as_deref(),
        Some(pin.as_str())
    );
    stream.unpin_consumer("pinned", "A").await.expect("unpin");
    let error = stream
        .unpin_consumer("missing", "A")
        .await
        .expect_err("no such consumer");
    assert!(error.to_string().contains("not found"), "{error}");
}

#[tokio::test]
async fn purge_clears_pending_acks_and_pending_counts() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::File).await;
    publish(&js, 5).await;
    let mut consumer = stream.create_consumer(durable("worker")).await.unwrap();
    let batch: Vec<_> = consumer
        .fetch()
        .max_messages(2)
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(batch.len(), 2);
    let info = consumer.info().await.unwrap().clone();
    assert_eq!((info.num_ack_pending, info.num_pending), (2, 3));
    stream.purge().await.expect("purge");
    let info = consumer.info().await.unwrap().clone();
    assert_eq!((info.num_ack_pending, info.num_pending), (0, 0));
    assert_eq!(info.ack_floor.stream_sequence, 5);
    // The consumer goes on with what comes next.
    publish(&js, 1).await;
    let batch: Vec<_> = consumer
        .fetch()
        .max_messages(5)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].info().unwrap().stream_sequence, 6);
}

#[tokio::test]
async fn standby_takes_over_when_the_pinned_client_goes_away() {
    use async_nats::jetstream::consumer::PriorityPolicy;
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::Memory).await;
    stream
        .create_consumer(pull::Config {
            durable_name: Some("pinned".into()),
            ack_policy: AckPolicy::None,
            priority_policy: PriorityPolicy::PinnedClient,
            priority_groups: vec!["A".into()],
            priority_timeout: Duration::from_secs(3),
            ..Default::default()
        })
        .await
        .unwrap();
    let first: jetstream::consumer::PullConsumer = stream.get_consumer("pinned").await.unwrap();
    let second: jetstream::consumer::PullConsumer = stream.get_consumer("pinned").await.unwrap();
    publish(&js, 1).await;
    let mut pinned = first
        .stream()
        .group("A")
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    tokio::time::timeout(WAIT, pinned.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mut standby = second
        .stream()
        .group("A")
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    drop(pinned);
    publish(&js, 10).await;
    for _ in 0..10 {
        let message = tokio::time::timeout(Duration::from_secs(10), standby.next())
            .await
            .expect("standby took over")
            .unwrap();
        message.expect("a message");
    }
}

async fn retention_stream(
    js: &jetstream::Context,
    retention: stream::RetentionPolicy,
) -> stream::Stream {
    js.create_stream(stream::Config {
        name: "JOBS".into(),
        subjects: vec!["jobs.>".into()],
        retention,
        ..Default::default()
    })
    .await
    .expect("create stream")
}

async fn messages_in(stream: &mut stream::Stream) -> u64 {
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn work_queue_removes_acknowledged_messages_and_refuses_a_second_unfiltered_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let mut stream = retention_stream(&js, stream::RetentionPolicy::WorkQueue).await;
    for n in 0..3 {
        js.publish("jobs.a", format!("{n}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let consumer = stream.create_consumer(durable("worker")).await.unwrap();
    let error = stream
        .create_consumer(durable("other"))
        .await
        .expect_err("second unfiltered");
    assert!(
        error.to_string().contains("10099") || error.to_string().contains("unique"),
        "{error}"
    );
    let batch: Vec<_> = consumer
        .fetch()
        .max_messages(2)
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for message in &batch {
        message.double_ack().await.unwrap();
    }
    assert_eq!(messages_in(&mut stream).await, 1);
}

#[tokio::test]
async fn interest_keeps_messages_only_while_a_consumer_needs_them() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (_, js) = context(&process).await;
    let mut stream = retention_stream(&js, stream::RetentionPolicy::Interest).await;
    js.publish("jobs.a", "nobody".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        messages_in(&mut stream).await,
        0,
        "no consumer, nothing kept"
    );
    let first = stream.create_consumer(durable("first")).await.unwrap();
    let second = stream.create_consumer(durable("second")).await.unwrap();
    js.publish("jobs.a", "both".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(messages_in(&mut stream).await, 1);
    for consumer in [&first, &second] {
        let batch: Vec<_> = consumer
            .fetch()
            .max_messages(1)
            .messages()
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(batch.len(), 1);
        batch[0].double_ack().await.unwrap();
    }
    assert_eq!(messages_in(&mut stream).await, 0, "both acknowledged");
}

/// More messages than one consumer pass pushes (1024): the worker runs the
/// next pass at once, and every message arrives once, in order.
#[tokio::test]
async fn push_consumer_delivers_more_than_one_pass_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path().to_str().unwrap()).await;
    let (client, js) = context(&process).await;
    let stream = orders(&js, stream::StorageType::File).await;
    const COUNT: u64 = 5000;
    let mut acks = Vec::new();
    for i in 0..COUNT {
        acks.push(
            js.publish("orders.many", i.to_string().into())
                .await
                .unwrap(),
        );
    }
    for ack in acks {
        ack.await.unwrap();
    }
    let consumer: jetstream::consumer::PushConsumer = stream
        .create_consumer(push::Config {
            durable_name: Some("many".into()),
            deliver_subject: client.new_inbox(),
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("push consumer");
    let mut messages = consumer.messages().await.expect("subscribe");
    for i in 0..COUNT {
        let message = tokio::time::timeout(WAIT, messages.next())
            .await
            .expect("in time")
            .unwrap()
            .unwrap();
        assert_eq!(message.payload, i.to_string().as_bytes(), "message {i}");
    }
}
