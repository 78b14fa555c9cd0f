//! `/`: a small HTML page linking the endpoints, like nats-server's.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;

use super::shared::Monitor;
use crate::server::info::STARLING_VERSION;

/// Endpoints linked from the index page, with their labels.
const LINKS: [(&str, &str); 6] = [
    ("varz", "General"),
    ("connz", "Connections"),
    ("subsz", "Subscriptions"),
    ("routez", "Routes"),
    ("leafz", "LeafNodes"),
    ("gatewayz", "Gateways"),
];

/// `GET /`.
pub async fn handle(State(monitor): State<Arc<Monitor>>) -> Html<String> {
    monitor.count_request("/");
    let mut links = String::new();
    for (path, label) in LINKS {
        links.push_str(&format!("    <a href=./{path}>{label}</a>\n"));
    }
    Html(format!(
        "<html lang=\"en\">\n  <head><title>Starling monitoring</title></head>\n  <body>\n    \
         <h1>Starling v{STARLING_VERSION}</h1>\n{links}    <a href=./healthz class=last>Health Probe</a>\n    \
         <a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring>Help</a>\n  </body>\n</html>\n"
    ))
}
