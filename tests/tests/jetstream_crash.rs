//! A SIGKILL loop against the real `starling -js` process: each cycle
//! starts the broker on the same store directory, checks everything the
//! earlier cycles were told, then publishes with a window of outstanding
//! PubAcks (several subjects, some with `Nats-Msg-Id`) while a durable pull
//! consumer fetches and acks (every tenth a double ack), and kills the process with SIGKILL at
//! a random moment while both are in flight.
//!
//! What a restart must show:
//! - every message whose PubAck arrived is stored at the acked sequence
//!   with its subject and payload (read back through a consumer over the
//!   whole stream, `STREAM.MSG.GET` and `DIRECT.GET`), and so is every
//!   message a restart has shown once;
//! - sequences are contiguous from 1: the only holes are the messages the
//!   test deleted, which stay deleted;
//! - a stored `Nats-Msg-Id` is still a duplicate (the window is rebuilt);
//! - publishing continues after the last sequence;
//! - the durable consumer survives: its delivered and ack floor never pass
//!   the stream's last sequence, each delivery carries the stream's message
//!   for its sequence, and at the end it has delivered every message that
//!   was not deleted (acked ones may come again: at-least-once).
//!
//! `STARLING_CRASH_SEED=<n>` replays a run's kill moments (the seed is
//! printed); `cargo test -p starling-tests --test jetstream_crash -- --nocapture`.
//! The existing single-kill tests (`jetstream.rs`, `jetstream_consumers.rs`,
//! `jetstream_ops.rs`) kill a quiet broker; this one kills it mid-flight.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self, stream, AckKind};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use common::jetstream::{context, start};
use common::DEADLINE;

/// Kill/restart cycles (the last restart only checks and drains).
const CYCLES: usize = 6;
/// Most PubAcks a publisher waits for at once.
const ACK_WINDOW: usize = 64;
/// Concurrent publishers, each with its own window.
const PUBLISHERS: usize = 2;
/// The kill comes this long (ms, uniformly) after publishing starts.
const KILL_AFTER_MS: std::ops::Range<u64> = 150..900;
/// Subjects published to, in turn.
const SUBJECTS: [&str; 4] = ["crash.a", "crash.b", "crash.c.deep", "crash.d"];
const STREAM: &str = "CRASH";
const CONSUMER: &str = "worker";

/// A message as the test knows it: subject and payload.
type Known = (String, Vec<u8>);

/// What the broker has confirmed so far, across every cycle.
#[derive(Default)]
struct Model {
    /// Sequence -> message, for every PubAck received (and every message a
    /// restart showed, which no later restart may lose).
    stored: BTreeMap<u64, Known>,
    /// Sequence -> msg id, for the acked publishes that carried one.
    ids: BTreeMap<u64, String>,
    /// Sequences the test deleted (acknowledged deletes).
    deleted: BTreeSet<u64>,
    /// Stream sequences the consumer delivered, with what it delivered.
    delivered: BTreeMap<u64, Known>,
    /// Stream sequences whose (double) ack the broker confirmed.
    acked: BTreeSet<u64>,
    /// Deliveries of a sequence after its ack was confirmed.
    redelivered_after_ack: u64,
}

impl Model {
    /// Record a PubAck; the same sequence may never be acked for two
    /// different messages.
    fn acked_publish(&mut self, seq: u64, known: Known, id: Option<String>) {
        if let Some(previous) = self.stored.get(&seq) {
            assert_eq!(previous, &known, "sequence {seq} acked for two messages");
        }
        self.stored.insert(seq, known);
        if let Some(id) = id {
            self.ids.insert(seq, id);
        }
    }

    /// Record a consumer delivery.
    fn consumer_delivered(&mut self, seq: u64, known: Known) {
        if let Some(previous) = self.delivered.get(&seq) {
            assert_eq!(
                previous, &known,
                "stream sequence {seq} delivered as two messages"
            );
        }
        if self.acked.contains(&seq) {
            self.redelivered_after_ack += 1;
        }
        self.delivered.insert(seq, known);
    }
}

fn payload(cycle: usize, publisher: usize, n: u64, subject: &str) -> Vec<u8> {
    // Unique per publish, and names its subject so any copy can be checked.
    format!("{subject}|c{cycle}p{publisher}n{n}").into_bytes()
}

