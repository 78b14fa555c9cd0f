//! JSON shapes and create-subject rules of the consumer API.

use super::*;
use crate::consumer::{apply_defaults, StreamContext};

/// The create request async-nats sends and nats-server 2.15.1's config in
/// the response (JETSTREAM-REFERENCE.md §1.2, measured), without metadata.
const MEASURED_REQUEST: &str = r#"{"stream_name":"ORDERS","config":{"name":"C1","durable_name":"C1","filter_subject":"orders.new","ack_policy":"explicit"},"action":"create"}"#;
const MEASURED_CONFIG: &str = r#"{"durable_name":"C1","name":"C1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subject":"orders.new","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0}"#;

fn parse_request(text: &str) -> CreateConsumerRequest {
    serde_json::from_str(text).unwrap_or_default()
}

#[test]
fn defaults_reproduce_the_measured_nats_server_config() {
    let request = parse_request(MEASURED_REQUEST);
    assert_eq!(request.action, ConsumerAction::Create);
    let subject = CreateSubject::parse("$JS.API.CONSUMER.CREATE.ORDERS.C1.orders.new");
    let Ok(Some(subject)) = subject else {
        panic!("create subject not parsed: {subject:?}");
    };
    let mut config = subject.resolve(&request).unwrap_or_default();
    apply_defaults(&mut config, &StreamContext::default());
    let written = serde_json::to_value(&config).unwrap_or_default();
    let expected: serde_json::Value = serde_json::from_str(MEASURED_CONFIG).unwrap_or_default();
    assert_eq!(written, expected);
}

#[test]
fn config_round_trips_every_field() {
    let text = r#"{"durable_name":"D","name":"D","description":"d","deliver_policy":"by_start_time","opt_start_time":"2026-12-03T08:17:59.59116366Z","ack_policy":"all","ack_wait":1000,"max_deliver":5,"backoff":[1000,2000],"filter_subjects":["a","b"],"replay_policy":"original","rate_limit_bps":8,"sample_freq":"50%","max_ack_pending":10,"flow_control":true,"headers_only":true,"deliver_subject":"inbox","deliver_group":"g","idle_heartbeat":5000000000,"inactive_threshold":7,"num_replicas":1,"mem_storage":true,"metadata":{"a":"1","b":"2"},"pause_until":"2030-01-01T00:00:00Z"}"#;
    let config: ConsumerConfig = serde_json::from_str(text).unwrap_or_default();
    assert_eq!(config.deliver_policy, DeliverPolicy::ByStartTime);
    assert_eq!(config.opt_start_time, Some(1_796_285_879_591_163_660));
    let written = serde_json::to_value(&config).unwrap_or_default();
    let expected: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    assert_eq!(written, expected);
}

