//! Operations: `/metrics` (names, values that move by exactly the traffic
//! sent, `promtool check metrics`), the Grafana dashboard's queries against
//! the names served, and the deployment config file (`starling -t`).
//!
//! promtool comes from Debian's `prometheus` package (`make
//! install-test-deps`). Without it the promtool checks print why they are
//! skipped, unless `STARLING_REQUIRE_PROMTOOL=1` (set by `make test` once it
//! installed promtool), which makes a missing promtool a failure.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{eventually, http_get, nats_client, TestServer};

/// Interest entries the system account service announces on every node.
const SYSTEM_INTEREST: f64 = starling::system::ANNOUNCED_SUBSCRIPTIONS as f64;

/// Every series `/metrics` must show from startup.
const SERIES: [&str; 21] = [
    "starling_in_msgs_total{kind=\"client\"}",
    "starling_in_msgs_total{kind=\"route\"}",
    "starling_out_msgs_total{kind=\"client\"}",
    "starling_out_msgs_total{kind=\"route\"}",
    "starling_in_bytes_total{kind=\"client\"}",
    "starling_in_bytes_total{kind=\"route\"}",
    "starling_out_bytes_total{kind=\"client\"}",
    "starling_out_bytes_total{kind=\"route\"}",
    "starling_connections_total",
    "starling_slow_consumers_total",
    "starling_auth_failures_total",
    "starling_connections",
    "starling_subscriptions",
    "starling_routes",
    "starling_interest_entries{origin=\"local\"}",
    "starling_interest_entries{origin=\"remote\"}",
    "starling_lame_duck",
    "starling_uptime_seconds",
    "starling_process_resident_memory_bytes",
    "starling_process_start_time_seconds",
    "starling_process_open_fds",
];

/// The workspace root (tests/ is one level down).
fn workspace_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.pop();
    dir
}

/// Series -> value of a Prometheus text exposition.
fn parse_samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("sample line: {line}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("sample value: {line}"));
            (series.to_string(), value)
        })
        .collect()
}

/// Metric name -> type, from the `# TYPE` lines.
fn parse_types(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .map(|rest| {
            let (name, kind) = rest.split_once(' ').expect("TYPE line");
            (name.to_string(), kind.to_string())
        })
        .collect()
}

/// Metric names (series without labels).
fn metric_names(samples: &BTreeMap<String, f64>) -> BTreeSet<String> {
    samples
        .keys()
        .map(|series| series.split('{').next().unwrap_or(series).to_string())
        .collect()
}

async fn scrape(server: &TestServer) -> String {
    let (status, body) = http_get(server.monitor.expect("monitoring on"), "/metrics").await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The promtool binary, or None (with the reason printed) when the test
/// should be skipped.
fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("promtool"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("STARLING_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "promtool is required (STARLING_REQUIRE_PROMTOOL=1) but not on PATH"
        );
        println!("skipped: promtool not on PATH (`make install-test-deps` installs it)");
    }
    found
}

