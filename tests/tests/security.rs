//! Security: client TLS (with and without client certificates, TLS first,
//! plain-text and silent clients), bcrypt and NKey users, allow_responses
//! services, and the auth timeout. Every certificate is generated at test
//! time. Route security is in `security_routes.rs`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::raw::Raw;
use common::security::{round_trip, tls_client, tls_server_options, Pki};
use common::{test_options, TestServer, DEADLINE};
use futures::StreamExt;
use starling::options::{
    Authorization, HandshakeFirst, Options, Permissions, ResponsePermission, SubjectPermission,
    TlsOptions, User,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

#[tokio::test]
async fn tls_without_client_certificates_carries_messages() {
    let pki = Pki::new();
    let server = TestServer::start(tls_server_options(pki.tls(false))).await;
    let url = format!("tls://{}", server.addr);
    let a = tls_client(&pki.server.ca)
        .connect(&url)
        .await
        .expect("TLS client a");
    let b = tls_client(&pki.server.ca)
        .connect(&url)
        .await
        .expect("TLS client b");
    assert!(a.server_info().tls_required);
    round_trip(&a, &b, "tls.plain").await;
    // A large message crosses TLS records intact.
    let mut subscription = b.subscribe("tls.big").await.expect("subscribe");
    b.flush().await.expect("flush");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    a.publish("tls.big", payload.clone().into())
        .await
        .expect("publish");
    let message = tokio::time::timeout(DEADLINE, subscription.next())
        .await
        .expect("in time")
        .expect("message");
    assert_eq!(message.payload.as_ref(), payload.as_slice());
    server.stop().await;
}

#[tokio::test]
async fn tls_verify_requires_a_client_certificate_from_the_ca() {
    let pki = Pki::new();
    let server = TestServer::start(tls_server_options(pki.tls(true))).await;
    let url = format!("tls://{}", server.addr);

    let without_certificate = tls_client(&pki.server.ca).connect(&url).await;
    assert!(
        without_certificate.is_err(),
        "no client certificate must be refused"
    );

    let stranger = tls_client(&pki.server.ca)
        .add_client_certificate(pki.stranger.cert.clone(), pki.stranger.key.clone())
        .connect(&url)
        .await;
    assert!(
        stranger.is_err(),
        "a certificate from another CA must be refused"
    );

    let client = tls_client(&pki.server.ca)
        .add_client_certificate(pki.client.cert.clone(), pki.client.key.clone())
        .connect(&url)
        .await
        .expect("verified client connects");
    let raw = Raw::connect(server.addr).await;
    assert_eq!(
        (&raw.info["tls_required"], &raw.info["tls_verify"]),
        (&true.into(), &true.into())
    );
    drop(raw);
    let other = tls_client(&pki.server.ca)
        .add_client_certificate(pki.client.cert.clone(), pki.client.key.clone())
        .connect(&url)
        .await
        .expect("second verified client");
    round_trip(&client, &other, "tls.verified").await;

    let connz = server.monitor_json("/connz?state=closed").await;
    let reasons: Vec<&str> = connz["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .filter_map(|c| c["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"TLS Handshake Failure"),
        "refused handshakes are recorded: {reasons:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_server_certificate_from_an_unknown_ca_is_refused() {
    let pki = Pki::new();
    let server = TestServer::start(tls_server_options(pki.tls(false))).await;
    let url = format!("tls://{}", server.addr);
    // The client trusts only the other CA.
    let result = tls_client(&pki.stranger.ca).connect(&url).await;
    assert!(result.is_err(), "unknown server CA must fail");
    // And a client that insists on TLS against a plain server fails too.
    let plain = TestServer::default().await;
    let result = tls_client(&pki.server.ca)
        .connect(format!("tls://{}", plain.addr))
        .await;
    assert!(
        result.is_err(),
        "TLS required against a plain server must fail"
    );
    server.stop().await;
    plain.stop().await;
}

#[tokio::test]
async fn tls_first_clients_connect_when_the_server_handshakes_first() {
    let pki = Pki::new();
    let server = TestServer::start(tls_server_options(TlsOptions {
        handshake_first: HandshakeFirst::Required,
        ..pki.tls(true)
    }))
    .await;
    let url = format!("tls://{}", server.addr);
    let certified = || {
        tls_client(&pki.server.ca)
            .add_client_certificate(pki.client.cert.clone(), pki.client.key.clone())
    };
    let a = certified()
        .tls_first()
        .connect(&url)
        .await
        .expect("tls_first a");
    let b = certified()
        .tls_first()
        .connect(&url)
        .await
        .expect("tls_first b");
    assert!(a.server_info().tls_required);
    round_trip(&a, &b, "tls.first").await;
    // Nothing arrives in plain text: the server waits for a ClientHello.
    let mut raw = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let mut byte = [0u8; 1];
    let silent = tokio::time::timeout(Duration::from_millis(300), raw.read(&mut byte)).await;
    assert!(silent.is_err(), "no plain-text INFO with handshake_first");
    server.stop().await;
}

#[tokio::test]
async fn handshake_first_with_a_fallback_serves_both_kinds_of_client() {
    let pki = Pki::new();
    let server = TestServer::start(tls_server_options(TlsOptions {
        handshake_first: HandshakeFirst::Fallback(Duration::from_millis(100)),
        ..pki.tls(false)
    }))
    .await;
    let url = format!("tls://{}", server.addr);
    let first = tls_client(&pki.server.ca)
        .tls_first()
        .connect(&url)
        .await
        .expect("tls_first");
    let later = tls_client(&pki.server.ca)
        .connect(&url)
        .await
        .expect("INFO first");
    round_trip(&first, &later, "tls.fallback").await;
    server.stop().await;
}

#[tokio::test]
async fn a_plain_text_client_gets_tls_required_and_is_closed_at_once() {
    let pki = Pki::new();
    // A long TLS timeout proves the close does not wait for it.
    let server = TestServer::start(tls_server_options(TlsOptions {
        timeout: Duration::from_secs(30),
        ..pki.tls(false)
    }))
    .await;
    let mut raw = Raw::connect(server.addr).await;
    assert_eq!(raw.info["tls_required"], true);
    assert!(raw.info.get("tls_verify").is_none());
    let started = Instant::now();
    raw.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    let lines = raw.expect_closed().await;
    assert_eq!(lines, vec!["-ERR 'Secure Connection - TLS Required'"]);
    assert!(started.elapsed() < Duration::from_secs(2), "closed quickly");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_never_starts_or_finishes_tls_is_closed_after_the_tls_timeout() {
    let pki = Pki::new();
    let timeout = Duration::from_millis(300);
    let server = TestServer::start(tls_server_options(TlsOptions {
        timeout,
        ..pki.tls(false)
    }))
    .await;

    // Silent after INFO: nats-server's tlsTimeout error, then the close.
    let started = Instant::now();
    let mut silent = Raw::connect(server.addr).await;
    let lines = silent.expect_closed().await;
    assert_eq!(lines, vec!["-ERR 'Secure Connection - TLS Required'"]);
    assert!(started.elapsed() >= timeout);

    // Starts a handshake (one byte of a TLS record) and stalls.
    let started = Instant::now();
    let mut stalled = Raw::connect(server.addr).await;
    stalled.send_bytes(&[0x16, 0x03, 0x01]).await;
    stalled.expect_closed().await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= timeout && elapsed < timeout + Duration::from_secs(3),
        "{elapsed:?}"
    );

    // Meanwhile the server keeps serving others.
    let client = tls_client(&pki.server.ca)
        .connect(format!("tls://{}", server.addr))
        .await
        .expect("a TLS client still connects");
    client.flush().await.expect("flush");
    server.stop().await;
}

#[tokio::test]
async fn varz_reports_tls_settings() {
    let pki = Pki::new();
    let server = TestServer::start(tls_server_options(TlsOptions {
        timeout: Duration::from_millis(1500),
        ..pki.tls(true)
    }))
    .await;
    let varz = server.monitor_json("/varz").await;
    assert_eq!(varz["tls_required"], true);
    assert_eq!(varz["tls_verify"], true);
    assert_eq!(varz["tls_timeout"], 1.5);
    server.stop().await;
    let plain = TestServer::default().await;
    let varz = plain.monitor_json("/varz").await;
    assert!(varz.get("tls_required").is_none());
    assert_eq!(varz["tls_timeout"], 2);
    plain.stop().await;
}

#[tokio::test]
async fn the_binary_serves_tls_from_flags_and_refuses_a_missing_certificate() {
    let pki = Pki::new();
    let cert = pki.server.cert.to_string_lossy().to_string();
    let key = pki.server.key.to_string_lossy().to_string();
    let process = common::process::Process::start(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "--tls",
        "--tlscert",
        &cert,
        "--tlskey",
        &key,
    ])
    .await;
    let client = tls_client(&pki.server.ca)
        .connect(format!("tls://{}", process.addr))
        .await
        .expect("TLS client connects to the binary");
    client.flush().await.expect("flush");
    drop(process);

    let missing = pki
        .dir
        .path()
        .join("missing.pem")
        .to_string_lossy()
        .to_string();
    let (code, _, stderr) = common::process::run_to_end(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "--tls",
        "--tlscert",
        &missing,
        "--tlskey",
        &key,
    ])
    .await;
    assert_ne!(code, 0);
    assert!(stderr.contains("missing.pem"), "{stderr}");
}

