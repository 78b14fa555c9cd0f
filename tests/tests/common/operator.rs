//! JWT operator mode for process tests: an operator with a system account
//! and one application account (fresh NKeys), config files for nodes with
//! the full resolver, creds files, and clients that authenticate with them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use data_encoding::BASE64URL_NOPAD;
use futures::StreamExt;
use starling::jwt::claims::{AccountClaims, OperatorClaims, UserClaims};
use starling::jwt::mint::{self, Minted};

use super::process::Process;
use super::raw::Raw;
use super::DEADLINE;

/// An operator, its system account and an application account.
pub struct Operator {
    pub operator: Minted<OperatorClaims>,
    pub system: Minted<AccountClaims>,
    pub app: Minted<AccountClaims>,
    pub dir: tempfile::TempDir,
}

impl Operator {
    /// Fresh keys for everything.
    pub fn new() -> Operator {
        let system_key = nkeys::KeyPair::new_account();
        let system_public = system_key.public_key();
        let operator = mint::operator("op", |claims| {
            claims.nats.system_account = system_public.clone();
        });
        let mut system = mint::account(&operator.key, "SYS", |_| {});
        system.key = system_key;
        system.reissue(&operator.key, |claims| {
            claims.data.sub = system_public.clone()
        });
        let app = mint::account(&operator.key, "APP", |_| {});
        Operator {
            operator,
            system,
            app,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A user of `account`.
    pub fn user(
        &self,
        account: &Minted<AccountClaims>,
        edit: impl FnOnce(&mut UserClaims),
    ) -> Minted<UserClaims> {
        mint::user(&account.key.public_key(), &account.key, "user", edit)
    }

    /// Writes a creds file and returns its path.
    pub fn creds_file(&self, name: &str, user: &Minted<UserClaims>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, mint::creds(user)).expect("write creds");
        path
    }

    /// The full resolver directory of node `name`.
    pub fn jwt_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("jwt-{name}"))
    }

    /// Starts node `name` with the full resolver (only the system account
    /// preloaded) in cluster `jwt`, routed to `seed` when given.
    pub async fn start_node(&self, name: &str, seed: Option<&Process>) -> Process {
        self.start_node_syncing(name, seed, "2m").await
    }

    /// [`Operator::start_node`] with the resolver's sync `interval`.
    pub async fn start_node_syncing(
        &self,
        name: &str,
        seed: Option<&Process>,
        interval: &str,
    ) -> Process {
        let operator_file = self.dir.path().join("operator.jwt");
        std::fs::write(&operator_file, &self.operator.jwt).expect("write operator");
        let config = format!(
            "listen: 127.0.0.1:-1\noperator: \"{}\"\n\
             resolver {{ type: full, dir: \"{}\", allow_delete: true, interval: \"{interval}\", timeout: \"2s\" }}\n\
             resolver_preload {{\n  {}: {}\n}}\n",
            operator_file.display(),
            self.jwt_dir(name).display(),
            self.system.key.public_key(),
            self.system.jwt,
        );
        let path = self.dir.path().join(format!("{name}.conf"));
        std::fs::write(&path, config).expect("write config");
        let mut args = vec![
            "-c".to_string(),
            path.to_str().expect("utf-8 path").to_string(),
            "-n".into(),
            name.into(),
            "-m".into(),
            "-1".into(),
            "--cluster_name".into(),
            "jwt".into(),
            "--cluster".into(),
            "nats://127.0.0.1:-1".into(),
        ];
        if let Some(seed) = seed {
            args.push("--routes".into());
            args.push(format!("nats://{}", seed.route.expect("seed routes")));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Process::start(&args).await
    }

    /// Whether node `name`'s resolver directory holds `account`'s JWT.
    pub fn node_holds(&self, name: &str, account: &Minted<AccountClaims>) -> bool {
        self.jwt_dir(name)
            .join(format!("{}.jwt", account.key.public_key()))
            .is_file()
    }
}

/// Connects with a creds file.
pub async fn connect_creds(process: &Process, creds: &Path) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::with_credentials_file(creds)
        .await
        .map_err(|error| error.to_string())?
        .connect(format!("nats://{}", process.addr))
        .await
        .map_err(|error| error.to_string())
}

/// A raw connection that signs the INFO nonce with the user's key.
pub async fn raw_jwt_client(process: &Process, user: &Minted<UserClaims>) -> Raw {
    let mut raw = Raw::connect(process.addr).await;
    let nonce = raw.info["nonce"]
        .as_str()
        .expect("operator mode sends a nonce")
        .to_string();
    let sig = BASE64URL_NOPAD.encode(&user.key.sign(nonce.as_bytes()).expect("sign"));
    let connect = serde_json::json!({
        "verbose": false, "pedantic": false, "protocol": 1,
        "jwt": user.jwt, "sig": sig,
    });
    raw.send(&format!("CONNECT {connect}\r\nPING\r\n")).await;
    raw
}

/// Asks `$SYS.REQ.CLAIMS.LIST` until `nodes` different servers answered:
/// every node's claims subscriptions (and the asker's inbox) are known
/// cluster-wide. Returns the answers' `data` lists, one per server.
pub async fn list_until_all_answer(
    admin: &async_nats::Client,
    nodes: usize,
) -> Vec<serde_json::Value> {
    let inbox = admin.new_inbox();
    let mut replies = admin.subscribe(inbox.clone()).await.expect("subscribe");
    admin.flush().await.expect("flush");
    let mut servers = HashSet::new();
    let mut lists = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while servers.len() < nodes {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {servers:?} answered $SYS.REQ.CLAIMS.LIST"
        );
        admin
            .publish_with_reply("$SYS.REQ.CLAIMS.LIST", inbox.clone(), "".into())
            .await
            .expect("publish");
        admin.flush().await.expect("flush");
        while let Ok(Some(reply)) =
            tokio::time::timeout(Duration::from_millis(200), replies.next()).await
        {
            let reply: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON");
            let id = reply["server"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if servers.insert(id) {
                lists.push(reply["data"].clone());
            }
        }
    }
    lists
}

/// Publishes and receives one message on `subject` with one client.
pub async fn round_trip(client: &async_nats::Client, subject: &str) {
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

/// Polls `check` until true, for at most [`DEADLINE`].
pub async fn wait_for(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
