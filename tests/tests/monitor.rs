//! Monitoring endpoints against an in-process server: nats-server's field
//! names (exact key sets), counters that move by exactly the traffic sent,
//! /connz paging, sorting and filters, /subsz counters, and nats-server's
//! 400 answers to bad query parameters.

mod common;

use std::collections::BTreeSet;

use common::raw::Raw;
use common::{eventually, http_get, http_get_json, TestServer};
use serde_json::Value;

/// Keys of a JSON object.
fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// The names in a whitespace-separated list.
fn key_set(names: &str) -> BTreeSet<String> {
    names.split_whitespace().map(str::to_string).collect()
}

/// Checks a time looks like Go's RFC 3339 UTC: `2026-01-02T03:04:05[.nnn]Z`.
fn assert_rfc3339(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("time is a string: {value}"));
    let bytes = text.as_bytes();
    assert!(text.len() >= 20 && text.ends_with('Z'), "{text}");
    assert_eq!(
        (bytes[4], bytes[7], bytes[10], bytes[13], bytes[16]),
        (b'-', b'-', b'T', b':', b':'),
        "{text}"
    );
    if text.len() > 20 {
        assert_eq!(bytes[19], b'.', "{text}");
        assert!(
            text.len() <= 30 && !text.ends_with("0Z"),
            "nanoseconds, zeros trimmed: {text}"
        );
    }
}

/// A raw client that named itself in CONNECT; returns it and its cid.
async fn named_client(server: &TestServer, name: &str) -> (Raw, u64) {
    let connect = format!(
        r#"{{"verbose":false,"pedantic":false,"name":"{name}","lang":"raw","version":"1.2.3","protocol":1}}"#
    );
    let raw = Raw::connect_with(server.addr, &connect).await;
    let cid = raw.info["client_id"].as_u64().expect("client_id");
    (raw, cid)
}

async fn get_status(server: &TestServer, path: &str) -> (u16, String) {
    http_get(server.monitor.expect("monitoring on"), path).await
}

fn connections(connz: &Value) -> &Vec<Value> {
    connz["connections"]
        .as_array()
        .unwrap_or_else(|| panic!("connections: {connz}"))
}

fn cids(connz: &Value) -> Vec<u64> {
    connections(connz)
        .iter()
        .map(|c| c["cid"].as_u64().expect("cid"))
        .collect()
}

#[tokio::test]
async fn varz_has_nats_server_fields() {
    let server = TestServer::default().await;
    let varz = server.monitor_json("/varz").await;
    let expected = key_set(
        "server_id server_name version proto go host port max_connections \
         ping_interval ping_max http_host http_port http_base_path https_port \
         auth_timeout max_control_line max_payload max_pending cluster gateway \
         leaf mqtt websocket jetstream tls_timeout write_deadline start now \
         uptime mem cores gomaxprocs cpu connections total_connections routes \
         remotes leafnodes in_msgs out_msgs in_bytes out_bytes slow_consumers \
         subscriptions http_req_stats config_load_time system_account starling_version",
    );
    assert_eq!(keys(&varz), expected, "{varz:#}");
    assert_eq!(varz["server_id"].as_str().map(str::len), Some(56));
    assert_eq!(varz["version"], "2.10.0");
    assert_eq!(varz["proto"], 1);
    assert_eq!(varz["port"], server.addr.port());
    assert_eq!(
        varz["http_port"],
        server.monitor.map(|a| a.port()).unwrap_or(0)
    );
    assert_eq!(varz["ping_interval"], 120_000_000_000u64);
    assert_eq!(varz["write_deadline"], 10_000_000_000u64);
    assert_eq!(varz["auth_timeout"], 2);
    assert_eq!(varz["tls_timeout"], 2);
    assert_eq!(varz["max_payload"], 1_048_576);
    assert_eq!(varz["max_pending"], 67_108_864);
    assert_eq!(varz["max_control_line"], 4096);
    assert_eq!(varz["max_connections"], 65_536);
    for section in [
        "cluster",
        "gateway",
        "leaf",
        "mqtt",
        "websocket",
        "jetstream",
    ] {
        assert_eq!(varz[section], serde_json::json!({}), "{section}");
    }
    for time in ["start", "now", "config_load_time"] {
        assert_rfc3339(&varz[time]);
    }
    let uptime = varz["uptime"].as_str().expect("uptime");
    assert!(uptime.ends_with('s') && uptime.len() <= 5, "{uptime}");
    assert!(varz["mem"].as_u64().expect("mem") > 0);
    assert!(varz["cpu"].as_f64().expect("cpu") >= 0.0);
    assert!(varz["cores"].as_u64().expect("cores") >= 1);
    assert_eq!(varz["gomaxprocs"], varz["cores"]);
    let stats = &varz["http_req_stats"];
    assert_eq!(
        keys(stats),
        key_set("/ /varz /connz /routez /gatewayz /subsz")
    );
    assert_eq!(stats["/varz"], 1, "this request counts");
    assert_eq!(stats["/connz"], 0);
}

