//! JetStream for JWT accounts against the real `starling -js` process in
//! operator mode (memory resolver, preloaded accounts): an account whose
//! claims grant JetStream gets it with the claims' limits (account info,
//! the streams limit 10027, the storage limits 10047 / 10028 / 10002), its
//! streams are restored at restart; an account without JetStream in its
//! claims is answered 10039; a claims update raises the limits, disables
//! JetStream (10039, files kept) and enables it again (streams back).

mod common;

use async_nats::jetstream;
use common::operator::{connect_creds, Operator};
use common::process::Process;
use common::DEADLINE;
use starling::jwt::claims::AccountClaims;
use starling::jwt::mint::{unix_now, Minted};

const MIB: i64 = 1024 * 1024;

/// The APP account with 1 MiB of file storage, no memory, 2 streams.
fn with_jetstream(operator: &mut Operator) {
    let key = operator.operator.key.clone();
    operator.app.reissue(&key, |claims| {
        let limits = &mut claims.nats.limits.jetstream;
        limits.disk_storage = MIB;
        limits.mem_storage = 0;
        limits.streams = 2;
        limits.consumer = -1;
    });
}

/// `starling -js` in operator mode with the memory resolver and `preload`.
async fn start(operator: &Operator, preload: &[&Minted<AccountClaims>]) -> Process {
    let operator_file = operator.dir.path().join("operator.jwt");
    std::fs::write(&operator_file, &operator.operator.jwt).expect("write operator");
    let entries: String = preload
        .iter()
        .map(|account| format!("  {}: {}\n", account.key.public_key(), account.jwt))
        .collect();
    let config = format!(
        "listen: 127.0.0.1:-1\noperator: \"{}\"\nresolver: MEMORY\nresolver_preload {{\n{entries}}}\n",
        operator_file.display()
    );
    let path = operator.dir.path().join("starling.conf");
    std::fs::write(&path, config).expect("write config");
    let store = operator.dir.path().join("store");
    Process::start(&[
        "-c",
        path.to_str().expect("utf-8 path"),
        "-js",
        "-sd",
        store.to_str().expect("utf-8 path"),
    ])
    .await
}

/// A connected user of `account`.
async fn user_of(
    operator: &Operator,
    process: &Process,
    account: &Minted<AccountClaims>,
) -> async_nats::Client {
    let user = operator.user(account, |_| {});
    let name = format!("{}.creds", user.claims.data.sub);
    connect_creds(process, &operator.creds_file(&name, &user))
        .await
        .expect("user connects")
}

/// A request answered with JSON.
async fn request(client: &async_nats::Client, subject: &str, body: String) -> serde_json::Value {
    let reply = tokio::time::timeout(DEADLINE, client.request(subject.to_string(), body.into()))
        .await
        .expect("reply in time")
        .expect("reply");
    serde_json::from_slice(&reply.payload).expect("JSON reply")
}

fn create_body(name: &str, storage: &str, max_bytes: i64) -> String {
    serde_json::json!({
        "name": name, "subjects": [format!("{}.>", name.to_lowercase())],
        "storage": storage, "max_bytes": max_bytes,
    })
    .to_string()
}

async fn create(client: &async_nats::Client, name: &str) -> serde_json::Value {
    request(
        client,
        &format!("$JS.API.STREAM.CREATE.{name}"),
        create_body(name, "file", -1),
    )
    .await
}

/// Pushes `account`'s JWT as an update of the loaded account.
async fn push(admin: &async_nats::Client, account: &Minted<AccountClaims>) {
    let subject = format!(
        "$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE",
        account.key.public_key()
    );
    let reply = request(admin, &subject, account.jwt.clone()).await;
    assert_eq!(reply["data"]["message"], "jwt updated", "{reply}");
}

