//! The monitoring listener: nats-server's JSON endpoints and `/metrics`.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;

use crate::server::ServerState;

/// Serve monitoring on `listener` until the server shuts down.
pub async fn serve(state: Arc<ServerState>, listener: TcpListener) {
    let shutdown = state.shutdown.clone();
    let app = Router::new()
        .route("/healthz", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .with_state(state);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(error) = result {
        tracing::error!(%error, "monitoring listener failed");
    }
}
