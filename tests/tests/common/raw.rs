//! A raw protocol client: bytes in, lines out, with deadlines.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::DEADLINE;

/// A TCP connection speaking the NATS text protocol by hand.
pub struct Raw {
    stream: TcpStream,
    buffer: BytesMut,
    /// The INFO line received on connect (JSON part).
    pub info: serde_json::Value,
}

impl Raw {
    /// Connect and read the INFO line.
    pub async fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut raw = Raw {
            stream,
            buffer: BytesMut::new(),
            info: serde_json::Value::Null,
        };
        let line = raw.line().await;
        let json = line.strip_prefix("INFO ").expect("INFO first");
        raw.info = serde_json::from_str(json).expect("INFO JSON");
        raw
    }

    /// Connect and send `CONNECT {json}` (no verbose unless asked) + PING, wait for PONG.
    pub async fn connect_with(addr: SocketAddr, json: &str) -> Raw {
        let mut raw = Raw::connect(addr).await;
        raw.send(&format!("CONNECT {json}\r\nPING\r\n")).await;
        loop {
            match raw.line().await.as_str() {
                "PONG" => break,
                "+OK" => continue,
                other => panic!("unexpected reply to CONNECT: {other}"),
            }
        }
        raw
    }

    /// Connect with verbose and pedantic off.
    pub async fn connected(addr: SocketAddr) -> Raw {
        Raw::connect_with(addr, r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1}"#).await
    }

    /// Send raw text.
    pub async fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes()).await;
    }

    /// Send raw bytes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// Send then PING and wait for PONG: everything before was processed.
    pub async fn flush(&mut self) {
        self.send("PING\r\n").await;
        self.expect("PONG").await;
    }

    async fn fill(&mut self, deadline: Duration) -> bool {
        match tokio::time::timeout(deadline, self.stream.read_buf(&mut self.buffer)).await {
            Ok(Ok(0)) => false,
            Ok(Ok(_)) => true,
            Ok(Err(_)) => false,
            Err(_) => panic!(
                "timed out reading; have {:?}",
                String::from_utf8_lossy(&self.buffer)
            ),
        }
    }

    /// The next line, without CRLF. Server PINGs are answered and skipped.
    pub async fn line(&mut self) -> String {
        loop {
            let line = self.raw_line().await;
            if line == "PING" {
                self.send("PONG\r\n").await;
                continue;
            }
            return line;
        }
    }

    /// The next line including server PINGs.
    pub async fn raw_line(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line = self.buffer.split_to(end + 1);
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                return text;
            }
            assert!(
                self.fill(DEADLINE).await,
                "connection closed; had {:?}",
                String::from_utf8_lossy(&self.buffer)
            );
        }
    }

    /// Exactly `n` bytes followed by CRLF (a payload).
    pub async fn payload(&mut self, n: usize) -> Vec<u8> {
        while self.buffer.len() < n + 2 {
            assert!(self.fill(DEADLINE).await, "connection closed in payload");
        }
        let payload = self.buffer.split_to(n).to_vec();
        assert_eq!(&self.buffer[..2], b"\r\n", "payload terminator");
        self.buffer.advance(2);
        payload
    }

    /// Expect the next line to be exactly `expected`.
    pub async fn expect(&mut self, expected: &str) {
        let line = self.line().await;
        assert_eq!(line, expected);
    }

    /// Expect `MSG <subject> <sid> [reply] <n>` and its payload; returns the payload.
    pub async fn expect_msg(
        &mut self,
        subject: &str,
        sid: &str,
        reply: Option<&str>,
        payload: &str,
    ) {
        let line = self.line().await;
        let expected = match reply {
            Some(r) => format!("MSG {subject} {sid} {r} {}", payload.len()),
            None => format!("MSG {subject} {sid} {}", payload.len()),
        };
        assert_eq!(line, expected);
        assert_eq!(self.payload(payload.len()).await, payload.as_bytes());
    }

    /// Expect the server to close the connection (after any remaining lines,
    /// which are returned).
    pub async fn expect_closed(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line = self.buffer.split_to(end + 1);
                lines.push(String::from_utf8_lossy(&line).trim_end().to_string());
                continue;
            }
            match tokio::time::timeout(DEADLINE, self.stream.read_buf(&mut self.buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return lines,
                Ok(Ok(_)) => {}
                Err(_) => panic!("connection not closed; got {lines:?}"),
            }
        }
    }

    /// Nothing but PONG arrives in answer to a PING: proves silence.
    pub async fn expect_nothing(&mut self) {
        self.send("PING\r\n").await;
        self.expect("PONG").await;
    }
}
