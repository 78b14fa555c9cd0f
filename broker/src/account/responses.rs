//! Response tracking for service imports: a request that crossed into the
//! exporter carries a generated reply subject (`_R_.<random>`), whose entry
//! in the exporter's sublist maps a response back to the importer's reply.
//!
//! The entry is local interest (announced to peers), so a responder on
//! another node forwards its response here. A singleton entry goes after
//! the first response; stream and chunked entries live until the response
//! threshold (nats-server's default, 2 minutes). Entries are kept in
//! creation order, swept when a new one is added, and at most
//! [`MAX_RESPONSES`] per exporting account live at once (the oldest goes).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::imports::{ResponseType, ServiceImport};
use super::Account;
use crate::client::handle::lock;
use crate::interest::Interest;
use crate::route::LocalInterest;

/// nats-server's default service response threshold.
pub const RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// Most response entries one exporting account keeps.
pub const MAX_RESPONSES: usize = 65_536;

/// One pending response mapping, in the exporter's sublist on `subject`.
#[derive(Debug)]
pub struct ServiceResponse {
    /// The account the request came from.
    pub importer: Arc<Account>,
    /// The account whose sublist holds this entry.
    pub exporter: Arc<Account>,
    /// The generated reply subject (exporter's space).
    pub subject: Arc<str>,
    /// The requester's reply subject (importer's space).
    pub reply: Box<str>,
    /// Singleton: one response only.
    pub response: ResponseType,
    created: Instant,
    answered: AtomicBool,
}

impl ServiceResponse {
    /// Whether a response may cross now; a singleton's first call wins.
    pub fn admit(&self) -> bool {
        self.admit_at(Instant::now())
    }

    /// [`ServiceResponse::admit`] at `now`.
    pub fn admit_at(&self, now: Instant) -> bool {
        if now.duration_since(self.created) >= RESPONSE_THRESHOLD {
            return false;
        }
        match self.response {
            ResponseType::Singleton => !self.answered.swap(true, Ordering::AcqRel),
            ResponseType::Stream | ResponseType::Chunked => true,
        }
    }

    /// Whether the entry is done with at `now` (answered singleton or expired).
    pub fn finished_at(&self, now: Instant) -> bool {
        now.duration_since(self.created) >= RESPONSE_THRESHOLD
            || (self.response == ResponseType::Singleton && self.answered.load(Ordering::Acquire))
    }
}

/// An exporting account's pending responses, oldest first.
#[derive(Debug, Default)]
pub struct ResponseTable {
    pending: Mutex<VecDeque<Arc<ServiceResponse>>>,
}

/// Source of unique response subjects.
static NEXT_RESPONSE: AtomicU64 = AtomicU64::new(1);

impl ResponseTable {
    /// Register a response mapping for a request through `import` with the
    /// requester's `reply`; returns the generated reply subject to send.
    pub fn register(
        &self,
        import: &ServiceImport,
        reply: &str,
        interest: &LocalInterest,
    ) -> Arc<str> {
        self.register_at(import, reply, interest, Instant::now())
    }

    /// [`ResponseTable::register`] at `now`.
    pub fn register_at(
        &self,
        import: &ServiceImport,
        reply: &str,
        interest: &LocalInterest,
        now: Instant,
    ) -> Arc<str> {
        let exporter = &import.exporter;
        let subject: Arc<str> = Arc::from(format!(
            "_R_.{:08x}.{:x}",
            rand::random::<u32>(),
            NEXT_RESPONSE.fetch_add(1, Ordering::Relaxed)
        ));
        let entry = Arc::new(ServiceResponse {
            importer: import.importer.clone(),
            exporter: exporter.clone(),
            subject: subject.clone(),
            reply: Box::from(reply),
            response: import.response,
            created: now,
            answered: AtomicBool::new(false),
        });
        exporter
            .sublist
            .insert(&subject, None, Interest::ServiceResponse(entry.clone()));
        interest.added(&exporter.name, &subject, None);
        let expired = {
            let mut pending = lock(&self.pending);
            pending.push_back(entry);
            let mut expired = Vec::new();
            while let Some(oldest) = pending.front() {
                if !oldest.finished_at(now) && pending.len() <= MAX_RESPONSES {
                    break;
                }
                expired.extend(pending.pop_front());
            }
            expired
        };
        for old in expired {
            remove(&old, interest);
        }
        subject
    }

    /// Pending entries (answered singletons count until swept).
    pub fn len(&self) -> usize {
        lock(&self.pending).len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Take `entry` out of its exporter's sublist; announce only if it was there.
pub fn remove(entry: &Arc<ServiceResponse>, interest: &LocalInterest) {
    let exporter = &entry.exporter;
    if exporter.sublist.remove(
        &entry.subject,
        None,
        &Interest::ServiceResponse(entry.clone()),
    ) {
        interest.removed(&exporter.name, &entry.subject, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(response: ResponseType) -> ServiceImport {
        ServiceImport {
            importer: Arc::new(Account::new("B")),
            exporter: Arc::new(Account::new("A")),
            subject: Arc::from("svc"),
            local: Arc::from("svc"),
            response,
        }
    }

    fn entry_of(import: &ServiceImport, subject: &str) -> Arc<ServiceResponse> {
        let matches = import.exporter.sublist.match_subject(subject);
        match matches.plain.first() {
            Some(Interest::ServiceResponse(entry)) => entry.clone(),
            other => panic!("no response entry for {subject}: {other:?}"),
        }
    }

    #[test]
    fn singleton_admits_once_and_stream_until_the_threshold() {
        let interest = LocalInterest::default();
        let single = import(ResponseType::Singleton);
        let subject = single
            .exporter
            .responses
            .register(&single, "inbox.1", &interest);
        assert!(subject.starts_with("_R_."));
        let entry = entry_of(&single, &subject);
        assert_eq!(&*entry.reply, "inbox.1");
        assert!(entry.admit());
        assert!(!entry.admit(), "a singleton crosses once");
        remove(&entry, &interest);
        assert!(single
            .exporter
            .sublist
            .match_subject(&subject)
            .plain
            .is_empty());

        let stream = import(ResponseType::Stream);
        let subject = stream
            .exporter
            .responses
            .register(&stream, "inbox.2", &interest);
        let entry = entry_of(&stream, &subject);
        assert!(entry.admit() && entry.admit() && entry.admit());
        let later = Instant::now() + RESPONSE_THRESHOLD;
        assert!(!entry.admit_at(later), "expired after the threshold");
        // The next registration sweeps the expired entry out of the sublist.
        stream
            .exporter
            .responses
            .register_at(&stream, "inbox.3", &interest, later);
        assert!(stream
            .exporter
            .sublist
            .match_subject(&subject)
            .plain
            .is_empty());
        assert_eq!(stream.exporter.responses.len(), 1);
    }
}