#[tokio::test]
async fn jwt_account_gets_jetstream_with_its_claims_limits_and_keeps_streams_across_restart() {
    let mut operator = Operator::new();
    with_jetstream(&mut operator);
    let process = start(&operator, &[&operator.system, &operator.app]).await;
    let client = user_of(&operator, &process, &operator.app).await;
    let js = jetstream::new(client.clone());

    let info = request(&client, "$JS.API.INFO", String::new()).await;
    assert_eq!(
        info["type"],
        "io.nats.jetstream.api.v1.account_info_response"
    );
    assert!(info.get("error").is_none(), "{info}");
    assert_eq!(info["limits"]["max_storage"], MIB, "{info}");
    assert_eq!(info["limits"]["max_memory"], 0, "{info}");
    assert_eq!(info["limits"]["max_streams"], 2, "{info}");
    let account = js.query_account().await.expect("account info");
    assert_eq!(account.limits.max_streams, Some(2));

    let created = create(&client, "ONE").await;
    assert!(created.get("error").is_none(), "{created}");
    let ack = js
        .publish("one.a", "hello".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    assert_eq!(ack.sequence, 1);
    assert!(create(&client, "TWO").await.get("error").is_none());
    let third = create(&client, "THREE").await;
    assert_eq!(third["error"]["err_code"], 10027, "{third}");

    // Reservations past the account's storage: file and memory.
    let big = request(
        &client,
        "$JS.API.STREAM.UPDATE.TWO",
        create_body("TWO", "file", 2 * MIB),
    )
    .await;
    assert_eq!(big["error"]["err_code"], 10047, "{big}");
    js.delete_stream("TWO").await.expect("delete");
    let memory = request(
        &client,
        "$JS.API.STREAM.CREATE.MEM",
        create_body("MEM", "memory", -1),
    )
    .await;
    assert_eq!(memory["error"]["err_code"], 10028, "{memory}");

    // Publishes past 1 MiB of stored bytes: 10002.
    let payload = "x".repeat(200 * 1024);
    let mut refused = None;
    for _ in 0..8 {
        let answer = request(&client, "one.big", payload.clone()).await;
        if answer.get("error").is_some() {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("a publish past the storage limit is refused");
    assert_eq!(refused["error"]["err_code"], 10002, "{refused}");
    let info = request(&client, "$JS.API.INFO", String::new()).await;
    let used = info["storage"].as_i64().expect("storage");
    assert!(used > 0 && used <= MIB, "{info}");

    // The account's streams are restored at start, before any user of it
    // connects (nats-server walks the store's account directories).
    drop(client);
    drop(process);
    let restarted = start(&operator, &[&operator.system, &operator.app]).await;
    let client = user_of(&operator, &restarted, &operator.app).await;
    let stream = request(&client, "$JS.API.STREAM.INFO.ONE", String::new()).await;
    assert!(stream.get("error").is_none(), "{stream}");
    assert!(stream["state"]["messages"].as_u64().expect("messages") >= 1);
    assert_eq!(stream["state"]["first_seq"], 1, "{stream}");
}

#[tokio::test]
async fn account_without_jetstream_in_its_claims_is_answered_10039() {
    let operator = Operator::new();
    let process = start(&operator, &[&operator.system, &operator.app]).await;
    let client = user_of(&operator, &process, &operator.app).await;
    let info = request(&client, "$JS.API.INFO", String::new()).await;
    assert_eq!(
        info["type"],
        "io.nats.jetstream.api.v1.account_info_response"
    );
    assert_eq!(info["error"]["code"], 503, "{info}");
    assert_eq!(info["error"]["err_code"], 10039, "{info}");
    assert_eq!(
        info["error"]["description"],
        "jetstream not enabled for account"
    );
    let created = create(&client, "ONE").await;
    assert_eq!(
        created["type"],
        "io.nats.jetstream.api.v1.stream_create_response"
    );
    assert_eq!(created["error"]["err_code"], 10039, "{created}");
    // Nothing captures the subject: no stream was made.
    let published = client.request("one.a", "x".into()).await;
    assert!(
        matches!(&published, Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders),
        "{published:?}"
    );
    // The system account has no JetStream API at all.
    let admin = user_of(&operator, &process, &operator.system).await;
    let system = admin
        .request("$JS.API.INFO", "".into())
        .await
        .map(|reply| String::from_utf8_lossy(&reply.payload).to_string());
    assert!(
        matches!(&system, Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders),
        "{system:?}"
    );
}

#[tokio::test]
async fn claims_updates_change_the_limits_disable_and_enable_jetstream() {
    let mut operator = Operator::new();
    with_jetstream(&mut operator);
    let process = start(&operator, &[&operator.system, &operator.app]).await;
    let client = user_of(&operator, &process, &operator.app).await;
    let admin = user_of(&operator, &process, &operator.system).await;
    assert!(create(&client, "ONE").await.get("error").is_none());
    assert!(create(&client, "TWO").await.get("error").is_none());
    let ack = request(&client, "one.a", "kept".into()).await;
    assert_eq!(ack["seq"], 1, "{ack}");
    assert_eq!(create(&client, "THREE").await["error"]["err_code"], 10027);

    // More streams.
    let key = operator.operator.key.clone();
    operator.app.reissue(&key, |claims| {
        claims.data.iat = unix_now();
        claims.nats.limits.jetstream.streams = 3;
    });
    push(&admin, &operator.app).await;
    let info = request(&client, "$JS.API.INFO", String::new()).await;
    assert_eq!(info["limits"]["max_streams"], 3, "{info}");
    assert!(create(&client, "THREE").await.get("error").is_none());

    // JetStream taken away: 10039, nothing captured, the files stay.
    operator.app.reissue(&key, |claims| {
        claims.nats.limits.jetstream = Default::default();
    });
    push(&admin, &operator.app).await;
    let info = request(&client, "$JS.API.INFO", String::new()).await;
    assert_eq!(info["error"]["err_code"], 10039, "{info}");
    let published = client.request("one.b", "x".into()).await;
    assert!(
        matches!(&published, Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders),
        "{published:?}"
    );
    let stream_dir = operator
        .dir
        .path()
        .join("store/jetstream")
        .join(operator.app.key.public_key())
        .join("streams/ONE");
    assert!(stream_dir.is_dir(), "{}", stream_dir.display());

    // And given back: the streams are restored with their messages.
    with_jetstream(&mut operator);
    push(&admin, &operator.app).await;
    let stream = request(&client, "$JS.API.STREAM.INFO.ONE", String::new()).await;
    assert_eq!(stream["state"]["messages"], 1, "{stream}");
    let names = request(&client, "$JS.API.STREAM.NAMES", String::new()).await;
    assert_eq!(names["total"], 3, "{names}");
}