// --- Credentials --------------------------------------------------------

fn auth_options(authorization: Authorization) -> Options {
    Options {
        authorization,
        ..test_options()
    }
}

#[tokio::test]
async fn bcrypt_users_connect_and_wrong_passwords_are_refused() {
    let hash = bcrypt::hash("s3cret", 4).expect("hash");
    let server = TestServer::start(auth_options(Authorization {
        users: vec![User {
            username: "alice".into(),
            password: hash,
            ..User::default()
        }],
        ..Authorization::default()
    }))
    .await;
    let url = server.url();
    let a = async_nats::ConnectOptions::with_user_and_password("alice".into(), "s3cret".into())
        .connect(&url)
        .await
        .expect("bcrypt user connects");
    let b = async_nats::ConnectOptions::with_user_and_password("alice".into(), "s3cret".into())
        .connect(&url)
        .await
        .expect("second bcrypt client");
    round_trip(&a, &b, "bcrypt.ok").await;
    let wrong = async_nats::ConnectOptions::with_user_and_password("alice".into(), "nope".into())
        .connect(&url)
        .await;
    assert!(wrong.is_err());
    // Raw: the exact error, and ops sent behind the CONNECT are not run.
    let mut raw = Raw::connect(server.addr).await;
    raw.send("CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"bad\"}\r\nPING\r\n")
        .await;
    assert_eq!(
        raw.expect_closed().await,
        vec!["-ERR 'Authorization Violation'"]
    );
    let mut raw = Raw::connect(server.addr).await;
    raw.send("CONNECT {\"verbose\":true,\"user\":\"alice\",\"pass\":\"s3cret\"}\r\nPING\r\n")
        .await;
    raw.expect("+OK").await;
    raw.expect("PONG").await;
    server.stop().await;
}

