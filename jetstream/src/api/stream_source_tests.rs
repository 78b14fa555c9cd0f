use super::*;

fn normalized(json: &str) -> Result<StreamConfig, ApiError> {
    serde_json::from_str::<StreamConfig>(json)
        .unwrap_or_else(|e| panic!("{json}: {e}"))
        .normalized()
}

fn code(json: &str) -> u16 {
    normalized(json).err().map_or(0, |e| e.err_code)
}

#[test]
fn a_mirror_captures_nothing_and_has_no_duplicate_window() {
    let config =
        normalized(r#"{"name":"M","mirror":{"name":"O","opt_start_seq":2}}"#).unwrap_or_default();
    assert!(config.subjects.is_empty());
    assert_eq!(config.duplicate_window, 0);
    let json = serde_json::to_value(&config).unwrap_or_default();
    assert_eq!(
        json["mirror"],
        serde_json::json!({"name":"O","opt_start_seq":2})
    );
    assert!(json.get("subjects").is_none());
    assert!(json.get("sources").is_none());
}

#[test]
fn sources_round_trip() {
    let text = r#"{"name":"S","sources":[{"name":"A","filter_subject":"a.>","opt_start_time":"2026-12-03T08:17:59.59116366Z"},{"name":"B","subject_transforms":[{"src":"b.*","dest":"x.$1"}],"consumer":{"name":"c","deliver_subject":"d.x"}}]}"#;
    let config = normalized(text).unwrap_or_default();
    assert!(config.subjects.is_empty());
    assert_eq!(config.duplicate_window, 120_000_000_000);
    let sources = config.sources.clone().unwrap_or_default();
    assert_eq!(sources[0].opt_start_time, Some(1_796_285_879_591_163_660));
    let json = serde_json::to_value(&config).unwrap_or_default();
    assert_eq!(json["sources"][1]["subject_transforms"][0]["dest"], "x.$1");
    assert_eq!(json["sources"][1]["consumer"]["deliver_subject"], "d.x");
    assert!(json["sources"][0].get("opt_start_seq").is_none());
    let again: StreamConfig = serde_json::from_value(json).unwrap_or_default();
    assert_eq!(again, config);
    assert_eq!(
        normalized(r#"{"name":"S","sources":[]}"#).map(|c| c.sources),
        Ok(None)
    );
}

#[test]
fn index_names_as_nats_server() {
    let plain = StreamSource {
        name: "O".into(),
        ..StreamSource::default()
    };
    assert_eq!(plain.index_name(), "O > >");
    let filtered = StreamSource {
        filter_subject: "a.*".into(),
        ..plain.clone()
    };
    assert_eq!(filtered.index_name(), "O a.* >");
    let transformed = StreamSource {
        subject_transforms: vec![
            SourceTransform {
                src: "a.*".into(),
                dest: "b.$1".into(),
            },
            SourceTransform {
                src: "c".into(),
                dest: String::new(),
            },
        ],
        ..plain
    };
    assert_eq!(transformed.index_name(), "O a.*\u{c}c b.$1\u{c}>");
}

#[test]
fn mirror_refusals_with_nats_server_codes() {
    assert_eq!(
        code(r#"{"name":"M","mirror":{"name":"O"},"subjects":["a"]}"#),
        10034
    );
    assert_eq!(
        code(r#"{"name":"M","mirror":{"name":"O"},"sources":[{"name":"P"}]}"#),
        10031
    );
    assert_eq!(
        code(r#"{"name":"M","mirror":{"name":"O"},"first_seq":5}"#),
        10143
    );
    assert_eq!(
        code(
            r#"{"name":"M","mirror":{"name":"O","filter_subject":"a","subject_transforms":[{"src":"b","dest":"c"}]}}"#
        ),
        10150
    );
    assert_eq!(
        code(
            r#"{"name":"M","mirror":{"name":"O","subject_transforms":[{"src":"a..b","dest":"c"}]}}"#
        ),
        10151
    );
    assert_eq!(
        code(
            r#"{"name":"M","mirror":{"name":"O","subject_transforms":[{"src":"a.*","dest":"c.$3"}]}}"#
        ),
        10154
    );
    assert_eq!(
        code(
            r#"{"name":"M","mirror":{"name":"O","subject_transforms":[{"src":"a.*","dest":""},{"src":"a.b","dest":""}]}}"#
        ),
        10152
    );
    assert_eq!(code(r#"{"name":"M","mirror":{"name":"a.b"}}"#), 10142);
    assert_eq!(
        code(r#"{"name":"M","mirror":{"name":"O","external":{"api":"$JS.x.API"}}}"#),
        10052
    );
    assert_eq!(
        code(r#"{"name":"M","mirror":{"name":"O","consumer":{"name":"c"}}}"#),
        10213
    );
    assert_eq!(
        code(r#"{"name":"M","mirror":{"name":"O","filter_subject":"a.*"}}"#),
        0
    );
}

#[test]
fn source_refusals_with_nats_server_codes() {
    assert_eq!(code(r#"{"name":"S","sources":[{"name":""}]}"#), 10141);
    assert_eq!(
        code(r#"{"name":"S","sources":[{"name":"A"},{"name":"A"}]}"#),
        10140
    );
    assert_eq!(
        code(r#"{"name":"S","sources":[{"name":"A"},{"name":"A","filter_subject":"x"}]}"#),
        0
    );
    assert_eq!(
        code(
            r#"{"name":"S","sources":[{"name":"A","filter_subject":"a","subject_transforms":[{"src":"b","dest":"c"}]}]}"#
        ),
        10144
    );
    assert_eq!(
        code(
            r#"{"name":"S","sources":[{"name":"A","subject_transforms":[{"src":"a b","dest":"c"}]}]}"#
        ),
        10145
    );
    assert_eq!(
        code(
            r#"{"name":"S","sources":[{"name":"A","subject_transforms":[{"src":"a","dest":"b.>"}]}]}"#
        ),
        10146
    );
    assert_eq!(
        code(
            r#"{"name":"S","sources":[{"name":"A","subject_transforms":[{"src":"a.>","dest":""},{"src":"a.b","dest":""}]}]}"#
        ),
        10147
    );
    assert_eq!(
        code(
            r#"{"name":"S","sources":[{"name":"A","consumer":{"name":"c","deliver_subject":"d.*"}}]}"#
        ),
        10215
    );
    assert_eq!(
        code(r#"{"name":"S","sources":[{"name":"A","filter_subject":"a..b"}]}"#),
        10145
    );
}

#[test]
fn a_mirror_may_only_be_removed_on_update() {
    let mirror = normalized(r#"{"name":"M","mirror":{"name":"O"}}"#).unwrap_or_default();
    let other = normalized(r#"{"name":"M","mirror":{"name":"P"}}"#).unwrap_or_default();
    assert_eq!(
        mirror.check_update(&other).err().map(|e| e.err_code),
        Some(10055)
    );
    let promoted = normalized(r#"{"name":"M","subjects":["test"]}"#).unwrap_or_default();
    assert!(mirror.check_update(&promoted).is_ok());
    let plain = normalized(r#"{"name":"M"}"#).unwrap_or_default();
    assert_eq!(
        plain.check_update(&mirror).err().map(|e| e.err_code),
        Some(10055)
    );
}

#[test]
fn source_info_shape() {
    let info = StreamSourceInfo {
        name: "O".into(),
        lag: 3,
        active: -1,
        error: Some(ApiError::stream_not_found()),
        ..StreamSourceInfo::default()
    };
    assert_eq!(
        serde_json::to_value(&info).unwrap_or_default(),
        serde_json::json!({"name":"O","lag":3,"active":-1,"error":{"code":404,"err_code":10059,"description":"stream not found"}})
    );
}
