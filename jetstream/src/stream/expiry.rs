//! Expiry with subject delete markers, and republishing what was stored
//! (a child of `machine`: it works on the [`Stream`]'s own fields).

use starling_store::StoreError;

use super::super::republish::StoredInfo;
use super::super::ttl;
use super::Stream;

const SECOND: i64 = 1_000_000_000;

impl Stream {
    /// Remove what `max_age` and the TTLs let go at `now`. With
    /// `subject_delete_marker_ttl`, a removed message that was its
    /// subject's last (and not a marker itself) is replaced by a marker,
    /// as nats-server does (`handleRemovalOrSdm`).
    pub(super) fn expire(&mut self, now: i64) -> Result<u64, StoreError> {
        let marker_ttl = self.config.subject_delete_marker_ttl;
        if marker_ttl <= 0 {
            return self.store.expire(now);
        }
        let mut removed = 0;
        for seq in self.store.expiring(now) {
            // An unreadable message is left to the store's own expiry below.
            let Ok(message) = self.store.load_msg(seq) else {
                continue;
            };
            let last = self.last_subject_seq(&message.subject) == seq;
            if !self.store.remove_msg(seq)? {
                continue;
            }
            removed += 1;
            if last && !ttl::is_marker(&message.headers) {
                self.store_marker(&message.subject, marker_ttl, now);
            }
        }
        Ok(removed + self.store.expire(now)?)
    }

    /// Store the `MaxAge` marker on `subject` (whose last message just went).
    fn store_marker(&mut self, subject: &str, marker_ttl: i64, now: i64) {
        let headers = ttl::marker_headers(marker_ttl);
        let ttl_nanos = marker_ttl / SECOND * SECOND;
        match self
            .store
            .store_msg(subject, &headers, b"", now, Some(ttl_nanos))
        {
            Ok(seq) => {
                self.last_msg_id.clear();
                self.republish(&StoredInfo {
                    subject,
                    headers: &headers,
                    payload: &bytes::Bytes::new(),
                    seq,
                    timestamp: now,
                    last_subject_seq: 0,
                });
            }
            Err(error) => {
                tracing::warn!(stream = %self.config.name, %subject, %error, "delete marker not stored");
            }
        }
    }

    /// The newest sequence on the literal `subject`, 0 if none.
    pub(super) fn last_subject_seq(&self, subject: &str) -> u64 {
        self.store.filtered_state(subject, 0).last
    }

    /// Queue the republished form of `stored`, if the stream republishes it.
    pub(super) fn republish(&mut self, stored: &StoredInfo<'_>) {
        if let Some(message) = self
            .republisher
            .as_ref()
            .and_then(|republisher| republisher.message(stored))
        {
            self.republished.push(message);
        }
    }
}