#[test]
fn nulls_and_unknown_fields_are_tolerated_like_go() {
    let config: Result<ConsumerConfig, _> =
        serde_json::from_str(r#"{"filter_subject":null,"backoff":null,"future_field":1}"#);
    assert!(config.is_ok_and(|config| config.filter_subject.is_empty()));
    let bad: Result<ConsumerConfig, _> = serde_json::from_str(r#"{"ack_policy":"sometimes"}"#);
    assert!(bad.is_err());
}

#[test]
fn info_has_the_fields_clients_read() {
    let info = ConsumerInfo {
        stream_name: "S".into(),
        name: "C".into(),
        created: 0,
        config: ConsumerConfig::default(),
        delivered: SequenceInfo::default(),
        ack_floor: SequenceInfo {
            consumer_seq: 1,
            stream_seq: 2,
            last_active: Some(0),
        },
        num_ack_pending: 3,
        num_redelivered: 4,
        num_waiting: 5,
        num_pending: 6,
        cluster: Some(ClusterInfo {
            name: None,
            leader: Some("n1".into()),
        }),
        push_bound: false,
        paused: false,
        pause_remaining: 0,
        priority_groups: Vec::new(),
        ts: 0,
    };
    let json = serde_json::to_value(&info).unwrap_or_default();
    assert_eq!(
        json["delivered"],
        serde_json::json!({"consumer_seq":0,"stream_seq":0})
    );
    assert_eq!(json["ack_floor"]["last_active"], "1970-01-01T00:00:00Z");
    assert_eq!(json["created"], "1970-01-01T00:00:00Z");
    assert_eq!(json["cluster"], serde_json::json!({"leader":"n1"}));
    for key in [
        "num_ack_pending",
        "num_redelivered",
        "num_waiting",
        "num_pending",
        "ts",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert!(json.get("paused").is_none());
    let back: Result<ConsumerInfo, _> = serde_json::from_value(json);
    assert_eq!(back.ok(), Some(info));
}

#[test]
fn create_subject_forms() {
    let parse = |subject: &str| CreateSubject::parse(subject);
    assert_eq!(
        parse("$JS.API.CONSUMER.CREATE.S"),
        Ok(Some(CreateSubject::LegacyEphemeral { stream: "S".into() }))
    );
    assert_eq!(
        parse("CONSUMER.CREATE.S.C"),
        Ok(Some(CreateSubject::Named {
            stream: "S".into(),
            consumer: "C".into(),
            filter: None
        }))
    );
    assert_eq!(
        parse("$JS.API.CONSUMER.CREATE.S.C.orders.*.x"),
        Ok(Some(CreateSubject::Named {
            stream: "S".into(),
            consumer: "C".into(),
            filter: Some("orders.*.x".into())
        }))
    );
    assert_eq!(
        parse("$JS.API.CONSUMER.DURABLE.CREATE.S.D"),
        Ok(Some(CreateSubject::LegacyDurable {
            stream: "S".into(),
            durable: "D".into()
        }))
    );
    assert_eq!(
        parse("$JS.API.CONSUMER.DURABLE.CREATE.S"),
        Err(crate::consumer::ConsumerError::DurableNameNotInSubject)
    );
    assert_eq!(parse("$JS.API.CONSUMER.INFO.S.C"), Ok(None));
    assert_eq!(
        parse("$JS.API.CONSUMER.CREATE..C"),
        Err(crate::consumer::ConsumerError::BadRequest)
    );
}

#[test]
fn create_subject_and_body_must_agree() {
    let request =
        |config: &str| parse_request(&format!(r#"{{"stream_name":"S","config":{config}}}"#));
    let code = |subject: &str, config: &str| -> Result<ConsumerConfig, u16> {
        let Ok(Some(parsed)) = CreateSubject::parse(subject) else {
            return Err(0);
        };
        parsed
            .resolve(&request(config))
            .map_err(|error| error.err_code())
    };
    assert_eq!(
        code("CONSUMER.CREATE.S.C", r#"{"durable_name":"X"}"#),
        Err(10017)
    );
    assert_eq!(
        code("CONSUMER.CREATE.S.C.a", r#"{"filter_subject":"b"}"#),
        Err(10131)
    );
    assert_eq!(
        code("CONSUMER.CREATE.S.C.a", r#"{"filter_subjects":["a"]}"#),
        Err(10137)
    );
    assert_eq!(
        code("CONSUMER.CREATE.S", r#"{"durable_name":"D"}"#),
        Err(10020)
    );
    assert_eq!(code("CONSUMER.DURABLE.CREATE.S.D", r#"{}"#), Err(10018));
    assert_eq!(
        code("CONSUMER.DURABLE.CREATE.S.D", r#"{"durable_name":"E"}"#),
        Err(10017)
    );
    assert_eq!(code("CONSUMER.CREATE.T.C", r#"{}"#), Err(10056));
    let missing = CreateSubject::parse("CONSUMER.CREATE.S.C")
        .ok()
        .flatten()
        .map(|subject| subject.resolve(&parse_request(r#"{"stream_name":"S"}"#)));
    assert_eq!(
        missing,
        Some(Err(crate::consumer::ConsumerError::ConfigRequired))
    );
    let named = code("CONSUMER.CREATE.S.C.a", r#"{"filter_subject":"a"}"#);
    assert_eq!(named.map(|config| config.name), Ok(Some("C".into())));
}

#[test]
fn errors_render_as_nats_server_json() {
    let error = crate::consumer::ConsumerError::NotFound;
    assert_eq!(
        error.to_json(),
        serde_json::json!({"code":404,"err_code":10014,"description":"consumer not found"})
    );
}
