use data_encoding::BASE64URL_NOPAD;
use nkeys::KeyPair;

use super::*;
use crate::jwt::claims::{SubjectPermission, TimeRange};
use crate::jwt::mint::{self, Minted};
use crate::jwt::test_vectors as suite;

const NOW: i64 = 1_700_000_000;

struct Setup {
    operator: Minted<OperatorClaims>,
    account: Minted<AccountClaims>,
    trusted: TrustedOperators,
}

fn setup() -> Setup {
    let operator = mint::operator("op", |_| {});
    let account = mint::account(&operator.key, "acc", |_| {});
    let trusted = TrustedOperators::new(std::slice::from_ref(&operator.jwt), NOW).expect("trust");
    Setup {
        operator,
        account,
        trusted,
    }
}

fn proof<'a>(nonce: &'a [u8], sig: Option<&'a str>) -> ConnectProof<'a> {
    ConnectProof {
        nonce,
        sig,
        client_ip: Some("127.0.0.1".parse().expect("ip")),
        connection_type: CONNECTION_TYPE_STANDARD,
        seconds_of_day_utc: 12 * 3600,
    }
}

fn signed(user: &KeyPair, nonce: &[u8]) -> String {
    BASE64URL_NOPAD.encode(&user.sign(nonce).expect("sign"))
}

fn authorize(
    setup: &Setup,
    user: &Minted<UserClaims>,
    proof: &ConnectProof<'_>,
) -> Result<AuthorizedUser, JwtError> {
    let claims = decode_user(&user.jwt, NOW)?;
    let account = setup.trusted.verify_account(&setup.account.jwt, NOW)?;
    authorize_user(claims, &account, proof)
}

#[test]
fn the_async_nats_suite_chain_verifies() {
    let now = 1_651_790_990;
    let trusted = TrustedOperators::new(&[suite::SUITE_OPERATOR_JWT.to_string()], now).expect("op");
    assert_eq!(trusted.system_account(), Some(suite::SUITE_SYSTEM_ACCOUNT));
    let account = trusted
        .verify_account(suite::SUITE_ACCOUNT_JWT, now)
        .expect("account");
    assert_eq!(account.data.sub, suite::SUITE_ACCOUNT);
    let user = decode_user(suite::SUITE_USER_JWT, now).expect("user");
    assert_eq!(account_of(&user), suite::SUITE_ACCOUNT);
    let key = KeyPair::from_seed(suite::SUITE_USER_SEED).expect("seed");
    let sig = signed(&key, b"abc");
    let authorized = authorize_user(user, &account, &proof(b"abc", Some(&sig))).expect("auth");
    assert_eq!(authorized.account, suite::SUITE_ACCOUNT);
    assert_eq!(authorized.expires_at, None);
}

#[test]
fn an_account_from_an_unknown_operator_is_untrusted() {
    let setup = setup();
    let stranger = mint::operator("other", |_| {});
    let foreign = mint::account(&stranger.key, "foreign", |_| {});
    assert_eq!(
        setup.trusted.verify_account(&foreign.jwt, NOW).map(|_| ()),
        Err(JwtError::UntrustedIssuer)
    );
}

#[test]
fn operator_signing_keys_may_sign_accounts_and_strict_mode_requires_them() {
    let signing = KeyPair::new_operator();
    let signing_key = signing.public_key();
    let operator = mint::operator("op", |claims| {
        claims.nats.signing_keys = vec![signing_key.clone()];
        claims.nats.strict_signing_key_usage = true;
    });
    let trusted = TrustedOperators::new(std::slice::from_ref(&operator.jwt), NOW).expect("trust");
    let by_signing_key = mint::account(&signing, "a", |_| {});
    assert!(trusted.verify_account(&by_signing_key.jwt, NOW).is_ok());
    let by_operator = mint::account(&operator.key, "b", |_| {});
    assert_eq!(
        trusted.verify_account(&by_operator.jwt, NOW).map(|_| ()),
        Err(JwtError::UntrustedIssuer)
    );
}

