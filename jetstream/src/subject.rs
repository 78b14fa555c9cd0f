//! Stream subjects: validity and overlap. Two stream subjects overlap when
//! some literal subject matches both; streams may not share a subject
//! (10065), and no stream may capture the JetStream API.

/// Whether `subject` is a valid subscription subject: non-empty tokens
/// without whitespace, `*` a whole token, `>` only as the last token.
pub fn is_valid_filter(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    let last = tokens.len() - 1;
    tokens.iter().enumerate().all(|(index, token)| {
        !token.is_empty()
            && !token.bytes().any(|b| b.is_ascii_whitespace())
            && (token.len() == 1 || !token.contains(['*', '>']))
            && (*token != ">" || index == last)
    })
}

/// Whether some literal subject matches both `a` and `b` (both valid).
pub fn overlaps(a: &str, b: &str) -> bool {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (None, None) => return true,
            (Some(x), Some(y)) => {
                if x != y && x != "*" && y != "*" {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Whether every subject matching `inner` also matches `outer`.
pub fn is_subset(inner: &str, outer: &str) -> bool {
    let mut inner_tokens = inner.split('.');
    let mut outer_tokens = outer.split('.');
    loop {
        match (inner_tokens.next(), outer_tokens.next()) {
            (Some(_), Some(">")) => return true,
            (None, None) => return true,
            (Some(x), Some(y)) => {
                if y != "*" && x != y {
                    return false;
                }
                if y == "*" && x == ">" {
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
    fn valid_filters() {
        for good in ["a", "a.b", "a.*", "a.>", "*", ">", "$KV.b.>"] {
            assert!(is_valid_filter(good), "{good}");
        }
        for bad in ["", "a..b", ".a", "a.", "a.>.b", "a b", "a*", "a.b>"] {
            assert!(!is_valid_filter(bad), "{bad}");
        }
    }

    #[test]
    fn overlap_cases() {
        assert!(overlaps("a.b", "a.b"));
        assert!(overlaps("a.*", "a.b"));
        assert!(overlaps("a.>", "a.b.c"));
        assert!(overlaps("*.b", "a.*"));
        assert!(overlaps(">", "x"));
        assert!(!overlaps("a.b", "a.c"));
        assert!(!overlaps("a.*", "a.b.c"));
        assert!(!overlaps("a", "a.b"));
        assert!(!overlaps("a.>", "a"));
    }

    #[test]
    fn subset_cases() {
        assert!(is_subset("a.b", "a.*"));
        assert!(is_subset("a.b.c", "a.>"));
        assert!(is_subset("a.*", "a.>"));
        assert!(is_subset("a.>", ">"));
        assert!(!is_subset("a.>", "a.*"));
        assert!(!is_subset("a", "a.>"));
        assert!(!is_subset("a.*", "a.b"));
    }
}