#[tokio::test]
async fn varz_counts_exactly_the_traffic_sent() {
    const MESSAGES: u64 = 10;
    const SIZE: u64 = 16;
    let server = TestServer::default().await;
    let (mut subscriber, _) = named_client(&server, "sub").await;
    subscriber.send("SUB orders 1\r\n").await;
    subscriber.flush().await;
    let (mut publisher, _) = named_client(&server, "pub").await;
    let before = server.monitor_json("/varz").await;
    assert_eq!(before["connections"], 2);
    assert_eq!(before["total_connections"], 2);
    assert_eq!(before["subscriptions"], 1);
    let payload = "x".repeat(SIZE as usize);
    for _ in 0..MESSAGES {
        publisher
            .send(&format!("PUB orders {SIZE}\r\n{payload}\r\n"))
            .await;
    }
    publisher.flush().await;
    for _ in 0..MESSAGES {
        subscriber.expect_msg("orders", "1", None, &payload).await;
    }
    let counter = |varz: &Value, name: &str| varz[name].as_u64().unwrap_or(u64::MAX);
    let expected = [
        ("in_msgs", counter(&before, "in_msgs") + MESSAGES),
        ("in_bytes", counter(&before, "in_bytes") + MESSAGES * SIZE),
        ("out_msgs", counter(&before, "out_msgs") + MESSAGES),
        ("out_bytes", counter(&before, "out_bytes") + MESSAGES * SIZE),
    ];
    let monitor = server.monitor.expect("monitoring on");
    eventually("varz counts the messages", || async move {
        let varz = http_get_json(monitor, "/varz").await;
        expected
            .iter()
            .all(|(name, value)| counter(&varz, name) == *value)
    })
    .await;
    let varz = server.monitor_json("/varz").await;
    for (name, value) in expected {
        assert_eq!(counter(&varz, name), value, "{name}");
    }
    assert_eq!(varz["slow_consumers"], 0);
}

