//! Subject syntax: validity and wildcard matching, as nats-server has them
//! (server/sublist.go `IsValidSubject`, `IsValidLiteralSubject`, `matchLiteral`).
//!
//! A subject is a `.`-separated list of non-empty tokens. `*` as a whole token
//! matches exactly one token; `>` as the last token matches one or more.
//! Wildcards only count as whole tokens: `a.b*` is a literal token.

/// Single-token wildcard.
pub const WILDCARD_ONE: &str = "*";
/// Trailing multi-token wildcard.
pub const WILDCARD_REST: &str = ">";

fn token_is_valid(token: &str) -> bool {
    !token.is_empty()
        && !token
            .bytes()
            .any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
}

/// A subject a client may subscribe to: valid tokens, `>` only last.
pub fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut tokens = subject.split('.').peekable();
    while let Some(token) = tokens.next() {
        if !token_is_valid(token) {
            return false;
        }
        if token == WILDCARD_REST && tokens.peek().is_some() {
            return false;
        }
    }
    true
}

/// A subject a client may publish to in pedantic mode: valid, no wildcards.
pub fn is_valid_literal_subject(subject: &str) -> bool {
    is_valid_subject(subject) && !has_wildcard(subject)
}

/// True when some whole token is `*` or `>`.
pub fn has_wildcard(subject: &str) -> bool {
    subject
        .split('.')
        .any(|t| t == WILDCARD_ONE || t == WILDCARD_REST)
}

/// A queue group name: non-empty, no whitespace (dots are allowed).
pub fn is_valid_queue_name(queue: &str) -> bool {
    !queue.is_empty() && !queue.bytes().any(|b| b.is_ascii_whitespace())
}

/// Does the literal `subject` match `pattern` (which may hold wildcards)?
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    let mut pattern_tokens = pattern.split('.');
    loop {
        match (pattern_tokens.next(), subject_tokens.next()) {
            (None, None) => return true,
            (Some(WILDCARD_REST), Some(_)) => return true,
            (Some(WILDCARD_ONE), Some(_)) => {}
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

/// Is every subject matched by `sub` also matched by `pattern`?
/// (`foo.*` is a subset of `foo.>`; `foo.>` is not a subset of `foo.*`.)
/// Used for permissions on wildcard subscriptions.
pub fn is_subset(sub: &str, pattern: &str) -> bool {
    let mut sub_tokens = sub.split('.');
    let mut pattern_tokens = pattern.split('.');
    loop {
        match (pattern_tokens.next(), sub_tokens.next()) {
            (None, None) => return true,
            (Some(WILDCARD_REST), Some(_)) => return true,
            (Some(WILDCARD_ONE), Some(s)) if s != WILDCARD_REST => {}
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_follows_nats_server() {
        for ok in [
            "foo",
            "foo.bar",
            "foo.*",
            "foo.>",
            ">",
            "*",
            "a.b*",
            "foo.*.bar",
            "$SYS.x",
        ] {
            assert!(is_valid_subject(ok), "{ok}");
        }
        for bad in [
            "",
            "foo..bar",
            ".foo",
            "foo.",
            "foo.>.bar",
            "foo bar",
            "foo\tbar",
            ">.a",
        ] {
            assert!(!is_valid_subject(bad), "{bad:?}");
        }
        assert!(is_valid_literal_subject("a.b*"));
        assert!(!is_valid_literal_subject("a.*"));
        assert!(!is_valid_literal_subject("a.>"));
    }

    #[test]
    fn wildcard_matching() {
        assert!(matches("foo.*", "foo.bar"));
        assert!(!matches("foo.*", "foo.bar.baz"));
        assert!(!matches("foo.*", "foo"));
        assert!(matches("foo.>", "foo.bar.baz"));
        assert!(!matches("foo.>", "foo"));
        assert!(matches(">", "foo"));
        assert!(matches("*.bar", "foo.bar"));
        assert!(!matches("a.b*", "a.bc"));
        assert!(matches("a.b*", "a.b*"));
        assert!(matches("foo", "foo"));
        assert!(!matches("foo", "foo.bar"));
    }

    #[test]
    fn subset_of_patterns() {
        assert!(is_subset("foo.*", "foo.>"));
        assert!(is_subset("foo.bar", "foo.*"));
        assert!(!is_subset("foo.>", "foo.*"));
        assert!(is_subset("foo.>", "foo.>"));
        assert!(is_subset("foo.>", ">"));
        assert!(!is_subset("foo.*", "foo.bar"));
    }
}
