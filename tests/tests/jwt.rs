//! JWT operator mode against the real `starling` process: the memory
//! resolver with preloaded accounts (and per-account updates of loaded
//! ones), the full resolver with an account
//! pushed at run time through `$SYS.REQ.CLAIMS.UPDATE`, revoked users
//! (refused at CONNECT, closed when the revocation arrives), and a
//! connection closed when its JWT expires. Every operator, account and
//! user is minted with fresh NKeys (`starling::jwt::mint`). The cluster
//! side of the full resolver is in `jwt_cluster.rs`.

mod common;

use std::path::Path;

use common::process::Process;
use common::raw::Raw;
use common::DEADLINE;
use data_encoding::BASE64URL_NOPAD;
use futures::StreamExt;
use starling::jwt::claims::{AccountClaims, OperatorClaims, UserClaims};
use starling::jwt::mint::{self, unix_now, Minted};

/// An operator with a system account and one application account.
struct Setup {
    operator: Minted<OperatorClaims>,
    system: Minted<AccountClaims>,
    app: Minted<AccountClaims>,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let system_key = nkeys::KeyPair::new_account();
    let system_public = system_key.public_key();
    let operator = mint::operator("op", |claims| {
        claims.nats.system_account = system_public.clone();
    });
    let mut system = mint::account(&operator.key, "SYS", |_| {});
    // The system account keeps the key the operator names.
    system.key = system_key;
    system.reissue(&operator.key, |claims| {
        claims.data.sub = system_public.clone()
    });
    let app = mint::account(&operator.key, "APP", |_| {});
    Setup {
        operator,
        system,
        app,
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

impl Setup {
    fn user(
        &self,
        account: &Minted<AccountClaims>,
        edit: impl FnOnce(&mut UserClaims),
    ) -> Minted<UserClaims> {
        mint::user(&account.key.public_key(), &account.key, "user", edit)
    }

    /// Writes a creds file and returns its path.
    fn creds_file(&self, name: &str, user: &Minted<UserClaims>) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, mint::creds(user)).expect("write creds");
        path
    }

    /// Writes a config file for `resolver` with `preload` and starts it.
    async fn start(&self, resolver: &str, preload: &[&Minted<AccountClaims>]) -> Process {
        let operator_file = self.dir.path().join("operator.jwt");
        std::fs::write(&operator_file, &self.operator.jwt).expect("write operator");
        let entries: String = preload
            .iter()
            .map(|account| format!("  {}: {}\n", account.key.public_key(), account.jwt))
            .collect();
        let config = format!(
            "listen: 127.0.0.1:-1\noperator: \"{}\"\n{resolver}\nresolver_preload {{\n{entries}}}\n",
            operator_file.display()
        );
        let path = self.dir.path().join("starling.conf");
        std::fs::write(&path, config).expect("write config");
        Process::start(&["-c", path.to_str().expect("utf-8 path")]).await
    }
}

async fn connect_creds(process: &Process, creds: &Path) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::with_credentials_file(creds)
        .await
        .map_err(|error| error.to_string())?
        .connect(format!("nats://{}", process.addr))
        .await
        .map_err(|error| error.to_string())
}

/// A raw connection that signs the INFO nonce with the user's key.
async fn raw_jwt_client(process: &Process, user: &Minted<UserClaims>) -> Raw {
    let mut raw = Raw::connect(process.addr).await;
    let nonce = raw.info["nonce"]
        .as_str()
        .expect("operator mode sends a nonce")
        .to_string();
    assert_eq!(raw.info["auth_required"], true);
    let sig = BASE64URL_NOPAD.encode(&user.key.sign(nonce.as_bytes()).expect("sign"));
    let connect = serde_json::json!({
        "verbose": false, "pedantic": false, "protocol": 1,
        "jwt": user.jwt, "sig": sig,
    });
    raw.send(&format!("CONNECT {connect}\r\nPING\r\n")).await;
    raw
}

async fn round_trip(client: &async_nats::Client, subject: &str) {
    let mut subscriber = client
        .subscribe(subject.to_string())
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    client
        .publish(subject.to_string(), "hi".into())
        .await
        .expect("publish");
    let message = tokio::time::timeout(DEADLINE, subscriber.next())
        .await
        .expect("message in time")
        .expect("message");
    assert_eq!(message.payload, "hi");
}

