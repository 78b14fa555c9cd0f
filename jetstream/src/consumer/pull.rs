//! Pull requests (`CONSUMER.MSG.NEXT`): the request body, the waiting
//! queue bounded by `max_waiting`, and the status messages nats-server
//! writes to a request's reply subject (`server/consumer.go`
//! `processNextMsgRequest`, `nextWaiting`, `processWaiting`).

use std::collections::VecDeque;

use serde::Deserialize;

use crate::consumer::time::format_go_duration;

/// A parsed pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Most messages to send (at least 1).
    pub batch: i64,
    /// Nanoseconds the request lives; 0 = until filled.
    pub expires: i64,
    /// Most bytes to send (subject + reply + headers + payload); 0 = unlimited.
    pub max_bytes: i64,
    /// Answer now: `404 No Messages` instead of waiting.
    pub no_wait: bool,
    /// Idle heartbeat interval, nanoseconds; 0 = none.
    pub idle_heartbeat: i64,
    /// Priority group (2.11).
    pub group: Option<String>,
    /// `Nats-Pin-Id` the client holds (pinned client policy).
    pub id: Option<String>,
    /// Overflow: serve only while the consumer has at least this many
    /// pending messages (0 = no condition).
    pub min_pending: i64,
    /// Overflow: or at least this many unacknowledged (0 = no condition).
    pub min_ack_pending: i64,
    /// Prioritized policy: lower is served first (0-9).
    pub priority: i64,
}

impl Default for PullRequest {
    fn default() -> Self {
        PullRequest {
            batch: 1,
            expires: 0,
            max_bytes: 0,
            no_wait: false,
            idle_heartbeat: 0,
            group: None,
            id: None,
            min_pending: 0,
            min_ack_pending: 0,
            priority: 0,
        }
    }
}

#[derive(Deserialize)]
struct PullRequestJson {
    #[serde(default)]
    batch: Option<i64>,
    #[serde(default)]
    expires: Option<i64>,
    #[serde(default)]
    max_bytes: Option<i64>,
    #[serde(default)]
    no_wait: Option<bool>,
    #[serde(default)]
    idle_heartbeat: Option<i64>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    min_pending: Option<i64>,
    #[serde(default)]
    min_ack_pending: Option<i64>,
    #[serde(default)]
    priority: Option<i64>,
}

impl PullRequest {
    /// Parse a request body as nats-server's `nextReqFromMsg`: empty = one
    /// message, a JSON object, or a bare integer batch. The error text goes
    /// into `400 Bad Request - <text>`.
    pub fn parse(body: &[u8]) -> Result<PullRequest, String> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            return Ok(PullRequest::default());
        }
        if text.starts_with('{') {
            let json: PullRequestJson =
                serde_json::from_str(text).map_err(|error| error.to_string())?;
            let expires = json.expires.unwrap_or(0).max(0);
            let idle_heartbeat = json.idle_heartbeat.unwrap_or(0).max(0);
            if idle_heartbeat > 0 && idle_heartbeat.saturating_mul(2) > expires {
                return Err("heartbeat value too large".to_string());
            }
            return Ok(PullRequest {
                batch: json.batch.filter(|batch| *batch > 0).unwrap_or(1),
                expires,
                max_bytes: json.max_bytes.unwrap_or(0).max(0),
                no_wait: json.no_wait.unwrap_or(false),
                idle_heartbeat,
                group: json.group.filter(|group| !group.is_empty()),
                id: json.id.filter(|id| !id.is_empty()),
                min_pending: json.min_pending.unwrap_or(0).max(0),
                min_ack_pending: json.min_ack_pending.unwrap_or(0).max(0),
                priority: json.priority.unwrap_or(0).max(0),
            });
        }
        Ok(PullRequest {
            batch: text
                .parse::<i64>()
                .ok()
                .filter(|batch| *batch > 0)
                .unwrap_or(1),
            ..PullRequest::default()
        })
    }
}

/// A request in the waiting queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingRequest {
    /// Where its messages and statuses go.
    pub reply: String,
    /// Messages it still wants.
    pub remaining: i64,
    /// Bytes it still accepts when it set `max_bytes`, else 0.
    pub remaining_bytes: i64,
    /// Messages sent to it so far.
    pub delivered: i64,
    /// Absolute expiry, nanoseconds since the epoch.
    pub expires_at: Option<i64>,
    /// It asked not to wait.
    pub no_wait: bool,
    /// Heartbeat interval, 0 = none.
    pub heartbeat: i64,
    /// When the next heartbeat is due.
    pub next_heartbeat: Option<i64>,
    /// Priority group fields of the request (see [`PullRequest`]).
    pub group: Option<String>,
    /// The pin id it came with, or was given when it got pinned.
    pub pin_id: Option<String>,
    /// See [`PullRequest::min_pending`].
    pub min_pending: i64,
    /// See [`PullRequest::min_ack_pending`].
    pub min_ack_pending: i64,
    /// See [`PullRequest::priority`].
    pub priority: i64,
}

