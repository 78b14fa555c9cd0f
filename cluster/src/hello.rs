//! Handshake rules, as pure functions: what a peer's Hello must satisfy and
//! how a dynamic cluster name is adopted.

use starling_proto::route::{Framing, Hello, ROUTE_MAGIC};

use crate::close::CloseReason;

/// The cluster name in force on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterName {
    /// The name.
    pub name: String,
    /// Generated rather than configured: may be replaced by a peer's.
    pub dynamic: bool,
}

/// How two cluster names agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameAgreement {
    /// Same name.
    Same,
    /// Ours is dynamic and yields: we take the peer's name.
    AdoptPeers,
    /// The peer's is dynamic and yields: the peer takes ours.
    PeerAdoptsOurs,
}

/// nats-server's rule (route.go `processRouteInfo`): a dynamic name yields to
/// a configured one, and between two dynamic names the one that sorts lower
/// yields. Both sides evaluate it to the same outcome, so the route is kept
/// on the first try. Two different configured names conflict.
pub(crate) fn agree_names(
    ours: &ClusterName,
    peer_name: &str,
    peer_dynamic: bool,
) -> Result<NameAgreement, CloseReason> {
    if ours.name == peer_name {
        Ok(NameAgreement::Same)
    } else if ours.dynamic && (!peer_dynamic || ours.name.as_str() < peer_name) {
        Ok(NameAgreement::AdoptPeers)
    } else if peer_dynamic && (!ours.dynamic || peer_name < ours.name.as_str()) {
        Ok(NameAgreement::PeerAdoptsOurs)
    } else {
        Err(CloseReason::ClusterNameConflict)
    }
}

/// The length prefix of every frame after the Hellos: compact when the
/// peer's Hello announces it (ours always does).
pub(crate) fn negotiated_framing(peer: &Hello) -> Framing {
    if peer.compact_framing {
        Framing::Compact
    } else {
        Framing::Fixed
    }
}

/// Check the magic number and protocol version.
pub(crate) fn check_protocol(hello: &Hello) -> Result<(), CloseReason> {
    hello.is_compatible().map_err(|_| {
        if hello.magic == ROUTE_MAGIC {
            CloseReason::VersionMismatch
        } else {
            CloseReason::ProtocolMismatch
        }
    })
}

/// When this node has route credentials, the dialer's Hello must carry the
/// same ones. Compared in constant time.
pub(crate) fn check_credentials(
    user: &Option<String>,
    password: &Option<String>,
    hello: &Hello,
) -> Result<(), CloseReason> {
    let Some(expected_user) = user else {
        return Ok(());
    };
    let user_ok = constant_time_eq(
        expected_user.as_bytes(),
        hello.user.as_deref().unwrap_or_default().as_bytes(),
    );
    let expected_password = password.as_deref().unwrap_or_default();
    let password_ok = constant_time_eq(
        expected_password.as_bytes(),
        hello.password.as_deref().unwrap_or_default().as_bytes(),
    );
    if user_ok & password_ok & hello.user.is_some() {
        Ok(())
    } else {
        Err(CloseReason::AuthenticationFailed)
    }
}

/// Equality whose time depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use starling_proto::route::ROUTE_PROTOCOL_VERSION;

    use super::*;

    fn name(name: &str, dynamic: bool) -> ClusterName {
        ClusterName {
            name: name.to_string(),
            dynamic,
        }
    }

    #[test]
    fn configured_names_must_match() {
        assert_eq!(
            agree_names(&name("a", false), "a", false),
            Ok(NameAgreement::Same)
        );
        assert_eq!(
            agree_names(&name("a", false), "b", false),
            Err(CloseReason::ClusterNameConflict)
        );
    }

    #[test]
    fn dynamic_name_yields_to_configured_one_on_both_sides() {
        assert_eq!(
            agree_names(&name("dyn", true), "prod", false),
            Ok(NameAgreement::AdoptPeers)
        );
        assert_eq!(
            agree_names(&name("prod", false), "dyn", true),
            Ok(NameAgreement::PeerAdoptsOurs)
        );
    }

    #[test]
    fn between_dynamic_names_the_lower_one_yields_on_both_sides() {
        assert_eq!(
            agree_names(&name("aaa", true), "zzz", true),
            Ok(NameAgreement::AdoptPeers)
        );
        assert_eq!(
            agree_names(&name("zzz", true), "aaa", true),
            Ok(NameAgreement::PeerAdoptsOurs)
        );
    }

    fn hello_with(user: Option<&str>, password: Option<&str>) -> Hello {
        Hello {
            magic: ROUTE_MAGIC,
            version: ROUTE_PROTOCOL_VERSION,
            user: user.map(str::to_string),
            password: password.map(str::to_string),
            ..Hello::default()
        }
    }

    #[test]
    fn credentials_are_required_only_when_configured() {
        let none = None;
        assert_eq!(
            check_credentials(&none, &none, &hello_with(None, None)),
            Ok(())
        );
        let user = Some("ruser".to_string());
        let pass = Some("secret".to_string());
        assert_eq!(
            check_credentials(&user, &pass, &hello_with(Some("ruser"), Some("secret"))),
            Ok(())
        );
        for (u, p) in [
            (Some("ruser"), Some("wrong")),
            (None, None),
            (Some("x"), Some("secret")),
        ] {
            assert_eq!(
                check_credentials(&user, &pass, &hello_with(u, p)),
                Err(CloseReason::AuthenticationFailed)
            );
        }
    }

    #[test]
    fn wrong_magic_or_version_is_a_protocol_mismatch() {
        let mut hello = hello_with(None, None);
        assert_eq!(check_protocol(&hello), Ok(()));
        hello.magic = 1;
        assert_eq!(check_protocol(&hello), Err(CloseReason::ProtocolMismatch));
        hello.magic = ROUTE_MAGIC;
        hello.version = ROUTE_PROTOCOL_VERSION + 1;
        assert_eq!(check_protocol(&hello), Err(CloseReason::VersionMismatch));
        hello.version = 1;
        assert_eq!(check_protocol(&hello), Err(CloseReason::VersionMismatch));
    }
}