/// bcrypt runs on a blocking thread: while slow checks are under way, an
/// authenticated client on the same (single-threaded) runtime is served.
#[tokio::test]
async fn bcrypt_checks_do_not_stall_other_clients() {
    let cost = 10;
    let hash = bcrypt::hash("slow", cost).expect("hash");
    let started = Instant::now();
    assert!(bcrypt::verify("slow", &hash).expect("verify"));
    let one_check = started.elapsed();
    let server = TestServer::start(auth_options(Authorization {
        users: vec![
            User {
                username: "slow".into(),
                password: hash,
                ..User::default()
            },
            User {
                username: "fast".into(),
                password: bcrypt::hash("fast", 4).expect("hash"),
                ..User::default()
            },
        ],
        ..Authorization::default()
    }))
    .await;
    let mut fast = Raw::connect(server.addr).await;
    fast.send("CONNECT {\"verbose\":false,\"user\":\"fast\",\"pass\":\"fast\"}\r\nPING\r\n")
        .await;
    fast.expect("PONG").await;
    // Several slow CONNECTs at once.
    let mut slow = Vec::new();
    for _ in 0..3 {
        let mut raw = Raw::connect(server.addr).await;
        raw.send("CONNECT {\"verbose\":false,\"user\":\"slow\",\"pass\":\"slow\"}\r\nPING\r\n")
            .await;
        slow.push(raw);
    }
    let mut worst = Duration::ZERO;
    let window = Instant::now();
    while window.elapsed() < one_check {
        let ping = Instant::now();
        fast.flush().await;
        worst = worst.max(ping.elapsed());
    }
    for raw in &mut slow {
        raw.expect("PONG").await;
    }
    assert!(
        worst < one_check / 2 + Duration::from_millis(20),
        "a PING waited {worst:?} while one bcrypt check takes {one_check:?}"
    );
    server.stop().await;
}

/// The user of the async-nats suite's nkey test.
const NKEY_SEED: &str = "SUACH75SWCM5D2JMJM6EKLR2WDARVGZT4QC6LX3AGHSWOMVAKERABBBRWM";
const NKEY_PUBLIC: &str = "UAFHG6FUD2UU4SDFVAFUL5LDFO2XM4WYM76UNXTPJYJK7EEMYRBHT2VE";
/// Another valid user seed, not configured on the server.
const OTHER_SEED: &str = "SUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTVUKF4XBCBGHYEMEDE";

