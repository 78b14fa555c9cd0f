//! A real `starling -js` process and an async-nats JetStream context on it,
//! shared by the JetStream test files.

use async_nats::jetstream;

use super::process::Process;

/// `starling -js` on an ephemeral loopback port, storing in `store_dir`.
pub async fn start(store_dir: &str) -> Process {
    Process::start(&["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", store_dir]).await
}

/// A client connected to `process` and its JetStream context.
pub async fn context(process: &Process) -> (async_nats::Client, jetstream::Context) {
    let client = async_nats::connect(format!("nats://{}", process.addr))
        .await
        .expect("connect");
    (client.clone(), jetstream::new(client))
}
