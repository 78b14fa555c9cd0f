//! The subject transforms of a mirror or source (`subject_transforms[]`):
//! a source filter and, unless the destination is empty (the filter
//! alone), nats-server's transform ([`crate::transform`], the same engine
//! a stream's `subject_transform` and `republish` use).

use crate::subject;
use crate::transform;

/// A checked transform from `source` to a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTransform {
    source: String,
    /// None: the subject is kept (an empty destination).
    destination: Option<transform::SubjectTransform>,
}

impl SubjectTransform {
    /// A transform from `source` (empty = `>`) to `destination` (empty =
    /// the subject unchanged), or why it is invalid.
    pub fn new(source: &str, destination: &str) -> Result<Self, String> {
        let source = if source.is_empty() { ">" } else { source };
        if !subject::is_valid_filter(source) {
            return Err(format!("invalid subject {source}"));
        }
        let destination = match destination {
            "" => None,
            destination => Some(
                transform::SubjectTransform::new(source, destination)
                    .map_err(|why| why.to_string())?,
            ),
        };
        Ok(SubjectTransform {
            source: source.to_string(),
            destination,
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
        match &self.destination {
            None => Some(subject.to_string()),
            Some(transform) => transform.apply(subject),
        }
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
        assert_eq!(
            map("a.*", "p.{{partition(1,1)}}", "a.x"),
            Some("p.0".into())
        );
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
            ("a.*", "b.*"),
            ("a.*", "{{partitions(3,1)}}"),
            ("a.*", "b.$0"),
        ] {
            assert!(
                SubjectTransform::new(source, destination).is_err(),
                "{source} -> {destination}"
            );
        }
    }
}
