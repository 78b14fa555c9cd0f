//! `ConnectInfo::parse` over arbitrary bytes (the JSON after `CONNECT `).
//!
//! Checked: no panic; anything that is not JSON is refused; and a JSON
//! object's `null` members mean "absent": dropping them changes nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_proto::client::ConnectInfo;

fuzz_target!(|data: &[u8]| {
    let parsed = ConnectInfo::parse(data);
    let Ok(value) = serde_json_value(data) else {
        assert!(parsed.is_err(), "accepted bytes that are not JSON");
        return;
    };
    if let Some(object) = value.as_object() {
        let without_nulls: serde_json::Map<String, serde_json::Value> = object
            .iter()
            .filter(|(_, member)| !member.is_null())
            .map(|(name, member)| (name.clone(), member.clone()))
            .collect();
        let text = serde_json::to_vec(&without_nulls).expect("a map serializes");
        let reparsed = ConnectInfo::parse(&text);
        assert_eq!(
            parsed.as_ref().ok(),
            reparsed.as_ref().ok(),
            "null members changed the result"
        );
    }
});

fn serde_json_value(data: &[u8]) -> serde_json::Result<serde_json::Value> {
    serde_json::from_slice(data)
}
