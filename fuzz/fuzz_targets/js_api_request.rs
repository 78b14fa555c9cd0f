//! Every JetStream API request decoder over the same arbitrary body, then
//! what the broker does after a successful decode.
//!
//! - `STREAM.CREATE`/`UPDATE`: `parse_request::<StreamConfig>`, then
//!   `normalized` (defaults and checks), `check_update` against itself and
//!   a default stream, the store limits, and a `Stream` opened with it over
//!   a memory store taking a publish (ingest transform, TTL, markers,
//!   republish). A normalized config survives `meta.json`: written as JSON
//!   and read back it is equal and still normal.
//! - `STREAM.INFO`, `*.NAMES`/`*.LIST` (paged), `STREAM.PURGE`,
//!   `STREAM.MSG.GET`, `DIRECT.GET`, `STREAM.MSG.DELETE`: decoded, then
//!   applied to a small stream (`get_msg`, `Operation::Purge`,
//!   `Operation::DeleteMsg`).
//! - `CONSUMER.CREATE` / `CONSUMER.DURABLE.CREATE`: the body against every
//!   create subject form (and the first line of the body as a subject),
//!   `resolve`, `apply_defaults`, `validate`, `check_update`,
//!   `check_work_queue`; a valid config makes a `Consumer` on the stream
//!   that takes a pull request and is filled, and its config survives the
//!   consumer's meta file (JSON round trip).
//! - `CONSUMER.MSG.NEXT`: `PullRequest::parse`, and the body as a pull
//!   request to a pull consumer; ack bodies (`AckKind::parse`) applied to
//!   what it delivered; `$JS.ACK` subjects (`AckReply::parse`).
//! - The persisted consumer state (`ConsumerState::decode`; a decoded
//!   state re-encodes to the same state) and the text forms the API reads
//!   (Go durations, RFC 3339, `Nats-TTL`).
//!
//! Checked: no panic, no hang, and the round trips above.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use starling_jetstream::api::consumer::{ConsumerConfig, CreateConsumerRequest, CreateSubject};
use starling_jetstream::api::stream::{
    MsgDeleteRequest, MsgGetRequest, PagedRequest, PurgeRequest, StreamInfoRequest,
};
use starling_jetstream::api::{parse_request, StreamConfig};
use starling_jetstream::consumer::{
    apply_defaults, check_update, check_work_queue, validate, AckKind, AckReply, Consumer,
    ConsumerState, PullRequest, Retention, StreamContext,
};
use starling_jetstream::stream::{Operation, Publish, Stream};
use starling_store::{MemStore, StoreConfig};

const SECOND: i64 = 1_000_000_000;
/// A fixed "now" (2023-11-14), so every run is deterministic.
const NOW: i64 = 1_700_000_000 * SECOND;
/// The stream every request is applied to.
const STREAM: &str = "ORDERS";

fuzz_target!(|data: &[u8]| {
    stream_config(data);
    stream_requests(data);
    consumer_create(data);
    pull_and_ack(data);
    persisted_and_text(data);
});

/// A small stream: three subjects, some messages with headers.
fn small_stream() -> Stream {
    let config = StreamConfig {
        name: STREAM.into(),
        subjects: vec!["orders.>".into()],
        allow_direct: true,
        ..StreamConfig::default()
    }
    .normalized()
    .expect("the fixed stream config is valid");
    let mut stream = open(config);
    for (n, subject) in ["orders.a", "orders.b", "orders.a", "orders.c", "orders.b"]
        .iter()
        .enumerate()
    {
        let headers = if n % 2 == 0 {
            Bytes::from(format!("NATS/1.0\r\nNats-Msg-Id: m{n}\r\n\r\n"))
        } else {
            Bytes::new()
        };
        publish(&mut stream, subject, headers, NOW + n as i64);
    }
    stream
}

fn open(config: StreamConfig) -> Stream {
    let store = MemStore::new(StoreConfig {
        limits: config.store_limits(),
        first_seq: config.store_config().first_seq,
    });
    Stream::open(config, NOW, Box::new(store), NOW)
}

fn publish(stream: &mut Stream, subject: &str, headers: Bytes, now: i64) {
    let _ = stream.apply(
        Operation::Publish(Publish {
            subject: subject.into(),
            headers,
            payload: Bytes::from_static(b"payload"),
        }),
        now,
    );
}

fn stream_config(data: &[u8]) {
    let Ok(config) = parse_request::<StreamConfig>(data) else {
        return;
    };
    let Ok(normal) = config.normalized() else {
        return;
    };
    let _ = normal.check_update(&normal);
    let _ = StreamConfig::default().check_update(&normal);
    let _ = normal.store_limits();

    // meta.json: what a restart reads back must be the same config.
    let json = serde_json::to_vec(&normal).expect("a config serializes");
    let read: StreamConfig = serde_json::from_slice(&json).expect("a written config reads back");
    assert_eq!(read, normal, "the config changed through its JSON");
    let again = read.normalized().expect("a normalized config stays valid");
    assert_eq!(again, normal, "normalizing twice changed the config");

    // The stream runs with it: publishes on its subjects (and a TTL),
    // expiry, and a purge.
    let subjects = normal.subjects.clone();
    let mut stream = open(normal);
    for subject in subjects.iter().take(4) {
        let concrete = subject.replace('*', "x").replace('>', "y.z");
        publish(
            &mut stream,
            &concrete,
            Bytes::from_static(b"NATS/1.0\r\nNats-TTL: 1s\r\n\r\n"),
            NOW,
        );
        publish(&mut stream, &concrete, Bytes::new(), NOW + 1);
    }
    let _ = stream.take_republished();
    let _ = stream.apply(Operation::Expire, NOW + 3 * SECOND);
    let _ = stream.apply(Operation::Purge(PurgeRequest::default()), NOW + 4 * SECOND);
}

