//! Subject checks a consumer config needs: validity, subset, collision.

/// A valid subject or filter: non-empty tokens, no whitespace, `>` only last.
pub fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() || subject.chars().any(char::is_whitespace) {
        return false;
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    tokens
        .iter()
        .enumerate()
        .all(|(index, token)| !token.is_empty() && (*token != ">" || index == tokens.len() - 1))
}

/// True when the subject has a `*` or `>` token.
pub fn has_wildcard(subject: &str) -> bool {
    subject.split('.').any(|token| token == "*" || token == ">")
}

/// True when every subject `subject` matches is also matched by `test`
/// (nats-server's `subjectIsSubsetMatch`).
pub fn is_subset(subject: &str, test: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for test_token in test.split('.') {
        let Some(token) = subject_tokens.next() else {
            return false;
        };
        if test_token == ">" {
            return true;
        }
        if token == ">" {
            return false;
        }
        if test_token == "*" {
            continue;
        }
        if token == "*" || token != test_token {
            return false;
        }
    }
    subject_tokens.next().is_none()
}

/// True when some subject matches both filters.
pub fn subjects_collide(left: &str, right: &str) -> bool {
    let mut left_tokens = left.split('.');
    let mut right_tokens = right.split('.');
    loop {
        match (left_tokens.next(), right_tokens.next()) {
            (None, None) => return true,
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(l), Some(r)) => {
                if l != "*" && r != "*" && l != r {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        assert!(is_valid_subject("foo.bar"));
        assert!(is_valid_subject("foo.*.>"));
        assert!(!is_valid_subject("foo..bar"));
        assert!(!is_valid_subject("foo.>.bar"));
        assert!(!is_valid_subject(""));
        assert!(!is_valid_subject("foo bar"));
    }

    #[test]
    fn subset_and_collision() {
        assert!(is_subset("foo.bar", "foo.*"));
        assert!(is_subset("foo.bar.baz", "foo.>"));
        assert!(!is_subset("foo.*", "foo.bar"));
        assert!(!is_subset("foo.>", "foo.*"));
        assert!(is_subset("foo.*", "foo.>"));
        assert!(!is_subset("foo", "foo.>"));
        assert!(subjects_collide("foo.*", "*.bar"));
        assert!(!subjects_collide("foo.*", "bar.*"));
        assert!(subjects_collide("foo.>", "foo.a.b"));
        assert!(!subjects_collide("foo", "foo.bar"));
    }
}
