//! Tests with the official Rust client (async-nats) against an in-process
//! server: pub/sub, wildcards, queue groups, request/reply, no-responders,
//! headers, auth, permissions and slow-consumer isolation.

mod common;

use std::time::Duration;

use common::{eventually, nats_client, test_options, TestServer, DEADLINE};
use futures::StreamExt;
use starling::options::{Authorization, Permissions, SubjectPermission, User};

#[tokio::test]
async fn pub_sub_with_wildcards() {
    let server = TestServer::default().await;
    let client = nats_client(&server.url()).await;
    let mut star = client.subscribe("orders.*").await.unwrap();
    let mut rest = client.subscribe("orders.>").await.unwrap();
    common::sync(&client).await;
    let publisher = nats_client(&server.url()).await;
    publisher.publish("orders.new", "one".into()).await.unwrap();
    publisher
        .publish("orders.eu.new", "two".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    assert_eq!(common::next_message(&mut star).await.payload, "one");
    assert_eq!(common::next_message(&mut rest).await.payload, "one");
    assert_eq!(common::next_message(&mut rest).await.payload, "two");
    assert!(
        tokio::time::timeout(Duration::from_millis(100), star.next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn queue_group_splits_the_load() {
    let server = TestServer::default().await;
    let client = nats_client(&server.url()).await;
    let mut members = Vec::new();
    for _ in 0..4 {
        members.push(
            client
                .queue_subscribe("jobs", "workers".into())
                .await
                .unwrap(),
        );
    }
    common::sync(&client).await;
    let publisher = nats_client(&server.url()).await;
    for i in 0..400 {
        publisher
            .publish("jobs", format!("{i}").into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    let mut total = 0;
    for member in &mut members {
        let mut count = 0;
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(200), member.next()).await
        {
            count += 1;
        }
        assert!(count > 0, "every member gets some");
        total += count;
    }
    assert_eq!(total, 400);
}

#[tokio::test]
async fn request_reply_and_no_responders() {
    let server = TestServer::default().await;
    let responder = nats_client(&server.url()).await;
    let mut service = responder.subscribe("svc.echo").await.unwrap();
    common::sync(&responder).await;
    tokio::spawn(async move {
        while let Some(request) = service.next().await {
            if let Some(reply) = request.reply {
                responder.publish(reply, request.payload).await.unwrap();
            }
        }
    });
    let client = nats_client(&server.url()).await;
    let response = client.request("svc.echo", "ping".into()).await.unwrap();
    assert_eq!(response.payload, "ping");

    let error = client.request("svc.nobody", "x".into()).await.unwrap_err();
    assert_eq!(error.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn headers_round_trip() {
    let server = TestServer::default().await;
    let client = nats_client(&server.url()).await;
    let mut sub = client.subscribe("h").await.unwrap();
    client.flush().await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Trace-Id", "abc");
    headers.append("Multi", "1");
    headers.append("Multi", "2");
    client
        .publish_with_headers("h", headers, "body".into())
        .await
        .unwrap();
    let message = common::next_message(&mut sub).await;
    let got = message.headers.expect("headers");
    assert_eq!(got.get("Trace-Id").map(|v| v.as_str()), Some("abc"));
    assert_eq!(
        got.get_all("Multi")
            .map(|v| v.as_str().to_string())
            .collect::<Vec<_>>(),
        vec!["1", "2"]
    );
    assert_eq!(message.payload, "body");
}

fn auth_options(authorization: Authorization) -> starling::options::Options {
    starling::options::Options {
        authorization,
        ..test_options()
    }
}

#[tokio::test]
async fn user_password_and_token_auth() {
    let server = TestServer::start(auth_options(Authorization {
        user: Some("alice".into()),
        password: Some("s3cret".into()),
        ..Authorization::default()
    }))
    .await;
    let url = format!("nats://{}", server.addr);
    let ok = async_nats::ConnectOptions::with_user_and_password("alice".into(), "s3cret".into())
        .connect(&url)
        .await;
    assert!(ok.is_ok());
    let bad = async_nats::ConnectOptions::with_user_and_password("alice".into(), "wrong".into())
        .retry_on_initial_connect()
        .max_reconnects(Some(1))
        .connection_timeout(Duration::from_secs(2))
        .connect(&url)
        .await;
    match bad {
        Err(error) => assert_eq!(
            error.kind(),
            async_nats::ConnectErrorKind::AuthorizationViolation
        ),
        Ok(client) => {
            // With retries the error surfaces as an event; the client never reaches Connected.
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_ne!(
                client.connection_state(),
                async_nats::connection::State::Connected
            );
        }
    }

    let server = TestServer::start(auth_options(Authorization {
        token: Some("t0ken".into()),
        ..Authorization::default()
    }))
    .await;
    let url = format!("nats://{}", server.addr);
    assert!(async_nats::ConnectOptions::with_token("t0ken".into())
        .connect(&url)
        .await
        .is_ok());
    let error = async_nats::ConnectOptions::with_token("nope".into())
        .connect(&url)
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
    let error = async_nats::connect(&url).await.unwrap_err();
    assert_eq!(
        error.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
}

#[tokio::test]
async fn permissions_violations_keep_the_connection() {
    let permissions = Permissions {
        publish: Some(SubjectPermission {
            allow: vec!["allowed.>".into(), "_INBOX.>".into()],
            deny: vec!["allowed.secret".into()],
        }),
        subscribe: Some(SubjectPermission {
            allow: vec!["allowed.>".into(), "_INBOX.>".into()],
            deny: vec![],
        }),
        allow_responses: None,
    };
    let server = TestServer::start(auth_options(Authorization {
        users: vec![User {
            username: "bob".into(),
            password: "pw".into(),
            permissions: Some(permissions),
            nkey: None,
            account: None,
        }],
        ..Authorization::default()
    }))
    .await;
    let url = format!("nats://{}", server.addr);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::with_user_and_password("bob".into(), "pw".into())
        .event_callback(move |event| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(event.to_string());
            }
        })
        .connect(&url)
        .await
        .unwrap();
    let mut sub = client.subscribe("allowed.x").await.unwrap();
    client.publish("allowed.secret", "no".into()).await.unwrap();
    client.publish("forbidden", "no".into()).await.unwrap();
    client.publish("allowed.x", "yes".into()).await.unwrap();
    client.flush().await.unwrap();
    assert_eq!(common::next_message(&mut sub).await.payload, "yes");
    let _denied_sub = client.subscribe("forbidden.sub").await.unwrap();
    client.flush().await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let event = tokio::time::timeout(DEADLINE, events.recv())
            .await
            .expect("events")
            .expect("open");
        if event.contains("ermissions") {
            seen.push(event);
        }
    }
    let text = seen.join("\n").to_lowercase();
    assert!(text.contains("publish to \"allowed.secret\""), "{text}");
    assert!(text.contains("publish to \"forbidden\""), "{text}");
    assert!(text.contains("subscription to \"forbidden.sub\""), "{text}");
    assert_eq!(
        client.connection_state(),
        async_nats::connection::State::Connected
    );
}

#[tokio::test]
async fn slow_consumer_is_cut_off_while_a_fast_one_keeps_receiving() {
    let server = TestServer::start(starling::options::Options {
        max_pending: 256 * 1024,
        write_deadline: Duration::from_secs(2),
        ..test_options()
    })
    .await;
    // The stalled subscriber: a raw socket that subscribes and never reads.
    let mut stalled = common::raw::Raw::connected(server.addr).await;
    stalled.send("SUB firehose 1\r\n").await;
    stalled.flush().await;

    let fast = nats_client(&server.url()).await;
    let mut fast_sub = fast.subscribe("firehose").await.unwrap();
    common::sync(&fast).await;

    let publisher = nats_client(&server.url()).await;
    let payload = bytes::Bytes::from(vec![b'x'; 1024]);
    let state = server.handle.state().clone();
    let slow_consumers = || {
        state
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    // Kernel socket buffers absorb an unknown amount first, so publish in
    // rounds until the stalled subscriber is cut off (bounded: 64k messages).
    let (total_tx, total_rx) = tokio::sync::oneshot::channel::<usize>();
    let reader = tokio::spawn(async move {
        let mut received = 0;
        let mut expected = None;
        let mut total_rx = total_rx;
        loop {
            if expected == Some(received) {
                return received;
            }
            tokio::select! {
                total = &mut total_rx, if expected.is_none() => expected = Some(total.unwrap()),
                message = tokio::time::timeout(DEADLINE, fast_sub.next()) => match message {
                    Ok(Some(_)) => received += 1,
                    _ => return received,
                },
            }
        }
    });
    let mut sent = 0;
    let started = tokio::time::Instant::now();
    while slow_consumers() == 0 && sent < 64 * 1024 && started.elapsed() < DEADLINE {
        for _ in 0..1024 {
            publisher
                .publish("firehose", payload.clone())
                .await
                .unwrap();
        }
        publisher.flush().await.unwrap();
        sent += 1024;
    }
    total_tx.send(sent).unwrap();
    assert_eq!(
        reader.await.unwrap(),
        sent,
        "the fast subscriber got everything"
    );
    eventually(
        "the stalled connection is closed as a slow consumer",
        || {
            let state = state.clone();
            async move {
                state
                    .slow_consumers
                    .load(std::sync::atomic::Ordering::Relaxed)
                    == 1
                    && state
                        .closed_clients()
                        .iter()
                        .any(|c| c.reason.is_slow_consumer())
            }
        },
    )
    .await;
    // Closed without an -ERR: the stalled socket sees only messages, then EOF.
    drop(stalled);
}