/// Pending pull requests, served round-robin, at most `max_waiting`.
#[derive(Debug, Clone, Default)]
pub struct WaitQueue {
    requests: VecDeque<WaitingRequest>,
    capacity: usize,
}

impl WaitQueue {
    /// An empty queue of at most `capacity` requests.
    pub fn new(capacity: usize) -> WaitQueue {
        WaitQueue {
            requests: VecDeque::new(),
            capacity,
        }
    }

    /// Requests waiting.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// True when none is waiting.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// True when at `max_waiting`.
    pub fn is_full(&self) -> bool {
        self.requests.len() >= self.capacity
    }

    /// Add at the back; false when full.
    pub fn push(&mut self, request: WaitingRequest) -> bool {
        if self.is_full() {
            return false;
        }
        self.requests.push_back(request);
        true
    }

    /// The request to serve next.
    pub fn front_mut(&mut self) -> Option<&mut WaitingRequest> {
        self.requests.front_mut()
    }

    /// Serve the request at `index` next (priority groups pick one).
    pub fn move_to_front(&mut self, index: usize) {
        if index > 0 {
            if let Some(request) = self.requests.remove(index) {
                self.requests.push_front(request);
            }
        }
    }

    /// Drop the front request.
    pub fn pop_front(&mut self) -> Option<WaitingRequest> {
        self.requests.pop_front()
    }

    /// Count one message for the front request: it leaves when done, or
    /// goes to the back so requests share deliveries (nats `waitQueue.pop`).
    pub fn served_front(&mut self) {
        let Some(mut request) = self.requests.pop_front() else {
            return;
        };
        request.remaining -= 1;
        request.delivered += 1;
        if request.remaining > 0 {
            self.requests.push_back(request);
        }
    }

    /// Remove and return every request for which `ends` is true.
    pub fn drain_where(
        &mut self,
        mut ends: impl FnMut(&WaitingRequest) -> bool,
    ) -> Vec<WaitingRequest> {
        let mut ended = Vec::new();
        let mut kept = VecDeque::with_capacity(self.requests.len());
        for request in self.requests.drain(..) {
            if ends(&request) {
                ended.push(request);
            } else {
                kept.push_back(request);
            }
        }
        self.requests = kept;
        ended
    }

    /// Every request, in serving order.
    pub fn iter(&self) -> impl Iterator<Item = &WaitingRequest> {
        self.requests.iter()
    }

    /// Every request, mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut WaitingRequest> {
        self.requests.iter_mut()
    }
}

/// `Nats-Pending-Messages`/`Nats-Pending-Bytes`: what a request had left.
pub const PENDING_MESSAGES_HEADER: &str = "Nats-Pending-Messages";
/// See [`PENDING_MESSAGES_HEADER`].
pub const PENDING_BYTES_HEADER: &str = "Nats-Pending-Bytes";

/// The header-only status messages, byte for byte as nats-server writes them.
pub mod status {
    use super::*;

    fn with_pending(line: &str, messages: i64, bytes: i64) -> Vec<u8> {
        format!(
            "NATS/1.0 {line}\r\n{PENDING_MESSAGES_HEADER}: {messages}\r\n{PENDING_BYTES_HEADER}: {bytes}\r\n\r\n"
        )
        .into_bytes()
    }

    fn plain(line: &str) -> Vec<u8> {
        format!("NATS/1.0 {line}\r\n\r\n").into_bytes()
    }

    /// `423 Nats-Pin-Id mismatch`: the request's pin is not the group's.
    pub fn pin_id_mismatch() -> Vec<u8> {
        plain("423 Nats-Pin-Id mismatch")
    }

    /// `404 No Messages`: `no_wait` and nothing (more) to send.
    pub fn no_messages() -> Vec<u8> {
        plain("404 No Messages")
    }

    /// `408 Request Timeout` with what the request had left.
    pub fn request_timeout(messages: i64, bytes: i64) -> Vec<u8> {
        with_pending("408 Request Timeout", messages, bytes)
    }