/// Run promtool with `args`, `input` on stdin; returns (success, output).
fn run_promtool(promtool: &Path, args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new(promtool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(input.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool finishes");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn metrics_shows_every_series_from_startup_at_zero() {
    let server = TestServer::default().await;
    let (status, body) = http_get(server.monitor.expect("monitoring on"), "/metrics").await;
    assert_eq!(status, 200);
    let samples = parse_samples(&body);
    for series in SERIES {
        assert!(samples.contains_key(series), "{series} missing:\n{body}");
    }
    for series in SERIES.iter().filter(|s| s.contains("_total")) {
        assert_eq!(samples[*series], 0.0, "{series}");
    }
    for series in [
        "starling_connections",
        "starling_subscriptions",
        "starling_routes",
        "starling_lame_duck",
        "starling_interest_entries{origin=\"remote\"}",
    ] {
        assert_eq!(samples[series], 0.0, "{series}");
    }
    // Only the system account service's own interest.
    assert_eq!(
        samples["starling_interest_entries{origin=\"local\"}"],
        SYSTEM_INTEREST
    );
    let build_info = format!(
        "starling_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        samples.get(&build_info),
        Some(&1.0),
        "{build_info}:\n{body}"
    );
    assert!(samples["starling_process_resident_memory_bytes"] > 0.0);
    assert!(samples["starling_process_open_fds"] > 0.0);
    assert!(samples["starling_process_start_time_seconds"] > 1.0e9);
    let types = parse_types(&body);
    for name in metric_names(&samples) {
        let expected = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        assert_eq!(
            types.get(&name).map(String::as_str),
            Some(expected),
            "{name}"
        );
        assert!(
            body.contains(&format!("# HELP {name} ")),
            "{name} has help text"
        );
    }
    let (_, headers) = http_head(server.monitor.expect("monitoring on"), "/metrics").await;
    assert!(
        headers.contains("text/plain; version=0.0.4"),
        "exposition content type: {headers}"
    );
}

/// GET `path` and return (status, response head).
async fn http_head(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(common::DEADLINE, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read response");
    let text = String::from_utf8_lossy(&response).to_string();
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, head)
}

#[tokio::test]
async fn metrics_counters_move_by_exactly_the_traffic_sent() {
    const MESSAGES: u64 = 25;
    const SIZE: usize = 40;
    let server = TestServer::default().await;
    let before = parse_samples(&scrape(&server).await);

    let subscriber_client = nats_client(&server.url()).await;
    let mut subscriber = subscriber_client
        .subscribe("ops.metrics")
        .await
        .expect("subscribe");
    subscriber_client.flush().await.expect("flush");
    let publisher = nats_client(&server.url()).await;
    let payload = bytes::Bytes::from(vec![b'm'; SIZE]);
    for _ in 0..MESSAGES {
        publisher
            .publish("ops.metrics", payload.clone())
            .await
            .expect("publish");
    }
    publisher.flush().await.expect("flush");
    for _ in 0..MESSAGES {
        let message =
            tokio::time::timeout(common::DEADLINE, futures::StreamExt::next(&mut subscriber))
                .await
                .expect("message in time")
                .expect("subscription open");
        assert_eq!(message.payload.len(), SIZE);
    }

    let messages = MESSAGES as f64;
    let bytes = (MESSAGES * SIZE as u64) as f64;
    let expected: Vec<(&str, f64)> = vec![
        ("starling_in_msgs_total{kind=\"client\"}", messages),
        ("starling_out_msgs_total{kind=\"client\"}", messages),
        ("starling_in_bytes_total{kind=\"client\"}", bytes),
        ("starling_out_bytes_total{kind=\"client\"}", bytes),
        ("starling_in_msgs_total{kind=\"route\"}", 0.0),
        ("starling_out_msgs_total{kind=\"route\"}", 0.0),
        ("starling_connections_total", 2.0),
    ];
    let monitor = server.monitor.expect("monitoring on");
    let wanted = expected.clone();
    let start = before.clone();
    eventually("/metrics counts the messages", || {
        let wanted = wanted.clone();
        let start = start.clone();
        async move {
            let (_, body) = http_get(monitor, "/metrics").await;
            let now = parse_samples(&body);
            wanted
                .iter()
                .all(|(series, delta)| now.get(*series) == Some(&(start[*series] + delta)))
        }
    })
    .await;
    let after = parse_samples(&scrape(&server).await);
    for (series, delta) in expected {
        assert_eq!(after[series] - before[series], delta, "{series}");
    }
    assert_eq!(after["starling_connections"], 2.0);
    assert_eq!(after["starling_subscriptions"], 1.0);
    assert_eq!(
        after["starling_interest_entries{origin=\"local\"}"],
        1.0 + SYSTEM_INTEREST
    );
    assert_eq!(after["starling_slow_consumers_total"], 0.0);

    // /varz reports the same totals.
    let varz = server.monitor_json("/varz").await;
    assert_eq!(
        varz["in_msgs"].as_f64(),
        Some(after["starling_in_msgs_total{kind=\"client\"}"])
    );
    assert_eq!(
        varz["out_bytes"].as_f64(),
        Some(after["starling_out_bytes_total{kind=\"client\"}"])
    );

    drop(subscriber);
    drop(subscriber_client);
    drop(publisher);
    eventually("connections gauge falls back to 0", || async move {
        let (_, body) = http_get(monitor, "/metrics").await;
        parse_samples(&body).get("starling_connections") == Some(&0.0)
    })
    .await;
}

/// Options for a clustered in-process node seeded with `seeds`.
fn node_options(name: &str, seeds: &[&TestServer]) -> starling::options::Options {
    common::cluster_node_options(name, "ops", seeds)
}

/// Wait until `server`'s /metrics satisfies every (series, value) pair.
async fn wait_for_samples(server: &TestServer, what: &str, wanted: Vec<(String, f64)>) {
    let monitor = server.monitor.expect("monitoring on");
    eventually(what, || {
        let wanted = wanted.clone();
        async move {
            let (_, body) = http_get(monitor, "/metrics").await;
            let now = parse_samples(&body);
            wanted
                .iter()
                .all(|(series, value)| now.get(series) == Some(value))
        }
    })
    .await;
}

#[tokio::test]
async fn metrics_split_client_and_route_traffic_and_never_go_back() {
    const MESSAGES: u64 = 12;
    const SIZE: usize = 8;
    let a = TestServer::start(node_options("a", &[])).await;
    let b = TestServer::start(node_options("b", &[&a])).await;
    let routes = |n: f64| vec![("starling_routes".to_string(), n)];
    wait_for_samples(&a, "a has its route", routes(1.0)).await;
    wait_for_samples(&b, "b has its route", routes(1.0)).await;

    let subscriber_client = nats_client(&b.url()).await;
    let mut subscriber = subscriber_client
        .subscribe("ops.route")
        .await
        .expect("subscribe");
    subscriber_client.flush().await.expect("flush");
    // b's subscriber plus b's system account service.
    let interest = vec![(
        "starling_interest_entries{origin=\"remote\"}".to_string(),
        1.0 + SYSTEM_INTEREST,
    )];
    wait_for_samples(&a, "b's interest reached a", interest).await;

    let publisher = nats_client(&a.url()).await;
    let payload = bytes::Bytes::from(vec![b'r'; SIZE]);
    for _ in 0..MESSAGES {
        publisher
            .publish("ops.route", payload.clone())
            .await
            .expect("publish");
    }
    publisher.flush().await.expect("flush");
    for _ in 0..MESSAGES {
        tokio::time::timeout(common::DEADLINE, futures::StreamExt::next(&mut subscriber))
            .await
            .expect("message in time")
            .expect("subscription open");
    }

    let messages = MESSAGES as f64;
    let bytes = (MESSAGES * SIZE as u64) as f64;
    let series = |name: &str, kind: &str, value: f64| (format!("{name}{{kind=\"{kind}\"}}"), value);
    let on_a = vec![
        series("starling_in_msgs_total", "client", messages),
        series("starling_in_bytes_total", "client", bytes),
        series("starling_out_msgs_total", "route", messages),
        series("starling_out_bytes_total", "route", bytes),
        series("starling_in_msgs_total", "route", 0.0),
        series("starling_out_msgs_total", "client", 0.0),
    ];
    let on_b = vec![
        series("starling_in_msgs_total", "route", messages),
        series("starling_in_bytes_total", "route", bytes),
        series("starling_out_msgs_total", "client", messages),
        series("starling_out_bytes_total", "client", bytes),
        series("starling_in_msgs_total", "client", 0.0),
        series("starling_out_msgs_total", "route", 0.0),
    ];
    wait_for_samples(&a, "a counts client in, route out", on_a.clone()).await;
    wait_for_samples(&b, "b counts route in, client out", on_b).await;

    // b goes away: a loses the route but keeps what it carried.
    drop(subscriber);
    drop(subscriber_client);
    b.stop().await;
    let mut after = on_a;
    after.push(("starling_routes".to_string(), 0.0));
    wait_for_samples(&a, "a's route counts survive the route", after).await;
}

#[tokio::test]
async fn metrics_count_authentication_failures() {
    let mut options = common::test_options();
    options.authorization.token = Some("s3cret".into());
    let server = TestServer::start(options).await;
    let mut raw = common::raw::Raw::connect(server.addr).await;
    raw.send("CONNECT {\"auth_token\":\"wrong\"}\r\nPING\r\n")
        .await;
    let lines = raw.expect_closed().await;
    assert!(
        lines.iter().any(|line| line.starts_with("-ERR")),
        "{lines:?}"
    );
    let monitor = server.monitor.expect("monitoring on");
    eventually("auth failure counted", || async move {
        let (_, body) = http_get(monitor, "/metrics").await;
        parse_samples(&body).get("starling_auth_failures_total") == Some(&1.0)
    })
    .await;
}

#[tokio::test]
async fn metrics_output_passes_promtool_check_metrics() {
    let Some(promtool) = promtool() else {
        return;
    };
    let server = TestServer::default().await;
    let client = nats_client(&server.url()).await;
    client
        .publish("ops.lint", "x".into())
        .await
        .expect("publish");
    client.flush().await.expect("flush");
    let body = scrape(&server).await;
    let (ok, output) = run_promtool(&promtool, &["check", "metrics"], &body);
    assert!(
        ok && output.trim().is_empty(),
        "promtool check metrics:\n{output}\n{body}"
    );
}

/// The PromQL expressions of the Grafana dashboard, Grafana's variables
/// replaced by values PromQL accepts.
fn dashboard_expressions() -> Vec<String> {
    let path = workspace_root().join("deploy/grafana/starling-dashboard.json");
    let text = std::fs::read_to_string(&path).expect("dashboard file");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let mut expressions = Vec::new();
    collect_expressions(&dashboard, &mut expressions);
    expressions
        .into_iter()
        .map(|expr| {
            expr.replace("$__rate_interval", "1m")
                .replace("$__interval", "1m")
                .replace("${instance:regex}", ".*")
                .replace("$instance", ".*")
                .replace("${job}", "starling")
                .replace("$job", "starling")
        })
        .collect()
}

fn collect_expressions(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    ("query", serde_json::Value::String(query)) if query.contains("starling_") => {
                        out.push(query.clone())
                    }
                    ("query", serde_json::Value::Object(query)) => {
                        if let Some(serde_json::Value::String(q)) = query.get("query") {
                            out.push(q.clone());
                        }
                    }
                    _ => collect_expressions(child, out),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_expressions(item, out);
            }
        }
        _ => {}
    }
}

