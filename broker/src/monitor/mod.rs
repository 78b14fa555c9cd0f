//! The monitoring listener: nats-server's HTTP/JSON endpoints, with its
//! paths, query parameters, field names and error texts, so nats-top,
//! prometheus-nats-exporter and dashboards built on them work unchanged.
//!
//! Module map:
//! - `varz`: `/varz`, identity, limits and counters.
//! - `connz`: `/connz`, open and closed client connections.
//! - `subsz`: `/subsz` and `/subscriptionsz`, the subscription index.
//! - `routez`: `/routez`, plus empty `/gatewayz` and `/leafz`.
//! - `healthz`: `/healthz`; `index`: the `/` page.
//! - `jsz`: `/jsz`, JetStream usage and details (also `$SYS` JSZ).
//! - `accountz`: `/accountz` (accounts, one account's detail) and
//!   `/accstatz` (per-account connections and traffic).
//! - `metrics`: `/metrics`, the counters in Prometheus' text format.
//! - `params`: query parsing with nats-server's rules and 400 texts.
//! - `format`: Go-style times (RFC 3339, nanoseconds), durations and floats.
//! - `usage`: process memory and CPU from `/proc`.
//! - `shared`: handler state, request counters, JSON/JSONP responses.
//!
//! Design note: handlers read the server's state directly (atomics, short
//! leaf locks; a client's subscription lock is taken alone), build a plain
//! serde struct and serialize it outside any lock. A query parameter that
//! does not parse is a 400 with nats-server's plain-text reason; no handler
//! panics on input. `/metrics` has its own state (its recorder), so it is
//! merged in as a separate router.

pub(crate) mod accountz;
pub(crate) mod connz;
pub(crate) mod format;
pub(crate) mod healthz;
mod index;
pub(crate) mod jsz;
mod metrics;
mod metrics_accounts;
mod metrics_jetstream;
pub(crate) mod params;
pub(crate) mod routez;
mod shared;
pub(crate) mod subsz;
pub(crate) mod usage;
pub(crate) mod varz;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

pub use shared::Monitor;

use crate::server::ServerState;

/// The monitoring routes, for `monitor`.
pub fn router(monitor: Arc<Monitor>) -> Router {
    Router::new()
        .route("/", get(index::handle))
        .route("/varz", get(varz::handle))
        .route("/connz", get(connz::handle))
        .route("/subsz", get(subsz::handle))
        .route("/subscriptionsz", get(subsz::handle))
        .route("/routez", get(routez::handle))
        .route("/gatewayz", get(routez::handle_gatewayz))
        .route("/leafz", get(routez::handle_leafz))
        .route("/healthz", get(healthz::handle))
        .route("/jsz", get(jsz::handle))
        .route("/accountz", get(accountz::handle_accountz))
        .route("/accstatz", get(accountz::handle_accstatz))
        .with_state(monitor.clone())
        .merge(metrics::router(monitor))
}

/// Serve monitoring on `listener` until the server shuts down.
pub async fn serve(state: Arc<ServerState>, listener: TcpListener) {
    let shutdown = state.shutdown.clone();
    let http_port = listener.local_addr().map_or(0, |addr| addr.port());
    let app = router(Arc::new(Monitor::new(state, http_port)));
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(error) = result {
        tracing::error!(%error, "monitoring listener failed");
    }
}