    /// `409 Message Size Exceeds MaxBytes` with what the request had left.
    pub fn message_size_exceeds_max_bytes(messages: i64, bytes: i64) -> Vec<u8> {
        with_pending("409 Message Size Exceeds MaxBytes", messages, bytes)
    }

    /// `409 Exceeded MaxWaiting`.
    pub fn exceeded_max_waiting() -> Vec<u8> {
        plain("409 Exceeded MaxWaiting")
    }

    /// `409 Consumer Deleted`.
    pub fn consumer_deleted() -> Vec<u8> {
        plain("409 Consumer Deleted")
    }

    /// `409 Consumer is push based`.
    pub fn push_based() -> Vec<u8> {
        plain("409 Consumer is push based")
    }

    /// `400 Bad Request - <why>`.
    pub fn bad_request(why: &str) -> Vec<u8> {
        plain(&format!("400 Bad Request - {why}"))
    }

    /// `409 Exceeded MaxRequestBatch of N`.
    pub fn exceeded_max_batch(limit: i64) -> Vec<u8> {
        plain(&format!("409 Exceeded MaxRequestBatch of {limit}"))
    }

    /// `409 Exceeded MaxRequestExpires of <Go duration>`.
    pub fn exceeded_max_expires(limit_nanos: i64) -> Vec<u8> {
        plain(&format!(
            "409 Exceeded MaxRequestExpires of {}",
            format_go_duration(limit_nanos)
        ))
    }

    /// `409 Exceeded MaxRequestMaxBytes of N`.
    pub fn exceeded_max_bytes(limit: i64) -> Vec<u8> {
        plain(&format!("409 Exceeded MaxRequestMaxBytes of {limit}"))
    }

    /// `100 Idle Heartbeat` with the last consumer and stream sequences.
    pub fn idle_heartbeat(last_consumer: u64, last_stream: u64) -> Vec<u8> {
        format!(
            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {last_consumer}\r\nNats-Last-Stream: {last_stream}\r\n\r\n"
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies() {
        assert_eq!(PullRequest::parse(b"").map(|r| r.batch), Ok(1));
        assert_eq!(PullRequest::parse(b" 10 ").map(|r| r.batch), Ok(10));
        assert_eq!(PullRequest::parse(b"nonsense").map(|r| r.batch), Ok(1));
        let request = PullRequest::parse(
            br#"{"batch":5,"expires":2000000000,"max_bytes":100,"no_wait":true,"idle_heartbeat":1000000000}"#,
        );
        assert_eq!(
            request,
            Ok(PullRequest {
                batch: 5,
                expires: 2_000_000_000,
                max_bytes: 100,
                no_wait: true,
                idle_heartbeat: 1_000_000_000,
                ..PullRequest::default()
            })
        );
        assert_eq!(
            PullRequest::parse(br#"{"batch":1,"expires":1000000000,"idle_heartbeat":600000000}"#),
            Err("heartbeat value too large".to_string())
        );
        assert!(PullRequest::parse(b"{not json").is_err());
    }

    #[test]
    fn status_lines_are_exact() {
        assert_eq!(
            status::request_timeout(1, 0),
            b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n"
        );
        assert_eq!(status::no_messages(), b"NATS/1.0 404 No Messages\r\n\r\n");
        assert_eq!(
            status::exceeded_max_waiting(),
            b"NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n"
        );
        assert_eq!(
            status::exceeded_max_expires(1_000_000_000),
            b"NATS/1.0 409 Exceeded MaxRequestExpires of 1s\r\n\r\n"
        );
    }

    #[test]
    fn queue_serves_round_robin_and_is_bounded() {
        let request = |reply: &str, remaining| WaitingRequest {
            reply: reply.into(),
            remaining,
            remaining_bytes: 0,
            delivered: 0,
            expires_at: None,
            no_wait: false,
            heartbeat: 0,
            next_heartbeat: None,
            group: None,
            pin_id: None,
            min_pending: 0,
            min_ack_pending: 0,
            priority: 0,
        };
        let mut queue = WaitQueue::new(2);
        assert!(queue.push(request("a", 2)));
        assert!(queue.push(request("b", 1)));
        assert!(!queue.push(request("c", 1)));
        queue.served_front();
        assert_eq!(queue.front_mut().map(|r| r.reply.clone()), Some("b".into()));
        queue.served_front();
        assert_eq!(queue.len(), 1);
        queue.served_front();
        assert!(queue.is_empty());
    }
}