#[test]
fn times_are_checked_with_the_injected_clock() {
    let expired = ClaimsData {
        exp: NOW - 1,
        ..ClaimsData::default()
    };
    assert_eq!(check_times(&expired, NOW), Err(JwtError::Expired));
    let early = ClaimsData {
        nbf: NOW + 10,
        ..ClaimsData::default()
    };
    assert_eq!(check_times(&early, NOW), Err(JwtError::NotYetValid));
    assert_eq!(check_times(&early, NOW + 10), Ok(()));
    let setup = setup();
    let account_key = setup.account.key.public_key();
    let user = mint::user(&account_key, &setup.account.key, "u", |c| {
        c.data.exp = NOW + 60
    });
    assert!(decode_user(&user.jwt, NOW).is_ok());
    assert_eq!(
        decode_user(&user.jwt, NOW + 61).map(|_| ()),
        Err(JwtError::Expired)
    );
}

#[test]
fn the_nonce_must_be_signed_unless_the_user_is_a_bearer() {
    let setup = setup();
    let account_key = setup.account.key.public_key();
    let user = mint::user(&account_key, &setup.account.key, "u", |_| {});
    let good = signed(&user.key, b"n1");
    assert!(authorize(&setup, &user, &proof(b"n1", Some(&good))).is_ok());
    assert_eq!(
        authorize(&setup, &user, &proof(b"n2", Some(&good))).map(|_| ()),
        Err(JwtError::BadNonceSignature)
    );
    assert_eq!(
        authorize(&setup, &user, &proof(b"n1", None)).map(|_| ()),
        Err(JwtError::BadNonceSignature)
    );
    let bearer = mint::user(&account_key, &setup.account.key, "b", |c| {
        c.nats.permission_limits.bearer_token = true;
    });
    assert!(authorize(&setup, &bearer, &proof(b"n1", None)).is_ok());
}

#[test]
fn an_account_may_disallow_bearer_tokens() {
    let mut setup = setup();
    let operator_key = setup.operator.key.clone();
    setup
        .account
        .reissue(&operator_key, |c| c.nats.limits.disallow_bearer = true);
    let account_key = setup.account.key.public_key();
    let bearer = mint::user(&account_key, &setup.account.key, "b", |c| {
        c.nats.permission_limits.bearer_token = true;
    });
    assert_eq!(
        authorize(&setup, &bearer, &proof(b"n", None)).map(|_| ()),
        Err(JwtError::BearerNotAllowed)
    );
}

#[test]
fn users_of_signing_keys_need_issuer_account_and_a_known_key() {
    let mut setup = setup();
    let signing = KeyPair::new_account();
    let operator_key = setup.operator.key.clone();
    let account_key = setup.account.key.public_key();
    let by_unknown_key = mint::user(&account_key, &signing, "u", |_| {});
    let sig = signed(&by_unknown_key.key, b"n");
    assert_eq!(
        authorize(&setup, &by_unknown_key, &proof(b"n", Some(&sig))).map(|_| ()),
        Err(JwtError::UnknownUserIssuer)
    );
    let scoped = SigningKey::Scoped {
        kind: "user_scope".into(),
        key: signing.public_key(),
        role: "reader".into(),
        template: Box::new(UserPermissionLimits {
            permissions: Permissions {
                publish: SubjectPermission {
                    allow: vec!["scoped.>".into()],
                    deny: vec![],
                },
                ..Permissions::default()
            },
            ..UserPermissionLimits::default()
        }),
    };
    setup
        .account
        .reissue(&operator_key, |c| c.nats.signing_keys = vec![scoped]);
    let by_scoped_key = mint::user(&account_key, &signing, "u", |c| {
        c.nats.permission_limits.permissions.publish.allow = vec!["mine".into()];
    });
    let sig = signed(&by_scoped_key.key, b"n");
    let authorized = authorize(&setup, &by_scoped_key, &proof(b"n", Some(&sig))).expect("auth");
    assert_eq!(authorized.signing_key, Some(signing.public_key()));
    // The scope's template replaces what the user JWT says.
    assert_eq!(
        authorized.permission_limits.permissions.publish.allow,
        vec!["scoped.>"]
    );
    // A user of another account claiming this one is refused.
    let other = mint::account(&operator_key, "other", |_| {});
    let impostor = mint::user(&other.key.public_key(), &other.key, "i", |_| {});
    let sig = signed(&impostor.key, b"n");
    assert_eq!(
        authorize(&setup, &impostor, &proof(b"n", Some(&sig))).map(|_| ()),
        Err(JwtError::UnknownUserIssuer)
    );
}

