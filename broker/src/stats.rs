//! Message and byte counters, shared by the server and each connection.
//! Plain relaxed atomics: they are statistics, read by monitoring only.

use std::sync::atomic::{AtomicU64, Ordering};

/// In/out messages and payload bytes (as nats-server counts them in /varz).
#[derive(Debug, Default)]
pub struct Traffic {
    /// Messages received from publishers.
    pub in_msgs: AtomicU64,
    /// Payload bytes (headers included) received.
    pub in_bytes: AtomicU64,
    /// Messages delivered.
    pub out_msgs: AtomicU64,
    /// Payload bytes delivered.
    pub out_bytes: AtomicU64,
}

impl Traffic {
    /// Count `msgs` messages of `bytes` payload bytes in.
    pub fn add_in(&self, msgs: u64, bytes: u64) {
        self.in_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Count `msgs` messages of `bytes` payload bytes out.
    pub fn add_out(&self, msgs: u64, bytes: u64) {
        self.out_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.out_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A consistent-enough copy for reporting.
    pub fn snapshot(&self) -> TrafficSnapshot {
        TrafficSnapshot {
            in_msgs: self.in_msgs.load(Ordering::Relaxed),
            in_bytes: self.in_bytes.load(Ordering::Relaxed),
            out_msgs: self.out_msgs.load(Ordering::Relaxed),
            out_bytes: self.out_bytes.load(Ordering::Relaxed),
        }
    }
}

/// A copy of [`Traffic`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TrafficSnapshot {
    /// See [`Traffic::in_msgs`].
    pub in_msgs: u64,
    /// See [`Traffic::in_bytes`].
    pub in_bytes: u64,
    /// See [`Traffic::out_msgs`].
    pub out_msgs: u64,
    /// See [`Traffic::out_bytes`].
    pub out_bytes: u64,
}

/// Counts gathered while processing one read buffer, added to the shared
/// counters once per buffer instead of once per message.
#[derive(Debug, Default)]
pub struct LocalTraffic {
    /// Messages in.
    pub in_msgs: u64,
    /// Bytes in.
    pub in_bytes: u64,
    /// Messages out (to any connection).
    pub out_msgs: u64,
    /// Bytes out.
    pub out_bytes: u64,
}

impl LocalTraffic {
    /// Move the gathered counts to `target` (and reset).
    pub fn flush_into(&mut self, target: &Traffic) {
        if self.in_msgs != 0 {
            target.add_in(self.in_msgs, self.in_bytes);
        }
        if self.out_msgs != 0 {
            target.add_out(self.out_msgs, self.out_bytes);
        }
        *self = LocalTraffic::default();
    }
}
