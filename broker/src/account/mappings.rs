//! Subject mappings (`mappings { "src": "dest" }`, per account and at top
//! level for `$G`), applied to a client's publish before matching, as
//! nats-server's `processInboundClientMsg` does.
//!
//! A destination may use the source's wildcard tokens as `$N` or
//! `{{wildcard(N)}}` (1-based). Weighted destinations pick one per message
//! by weight (percent); when the weights add up to less than 100 the rest
//! keeps the original subject.

use starling_proto::subject;

/// One destination of a mapping, with its weight in percent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingDestination {
    /// The destination subject, possibly with `$N` / `{{wildcard(N)}}`.
    pub subject: String,
    /// 1..=100.
    pub weight: u8,
}

/// One `source: destination(s)` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRule {
    /// The published subject it applies to (wildcards allowed).
    pub source: String,
    /// Where such a message goes instead.
    pub destinations: Vec<MappingDestination>,
}

/// An account's mappings, in config order; empty costs one branch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectMappings {
    rules: Vec<MappingRule>,
}

impl SubjectMappings {
    /// Mappings with `rules`.
    pub fn new(rules: Vec<MappingRule>) -> Self {
        SubjectMappings { rules }
    }

    /// True when there is nothing to map.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The subject `published` becomes, or None to keep it. A literal
    /// source wins over a wildcard one, as in nats-server.
    pub fn map(&self, published: &str) -> Option<String> {
        let rule = self
            .rules
            .iter()
            .find(|rule| rule.source == published)
            .or_else(|| {
                self.rules
                    .iter()
                    .find(|rule| subject::matches(&rule.source, published))
            })?;
        let destination = pick(&rule.destinations)?;
        Some(fill(&rule.source, published, &destination.subject))
    }
}

fn pick(destinations: &[MappingDestination]) -> Option<&MappingDestination> {
    if let [only] = destinations {
        if only.weight >= 100 {
            return Some(only);
        }
    }
    let mut point = rand::random_range(0..100u32);
    for destination in destinations {
        let weight = u32::from(destination.weight);
        if point < weight {
            return Some(destination);
        }
        point -= weight;
    }
    None
}

/// The wildcard tokens `published` gave `source`, in order.
fn wildcard_tokens<'a>(source: &str, published: &'a str) -> Vec<&'a str> {
    let tokens: Vec<&str> = published.split('.').collect();
    let mut captured = Vec::new();
    for (index, token) in source.split('.').enumerate() {
        match token {
            "*" => captured.extend(tokens.get(index).copied()),
            ">" => {
                if let (Some(first), Some(last)) = (tokens.get(index), tokens.last()) {
                    let start = first.as_ptr() as usize - published.as_ptr() as usize;
                    let end = last.as_ptr() as usize - published.as_ptr() as usize + last.len();
                    captured.extend(published.get(start..end));
                }
            }
            _ => {}
        }
    }
    captured
}

/// `destination` with `$N` / `{{wildcard(N)}}` tokens filled in, and a
/// `>` (when the source ends in `>`) replaced by the tokens it matched, as
/// nats-server's subject transforms pass a full wildcard through.
fn fill(source: &str, published: &str, destination: &str) -> String {
    let passes_full_wildcard = source.ends_with('>') && destination.split('.').any(|t| t == ">");
    if !destination.contains('$') && !destination.contains("{{") && !passes_full_wildcard {
        return destination.to_owned();
    }
    let captured = wildcard_tokens(source, published);
    destination
        .split('.')
        .map(|token| match wildcard_index(token) {
            Some(n) => captured
                .get(n.wrapping_sub(1))
                .copied()
                .unwrap_or(token)
                .to_owned(),
            None if token == ">" && passes_full_wildcard => {
                captured.last().copied().unwrap_or(token).to_owned()
            }
            None => token.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// N for a `$N` or `{{wildcard(N)}}` token.
pub fn wildcard_index(token: &str) -> Option<usize> {
    if let Some(n) = token.strip_prefix('$') {
        return n.parse().ok();
    }
    let inner = token.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let args = inner
        .to_ascii_lowercase()
        .strip_prefix("wildcard(")?
        .strip_suffix(')')?
        .trim()
        .to_owned();
    args.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(source: &str, destinations: &[(&str, u8)]) -> MappingRule {
        MappingRule {
            source: source.into(),
            destinations: destinations
                .iter()
                .map(|(subject, weight)| MappingDestination {
                    subject: (*subject).into(),
                    weight: *weight,
                })
                .collect(),
        }
    }

    #[test]
    fn literal_and_wildcard_tokens_map() {
        let mappings = SubjectMappings::new(vec![
            rule("foo", &[("bar", 100)]),
            rule("a.*.*", &[("b.$2.{{wildcard(1)}}", 100)]),
            rule("rest.>", &[("all.{{ wildcard(1) }}", 100)]),
            rule("pass.>", &[("through.>", 100)]),
        ]);
        assert_eq!(mappings.map("foo").as_deref(), Some("bar"));
        assert_eq!(mappings.map("a.x.y").as_deref(), Some("b.y.x"));
        assert_eq!(mappings.map("rest.1.2").as_deref(), Some("all.1.2"));
        assert_eq!(mappings.map("pass.x.y").as_deref(), Some("through.x.y"));
        assert_eq!(mappings.map("other"), None);
    }

    #[test]
    fn weights_split_traffic_and_the_rest_keeps_the_subject() {
        let mappings = SubjectMappings::new(vec![rule("w", &[("w1", 50), ("w2", 30)])]);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..2000 {
            *counts.entry(mappings.map("w")).or_insert(0u32) += 1;
        }
        let share = |k: Option<&str>| counts.get(&k.map(String::from)).copied().unwrap_or(0);
        assert!((850..1150).contains(&share(Some("w1"))), "{counts:?}");
        assert!((450..750).contains(&share(Some("w2"))), "{counts:?}");
        assert!((250..550).contains(&share(None)), "{counts:?}");
    }
}
