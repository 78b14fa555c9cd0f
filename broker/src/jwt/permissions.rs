//! JWT permissions as the broker's [`crate::options::Permissions`]
//! (nats-server `buildPermissionsFromJwt`): an empty side means "not
//! restricted", and `resp` becomes `allow_responses`.

use std::time::Duration;

use super::claims::{Permissions, SubjectPermission};
use crate::options;

fn side(permission: &SubjectPermission) -> Option<options::SubjectPermission> {
    (!permission.is_empty()).then(|| options::SubjectPermission {
        allow: permission.allow.clone(),
        deny: permission.deny.clone(),
    })
}

/// The broker form of a JWT's `pub`/`sub`/`resp`; None when nothing is
/// restricted.
pub fn to_options(permissions: &Permissions) -> Option<options::Permissions> {
    let converted = options::Permissions {
        publish: side(&permissions.publish),
        subscribe: side(&permissions.subscribe),
        allow_responses: permissions
            .resp
            .as_ref()
            .map(|resp| options::ResponsePermission {
                // nats-server's defaults for zero values: one response.
                max_msgs: usize::try_from(resp.max)
                    .ok()
                    .filter(|max| *max > 0)
                    .unwrap_or(1),
                expires: u64::try_from(resp.ttl)
                    .map(Duration::from_nanos)
                    .unwrap_or(Duration::ZERO),
            }),
    };
    let unrestricted = converted.publish.is_none()
        && converted.subscribe.is_none()
        && converted.allow_responses.is_none();
    (!unrestricted).then_some(converted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::claims::ResponsePermission;

    #[test]
    fn empty_sides_are_unrestricted_and_resp_maps_to_allow_responses() {
        assert_eq!(to_options(&Permissions::default()), None);
        let permissions = Permissions {
            publish: SubjectPermission {
                allow: vec!["a.>".into()],
                deny: vec![],
            },
            subscribe: SubjectPermission::default(),
            resp: Some(ResponsePermission {
                max: 0,
                ttl: 1_000_000_000,
            }),
        };
        let converted = to_options(&permissions).expect("restricted");
        assert_eq!(converted.publish.expect("pub").allow, vec!["a.>"]);
        assert!(converted.subscribe.is_none());
        let resp = converted.allow_responses.expect("resp");
        assert_eq!((resp.max_msgs, resp.expires), (1, Duration::from_secs(1)));
    }
}
