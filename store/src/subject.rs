//! Subject filters: `*` matches one token, `>` one or more trailing tokens.
//!
//! A small matcher of its own, so the store depends on nothing above it; the
//! stream validates subjects before they reach the store.

/// True when the filter has no wildcard token.
pub fn is_literal(filter: &str) -> bool {
    !filter.split('.').any(|token| token == "*" || token == ">")
}

/// True when the filter matches every subject (`>` or empty).
pub fn is_full_wildcard(filter: &str) -> bool {
    filter.is_empty() || filter == ">"
}

/// True when `subject` matches `filter`. An empty filter matches everything.
pub fn matches(filter: &str, subject: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let mut subject_tokens = subject.split('.');
    for filter_token in filter.split('.') {
        match subject_tokens.next() {
            None => return false,
            Some(token) => {
                if filter_token == ">" {
                    return true;
                }
                if filter_token != "*" && filter_token != token {
                    return false;
                }
            }
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_tokens_not_characters() {
        assert!(matches("foo.*", "foo.bar"));
        assert!(!matches("foo.*", "foo.bar.baz"));
        assert!(matches("foo.>", "foo.bar.baz"));
        assert!(!matches("foo.>", "foo"));
        assert!(matches("*.bar", "foo.bar"));
        assert!(!matches("foo.b*", "foo.bar"));
        assert!(matches("foo", "foo"));
        assert!(!matches("foo", "foo.bar"));
        assert!(!matches("foo.bar", "foo"));
        assert!(matches(">", "a.b.c"));
        assert!(matches("", "a"));
    }

    #[test]
    fn literal_detection() {
        assert!(is_literal("foo.bar"));
        assert!(!is_literal("foo.*"));
        assert!(!is_literal(">"));
        assert!(is_literal("foo.b*"));
    }
}
