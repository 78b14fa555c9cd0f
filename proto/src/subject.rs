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

/// A subject a client may subscribe to: valid tokens, `>` only last.
///
/// One pass over the bytes: it runs for every SUB and every interest
/// change a peer announces (a 100,000-entry snapshot validates each).
pub fn is_valid_subject(subject: &str) -> bool {
    let bytes = subject.as_bytes();
    let mut token_start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            b'.' => {
                // An empty token, or `>` before the last token.
                if index == token_start || (index == token_start + 1 && bytes[token_start] == b'>')
                {
                    return false;
                }
                token_start = index + 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => return false,
            _ => {}
        }
    }
    // The last token must not be empty (this also refuses "").
    token_start < bytes.len()
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

    /// The token-wise definition the one-pass check must agree with.
    fn valid_by_tokens(subject: &str) -> bool {
        let tokens: Vec<&str> = subject.split('.').collect();
        !subject.is_empty()
            && tokens.iter().enumerate().all(|(index, token)| {
                !token.is_empty()
                    && !token
                        .bytes()
                        .any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
                    && (*token != WILDCARD_REST || index + 1 == tokens.len())
            })
    }

    proptest::proptest! {
        #[test]
        fn one_pass_validity_agrees_with_the_token_definition(subject in "[a>*. \t\r\n\x0c$]{0,8}") {
            proptest::prop_assert_eq!(is_valid_subject(&subject), valid_by_tokens(&subject), "{:?}", subject);
        }
    }
}
