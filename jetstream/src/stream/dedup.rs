//! The duplicate window: `Nats-Msg-Id` -> sequence for messages stored in
//! the last `duplicate_window` nanoseconds.

use std::collections::{HashMap, VecDeque};

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