fn known_from(subject: &str, payload: &[u8]) -> Known {
    let known = (subject.to_string(), payload.to_vec());
    let text = String::from_utf8_lossy(payload);
    assert!(
        text.starts_with(&format!("{subject}|")),
        "message on {subject} carries a payload for another subject: {text}"
    );
    known
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_messages_and_consumer_state_survive_a_sigkill_loop() {
    let seed = std::env::var("STARLING_CRASH_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    println!("STARLING_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().to_str().unwrap().to_string();
    let model = Arc::new(Mutex::new(Model::default()));
    let started = tokio::time::Instant::now();

    for cycle in 0..=CYCLES {
        let mut process = start(&store_dir).await;
        let (client, js) = context(&process).await;
        let stream = if cycle == 0 {
            create(&js).await
        } else {
            js.get_stream(STREAM).await.expect("stream restored")
        };
        let last_seq = check_restart(&js, &stream, &model, cycle).await;
        if cycle == CYCLES {
            drain_and_check_consumer(&stream, &model).await;
            break;
        }

        // Delete one acknowledged message: a hole that must stay a hole.
        let victim = {
            let model = model.lock().unwrap();
            model
                .stored
                .keys()
                .rev()
                .find(|seq| !model.deleted.contains(seq))
                .copied()
        };
        if let Some(victim) = victim.filter(|_| cycle % 2 == 1) {
            assert!(stream.delete_message(victim).await.expect("delete"));
            model.lock().unwrap().deleted.insert(victim);
        }

        let mut tasks = Vec::new();
        for publisher in 0..PUBLISHERS {
            tasks.push(tokio::spawn(publish_until_killed(
                js.clone(),
                model.clone(),
                cycle,
                publisher,
            )));
        }
        let consumer: PullConsumer = stream.get_consumer(CONSUMER).await.expect("consumer");
        tasks.push(tokio::spawn(consume_until_killed(consumer, model.clone())));

        // Wait until publishes are flowing, then kill at a random moment.
        let before = model.lock().unwrap().stored.len();
        wait_for(|| model.lock().unwrap().stored.len() > before).await;
        let kill_after = Duration::from_millis(rng.random_range(KILL_AFTER_MS));
        tokio::time::sleep(kill_after).await;
        process.signal(9);
        let code = process.wait().await;
        assert_eq!(code, None, "the broker died of the signal");
        for task in &tasks {
            task.abort();
        }
        // An assertion that failed inside a task fails the test.
        for task in tasks {
            if let Err(error) = task.await {
                if error.is_panic() {
                    std::panic::resume_unwind(error.into_panic());
                }
            }
        }
        drop(client);
        let model = model.lock().unwrap();
        println!(
            "cycle {cycle}: killed after {kill_after:?}; last seq before {last_seq}, \
             acked {} messages, consumer acked {}",
            model.stored.len(),
            model.acked.len()
        );
        drop(process);
    }
    let model = model.lock().unwrap();
    println!(
        "{CYCLES} SIGKILLs in {:?}: {} messages, {} deleted, {} consumer acks, \
         {} redeliveries of acked messages",
        started.elapsed(),
        model.stored.len(),
        model.deleted.len(),
        model.acked.len(),
        model.redelivered_after_ack
    );
}

async fn create(js: &jetstream::Context) -> stream::Stream {
    let stream = js
        .create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec!["crash.>".into()],
            storage: stream::StorageType::File,
            allow_direct: true,
            ..Default::default()
        })
        .await
        .expect("create stream");
    stream
        .create_consumer(pull::Config {
            durable_name: Some(CONSUMER.into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(2),
            max_ack_pending: 1000,
            ..Default::default()
        })
        .await
        .expect("create consumer");
    stream
}

/// Publish without end, at most [`ACK_WINDOW`] PubAcks outstanding;
/// every PubAck goes into the model. Ends when aborted.
async fn publish_until_killed(
    js: jetstream::Context,
    model: Arc<Mutex<Model>>,
    cycle: usize,
    publisher: usize,
) {
    let mut in_flight = FuturesUnordered::new();
    for n in 0u64.. {
        let subject = SUBJECTS[(n as usize + publisher) % SUBJECTS.len()];
        let body = payload(cycle, publisher, n, subject);
        let id = (n % 3 == 0).then(|| format!("id-c{cycle}p{publisher}n{n}"));
        let mut publish = Publish::build().payload(body.clone().into());
        if let Some(id) = &id {
            publish = publish.message_id(id);
        }
        let Ok(ack) = js.send_publish(subject, publish).await else {
            return;
        };
        in_flight.push(async move {
            let ack = ack.await;
            (ack, subject, body, id)
        });
        while in_flight.len() >= ACK_WINDOW {
            let Some((ack, subject, body, id)) = in_flight.next().await else {
                break;
            };
            match ack {
                Ok(ack) => {
                    assert_eq!(ack.stream, STREAM);
                    assert!(!ack.duplicate, "a fresh msg id was taken as a duplicate");
                    model.lock().unwrap().acked_publish(
                        ack.sequence,
                        (subject.to_string(), body),
                        id,
                    );
                }
                // The broker is gone: nothing more will be acked.
                Err(_) => return,
            }
        }
    }
}

/// Fetch and ack from the durable consumer; every delivery and confirmed
/// ack goes into the model. Ends when aborted.
async fn consume_until_killed(consumer: PullConsumer, model: Arc<Mutex<Model>>) {
    loop {
        let Ok(mut batch) = consumer
            .fetch()
            .max_messages(100)
            .expires(Duration::from_millis(500))
            .messages()
            .await
        else {
            return;
        };
        while let Some(message) = batch.next().await {
            let Ok(message) = message else {
                break;
            };
            let Ok(info) = message.info() else {
                continue;
            };
            let seq = info.stream_sequence;
            model
                .lock()
                .unwrap()
                .consumer_delivered(seq, known_from(&message.subject, &message.payload));
            // Every tenth ack waits for the broker's confirmation; the
            // rest are fire-and-forget, so more acks are in flight at the
            // kill.
            if seq % 10 == 0 {
                if message.double_ack().await.is_err() {
                    return;
                }
                model.lock().unwrap().acked.insert(seq);
            } else if message.ack().await.is_err() {
                return;
            }
        }
    }
}

/// Check a restarted broker against the model; returns the last sequence.
async fn check_restart(
    js: &jetstream::Context,
    stream: &stream::Stream,
    model: &Mutex<Model>,
    cycle: usize,
) -> u64 {
    let mut stream = stream.clone();
    let state = stream.info().await.expect("stream info").state.clone();
    let (expected, deleted, ids) = {
        let model = model.lock().unwrap();
        (
            model.stored.clone(),
            model.deleted.clone(),
            model.ids.clone(),
        )
    };
    let last_known = expected.keys().next_back().copied().unwrap_or(0);
    assert!(
        state.last_sequence >= last_known,
        "cycle {cycle}: last sequence {} is below acked sequence {last_known}",
        state.last_sequence
    );
    if state.last_sequence == 0 {
        return 0;
    }
    // Contiguous: everything from the first to the last sequence is held
    // except what was deleted.
    assert_eq!(
        state.messages + deleted.len() as u64,
        state.last_sequence - state.first_sequence + 1,
        "cycle {cycle}: holes in the stream besides the {} deleted ({state:?})",
        deleted.len()
    );
    let first_live = (1..).find(|seq| !deleted.contains(seq)).unwrap_or(1);
    assert_eq!(
        state.first_sequence, first_live,
        "cycle {cycle}: first sequence"
    );

    // Read the whole stream in order through an ephemeral consumer.
    let reader = stream
        .create_consumer(pull::Config {
            ack_policy: AckPolicy::None,
            deliver_policy: DeliverPolicy::All,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("reader consumer");
    let mut messages = reader
        .stream()
        .max_messages_per_batch(1000)
        .messages()
        .await
        .expect("reader messages");
    let mut found: BTreeMap<u64, Known> = BTreeMap::new();
    while found.len() < state.messages as usize {
        let message = tokio::time::timeout(DEADLINE, messages.next())
            .await
            .expect("the whole stream is delivered in time")
            .expect("reader stream open")
            .expect("reader message");
        let seq = message.info().expect("message info").stream_sequence;
        let known = known_from(&message.subject, &message.payload);
        assert!(
            found.insert(seq, known).is_none(),
            "sequence {seq} read twice"
        );
    }
    drop(messages);
    let mut payloads = BTreeSet::new();
    for (seq, (_, payload)) in &found {
        assert!(!deleted.contains(seq), "deleted sequence {seq} came back");
        assert!(
            payloads.insert(payload.clone()),
            "a message stored twice (sequence {seq})"
        );
    }
    for (seq, known) in &expected {
        if deleted.contains(seq) {
            continue;
        }
        assert_eq!(
            found.get(seq),
            Some(known),
            "cycle {cycle}: acknowledged sequence {seq} lost or changed"
        );
    }
    // STREAM.MSG.GET and DIRECT.GET agree for a few sequences.
    for seq in found.keys().rev().take(3).chain(found.keys().take(2)) {
        let (subject, payload) = &found[seq];
        let message = stream.get_raw_message(*seq).await.expect("msg get");
        assert_eq!(
            (
                message.sequence,
                message.subject.as_str(),
                &message.payload[..]
            ),
            (*seq, subject.as_str(), &payload[..])
        );
        let message = stream.direct_get(*seq).await.expect("direct get");
        assert_eq!(
            (
                message.sequence,
                message.subject.as_str(),
                &message.payload[..]
            ),
            (*seq, subject.as_str(), &payload[..])
        );
    }
    for seq in deleted.iter().take(3) {
        assert!(
            stream.get_raw_message(*seq).await.is_err(),
            "deleted {seq} found"
        );
    }
    // What this restart showed may not be lost by a later one.
    {
        let mut model = model.lock().unwrap();
        for (seq, known) in &found {
            model.stored.entry(*seq).or_insert_with(|| known.clone());
        }
    }

    // The duplicate window was rebuilt: a stored msg id is a duplicate.
    if let Some((seq, id)) = ids.iter().rev().find(|(seq, _)| !deleted.contains(seq)) {
        let (subject, _) = &found[seq];
        let ack = js
            .send_publish(
                subject.clone(),
                Publish::build()
                    .payload("again".into())
                    .message_id(id.as_str()),
            )
            .await
            .expect("publish")
            .await
            .expect("puback for a duplicate");
        assert!(ack.duplicate, "cycle {cycle}: msg id {id} not a duplicate");
        assert_eq!(ack.sequence, *seq, "cycle {cycle}: duplicate of {id}");
    }

    // Publishing continues at the next sequence.
    let subject = format!("crash.restart.{cycle}");
    let body = format!("{subject}|restart").into_bytes();
    let ack = js
        .publish(subject.clone(), body.clone().into())
        .await
        .expect("publish")
        .await
        .expect("puback after restart");
    assert_eq!(
        ack.sequence,
        state.last_sequence + 1,
        "cycle {cycle}: publish after restart"
    );
    model
        .lock()
        .unwrap()
        .acked_publish(ack.sequence, (subject, body), None);

    // The consumer came back and points inside the stream.
    let mut consumer: PullConsumer = stream
        .get_consumer(CONSUMER)
        .await
        .expect("consumer restored");
    let info = consumer.info().await.expect("consumer info").clone();
    assert!(
        info.ack_floor.stream_sequence <= info.delivered.stream_sequence
            && info.delivered.stream_sequence <= ack.sequence,
        "cycle {cycle}: consumer past the stream: ack floor {:?}, delivered {:?}, last {}",
        info.ack_floor,
        info.delivered,
        ack.sequence
    );
    ack.sequence
}

/// Drain the durable consumer: what it delivers matches the stream, and by
/// the end it has delivered every message that was not deleted.
async fn drain_and_check_consumer(stream: &stream::Stream, model: &Mutex<Model>) {
    let mut consumer: PullConsumer = stream.get_consumer(CONSUMER).await.expect("consumer");
    let deadline = tokio::time::Instant::now() + 3 * DEADLINE;
    loop {
        let info = consumer.info().await.expect("consumer info").clone();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumer not drained: {info:?}"
        );
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        while let Some(message) = batch.next().await {
            let message = message.expect("message");
            let seq = message.info().expect("info").stream_sequence;
            let known = known_from(&message.subject, &message.payload);
            model.lock().unwrap().consumer_delivered(seq, known);
            message.ack_with(AckKind::Ack).await.expect("ack");
            model.lock().unwrap().acked.insert(seq);
        }
    }
    let model = model.lock().unwrap();
    for (seq, known) in &model.delivered {
        if let Some(stored) = model.stored.get(seq) {
            assert_eq!(
                stored, known,
                "the consumer delivered another message at {seq}"
            );
        }
    }
    let last = model.stored.keys().next_back().copied().unwrap_or(0);
    let missing: Vec<u64> = (1..=last)
        .filter(|seq| !model.deleted.contains(seq) && !model.delivered.contains_key(seq))
        .collect();
    assert!(
        missing.is_empty(),
        "the consumer never delivered {} messages, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

/// Poll `condition` until it holds, within [`DEADLINE`].
async fn wait_for(condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
