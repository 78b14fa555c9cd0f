//! The full resolver across a cluster of real `starling` processes: an
//! account JWT pushed through a system-account user on one node is stored
//! and applied by every node, a revocation pushed on another node closes
//! the revoked user's connection on a third, a node that starts with an
//! empty resolver directory gets the account by asking its peers, and a
//! pushed JWT's limits apply to connections already open.

mod common;

use common::operator::{
    connect_creds, list_until_all_answer, raw_jwt_client, round_trip, wait_for, Operator,
};
use common::DEADLINE;
use futures::StreamExt;
use starling::jwt::claims::{Claims, ClaimsData};
use starling::jwt::mint::unix_now;
use starling::jwt::token::encode;

async fn request_json(
    client: &async_nats::Client,
    subject: String,
    payload: String,
) -> serde_json::Value {
    let reply = tokio::time::timeout(DEADLINE, client.request(subject, payload.into()))
        .await
        .expect("reply in time")
        .expect("reply");
    serde_json::from_slice(&reply.payload).expect("JSON reply")
}

#[tokio::test]
async fn a_pushed_account_reaches_every_node_and_a_revocation_closes_users_elsewhere() {
    let mut setup = Operator::new();
    let a = setup.start_node("a", None).await;
    let b = setup.start_node("b", Some(&a)).await;
    let c = setup.start_node("c", Some(&a)).await;

    let admin = setup.user(&setup.system, |_| {});
    let admin_a = connect_creds(&a, &setup.creds_file("admin-a.creds", &admin))
        .await
        .expect("system user connects to a");
    // Every node's resolver answers, none holds the app account yet.
    let lists = list_until_all_answer(&admin_a, 3).await;
    let app_key = setup.app.key.public_key();
    assert!(
        lists
            .iter()
            .all(|list| !list.to_string().contains(&app_key)),
        "{lists:?}"
    );
    let user = setup.user(&setup.app, |claims| claims.data.iat = unix_now() - 10);
    let user_creds = setup.creds_file("app.creds", &user);
    assert!(
        connect_creds(&c, &user_creds).await.is_err(),
        "account not pushed yet"
    );

    // Pushed once, on a: every node stores it.
    let reply = request_json(
        &admin_a,
        "$SYS.REQ.CLAIMS.UPDATE".into(),
        setup.app.jwt.clone(),
    )
    .await;
    assert_eq!(reply["data"]["code"], 200, "{reply}");
    assert_eq!(reply["data"]["account"], app_key.as_str());
    for node in ["a", "b", "c"] {
        wait_for(&format!("node {node} stores the account"), || {
            setup.node_holds(node, &setup.app)
        })
        .await;
    }

    // A user of the account works on c, and across nodes.
    let on_c = connect_creds(&c, &user_creds)
        .await
        .expect("pushed account's user connects to c");
    round_trip(&on_c, "jwt.cluster").await;
    let on_a = connect_creds(&a, &setup.creds_file("app-a.creds", &user))
        .await
        .expect("and to a");
    let mut across = on_a.subscribe("jwt.across").await.expect("subscribe");
    on_a.flush().await.expect("flush");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        on_c.publish("jwt.across", "x".into())
            .await
            .expect("publish");
        on_c.flush().await.expect("flush");
        if let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(100), across.next()).await
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message from c to a"
        );
    }
    let mut live = raw_jwt_client(&c, &user).await;
    assert_eq!(live.line().await, "PONG");

    // The revocation is pushed on b; the user's connection on c closes.
    let admin_b = connect_creds(&b, &setup.creds_file("admin-b.creds", &admin))
        .await
        .expect("system user connects to b");
    let operator_key = setup.operator.key.clone();
    let user_key = user.claims.data.sub.clone();
    setup.app.reissue(&operator_key, |claims| {
        claims.data.iat = unix_now();
        claims.nats.revocations.insert(user_key, unix_now());
    });
    list_until_all_answer(&admin_b, 3).await;
    let reply = request_json(
        &admin_b,
        format!("$SYS.REQ.ACCOUNT.{app_key}.CLAIMS.UPDATE"),
        setup.app.jwt.clone(),
    )
    .await;
    assert_eq!(reply["data"]["message"], "jwt updated", "{reply}");
    let lines = live.expect_closed().await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-ERR 'User Authentication Revoked'"),
        "{lines:?}"
    );
    // Its connection on a, and the live one on c, are closed.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while on_a.connection_state() == async_nats::connection::State::Connected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "revoked user still connected to a"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut again = raw_jwt_client(&c, &user).await;
    assert_eq!(again.line().await, "-ERR 'Authorization Violation'");

    // A node started later, with an empty directory, asks its peers.
    let d = setup.start_node("d", Some(&b)).await;
    assert!(!setup.node_holds("d", &setup.app));
    let admin_d = connect_creds(&d, &setup.creds_file("admin-d.creds", &admin))
        .await
        .expect("system user connects to d");
    list_until_all_answer(&admin_d, 4).await;
    let fresh = setup.user(&setup.app, |_| {});
    let on_d = connect_creds(&d, &setup.creds_file("fresh.creds", &fresh))
        .await
        .expect("d fetched the account from its peers");
    round_trip(&on_d, "jwt.lookup").await;
    assert!(setup.node_holds("d", &setup.app), "the fetched JWT is kept");
    // The fetched JWT is the newest: the revoked user stays refused on d.
    let mut revoked = raw_jwt_client(&d, &user).await;
    assert_eq!(revoked.line().await, "-ERR 'Authorization Violation'");
    // A user of the app account may not reach the resolver: its publish
    // stays in its own account, where nothing answers.
    let refused = tokio::time::timeout(
        DEADLINE,
        on_d.request("$SYS.REQ.CLAIMS.UPDATE", setup.app.jwt.clone().into()),
    )
    .await
    .expect("answer in time");
    assert!(refused.is_err(), "an app user reached the resolver");

    // Every node holds it now, so any answer to a LOOKUP is the JWT.
    let lookup = tokio::time::timeout(
        DEADLINE,
        admin_d.request(
            format!("$SYS.REQ.ACCOUNT.{app_key}.CLAIMS.LOOKUP"),
            "".into(),
        ),
    )
    .await
    .expect("lookup answered in time")
    .expect("lookup answered");
    assert_eq!(lookup.payload, setup.app.jwt.as_bytes());

    // An operator-signed DELETE removes the account on every node and
    // closes its connections.
    let request = Claims {
        data: ClaimsData {
            iss: setup.operator.key.public_key(),
            sub: setup.operator.key.public_key(),
            ..ClaimsData::default()
        },
        nats: serde_json::json!({ "accounts": [app_key] }),
    };
    let token = encode(&request, &setup.operator.key).expect("sign delete");
    let reply = request_json(&admin_d, "$SYS.REQ.CLAIMS.DELETE".into(), token).await;
    assert_eq!(reply["data"]["message"], "deleted 1 accounts", "{reply}");
    for node in ["a", "b", "c", "d"] {
        wait_for(&format!("node {node} deletes the account"), || {
            !setup.node_holds(node, &setup.app)
        })
        .await;
    }
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while on_d.connection_state() == async_nats::connection::State::Connected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a deleted account's user is still connected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_pushed_jwt_changes_the_limits_of_connections_already_open() {
    let mut setup = Operator::new();
    let node = setup.start_node("solo", None).await;
    let admin = setup.user(&setup.system, |_| {});
    let admin = connect_creds(&node, &setup.creds_file("admin.creds", &admin))
        .await
        .expect("system user connects");
    let push = |jwt: String| {
        let admin = admin.clone();
        async move {
            let reply = request_json(&admin, "$SYS.REQ.CLAIMS.UPDATE".into(), jwt).await;
            assert_eq!(reply["data"]["message"], "jwt updated", "{reply}");
        }
    };
    push(setup.app.jwt.clone()).await;
    let user = setup.user(&setup.app, |_| {});
    let mut oldest = raw_jwt_client(&node, &user).await;
    assert_eq!(oldest.line().await, "PONG");
    let mut subscriber = raw_jwt_client(&node, &user).await;
    assert_eq!(subscriber.line().await, "PONG");
    subscriber
        .send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n")
        .await;
    assert_eq!(subscriber.line().await, "PONG");
    let mut publisher = raw_jwt_client(&node, &user).await;
    assert_eq!(publisher.line().await, "PONG");

    // At most 2 subscriptions and 8-byte payloads, from now on.
    let operator_key = setup.operator.key.clone();
    setup.app.reissue(&operator_key, |claims| {
        claims.nats.limits.nats.subs = 2;
        claims.nats.limits.nats.payload = 8;
    });
    push(setup.app.jwt.clone()).await;
    let lines = subscriber.expect_closed().await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-ERR 'Maximum Subscriptions Exceeded'"),
        "{lines:?}"
    );
    publisher.send("PUB small 8\r\n01234567\r\nPING\r\n").await;
    assert_eq!(publisher.line().await, "PONG");
    publisher.send("PUB large 16\r\n0123456789abcdef\r\n").await;
    let lines = publisher.expect_closed().await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-ERR 'Maximum Payload Violation'"),
        "{lines:?}"
    );

    // One connection at most: the oldest goes, the newest stays.
    let mut newest = raw_jwt_client(&node, &user).await;
    assert_eq!(newest.line().await, "PONG");
    setup.app.reissue(&operator_key, |claims| {
        claims.data.iat = unix_now() + 1;
        claims.nats.limits.conn = 1;
    });
    push(setup.app.jwt.clone()).await;
    let lines = oldest.expect_closed().await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-ERR 'maximum account active connections exceeded'"),
        "{lines:?}"
    );
    newest.expect_nothing().await;
    let mut refused = raw_jwt_client(&node, &user).await;
    assert_eq!(
        refused.line().await,
        "-ERR 'maximum account active connections exceeded'"
    );
}

#[tokio::test]
async fn a_node_that_missed_a_push_catches_up_at_the_sync_interval() {
    let setup = Operator::new();
    let a = setup.start_node_syncing("a", None, "1s").await;
    let admin = setup.user(&setup.system, |_| {});
    let admin = connect_creds(&a, &setup.creds_file("admin.creds", &admin))
        .await
        .expect("system user connects");
    let reply = request_json(
        &admin,
        "$SYS.REQ.CLAIMS.UPDATE".into(),
        setup.app.jwt.clone(),
    )
    .await;
    assert_eq!(reply["data"]["code"], 200, "{reply}");
    // b was not there for the push, and nobody connects to it: the
    // periodic pack exchange brings the account over.
    let b = setup.start_node_syncing("b", Some(&a), "1s").await;
    assert!(!setup.node_holds("b", &setup.app));
    wait_for("b syncs the account from a", || {
        setup.node_holds("b", &setup.app)
    })
    .await;
    let user = setup.user(&setup.app, |_| {});
    let on_b = connect_creds(&b, &setup.creds_file("user.creds", &user))
        .await
        .expect("synced account's user connects");
    round_trip(&on_b, "jwt.sync").await;
}
