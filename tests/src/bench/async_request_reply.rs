//! Request/reply latency driven by async-nats (`--clients async-nats`).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use async_nats::Subject;
use bytes::Bytes;
use futures::StreamExt as _;
use tokio::sync::oneshot;
use tokio::time::{timeout, Instant};

use super::async_client::{connect, flush};
use super::latency::{percentiles, Percentiles, RequestReply};
use super::limits::{CLIENT_BUDGET, REQUEST_TIMEOUT, RUN_TIMEOUT, STARTUP_TIMEOUT, SYNC_RETRY};
use super::server::Endpoints;
use super::unique_prefix;

/// Request/reply: a responder on the subscribe endpoint answers with the
/// request's payload; a requester on the publish endpoint sends sequential
/// `Client::request`s (the client's shared wildcard inbox), each timed.
/// Each client runs on a thread of its own ([`on_own_thread`]). Stops after
/// the measured count or [`CLIENT_BUDGET`].
pub async fn run_request_reply(endpoints: Endpoints, spec: RequestReply) -> Result<Percentiles> {
    if endpoints.tls {
        bail!("the async-nats clients do not speak TLS to the bench's certificate");
    }
    timeout(RUN_TIMEOUT, request_reply_inner(endpoints, spec))
        .await
        .map_err(|_| anyhow!("run exceeded {RUN_TIMEOUT:?}"))?
}

async fn request_reply_inner(endpoints: Endpoints, spec: RequestReply) -> Result<Percentiles> {
    let service = Subject::from(format!("{}.service", unique_prefix()));
    // Sending (or dropping) this ends the responder.
    let (stop, stopped) = oneshot::channel::<()>();
    let responder = on_own_thread({
        let service = service.clone();
        move || respond(endpoints.subscribe, service, stopped)
    });
    let measured = on_own_thread(move || measure(endpoints.publish, service, spec)).await;
    let _ = stop.send(());
    let responder = responder.await;
    let mut samples = match (measured, responder) {
        (Ok(samples), _) => samples,
        (Err(error), Err(responder)) => {
            return Err(error.context(format!("responder: {responder:#}")))
        }
        (Err(error), Ok(())) => return Err(error),
    };
    percentiles(&mut samples)
}

/// Runs `make()` on a thread of its own with a current-thread runtime, so a
/// client's connection task and the code using it share one thread: a reply
/// wakes that thread straight from the kernel, without the hand-over
/// between worker threads that made round trips bimodal (about 30 us or
/// about 110 us per run, whichever the server) on a multi-thread runtime.
///
/// The thread starts at the call, not at the first poll of the result.
fn on_own_thread<F, Fut, T>(make: F) -> impl Future<Output = Result<T>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>>,
    T: Send + 'static,
{
    let (result_tx, result_rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("bench-client".to_string())
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(make()),
                Err(error) => Err(anyhow::Error::from(error).context("client runtime")),
            };
            let _ = result_tx.send(result);
        });
    async move {
        spawned.context("spawn a client thread")?;
        result_rx
            .await
            .map_err(|_| anyhow!("client thread ended without a result"))?
    }
}

/// Responder: answers every request with its payload until `stopped`
/// resolves (sent or dropped).
async fn respond(
    addr: SocketAddr,
    service: Subject,
    mut stopped: oneshot::Receiver<()>,
) -> Result<()> {
    let responder = connect(addr).await?;
    let mut requests = responder.subscribe(service).await.context("subscribe")?;
    flush(&responder).await?;
    loop {
        // Both branches are cancel-safe: a oneshot receiver polled by
        // reference, and `Subscriber::next` (a channel receive).
        let request = tokio::select! {
            _ = &mut stopped => return Ok(()),
            request = requests.next() => request,
        };
        let Some(request) = request else {
            bail!("responder subscription ended");
        };
        if let Some(reply) = request.reply {
            responder
                .publish(reply, request.payload)
                .await
                .context("publish reply")?;
        }
    }
}

/// Requester: sequential requests, the measured ones timed.
async fn measure(addr: SocketAddr, service: Subject, spec: RequestReply) -> Result<Vec<Duration>> {
    let requester = connect(addr).await?;
    let payload = Bytes::from(vec![b'r'; spec.payload]);
    let request = |limit: Duration| {
        let requester = requester.clone();
        let service = service.clone();
        let payload = payload.clone();
        async move {
            timeout(limit, requester.request(service, payload))
                .await
                .map_err(|_| anyhow!("no reply within {limit:?}"))?
                .context("request")?;
            anyhow::Ok(())
        }
    };
    // The responder subscribes on its own thread, and on a cluster its
    // interest must reach the requester's node: retry until answered.
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        match request(SYNC_RETRY * 10).await {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(SYNC_RETRY).await,
            Err(error) => return Err(error.context("service not reachable")),
        }
    }
    for _ in 0..spec.warmup {
        request(REQUEST_TIMEOUT).await?;
    }
    let mut samples = Vec::with_capacity(spec.requests);
    let started = Instant::now();
    while samples.len() < spec.requests && started.elapsed() < CLIENT_BUDGET {
        let sent = Instant::now();
        request(REQUEST_TIMEOUT).await?;
        samples.push(sent.elapsed());
    }
    if samples.len() < spec.requests {
        eprintln!(
            "note: the {CLIENT_BUDGET:?} budget ended requests after {} of {}",
            samples.len(),
            spec.requests
        );
    }
    Ok(samples)
}
