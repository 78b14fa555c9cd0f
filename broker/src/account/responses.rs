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
        if self.created.elapsed() >= RESPONSE_THRESHOLD {
            return false;
        }
        match self.response {
            ResponseType::Singleton => !self.answered.swap(true, Ordering::AcqRel),
            ResponseType::Stream | ResponseType::Chunked => true,
        }
    }

    /// Whether the entry is done with (answered singleton or expired).
    pub fn finished(&self) -> bool {
        self.created.elapsed() >= RESPONSE_THRESHOLD
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
            created: Instant::now(),
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
                if !oldest.finished() && pending.len() <= MAX_RESPONSES {
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
