//! The duplicate window: `Nats-Msg-Id` -> sequence for messages stored in
//! the last `duplicate_window` nanoseconds.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// The window as saved at clean shutdown (`dedup.json` in a file stream's
/// directory), so a restart does not rebuild it by reading messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedDedup {
    /// The stream's last sequence when saved: messages after it were
    /// stored later and are scanned on open.
    pub last_seq: u64,
    /// `Nats-Msg-Id` of the last stored message.
    #[serde(default)]
    pub last_msg_id: String,
    /// (id, seq, store time ns), oldest first.
    #[serde(default)]
    pub entries: Vec<(String, u64, i64)>,
}

/// Message ids seen within the window, oldest first.
#[derive(Debug, Default)]
pub struct DedupWindow {
    window_nanos: i64,
    by_id: HashMap<String, u64>,
    /// (store time, id) in store order, for expiry.
    order: VecDeque<(i64, String)>,
}

impl DedupWindow {
    /// An empty window of `window_nanos`.
    pub fn new(window_nanos: i64) -> Self {
        DedupWindow {
            window_nanos,
            ..Default::default()
        }
    }

    /// Change the window length (config update).
    pub fn set_window(&mut self, window_nanos: i64) {
        self.window_nanos = window_nanos;
    }

    /// The window length, ns.
    pub fn window(&self) -> i64 {
        self.window_nanos
    }

    /// Forget ids stored before `now - window`.
    pub fn expire(&mut self, now: i64) {
        let horizon = now.saturating_sub(self.window_nanos);
        while let Some((stored, _)) = self.order.front() {
            if *stored >= horizon {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.by_id.remove(&id);
            }
        }
    }

    /// The sequence stored under `id`, if still in the window.
    pub fn lookup(&self, id: &str) -> Option<u64> {
        self.by_id.get(id).copied()
    }

    /// Remember `id` -> `seq`, stored at `stored`.
    pub fn record(&mut self, id: &str, seq: u64, stored: i64) {
        if self.window_nanos <= 0 {
            return;
        }
        if self.by_id.insert(id.to_string(), seq).is_none() {
            self.order.push_back((stored, id.to_string()));
        }
    }

    /// Every remembered (id, seq, store time), oldest first.
    pub fn entries(&self) -> Vec<(String, u64, i64)> {
        self.order
            .iter()
            .filter_map(|(stored, id)| Some((id.clone(), self.lookup(id)?, *stored)))
            .collect()
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_expire_after_the_window() {
        let mut window = DedupWindow::new(100);
        window.record("a", 1, 1000);
        window.record("b", 2, 1050);
        window.expire(1099);
        assert_eq!(window.lookup("a"), Some(1));
        window.expire(1101);
        assert_eq!(window.lookup("a"), None);
        assert_eq!(window.lookup("b"), Some(2));
        window.expire(2000);
        assert!(window.is_empty());
    }
}
