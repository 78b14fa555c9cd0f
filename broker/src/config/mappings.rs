//! `mappings { "src": "dest" | [ {destination: "d", weight: "50%"} ] }`,
//! top level (for `$G`) and per account, as nats-server's `parseMappings`.

use starling_proto::subject::{has_wildcard, is_valid_subject};

use super::error::ConfigError;
use super::field::Field;
use super::value::ValueKind;
use crate::account::{wildcard_index, MappingDestination, MappingRule};

/// The rules of a `mappings` block.
pub(super) fn parse_mappings(field: &Field<'_>) -> Result<Vec<MappingRule>, ConfigError> {
    let mut rules = Vec::new();
    for entry in field.map()?.entries() {
        let sub = field.child(entry);
        let source = entry.key.clone();
        if !is_valid_subject(&source) {
            return Err(sub.invalid(format!("invalid mapping source subject {source:?}")));
        }
        let destinations = match &entry.value.kind {
            ValueKind::String(_) => vec![MappingDestination {
                subject: sub.string()?,
                weight: 100,
            }],
            ValueKind::Array(items) => {
                let mut destinations = Vec::new();
                for item in items {
                    let map = item.as_map().ok_or_else(|| {
                        sub.invalid_at(item.line, "Expected an entry for the mapping destination")
                    })?;
                    let mut destination = MappingDestination {
                        subject: String::new(),
                        weight: 100,
                    };
                    for part in map.entries() {
                        let leaf = sub.child(part);
                        match leaf.lower_key().as_str() {
                            "destination" | "dest" => destination.subject = leaf.string()?,
                            "weight" => destination.weight = weight(&leaf)?,
                            "cluster" => return Err(leaf.unsupported()),
                            _ => leaf.unknown()?,
                        }
                    }
                    destinations.push(destination);
                }
                destinations
            }
            _ => {
                return Err(sub.invalid("Expected a string or an array for the mapping destination"))
            }
        };
        let total: u32 = destinations.iter().map(|d| u32::from(d.weight)).sum();
        if total > 100 {
            return Err(sub.invalid(format!(
                "Mapping destination weights add up to {total}%, more than 100%"
            )));
        }
        let wildcards = source.split('.').filter(|t| *t == "*" || *t == ">").count();
        for destination in &destinations {
            check_destination(&sub, &destination.subject, wildcards, source.ends_with('>'))?;
        }
        rules.push(MappingRule {
            source,
            destinations,
        });
    }
    Ok(rules)
}

fn weight(field: &Field<'_>) -> Result<u8, ConfigError> {
    let value = match &field.value().kind {
        ValueKind::String(text) => text.trim_end_matches('%').trim().parse::<i64>().ok(),
        ValueKind::Integer(n) => Some(*n),
        _ => None,
    };
    match value {
        Some(n) if (0..=100).contains(&n) => Ok(n as u8),
        _ => Err(field.invalid("Invalid weight: expected a percentage from 0 to 100")),
    }
}

fn check_destination(
    field: &Field<'_>,
    destination: &str,
    wildcards: usize,
    source_ends_in_full_wildcard: bool,
) -> Result<(), ConfigError> {
    for token in destination.split('.') {
        if token.starts_with('$') || token.starts_with("{{") {
            match wildcard_index(token) {
                Some(n) if n >= 1 && n <= wildcards => {}
                Some(n) => {
                    return Err(field.invalid(format!(
                        "invalid mapping destination {destination:?}: wildcard index {n} out of range"
                    )))
                }
                None => {
                    return Err(field.invalid(format!(
                        "invalid mapping destination {destination:?}: unsupported mapping function {token:?}"
                    )))
                }
            }
        } else if token.is_empty() || (has_wildcard(token) && token != "*" && token != ">") {
            return Err(field.invalid(format!("invalid mapping destination {destination:?}")));
        }
    }
    // A last `>` passes the source's `>` through (nats-server accepts
    // "a.>": "b.>" but not "a.*": "b.*").
    let rest = match destination.strip_suffix('>') {
        Some(rest) if source_ends_in_full_wildcard && (rest.is_empty() || rest.ends_with('.')) => {
            rest
        }
        _ => destination,
    };
    if has_wildcard(rest) {
        return Err(field.invalid(format!(
            "invalid mapping destination {destination:?}: use $N or {{{{wildcard(N)}}}} for wildcard tokens"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::{options, options_ok};

    #[test]
    fn mappings_parse_top_level_and_per_account() {
        let options = options_ok(
            r#"
            mappings { "foo": "bar", "w": [ {destination: "w1", weight: "40%"}, {destination: "w2", weight: 60} ] }
            accounts { A: { mappings { "a.*": "b.$1" } } }
            "#,
        );
        assert_eq!(options.mappings.len(), 2);
        assert_eq!(options.mappings[1].destinations[0].weight, 40);
        assert_eq!(
            options.accounts[0].mappings[0].destinations[0].subject,
            "b.$1"
        );
        // A full wildcard passes through, as in nats-server.
        let passing = options_ok(r#"mappings { "a.>": "b.>", "c.*.>": "d.$1.>" }"#);
        assert_eq!(passing.mappings.len(), 2);
        assert_eq!(passing.mappings[0].destinations[0].subject, "b.>");
    }

    #[test]
    fn bad_mappings_are_errors() {
        for (text, expected) in [
            (
                r#"mappings { "a": [ {destination: "x", weight: 70}, {destination: "y", weight: 40} ] }"#,
                "110%",
            ),
            (r#"mappings { "a.*": "b.$2" }"#, "out of range"),
            (r#"mappings { "a.*": "b.*" }"#, "use $N"),
            (r#"mappings { "a.*": "b.>" }"#, "use $N"),
            (
                r#"mappings { "a.*": "b.{{partition(3,1)}}" }"#,
                "unsupported mapping function",
            ),
            (
                r#"mappings { "a": [ {destination: "x", weight: "abc"} ] }"#,
                "Invalid weight",
            ),
        ] {
            let error = options(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