#[tokio::test]
async fn nkey_users_sign_the_nonce_and_strangers_are_refused() {
    let server = TestServer::start(auth_options(Authorization {
        users: vec![
            User {
                nkey: Some(NKEY_PUBLIC.into()),
                ..User::default()
            },
            User {
                username: "bob".into(),
                password: "pw".into(),
                ..User::default()
            },
        ],
        ..Authorization::default()
    }))
    .await;
    let url = server.url();
    let a = async_nats::ConnectOptions::with_nkey(NKEY_SEED.into())
        .connect(&url)
        .await
        .expect("nkey user connects");
    let b = async_nats::ConnectOptions::with_user_and_password("bob".into(), "pw".into())
        .connect(&url)
        .await
        .expect("password user of the same list connects");
    round_trip(&a, &b, "nkey.ok").await;
    let stranger = async_nats::ConnectOptions::with_nkey(OTHER_SEED.into())
        .connect(&url)
        .await;
    assert!(stranger.is_err(), "an unknown nkey is refused");

    // Each connection gets its own nonce; a signature of another nonce fails.
    let first = Raw::connect(server.addr).await;
    let mut second = Raw::connect(server.addr).await;
    let nonce = first.info["nonce"].as_str().expect("nonce").to_string();
    assert_eq!(nonce.len(), 15);
    assert_ne!(second.info["nonce"].as_str(), Some(nonce.as_str()));
    let pair = nkeys::KeyPair::from_seed(NKEY_SEED).expect("seed");
    let replayed =
        data_encoding::BASE64URL_NOPAD.encode(&pair.sign(nonce.as_bytes()).expect("sign"));
    second
        .send(&format!(
            "CONNECT {{\"verbose\":false,\"nkey\":\"{NKEY_PUBLIC}\",\"sig\":\"{replayed}\"}}\r\nPING\r\n"
        ))
        .await;
    assert_eq!(
        second.expect_closed().await,
        vec!["-ERR 'Authorization Violation'"]
    );
    drop(first);
    server.stop().await;
}

#[tokio::test]
async fn nkey_users_get_their_permissions() {
    let server = TestServer::start(auth_options(Authorization {
        users: vec![User {
            nkey: Some(NKEY_PUBLIC.into()),
            permissions: Some(Permissions {
                publish: Some(SubjectPermission {
                    allow: vec!["allowed.>".into()],
                    deny: Vec::new(),
                }),
                ..Permissions::default()
            }),
            ..User::default()
        }],
        ..Authorization::default()
    }))
    .await;
    let mut raw = Raw::connect(server.addr).await;
    let nonce = raw.info["nonce"].as_str().expect("nonce").to_string();
    let pair = nkeys::KeyPair::from_seed(NKEY_SEED).expect("seed");
    let sig = data_encoding::BASE64URL_NOPAD.encode(&pair.sign(nonce.as_bytes()).expect("sign"));
    raw.send(&format!(
        "CONNECT {{\"verbose\":false,\"nkey\":\"{NKEY_PUBLIC}\",\"sig\":\"{sig}\"}}\r\nPING\r\n"
    ))
    .await;
    raw.expect("PONG").await;
    raw.send("PUB denied.x 1\r\nx\r\n").await;
    raw.expect("-ERR 'Permissions Violation for Publish to \"denied.x\"'")
        .await;
    raw.send("PUB allowed.x 1\r\nx\r\n").await;
    raw.expect_nothing().await;
    let connz = server.monitor_json("/connz?auth=true").await;
    assert_eq!(connz["connections"][0]["authorized_user"], NKEY_PUBLIC);
    server.stop().await;
}

