//! Account names as the protocols carry them.
//!
//! Every subject lives in an account. With no accounts configured every
//! client is in the global account `$G`; `$SYS` is the system account. On a
//! route an empty account field means `$G`, so the default account costs no
//! bytes on the wire.

/// The account of every client when no accounts are configured.
pub const GLOBAL_ACCOUNT: &str = "$G";

/// The default name of the system account.
pub const SYSTEM_ACCOUNT: &str = "$SYS";

/// An account name: non-empty, no whitespace or control characters and no
/// wildcard, since names appear as tokens of system subjects
/// (`$SYS.REQ.ACCOUNT.<name>.CONNZ`).
pub fn is_valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '*' && c != '>')
}

/// The account name a route field carries: empty for the global account.
pub fn to_wire(name: &[u8]) -> &[u8] {
    if name == GLOBAL_ACCOUNT.as_bytes() {
        &[]
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_valid() {
        for name in [
            "$G",
            "$SYS",
            "A",
            "team-a",
            "ACZSWBJ4SYILK7QVDELO64VX3EFWB6CXCPMEBO4Y4RYNLF2DUZWVLWYL",
            "äccount",
        ] {
            assert!(is_valid_account_name(name), "{name}");
        }
    }

    #[test]
    fn empty_spaced_or_wildcard_names_are_invalid() {
        for name in ["", "a b", "a\tb", "a*", ">", "a\r\n"] {
            assert!(!is_valid_account_name(name), "{name:?}");
        }
    }

    #[test]
    fn global_account_is_empty_on_the_wire() {
        assert_eq!(to_wire(b"$G"), b"");
        assert_eq!(to_wire(b"A"), b"A");
    }
}
