//! The subject transforms of a mirror or source (`subject_transforms[]`,
//! nats-server's `SubjectTransform`): a source filter with wildcards and a
//! destination whose `$N` / `{{wildcard(N)}}` tokens take the N-th `*` of
//! the filter, whose `*` tokens take the filter's `*`s in order, and whose
//! trailing `>` takes what the filter's `>` matched.

use crate::subject;

/// One destination token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// The N-th (0-based) `*` of the source filter.
    Wildcard(usize),
    /// What the source's trailing `>` matched.
    Rest,
}

/// A checked transform from `source` to a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTransform {
    source: String,
    /// None: the subject is kept (an empty destination).
    destination: Option<Vec<Part>>,
}

impl SubjectTransform {
    /// A transform from `source` (empty = `>`) to `destination` (empty =
    /// the subject unchanged), or why it is invalid.
    pub fn new(source: &str, destination: &str) -> Result<Self, String> {
        let source = if source.is_empty() { ">" } else { source };
        if !subject::is_valid_filter(source) {
            return Err(format!("invalid subject {source}"));
        }
        if destination.is_empty() {
            return Ok(SubjectTransform {
                source: source.to_string(),
                destination: None,
            });
        }
        let stars = source.split('.').filter(|t| *t == "*").count();
        let has_rest = source.ends_with('>') && (source == ">" || source.ends_with(".>"));
        let tokens: Vec<&str> = destination.split('.').collect();
        let mut parts = Vec::with_capacity(tokens.len());
        let mut next_star = 0;
        for (index, token) in tokens.iter().enumerate() {
            let part = if *token == ">" {
                if !has_rest || index + 1 != tokens.len() {
                    return Err(format!(
                        "invalid mapping destination {destination}: '>' needs a '>' in the source"
                    ));
                }
                Part::Rest
            } else if *token == "*" {
                next_star += 1;
                Part::Wildcard(next_star - 1)
            } else if let Some(n) = wildcard_index(token)? {
                Part::Wildcard(n)
            } else if token.is_empty() || token.bytes().any(|b| b.is_ascii_whitespace()) {
                return Err(format!("invalid mapping destination {destination}"));
            } else {
                Part::Literal((*token).to_string())
            };
            if let Part::Wildcard(n) = part {
                if n >= stars {
                    return Err(format!(
                        "invalid mapping destination {destination}: wildcard index out of range"
                    ));
                }
            }
            parts.push(part);
        }
        Ok(SubjectTransform {
            source: source.to_string(),
            destination: Some(parts),
        })
    }

    /// The source filter.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `subject` transformed, or None when it does not match the source.
    pub fn map(&self, subject: &str) -> Option<String> {
        if !subject::is_subset(subject, &self.source) {
            return None;
        }
        let Some(parts) = &self.destination else {
            return Some(subject.to_string());
        };
        let tokens: Vec<&str> = subject.split('.').collect();
        let mut stars = Vec::new();
        let mut rest = String::new();
        for (index, token) in self.source.split('.').enumerate() {
            match token {
                "*" => stars.extend(tokens.get(index).copied()),
                ">" => rest = tokens.get(index..).unwrap_or_default().join("."),
                _ => {}
            }
        }
        let mapped: Vec<&str> = parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.as_str(),
                Part::Wildcard(n) => stars.get(*n).copied().unwrap_or_default(),
                Part::Rest => rest.as_str(),
            })
            .collect();
        Some(mapped.join("."))
    }
}

/// N-1 for a `$N` or `{{wildcard(N)}}` token, None for other tokens; an
/// error for another `{{function}}` (not supported for sources).
fn wildcard_index(token: &str) -> Result<Option<usize>, String> {
    let number = if let Some(n) = token.strip_prefix('$') {
        n
    } else if let Some(inner) = token.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
        let inner = inner.trim();
        let lower = inner.to_ascii_lowercase();
        match lower
            .strip_prefix("wildcard(")
            .and_then(|t| t.strip_suffix(')'))
        {
            Some(n) => return parse_index(n.trim()).map(Some),
            None => return Err(format!("transform function {inner:?} is not supported")),
        }
    } else {
        return Ok(None);
    };
    parse_index(number).map(Some)
}

fn parse_index(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n - 1),
        _ => Err(format!("invalid wildcard index {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(source: &str, destination: &str, subject: &str) -> Option<String> {
        SubjectTransform::new(source, destination)
            .ok()
            .and_then(|t| t.map(subject))
    }

    #[test]
    fn maps_as_nats_server() {
        assert_eq!(map(">", "fromtest.>", "test"), Some("fromtest.test".into()));
        assert_eq!(map("a.>", "b.>", "a.x.y"), Some("b.x.y".into()));
        assert_eq!(map("a.*.*", "b.$2.$1", "a.x.y"), Some("b.y.x".into()));
        assert_eq!(map("a.*", "b.{{wildcard(1)}}", "a.x"), Some("b.x".into()));
        assert_eq!(map("a.*", "b.*", "a.x"), Some("b.x".into()));
        assert_eq!(map("a.*", "", "a.x"), Some("a.x".into()));
        assert_eq!(map("a.*", "b", "c.x"), None);
        assert_eq!(map("", "z.>", "q"), Some("z.q".into()));
    }

    #[test]
    fn refuses_bad_mappings() {
        for (source, destination) in [
            ("a..b", "x"),
            ("a.*", "b.$2"),
            ("a.*", "b.>"),
            ("a.>", "b.>.c"),
            ("a.*", "{{partition(3,1)}}"),
            ("a.*", "b.$0"),
        ] {
            assert!(
                SubjectTransform::new(source, destination).is_err(),
                "{source} -> {destination}"
            );
        }
    }
}