fn stream_requests(data: &[u8]) {
    let _ = parse_request::<StreamInfoRequest>(data);
    let _ = parse_request::<PagedRequest>(data);
    let mut stream = small_stream();
    if let Ok(request) = parse_request::<MsgGetRequest>(data) {
        let _ = stream.get_msg(&request);
    }
    if let Ok(request) = parse_request::<MsgDeleteRequest>(data) {
        let _ = stream.apply(Operation::DeleteMsg(request), NOW + SECOND);
    }
    if let Ok(request) = parse_request::<PurgeRequest>(data) {
        let _ = stream.apply(Operation::Purge(request), NOW + SECOND);
    }
    let _ = stream.store().state();
}

/// What the broker checks a consumer config against (a limits stream).
fn stream_context() -> StreamContext {
    StreamContext {
        subjects: vec!["orders.>".into()],
        retention: Retention::Limits,
        replicas: 1,
        ..StreamContext::default()
    }
}

fn consumer_create(data: &[u8]) {
    let Ok(request) = parse_request::<CreateConsumerRequest>(data) else {
        return;
    };
    let mut subjects = vec![
        format!("$JS.API.CONSUMER.CREATE.{STREAM}"),
        format!("$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.worker"),
        format!("$JS.API.CONSUMER.CREATE.{STREAM}.worker"),
        format!("$JS.API.CONSUMER.CREATE.{STREAM}.worker.orders.>"),
    ];
    if let Some(config) = &request.config {
        for name in [&config.name, &config.durable_name].into_iter().flatten() {
            subjects.push(format!("CONSUMER.CREATE.{}.{name}", request.stream_name));
            subjects.push(format!(
                "CONSUMER.DURABLE.CREATE.{}.{name}",
                request.stream_name
            ));
            subjects.push(format!(
                "CONSUMER.CREATE.{}.{name}.{}",
                request.stream_name, config.filter_subject
            ));
        }
    }
    let context = stream_context();
    let stream = small_stream();
    for subject in subjects {
        let Ok(Some(create)) = CreateSubject::parse(&subject) else {
            continue;
        };
        let _ = create.stream();
        let Ok(mut config) = create.resolve(&request) else {
            continue;
        };
        apply_defaults(&mut config, &context);
        if validate(&config, &context).is_err() {
            continue;
        }
        let _ = check_update(&config, &config);
        let _ = check_update(&ConsumerConfig::default(), &config);
        let _ = check_work_queue(&config, &[&config]);
        let _ = check_work_queue(&config, &[]);

        // The consumer's meta file must give the same config back.
        let json = serde_json::to_vec(&config).expect("a consumer config serializes");
        let read: ConsumerConfig =
            serde_json::from_slice(&json).expect("a written consumer config reads back");
        assert_eq!(read, config, "the consumer config changed through its JSON");

        let name = config.name.clone().unwrap_or_else(|| "generated".into());
        let mut consumer = Consumer::new(STREAM, &name, config, stream.store(), NOW);
        let _ = consumer.add_pull_request(stream.store(), "_INBOX.fuzz", b"{\"batch\":3}", NOW);
        let _ = consumer.fill(stream.store(), NOW);
        let _ = consumer.tick(stream.store(), NOW + 60 * SECOND);
        let _ = consumer.info(stream.store(), NOW);
        let _ = consumer.num_pending(stream.store());
    }
}

fn pull_and_ack(data: &[u8]) {
    if let Ok(request) = PullRequest::parse(data) {
        assert!(request.batch > 0, "a parsed pull request asks for nothing");
    }
    let stream = small_stream();
    let context = stream_context();
    let mut config = ConsumerConfig {
        durable_name: Some("puller".into()),
        ..ConsumerConfig::default()
    };
    apply_defaults(&mut config, &context);
    validate(&config, &context).expect("the fixed pull consumer is valid");
    let mut consumer = Consumer::new(STREAM, "puller", config, stream.store(), NOW);
    let _ = consumer.add_pull_request(stream.store(), "_INBOX.pull", data, NOW);
    let _ = consumer.fill(stream.store(), NOW);
    if let Some(kind) = AckKind::parse(data) {
        for seq in 1..=stream.store().state().last_seq {
            consumer.ack(seq, &kind, NOW + SECOND);
        }
        let _ = consumer.fill(stream.store(), NOW + SECOND);
    }
    let _ = consumer.tick(stream.store(), NOW + 3600 * SECOND);
    let _ = consumer.take_events();
    let state = consumer.state().clone();
    let decoded =
        ConsumerState::decode(&state.encode()).expect("an encoded consumer state decodes");
    assert_eq!(
        decoded, state,
        "a consumer state changed through its encoding"
    );
}

fn persisted_and_text(data: &[u8]) {
    if let Ok(state) = ConsumerState::decode(data) {
        let again = ConsumerState::decode(&state.encode()).expect("a re-encoded state decodes");
        assert_eq!(
            again, state,
            "a decoded consumer state changed when re-encoded"
        );
    }
    let text = String::from_utf8_lossy(data);
    let _ = AckReply::parse(&text);
    if let Ok(Some(create)) = CreateSubject::parse(&text) {
        let _ = create.stream();
    }
    if let Some(line) = text.lines().next() {
        let _ = starling_jetstream::consumer::ack::parse_go_duration(line);
        let _ = starling_jetstream::consumer::time::parse_rfc3339(line);
        let _ = starling_jetstream::stream::ttl::parse(line);
    }
}