#[tokio::test]
async fn a_service_restricted_by_allow_responses_answers_requests_only() {
    let service_permissions = Permissions {
        publish: Some(SubjectPermission::default()),
        subscribe: Some(SubjectPermission {
            allow: vec!["svc.>".into()],
            deny: Vec::new(),
        }),
        allow_responses: Some(ResponsePermission {
            max_msgs: 1,
            expires: Duration::from_secs(60),
        }),
    };
    let server = TestServer::start(auth_options(Authorization {
        users: vec![
            User {
                username: "service".into(),
                password: "pw".into(),
                permissions: Some(service_permissions),
                ..User::default()
            },
            User {
                username: "caller".into(),
                password: "pw".into(),
                ..User::default()
            },
        ],
        ..Authorization::default()
    }))
    .await;
    let url = server.url();
    let service = async_nats::ConnectOptions::with_user_and_password("service".into(), "pw".into())
        .connect(&url)
        .await
        .expect("service connects");
    let caller = async_nats::ConnectOptions::with_user_and_password("caller".into(), "pw".into())
        .connect(&url)
        .await
        .expect("caller connects");
    let mut requests = service
        .subscribe("svc.echo")
        .await
        .expect("service subscribes");
    service.flush().await.expect("flush");
    let mut elsewhere = caller.subscribe("other.>").await.expect("subscribe");
    caller.flush().await.expect("flush");
    let responder = tokio::spawn(async move {
        let mut answered = 0;
        while let Some(request) = requests.next().await {
            let reply = request.reply.expect("request has a reply subject");
            let mut text = b"echo: ".to_vec();
            text.extend_from_slice(&request.payload);
            service
                .publish(reply.clone(), text.into())
                .await
                .expect("reply");
            // A second answer to the same request is beyond max_msgs: 1.
            service.publish(reply, "extra".into()).await.expect("extra");
            // Publishing anywhere else is denied.
            service
                .publish("other.x", "leak".into())
                .await
                .expect("leak");
            service.flush().await.expect("flush");
            answered += 1;
            if answered == 3 {
                break;
            }
        }
        answered
    });
    for round in 0..3 {
        // The service's SUB may still be on its way: no responders, retry.
        let deadline = Instant::now() + DEADLINE;
        let answer = loop {
            match caller
                .request("svc.echo", format!("ping {round}").into())
                .await
            {
                Ok(answer) => break answer,
                Err(error) => {
                    assert!(Instant::now() < deadline, "request failed: {error}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        assert_eq!(answer.payload, format!("echo: ping {round}"));
    }
    assert_eq!(responder.await.expect("responder"), 3);
    caller.flush().await.expect("flush");
    let leaked = tokio::time::timeout(Duration::from_millis(200), elsewhere.next()).await;
    assert!(
        leaked.is_err(),
        "the service could publish outside replies: {leaked:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_connection_that_never_sends_connect_is_closed_after_the_auth_timeout() {
    let timeout = Duration::from_millis(300);
    let server = TestServer::start(auth_options(Authorization {
        token: Some("t0k3n".into()),
        timeout,
        ..Authorization::default()
    }))
    .await;
    let started = Instant::now();
    let mut raw = Raw::connect(server.addr).await;
    assert_eq!(raw.info["auth_required"], true);
    assert_eq!(
        raw.expect_closed().await,
        vec!["-ERR 'Authentication Timeout'"]
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= timeout && elapsed < timeout + Duration::from_secs(2),
        "{elapsed:?}"
    );
    // A client that authenticates in time stays.
    let mut ok = Raw::connect(server.addr).await;
    ok.send("CONNECT {\"verbose\":false,\"auth_token\":\"t0k3n\"}\r\nPING\r\n")
        .await;
    ok.expect("PONG").await;
    tokio::time::sleep(timeout * 2).await;
    ok.flush().await;
    server.stop().await;
}

#[tokio::test]
async fn the_auth_timeout_starts_after_the_tls_handshake() {
    let pki = Pki::new();
    let server = TestServer::start(Options {
        tls: Some(pki.tls(false)),
        authorization: Authorization {
            user: Some("derek".into()),
            password: Some("porkchop".into()),
            timeout: Duration::from_millis(300),
            ..Authorization::default()
        },
        ..test_options()
    })
    .await;
    let url = format!("tls://{}", server.addr);
    let client = tls_client(&pki.server.ca)
        .user_and_password("derek".into(), "porkchop".into())
        .connect(&url)
        .await
        .expect("TLS + user/password");
    client.flush().await.expect("flush");
    // A TLS client that completes the handshake but never sends CONNECT.
    let config = rustls_client_config(&pki.server.ca);
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("tcp");
    let mut info = [0u8; 4096];
    let mut tcp = tcp;
    let read = tcp.read(&mut info).await.expect("INFO");
    assert!(info[..read].starts_with(b"INFO "));
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    let mut text = Vec::new();
    let closed = tokio::time::timeout(DEADLINE, tls.read_to_end(&mut text)).await;
    assert!(closed.is_ok(), "closed by the auth timeout");
    assert_eq!(
        String::from_utf8_lossy(&text),
        "-ERR 'Authentication Timeout'\r\n"
    );
    let _ = tls.shutdown().await;
    server.stop().await;
}

fn rustls_client_config(ca: &Path) -> std::sync::Arc<rustls::ClientConfig> {
    let roots = starling::tls::load_roots(ca).expect("roots");
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}