#[tokio::test]
async fn memory_resolver_users_connect_with_creds_and_bad_ones_are_refused() {
    let setup = setup();
    let process = setup
        .start("resolver: MEMORY", &[&setup.system, &setup.app])
        .await;
    let user = setup.user(&setup.app, |_| {});
    let client = connect_creds(&process, &setup.creds_file("user.creds", &user))
        .await
        .expect("a valid user connects");
    round_trip(&client, "jwt.memory").await;

    // A user of the system account lives in another subject space.
    let other = setup.user(&setup.system, |_| {});
    let other = connect_creds(&process, &setup.creds_file("other.creds", &other))
        .await
        .expect("system user connects");
    let mut elsewhere = other.subscribe("jwt.isolated").await.expect("subscribe");
    other.flush().await.expect("flush");
    round_trip(&client, "jwt.isolated").await;
    let mut marker = other.subscribe("jwt.marker2").await.expect("subscribe");
    other.flush().await.expect("flush");
    other
        .publish("jwt.marker2", "m".into())
        .await
        .expect("publish");
    let first = tokio::time::timeout(DEADLINE, async {
        tokio::select! {
            leaked = elsewhere.next() => Err(leaked),
            own = marker.next() => Ok(own),
        }
    })
    .await
    .expect("in time");
    assert!(first.is_ok(), "a message crossed accounts");

    // A user whose account the server does not know.
    let stranger = mint::account(&setup.operator.key, "UNKNOWN", |_| {});
    let orphan = setup.user(&stranger, |_| {});
    let refused = connect_creds(&process, &setup.creds_file("orphan.creds", &orphan)).await;
    assert!(refused.is_err(), "unknown account accepted");

    // The right JWT with someone else's seed cannot sign the nonce.
    let mut forged = setup.user(&setup.app, |_| {});
    forged.key = nkeys::KeyPair::new_user();
    let mut raw = raw_jwt_client(&process, &forged).await;
    assert_eq!(raw.line().await, "-ERR 'Authorization Violation'");
    raw.expect_closed().await;

    // No JWT at all: operator mode refuses user/password clients.
    let mut plain = Raw::connect(process.addr).await;
    plain
        .send("CONNECT {\"user\":\"a\",\"pass\":\"b\",\"verbose\":false}\r\nPING\r\n")
        .await;
    assert_eq!(plain.line().await, "-ERR 'Authorization Violation'");
}

#[tokio::test]
async fn revoked_users_are_refused_and_user_permissions_apply() {
    let mut setup = setup();
    let revoked = setup.user(&setup.app, |claims| claims.data.iat = unix_now() - 10);
    let revoked_key = revoked.claims.data.sub.clone();
    let operator_key = setup.operator.key.clone();
    setup.app.reissue(&operator_key, |claims| {
        claims.nats.revocations.insert(revoked_key, unix_now() - 5);
    });
    let process = setup
        .start("resolver: MEMORY", &[&setup.system, &setup.app])
        .await;
    let mut raw = raw_jwt_client(&process, &revoked).await;
    assert_eq!(raw.line().await, "-ERR 'Authorization Violation'");

    let limited = setup.user(&setup.app, |claims| {
        claims.nats.permission_limits.permissions.publish.allow = vec!["allowed.>".into()];
    });
    let mut raw = raw_jwt_client(&process, &limited).await;
    assert_eq!(raw.line().await, "PONG");
    raw.send("PUB denied.x 1\r\nx\r\nPING\r\n").await;
    assert_eq!(
        raw.line().await,
        "-ERR 'Permissions Violation for Publish to \"denied.x\"'"
    );
    assert_eq!(raw.line().await, "PONG");
    raw.send("SUB allowed.x 1\r\nPUB allowed.x 2\r\nhi\r\n")
        .await;
    raw.expect_msg("allowed.x", "1", None, "hi").await;
}

#[tokio::test]
async fn an_expired_jwt_closes_the_connection() {
    let setup = setup();
    let process = setup
        .start("resolver: MEMORY", &[&setup.system, &setup.app])
        .await;
    let short_lived = setup.user(&setup.app, |claims| claims.data.exp = unix_now() + 2);
    let mut raw = raw_jwt_client(&process, &short_lived).await;
    assert_eq!(raw.line().await, "PONG");
    // The server's keep-alive PING may come first.
    let lines = raw.expect_closed().await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-ERR 'User Authentication Expired'"),
        "{lines:?}"
    );

    let already_expired = setup.user(&setup.app, |claims| claims.data.exp = unix_now() - 1);
    let mut raw = raw_jwt_client(&process, &already_expired).await;
    assert_eq!(raw.line().await, "-ERR 'Authorization Violation'");
}