#[tokio::test]
async fn connz_reports_each_connection_with_nats_server_fields() {
    const MESSAGES: u64 = 5;
    let server = TestServer::default().await;
    let (mut subscriber, sub_cid) = named_client(&server, "sub").await;
    subscriber.send("SUB orders 1\r\nSUB audit.> 2\r\n").await;
    subscriber.flush().await;
    let (mut publisher, pub_cid) = named_client(&server, "pub").await;
    for _ in 0..MESSAGES {
        publisher.send("PUB orders 3\r\nabc\r\n").await;
    }
    publisher.flush().await;
    for _ in 0..MESSAGES {
        subscriber.expect_msg("orders", "1", None, "abc").await;
    }
    let monitor = server.monitor.expect("monitoring on");
    eventually("connz counts the messages", || async move {
        let connz = http_get_json(monitor, "/connz").await;
        let list = connections(&connz);
        list.len() == 2 && list[0]["out_msgs"] == MESSAGES && list[1]["in_msgs"] == MESSAGES
    })
    .await;
    let connz = server.monitor_json("/connz").await;
    assert_eq!(
        keys(&connz),
        key_set("server_id now num_connections total offset limit connections")
    );
    assert_eq!(
        (connz["num_connections"].as_u64(), connz["total"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (connz["offset"].as_u64(), connz["limit"].as_u64()),
        (Some(0), Some(1024))
    );
    assert_eq!(cids(&connz), vec![sub_cid, pub_cid]);
    let (sub, publisher_info) = (&connections(&connz)[0], &connections(&connz)[1]);
    assert_eq!(
        keys(sub),
        key_set(
            "cid kind type ip port start last_activity rtt uptime idle \
             pending_bytes in_msgs out_msgs in_bytes out_bytes subscriptions name \
             lang version",
        ),
        "{sub:#}"
    );
    assert_eq!(
        (&sub["kind"], &sub["type"], &sub["ip"]),
        (
            &Value::from("Client"),
            &Value::from("nats"),
            &Value::from("127.0.0.1")
        )
    );
    assert_eq!(
        (&sub["name"], &sub["lang"], &sub["version"]),
        (
            &Value::from("sub"),
            &Value::from("raw"),
            &Value::from("1.2.3")
        )
    );
    assert!(sub["port"].as_u64().is_some_and(|port| port > 0));
    assert_rfc3339(&sub["start"]);
    assert_rfc3339(&sub["last_activity"]);
    assert!(sub["rtt"].as_str().is_some_and(|rtt| rtt.ends_with('s')));
    assert_eq!(sub["subscriptions"], 2);
    assert_eq!(
        (sub["out_msgs"].as_u64(), sub["out_bytes"].as_u64()),
        (Some(MESSAGES), Some(MESSAGES * 3))
    );
    assert_eq!(
        (sub["in_msgs"].as_u64(), sub["in_bytes"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(publisher_info["subscriptions"], 0);
    assert_eq!(
        (
            publisher_info["in_msgs"].as_u64(),
            publisher_info["in_bytes"].as_u64()
        ),
        (Some(MESSAGES), Some(MESSAGES * 3))
    );
    assert_eq!(publisher_info["out_msgs"], 0);
}

#[tokio::test]
async fn connz_pages_sorts_and_filters() {
    let server = TestServer::default().await;
    let (mut quiet, quiet_cid) = named_client(&server, "quiet").await;
    let (mut busy, busy_cid) = named_client(&server, "busy").await;
    let (mut listener, listener_cid) = named_client(&server, "listener").await;
    listener
        .send("SUB a 1\r\nSUB b.* workers 2\r\nUNSUB 2 5\r\nSUB c 3\r\n")
        .await;
    listener.flush().await;
    busy.send("SUB x 1\r\nPUB nowhere 2\r\nhi\r\nPUB nowhere 2\r\nhi\r\n")
        .await;
    busy.flush().await;
    quiet.flush().await;

    // Paging.
    let page = server.monitor_json("/connz?limit=1&offset=1").await;
    assert_eq!(cids(&page), vec![busy_cid]);
    assert_eq!(
        (
            page["num_connections"].as_u64(),
            page["total"].as_u64(),
            page["offset"].as_u64(),
            page["limit"].as_u64()
        ),
        (Some(1), Some(3), Some(1), Some(1))
    );
    let past_the_end = server.monitor_json("/connz?offset=10").await;
    assert_eq!(connections(&past_the_end).len(), 0);
    assert_eq!(past_the_end["total"], 3);

    // Sorting.
    let by_subs = server.monitor_json("/connz?sort=subs").await;
    assert_eq!(cids(&by_subs), vec![listener_cid, busy_cid, quiet_cid]);
    let monitor = server.monitor.expect("monitoring on");
    eventually("busy's publishes are counted", || async move {
        let connz = http_get_json(monitor, "/connz?sort=msgs_from").await;
        cids(&connz).first() == Some(&busy_cid)
    })
    .await;
    let by_start = server.monitor_json("/connz?sort=start").await;
    assert_eq!(cids(&by_start), vec![quiet_cid, busy_cid, listener_cid]);
    for sort in [
        "cid",
        "pending",
        "msgs_to",
        "bytes_to",
        "bytes_from",
        "last",
        "idle",
        "uptime",
        "rtt",
    ] {
        let connz = server.monitor_json(&format!("/connz?sort={sort}")).await;
        assert_eq!(connections(&connz).len(), 3, "sort={sort}");
    }

    // One connection by cid.
    let one = server
        .monitor_json(&format!("/connz?cid={listener_cid}"))
        .await;
    assert_eq!(cids(&one), vec![listener_cid]);
    assert_eq!(one["limit"], 1);
    let missing = server.monitor_json("/connz?cid=999999").await;
    assert_eq!(connections(&missing).len(), 0);

    // Subscriptions: subjects, then details.
    let subs = server
        .monitor_json(&format!("/connz?cid={listener_cid}&subs=1"))
        .await;
    let entry = &connections(&subs)[0];
    assert_eq!(
        entry["subscriptions_list"],
        serde_json::json!(["a", "b.*", "c"])
    );
    assert!(entry.get("subscriptions_list_detail").is_none());
    let quiet_subs = server
        .monitor_json(&format!("/connz?cid={quiet_cid}&subs=true"))
        .await;
    assert!(
        connections(&quiet_subs)[0]
            .get("subscriptions_list")
            .is_none(),
        "omitted when empty"
    );
    let detail = server
        .monitor_json(&format!("/connz?cid={listener_cid}&subs=detail"))
        .await;
    let entry = &connections(&detail)[0];
    assert!(entry.get("subscriptions_list").is_none());
    assert_eq!(
        entry["subscriptions_list_detail"],
        serde_json::json!([
            {"subject": "a", "sid": "1", "msgs": 0, "cid": listener_cid},
            {"subject": "b.*", "qgroup": "workers", "sid": "2", "msgs": 0, "max": 5, "cid": listener_cid},
            {"subject": "c", "sid": "3", "msgs": 0, "cid": listener_cid},
        ])
    );

    // Filters that match nothing here.
    let other_account = server.monitor_json("/connz?acc=OTHER").await;
    assert_eq!(
        (
            connections(&other_account).len(),
            other_account["total"].as_u64()
        ),
        (0, Some(0))
    );
    let global = server.monitor_json("/connz?acc=$G").await;
    assert_eq!(global["total"], 3);
    let by_user = server.monitor_json("/connz?user=nobody").await;
    assert_eq!(connections(&by_user).len(), 0);
}

#[tokio::test]
async fn connz_keeps_closed_connections() {
    let server = TestServer::default().await;
    let (mut stays, stays_cid) = named_client(&server, "stays").await;
    let (mut leaves, leaves_cid) = named_client(&server, "leaves").await;
    leaves.send("PUB nowhere 4\r\nbyte\r\n").await;
    leaves.flush().await;
    drop(leaves);
    stays.flush().await;
    let monitor = server.monitor.expect("monitoring on");
    eventually("the closed connection is recorded", || async move {
        let connz = http_get_json(monitor, "/connz?state=closed").await;
        cids(&connz) == vec![leaves_cid]
    })
    .await;
    let closed = server.monitor_json("/connz?state=closed").await;
    let entry = &connections(&closed)[0];
    assert_eq!(entry["reason"], "Client Closed");
    assert_rfc3339(&entry["stop"]);
    assert_eq!(entry["name"], "leaves");
    assert_eq!(
        (entry["in_msgs"].as_u64(), entry["in_bytes"].as_u64()),
        (Some(1), Some(4))
    );
    for key in ["stop", "reason", "uptime", "idle", "rtt", "kind", "type"] {
        assert!(entry.get(key).is_some(), "{key} in {entry}");
    }

    let open = server.monitor_json("/connz").await;
    assert_eq!(cids(&open), vec![stays_cid]);
    assert!(
        connections(&open)[0].get("stop").is_none()
            && connections(&open)[0].get("reason").is_none()
    );
    let any = server.monitor_json("/connz?state=any").await;
    assert_eq!(cids(&any), vec![stays_cid, leaves_cid]);
    assert_eq!(any["total"], 2);
    let by_cid = server
        .monitor_json(&format!("/connz?state=closed&cid={leaves_cid}"))
        .await;
    assert_eq!(cids(&by_cid), vec![leaves_cid]);
    for sort in ["stop", "reason"] {
        let sorted = server
            .monitor_json(&format!("/connz?state=closed&sort={sort}"))
            .await;
        assert_eq!(cids(&sorted), vec![leaves_cid], "sort={sort}");
    }
}

#[tokio::test]
async fn bad_query_parameters_get_nats_server_400s() {
    let server = TestServer::default().await;
    let cases = [
        ("/connz?sort=bogus", "invalid sorting option: bogus"),
        ("/connz?sort=stop", "sort by stop only valid on closed connections"),
        ("/connz?sort=reason&state=open", "sort by reason only valid on closed connections"),
        ("/connz?state=sideways", "Error decoding state for sideways"),
        ("/connz?limit=ten", "Error decoding int for 'limit': strconv.Atoi: parsing \"ten\": invalid syntax"),
        ("/connz?offset=1.5", "Error decoding int for 'offset': strconv.Atoi: parsing \"1.5\": invalid syntax"),
        ("/connz?cid=-1", "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"),
        ("/connz?auth=maybe", "Error decoding boolean for 'auth': strconv.ParseBool: parsing \"maybe\": invalid syntax"),
        ("/connz?subs=some", "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"some\": invalid syntax"),
        ("/subsz?subs=yes", "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"yes\": invalid syntax"),
        ("/subsz?limit=99999999999999999999", "Error decoding int for 'limit': strconv.Atoi: parsing \"99999999999999999999\": value out of range"),
        ("/subsz?subs=1&test=foo.*", "invalid test subject, must be valid publish subject: foo.*"),
        ("/routez?subs=2", "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"2\": invalid syntax"),
        ("/healthz?js-enabled-only=perhaps", "Error decoding boolean for 'js-enabled-only': strconv.ParseBool: parsing \"perhaps\": invalid syntax"),
        ("/varz?callback=alert(1)", "invalid callback name: alert(1)"),
    ];
    for (path, message) in cases {
        assert_eq!(
            get_status(&server, path).await,
            (400, message.to_string()),
            "{path}"
        );
    }
    // Accepted spellings, and values nats-server clamps rather than refuses.
    for path in [
        "/connz?sort=",
        "/connz?state=ALL&subs=DETAIL&auth=T",
        "/connz?offset=-5&limit=-1",
        "/subsz?subs=0&offset=-1&limit=0",
        "/connz?unknown=1",
    ] {
        assert_eq!(get_status(&server, path).await.0, 200, "{path}");
    }
    let clamped = server.monitor_json("/connz?offset=-5&limit=-1").await;
    assert_eq!(
        (clamped["offset"].as_u64(), clamped["limit"].as_u64()),
        (Some(0), Some(1024))
    );
    assert_eq!(get_status(&server, "/nonexistent").await.0, 404);
}

#[tokio::test]
async fn subsz_counts_inserts_removes_and_lists_subscriptions() {
    let server = TestServer::default().await;
    let before = server.monitor_json("/subsz").await;
    assert_eq!(
        keys(&before),
        key_set(
            "server_id now num_subscriptions num_cache num_inserts num_removes \
             num_matches cache_hit_rate max_fanout avg_fanout total offset limit",
        )
    );
    let counter = |subsz: &Value, name: &str| subsz[name].as_u64().unwrap_or(u64::MAX);
    let (mut client, cid) = named_client(&server, "subs").await;
    client
        .send("SUB orders.* 1\r\nSUB audit 2\r\nSUB gone 3\r\nUNSUB 3\r\n")
        .await;
    client.flush().await;
    let after = server.monitor_json("/subsz").await;
    assert_eq!(
        counter(&after, "num_subscriptions"),
        counter(&before, "num_subscriptions") + 2
    );
    assert_eq!(
        counter(&after, "num_inserts"),
        counter(&before, "num_inserts") + 3
    );
    assert_eq!(
        counter(&after, "num_removes"),
        counter(&before, "num_removes") + 1
    );
    assert!(after.get("subscriptions_list").is_none());

    let listed = server.monitor_json("/subsz?subs=1").await;
    assert_eq!(
        listed["subscriptions_list"],
        serde_json::json!([
            {"account": "$G", "subject": "orders.*", "sid": "1", "msgs": 0, "cid": cid},
            {"account": "$G", "subject": "audit", "sid": "2", "msgs": 0, "cid": cid},
        ])
    );
    assert_eq!(
        (listed["total"].as_u64(), listed["limit"].as_u64()),
        (Some(2), Some(1024))
    );
    let paged = server.monitor_json("/subsz?subs=1&offset=1&limit=1").await;
    assert_eq!(paged["subscriptions_list"][0]["subject"], "audit");
    assert_eq!(
        (paged["total"].as_u64(), paged["offset"].as_u64()),
        (Some(1), Some(1))
    );

    let tested = server.monitor_json("/subsz?subs=1&test=orders.new").await;
    assert_eq!(
        tested["subscriptions_list"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(tested["subscriptions_list"][0]["subject"], "orders.*");
    let untested = server.monitor_json("/subsz?subs=1&test=nothing.here").await;
    assert!(untested.get("subscriptions_list").is_none());

    // The alias answers the same document and counts as /subsz.
    let alias = server.monitor_json("/subscriptionsz?subs=1").await;
    assert_eq!(alias["subscriptions_list"], listed["subscriptions_list"]);

    // A publish is a lookup.
    client.send("PUB audit 2\r\nok\r\n").await;
    client.expect_msg("audit", "2", None, "ok").await;
    let matched = server.monitor_json("/subsz").await;
    assert!(counter(&matched, "num_matches") > counter(&after, "num_matches"));
    let varz = server.monitor_json("/varz").await;
    assert_eq!(varz["http_req_stats"]["/subsz"], 8);
}

#[tokio::test]
async fn routez_healthz_and_the_index_page_answer() {
    let server = TestServer::default().await;
    let routez = server.monitor_json("/routez").await;
    assert_eq!(keys(&routez), key_set("server_id now num_routes routes"));
    assert_eq!(
        (routez["num_routes"].as_u64(), &routez["routes"]),
        (Some(0), &serde_json::json!([]))
    );
    let gatewayz = server.monitor_json("/gatewayz").await;
    assert_eq!(gatewayz["outbound_gateways"], serde_json::json!({}));
    let leafz = server.monitor_json("/leafz").await;
    assert_eq!(
        (leafz["leafnodes"].as_u64(), &leafz["leafs"]),
        (Some(0), &serde_json::json!([]))
    );

    for path in [
        "/healthz",
        "/healthz?js-enabled-only=true",
        "/healthz?js-server-only=1",
        "/healthz?js-enabled=true",
    ] {
        assert_eq!(
            get_status(&server, path).await,
            (200, r#"{"status":"ok"}"#.to_string()),
            "{path}"
        );
    }

    let (status, page) = get_status(&server, "/").await;
    assert_eq!(status, 200);
    for link in ["varz", "connz", "subsz", "routez", "healthz"] {
        assert!(page.contains(&format!("href=./{link}")), "{link} in {page}");
    }

    let (status, jsonp) = get_status(&server, "/varz?callback=show").await;
    assert_eq!(status, 200);
    assert!(
        jsonp.starts_with("show({") && jsonp.ends_with("})"),
        "{jsonp}"
    );

    let varz = server.monitor_json("/varz").await;
    let stats = &varz["http_req_stats"];
    assert_eq!(
        (
            stats["/routez"].as_u64(),
            stats["/healthz"].as_u64(),
            stats["/"].as_u64()
        ),
        (Some(1), Some(4), Some(1))
    );
    assert_eq!(
        (
            stats["/varz"].as_u64(),
            stats["/gatewayz"].as_u64(),
            stats["/leafz"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
}
