//! Bad input never panics: random bytes and near-valid text through every
//! decoder a client or a damaged file can reach.

use proptest::prelude::*;

use super::*;
use crate::api::consumer::{ConsumerConfig, CreateConsumerRequest, CreateSubject};
use crate::consumer::time::parse_rfc3339;

fn near_json() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("\"batch\":".to_string()),
        Just("\"expires\":".to_string()),
        Just("\"delay\":".to_string()),
        Just("\"config\":".to_string()),
        Just("\"opt_start_time\":".to_string()),
        Just("\"2026-12-03T08:17:59.5Z\"".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("18446744073709551616".to_string()),
        Just("null".to_string()),
        Just(",".to_string()),
        "[0-9a-z.:+ -]{0,6}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn decoders_survive_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = ConsumerState::decode(&bytes);
        let _ = AckKind::parse(&bytes);
        let _ = PullRequest::parse(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = AckReply::parse(&format!("$JS.ACK.{text}"));
        let _ = CreateSubject::parse(&format!("$JS.API.CONSUMER.CREATE.{text}"));
        let _ = parse_rfc3339(&text);
    }

    #[test]
    fn decoders_survive_near_valid_text(text in near_json()) {
        let _ = PullRequest::parse(text.as_bytes());
        let _ = AckKind::parse(format!("-NAK {text}").as_bytes());
        let _ = AckKind::parse(format!("+NXT {text}").as_bytes());
        let _ = serde_json::from_str::<ConsumerConfig>(&text);
        if let Ok(request) = serde_json::from_str::<CreateConsumerRequest>(&text) {
            if let Ok(Some(subject)) = CreateSubject::parse("CONSUMER.CREATE.S.C.a") {
                let _ = subject.resolve(&request);
            }
        }
        let _ = parse_rfc3339(&text);
    }

    #[test]
    fn damaged_state_is_refused_or_decodes(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut state = ConsumerState::starting_at(3);
        state.record_delivery(1, 3, 1, 10, crate::api::consumer::AckPolicy::Explicit);
        state.record_delivery(2, 5, 1, 20, crate::api::consumer::AckPolicy::Explicit);
        let mut bytes = state.encode();
        let mut seen = std::collections::BTreeSet::new();
        for (index, value) in flips {
            let index = index % bytes.len();
            // One change per byte, so two flips never cancel out.
            if seen.insert(index) {
                bytes[index] ^= value | 1;
            }
        }
        prop_assert!(ConsumerState::decode(&bytes).is_err(), "a damaged state decoded");
    }
}