#[tokio::test]
async fn full_resolver_takes_an_account_pushed_at_run_time_and_revokes_live_users() {
    let mut setup = setup();
    let jwt_dir = setup.dir.path().join("jwt");
    let resolver = format!(
        "resolver {{ type: full, dir: \"{}\", allow_delete: false, interval: \"2m\" }}",
        jwt_dir.display()
    );
    // Only the system account is known at start.
    let process = setup.start(&resolver, &[&setup.system]).await;
    let user = setup.user(&setup.app, |claims| claims.data.iat = unix_now() - 10);
    let user_creds = setup.creds_file("app.creds", &user);
    assert!(
        connect_creds(&process, &user_creds).await.is_err(),
        "account not pushed yet"
    );

    let admin = setup.user(&setup.system, |_| {});
    let admin = connect_creds(&process, &setup.creds_file("sys.creds", &admin))
        .await
        .expect("system user connects");
    let reply = tokio::time::timeout(
        DEADLINE,
        admin.request("$SYS.REQ.CLAIMS.UPDATE", setup.app.jwt.clone().into()),
    )
    .await
    .expect("reply in time")
    .expect("reply");
    let reply: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON reply");
    let app_key = setup.app.key.public_key();
    assert_eq!(reply["data"]["code"], 200, "{reply}");
    assert_eq!(reply["data"]["account"], app_key.as_str());
    assert!(jwt_dir.join(format!("{app_key}.jwt")).is_file());

    let client = connect_creds(&process, &user_creds)
        .await
        .expect("pushed account's user connects");
    round_trip(&client, "jwt.full").await;
    let mut live = raw_jwt_client(&process, &user).await;
    assert_eq!(live.line().await, "PONG");

    // An older JWT does not replace the held one.
    let operator_key = setup.operator.key.clone();
    let mut stale = setup.app.clone();
    stale.reissue(&operator_key, |claims| claims.data.iat = 1);
    let reply = admin
        .request(
            format!("$SYS.REQ.ACCOUNT.{app_key}.CLAIMS.UPDATE"),
            stale.jwt.clone().into(),
        )
        .await
        .expect("reply");
    let reply: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON reply");
    assert_eq!(reply["error"]["code"], 500, "{reply}");

    // Revoke the user: the live connection is closed, new ones refused.
    let user_key = user.claims.data.sub.clone();
    setup.app.reissue(&operator_key, |claims| {
        claims.data.iat = unix_now();
        claims.nats.revocations.insert(user_key, unix_now());
    });
    let reply = admin
        .request("$SYS.REQ.CLAIMS.UPDATE", setup.app.jwt.clone().into())
        .await
        .expect("reply");
    let reply: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON reply");
    assert_eq!(reply["data"]["message"], "jwt updated", "{reply}");
    let lines = live.expect_closed().await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-ERR 'User Authentication Revoked'"),
        "{lines:?}"
    );
    let mut again = raw_jwt_client(&process, &user).await;
    assert_eq!(again.line().await, "-ERR 'Authorization Violation'");

    // The pushed account survives a restart: it is on disk.
    drop(process);
    let restarted = setup.start(&resolver, &[&setup.system]).await;
    let fresh = setup.user(&setup.app, |_| {});
    let client = connect_creds(&restarted, &setup.creds_file("fresh.creds", &fresh))
        .await
        .expect("account loaded from the directory");
    round_trip(&client, "jwt.restart").await;
}

#[tokio::test]
async fn memory_resolver_takes_updates_of_loaded_accounts_only() {
    let mut setup = setup();
    let process = setup
        .start("resolver: MEMORY", &[&setup.system, &setup.app])
        .await;
    let admin = setup.user(&setup.system, |_| {});
    let admin = connect_creds(&process, &setup.creds_file("sys.creds", &admin))
        .await
        .expect("system user connects");
    let app_key = setup.app.key.public_key();
    let update = format!("$SYS.REQ.ACCOUNT.{app_key}.CLAIMS.UPDATE");
    let reply = admin
        .request(update.clone(), setup.app.jwt.clone().into())
        .await
        .expect("reply");
    let reply: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON reply");
    assert_eq!(reply["data"]["message"], "jwt update skipped", "{reply}");
    // The full resolver's subjects have no responder here.
    let full_only = admin
        .request("$SYS.REQ.CLAIMS.UPDATE", setup.app.jwt.clone().into())
        .await;
    assert!(
        matches!(&full_only, Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders),
        "{full_only:?}"
    );

    // Once a user loaded the account, an update applies (a revocation).
    let user = setup.user(&setup.app, |claims| claims.data.iat = unix_now() - 10);
    let mut live = raw_jwt_client(&process, &user).await;
    assert_eq!(live.line().await, "PONG");
    let operator_key = setup.operator.key.clone();
    let user_key = user.claims.data.sub.clone();
    setup.app.reissue(&operator_key, |claims| {
        claims.nats.revocations.insert(user_key, unix_now());
    });
    let reply = admin
        .request(update, setup.app.jwt.clone().into())
        .await
        .expect("reply");
    let reply: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON reply");
    assert_eq!(reply["data"]["message"], "jwt updated", "{reply}");
    let lines = live.expect_closed().await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-ERR 'User Authentication Revoked'"),
        "{lines:?}"
    );
}
