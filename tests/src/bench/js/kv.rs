//! Key-value buckets: sequential puts, and sequential gets of existing keys
//! (async-nats reads through DIRECT.GET when the bucket allows it, as it
//! does by default).

use std::net::SocketAddr;

use anyhow::{bail, Context as _, Result};
use async_nats::jetstream::kv::Store;
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use async_nats::jetstream::Context;
use bytes::Bytes;
use tokio::time::Instant;

use super::client::{connect, rate, unique_names};
use crate::bench::limits::JS_BUDGET;

/// Distinct keys the operations cycle through.
const KEYS: u64 = 1000;

/// Value of every put.
const VALUE: &[u8] = b"0123456789abcdef";

/// Sequential puts (each waits for its PubAck) to a fresh file bucket; ops/s.
pub async fn run_put(addr: SocketAddr, ops: u64) -> Result<f64> {
    let (_client, js) = connect(addr).await?;
    let (bucket, kv) = create_bucket(&js).await?;
    let started = Instant::now();
    let mut done = 0u64;
    let mut result = Ok(());
    while done < ops && started.elapsed() < JS_BUDGET {
        if let Err(error) = kv.put(key(done), Bytes::from_static(VALUE)).await {
            result = Err(anyhow::Error::new(error).context("put"));
            break;
        }
        done += 1;
    }
    let elapsed = started.elapsed();
    let _ = js.delete_key_value(&bucket).await;
    result?;
    rate(done, elapsed)
}

/// Sequential gets, cycling through [`KEYS`] keys put beforehand; ops/s.
pub async fn run_get(addr: SocketAddr, ops: u64) -> Result<f64> {
    let (_client, js) = connect(addr).await?;
    let (bucket, kv) = create_bucket(&js).await?;
    let measured = async {
        for n in 0..KEYS {
            kv.put(key(n), Bytes::from_static(VALUE))
                .await
                .context("put")?;
        }
        let started = Instant::now();
        let mut done = 0u64;
        while done < ops && started.elapsed() < JS_BUDGET {
            match kv.get(key(done)).await.context("get")? {
                Some(value) if value.as_ref() == VALUE => done += 1,
                other => bail!("get {} returned {other:?}", key(done)),
            }
        }
        Ok((done, started.elapsed()))
    }
    .await;
    let _ = js.delete_key_value(&bucket).await;
    let (done, elapsed) = measured?;
    rate(done, elapsed)
}

/// A fresh file bucket, history 1. Its stream is created with the config
/// async-nats's `create_key_value` would send, but directly: that call
/// first reads the account info, which async-nats 0.51 cannot parse from
/// nats-server 2.9.10.
async fn create_bucket(js: &Context) -> Result<(String, Store)> {
    let (name, _) = unique_names();
    let bucket = name.to_lowercase();
    js.create_stream(stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        storage: StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .with_context(|| format!("create bucket {bucket}"))?;
    let kv = js
        .get_key_value(bucket.clone())
        .await
        .with_context(|| format!("open bucket {bucket}"))?;
    Ok((bucket, kv))
}

fn key(n: u64) -> String {
    format!("key{}", n % KEYS)
}