#[test]
fn revocations_apply_to_users_issued_until_then() {
    let mut setup = setup();
    let operator_key = setup.operator.key.clone();
    let account_key = setup.account.key.public_key();
    let user = mint::user(&account_key, &setup.account.key, "u", |c| {
        c.data.iat = NOW - 100
    });
    let key = user.claims.data.sub.clone();
    let sig = signed(&user.key, b"n");
    setup.account.reissue(&operator_key, |c| {
        c.nats.revocations.insert(key.clone(), NOW - 100);
    });
    assert_eq!(
        authorize(&setup, &user, &proof(b"n", Some(&sig))).map(|_| ()),
        Err(JwtError::Revoked)
    );
    // Reissued after the revocation: accepted again.
    let later = mint::user(&account_key, &setup.account.key, "u2", |c| {
        c.data.iat = NOW - 99
    });
    let sig_later = signed(&later.key, b"n");
    assert!(authorize(&setup, &later, &proof(b"n", Some(&sig_later))).is_ok());
    // "*" revokes everyone issued until then.
    setup.account.reissue(&operator_key, |c| {
        c.nats.revocations.insert("*".into(), NOW - 50);
    });
    assert_eq!(
        authorize(&setup, &later, &proof(b"n", Some(&sig_later))).map(|_| ()),
        Err(JwtError::Revoked)
    );
}

#[test]
fn default_permissions_apply_to_users_without_any() {
    let mut setup = setup();
    let operator_key = setup.operator.key.clone();
    setup.account.reissue(&operator_key, |c| {
        c.nats.default_permissions.subscribe.deny = vec!["secret.>".into()];
    });
    let account_key = setup.account.key.public_key();
    let plain = mint::user(&account_key, &setup.account.key, "p", |_| {});
    let sig = signed(&plain.key, b"n");
    let authorized = authorize(&setup, &plain, &proof(b"n", Some(&sig))).expect("auth");
    assert_eq!(
        authorized.permission_limits.permissions.subscribe.deny,
        vec!["secret.>"]
    );
    let own = mint::user(&account_key, &setup.account.key, "o", |c| {
        c.nats.permission_limits.permissions.publish.deny = vec!["x".into()];
    });
    let sig = signed(&own.key, b"n");
    let authorized = authorize(&setup, &own, &proof(b"n", Some(&sig))).expect("auth");
    assert!(authorized
        .permission_limits
        .permissions
        .subscribe
        .is_empty());
}

#[test]
fn source_networks_connection_types_and_times() {
    let setup = setup();
    let account_key = setup.account.key.public_key();
    let user = mint::user(&account_key, &setup.account.key, "u", |c| {
        let limits = &mut c.nats.permission_limits;
        limits.limits.src = vec!["10.0.0.0/8".into(), "127.0.0.1".into()];
        limits.limits.times = vec![TimeRange {
            start: "08:00:00".into(),
            end: "17:00:00".into(),
        }];
        limits.allowed_connection_types = vec!["STANDARD".into()];
    });
    let sig = signed(&user.key, b"n");
    let mut ok = proof(b"n", Some(&sig));
    assert!(authorize(&setup, &user, &ok).is_ok());
    ok.client_ip = Some("10.9.8.7".parse().expect("ip"));
    assert!(authorize(&setup, &user, &ok).is_ok());
    let mut outside = ok;
    outside.client_ip = Some("192.168.1.1".parse().expect("ip"));
    assert!(authorize(&setup, &user, &outside).is_err());
    let mut late = ok;
    late.seconds_of_day_utc = 20 * 3600;
    assert!(authorize(&setup, &user, &late).is_err());
    let mut websocket = ok;
    websocket.connection_type = "WEBSOCKET";
    assert!(authorize(&setup, &user, &websocket).is_err());
    assert!(cidr_contains("::1/128", "::1".parse().expect("ip")));
    assert!(!cidr_contains("garbage", "::1".parse().expect("ip")));
}

#[test]
fn wrong_claim_types_are_refused() {
    let setup = setup();
    assert!(matches!(
        decode_user(&setup.account.jwt, NOW),
        Err(JwtError::WrongType { .. })
    ));
    assert!(matches!(
        decode_operator(&setup.account.jwt, NOW),
        Err(JwtError::WrongType { .. })
    ));
    assert!(TrustedOperators::new(std::slice::from_ref(&setup.account.jwt), NOW).is_err());
}
