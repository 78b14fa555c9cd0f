use serde_json::{json, Value};

use super::*;
use crate::jwt::claims::Claims;
use crate::jwt::mint::{self, unix_now};
use crate::jwt::resolver::MemoryResolver;
use crate::jwt::token::encode;

fn parse(reply: &[u8]) -> Value {
    serde_json::from_slice(reply).expect("reply is JSON")
}

struct Fixture {
    operator: mint::Minted<crate::jwt::OperatorClaims>,
    trusted: TrustedOperators,
    resolver: MemoryResolver,
    server: Value,
}

fn fixture() -> Fixture {
    let operator = mint::operator("op", |_| {});
    let trusted =
        TrustedOperators::new(std::slice::from_ref(&operator.jwt), unix_now()).expect("trust");
    Fixture {
        operator,
        trusted,
        resolver: MemoryResolver::default(),
        server: json!({"name": "n1", "id": "NID"}),
    }
}

impl Fixture {
    fn handler(&self) -> ClaimsHandler<'_> {
        ClaimsHandler {
            trusted: &self.trusted,
            resolver: &self.resolver,
            system_account: None,
            server: &self.server,
        }
    }
}

#[test]
fn subjects_are_recognised() {
    assert_eq!(
        parse_claims_subject("$SYS.REQ.CLAIMS.UPDATE"),
        Some(ClaimsRequest::Update { account: None })
    );
    assert_eq!(
        parse_claims_subject("$SYS.REQ.ACCOUNT.AXYZ.CLAIMS.UPDATE"),
        Some(ClaimsRequest::Update {
            account: Some("AXYZ".into())
        })
    );
    assert_eq!(
        parse_claims_subject("$SYS.ACCOUNT.AXYZ.CLAIMS.UPDATE"),
        Some(ClaimsRequest::Update {
            account: Some("AXYZ".into())
        })
    );
    assert_eq!(
        parse_claims_subject("$SYS.REQ.ACCOUNT.AXYZ.CLAIMS.LOOKUP"),
        Some(ClaimsRequest::Lookup {
            account: Some("AXYZ".into())
        })
    );
    assert_eq!(
        parse_claims_subject("$SYS.REQ.CLAIMS.LIST"),
        Some(ClaimsRequest::List)
    );
    assert_eq!(
        parse_claims_subject("$SYS.REQ.CLAIMS.DELETE"),
        Some(ClaimsRequest::Delete)
    );
    assert_eq!(parse_claims_subject("$SYS.REQ.SERVER.PING"), None);
}

#[test]
fn an_update_is_stored_looked_up_and_listed() {
    let fixture = fixture();
    let account = mint::account(&fixture.operator.key, "a", |_| {});
    let key = account.key.public_key();
    let handler = fixture.handler();
    let update = ClaimsRequest::Update { account: None };
    let outcome = handler.handle(&update, account.jwt.as_bytes(), unix_now());
    assert_eq!(
        parse(&outcome.reply),
        json!({"server": {"name": "n1", "id": "NID"},
               "data": {"account": key, "code": 200, "message": "jwt updated"}})
    );
    assert_eq!(
        outcome.changed.map(|claims| claims.data.sub),
        Some(key.clone())
    );
    // The same token again changes nothing.
    let again = handler.handle(&update, account.jwt.as_bytes(), unix_now());
    assert!(again.changed.is_none());

    let lookup = ClaimsRequest::Lookup {
        account: Some(key.clone()),
    };
    assert_eq!(
        handler.handle(&lookup, b"", unix_now()).reply,
        account.jwt.as_bytes()
    );
    let by_payload = ClaimsRequest::Lookup { account: None };
    assert_eq!(
        handler
            .handle(&by_payload, key.as_bytes(), unix_now())
            .reply,
        account.jwt.as_bytes()
    );
    let missing = ClaimsRequest::Lookup {
        account: Some("ANOPE".into()),
    };
    assert!(handler.handle(&missing, b"", unix_now()).reply.is_empty());
    let list = parse(&handler.handle(&ClaimsRequest::List, b"", unix_now()).reply);
    assert_eq!(list["data"], json!([key]));
}