/// `starling_*` names used in `expr`.
fn names_in(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("starling_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[tokio::test]
async fn dashboard_queries_use_only_served_metric_names() {
    let server = TestServer::default().await;
    let served = metric_names(&parse_samples(&scrape(&server).await));
    let expressions = dashboard_expressions();
    assert!(
        expressions.len() >= 6,
        "dashboard has queries: {expressions:?}"
    );
    let mut used = BTreeSet::new();
    for expr in &expressions {
        let names = names_in(expr);
        assert!(
            !names.is_empty() || expr.contains("up{"),
            "query uses a starling metric: {expr}"
        );
        for name in names {
            assert!(served.contains(&name), "{name} (in `{expr}`) is not served");
            used.insert(name);
        }
    }
    for needed in [
        "starling_in_msgs_total",
        "starling_out_bytes_total",
        "starling_connections",
        "starling_subscriptions",
        "starling_routes",
        "starling_slow_consumers_total",
    ] {
        assert!(used.contains(needed), "dashboard shows {needed}");
    }
}

#[test]
fn dashboard_queries_are_valid_promql() {
    let Some(promtool) = promtool() else {
        return;
    };
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    // Grafana's `label_values(...)` variable queries are not PromQL.
    let expressions = dashboard_expressions();
    let promql = expressions
        .iter()
        .filter(|e| !e.starts_with("label_values("));
    for (index, expr) in promql.enumerate() {
        let quoted = serde_json::to_string(expr).expect("quote");
        rules.push_str(&format!(
            "      - record: starling:dashboard_query_{index}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dashboard-rules.yml");
    std::fs::write(&path, &rules).expect("write rules");
    let output = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .expect("run promtool");
    assert!(
        output.status.success(),
        "promtool check rules:\n{}{}\n{rules}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn deployment_config_file_passes_starling_config_test() {
    let config = workspace_root().join("deploy/config/starling.conf");
    let output = Command::new(common::process::starling_binary())
        .arg("-t")
        .arg("-c")
        .arg(&config)
        .env("SERVER_NAME", "starling-0")
        .output()
        .expect("run starling -t");
    assert!(
        output.status.success(),
        "starling -t -c {}:\n{}{}",
        config.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