#[test]
fn bad_updates_get_nats_server_error_replies() {
    let fixture = fixture();
    let handler = fixture.handler();
    let update = ClaimsRequest::Update { account: None };
    let garbage = parse(&handler.handle(&update, b"not a jwt", unix_now()).reply);
    assert_eq!(garbage["error"]["account"], "n/a");
    assert_eq!(garbage["error"]["code"], 500);
    assert!(garbage["error"]["description"]
        .as_str()
        .expect("description")
        .starts_with("jwt update resulted in error - "));

    let stranger = mint::operator("stranger", |_| {});
    let foreign = mint::account(&stranger.key, "f", |_| {});
    let outcome = handler.handle(&update, foreign.jwt.as_bytes(), unix_now());
    assert!(outcome.changed.is_none());
    assert_eq!(
        parse(&outcome.reply)["error"]["description"],
        "jwt update resulted in error - account jwt issuer is not trusted"
    );

    let expired = mint::account(&fixture.operator.key, "e", |c| c.data.exp = 1);
    let reply = parse(
        &handler
            .handle(&update, expired.jwt.as_bytes(), unix_now())
            .reply,
    );
    assert_eq!(
        reply["error"]["description"],
        "jwt validation failed - claim is expired"
    );

    let account = mint::account(&fixture.operator.key, "a", |_| {});
    let wrong_subject = ClaimsRequest::Update {
        account: Some("AOTHER".into()),
    };
    let reply = parse(
        &handler
            .handle(&wrong_subject, account.jwt.as_bytes(), unix_now())
            .reply,
    );
    assert_eq!(reply["error"]["account"], "AOTHER");
    assert!(fixture.resolver.list().is_empty());
}

#[test]
fn deletes_need_allow_delete_and_an_operator_signature() {
    let fixture = fixture();
    let handler = fixture.handler();
    let account = mint::account(&fixture.operator.key, "a", |_| {});
    handler.handle(
        &ClaimsRequest::Update { account: None },
        account.jwt.as_bytes(),
        unix_now(),
    );
    let operator_key = fixture.operator.key.public_key();
    let request = Claims {
        data: ClaimsData {
            iss: operator_key.clone(),
            sub: operator_key.clone(),
            ..ClaimsData::default()
        },
        nats: json!({"accounts": [account.key.public_key()]}),
    };
    let token = encode(&request, &fixture.operator.key).expect("encode");
    let outcome = handler.handle(&ClaimsRequest::Delete, token.as_bytes(), unix_now());
    let reply = parse(&outcome.reply);
    assert_eq!(
        reply["error"]["description"],
        format!(
            "delete accounts request by {operator_key} failed - delete must be enabled in server config"
        )
    );
    assert!(outcome.deleted.is_empty());
}

#[test]
fn an_operator_signed_delete_removes_accounts_but_never_the_system_account() {
    use crate::jwt::resolver::{DeletePolicy, DirResolver, DirResolverOptions};
    let operator = mint::operator("op", |_| {});
    let trusted =
        TrustedOperators::new(std::slice::from_ref(&operator.jwt), unix_now()).expect("trust");
    let dir = std::env::temp_dir().join(format!(
        "starling-claims-delete-{}-{}",
        std::process::id(),
        nkeys::KeyPair::new_user().public_key()
    ));
    let resolver = DirResolver::open(DirResolverOptions {
        dir: dir.clone(),
        limit: 0,
        delete: DeletePolicy::Hard,
        interval: std::time::Duration::from_secs(60),
        timeout: std::time::Duration::from_secs(2),
    })
    .expect("open");
    let system = mint::account(&operator.key, "SYS", |_| {});
    let system_key = system.key.public_key();
    let server = json!({});
    let handler = ClaimsHandler {
        trusted: &trusted,
        resolver: &resolver,
        system_account: Some(&system_key),
        server: &server,
    };
    let account = mint::account(&operator.key, "a", |_| {});
    let update = ClaimsRequest::Update { account: None };
    handler.handle(&update, account.jwt.as_bytes(), unix_now());
    let operator_key = operator.key.public_key();
    let delete = |accounts: Value, signer: &nkeys::KeyPair| {
        let request = Claims {
            data: ClaimsData {
                iss: signer.public_key(),
                sub: signer.public_key(),
                ..ClaimsData::default()
            },
            nats: json!({ "accounts": accounts }),
        };
        let token = encode(&request, signer).expect("encode");
        handler.handle(&ClaimsRequest::Delete, token.as_bytes(), unix_now())
    };
    let refused = delete(json!([system_key]), &operator.key);
    assert!(parse(&refused.reply)["error"]["description"]
        .as_str()
        .expect("description")
        .ends_with("not allowed to delete system account"));
    let stranger = nkeys::KeyPair::new_operator();
    let untrusted = delete(json!([account.key.public_key()]), &stranger);
    assert!(untrusted.deleted.is_empty());
    let deleted = delete(json!([account.key.public_key()]), &operator.key);
    assert_eq!(
        parse(&deleted.reply)["data"]["message"],
        "deleted 1 accounts",
        "by {operator_key}"
    );
    assert_eq!(deleted.deleted, vec![account.key.public_key()]);
    assert!(resolver.list().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}
