//! A stream's mirror or sources, driven by its worker: before each batch
//! the worker reads what its origins stored since (from their stores, up
//! to what they have answered for, so only durable messages are taken),
//! turns it into `Mirrored` / `Sourced` operations applied in the batch,
//! and after the batch's sync moves each source's position on.
//!
//! nats-server uses an internal push consumer per origin; on one node a
//! direct read is simpler and loses nothing: the position is the
//! mirror's last sequence, or for a source the origin sequence in the
//! `Nats-Stream-Source` header of the newest message it brought (found
//! again after a restart). An origin that stores messages wakes the
//! streams taking from it ([`SourceLinks::notify_followers`]); a stream
//! with sources also looks every [`SOURCE_TICK`], for an origin that
//! does not exist yet or a message its limits refused. A replicated
//! stream's leader can make the same operations and propose them.
//!
//! Lock order: a stream's source set -> the account's registry (a lookup)
//! and any stream's state machine (the origin's or its own, never both at
//! once). Nothing takes a source set while holding a state machine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use starling_jetstream::api::stream_source::{SourceTransform, StreamSource, StreamSourceInfo};
use starling_jetstream::api::{ApiError, StreamConfig};
use starling_jetstream::source::{
    resume_points, source_header_value, sourced_headers, without_batch_headers, SubjectTransform,
};
use starling_jetstream::stream::source::Mirrored;
use starling_jetstream::stream::{Operation, Outcome, Publish, Stream};
use starling_store::{MessageStore, StoreError, StoredMsg};
use tokio::sync::mpsc;

use super::account::AccountJetStream;
use super::handle::{Control, StreamHandle};
use crate::client::handle::lock;

/// Origin messages taken per source per batch; more come in the next one.
const PER_SOURCE_PER_BATCH: usize = 1024;

/// How often a stream with sources looks at them without being woken, ns.
pub(super) const SOURCE_TICK: i64 = 1_000_000_000;

/// A stream's links to the streams it takes from and that take from it.
#[derive(Default)]
pub(super) struct SourceLinks {
    /// This stream's own mirror or sources, and their progress.
    set: Mutex<SourceSet>,
    /// Streams taking from this one: woken when it stored something.
    followers: Mutex<Vec<mpsc::Sender<Control>>>,
    /// The last sequence this stream has answered for (synced, or flushed
    /// in lazy mode): what followers may take.
    durable: AtomicU64,
}

impl SourceLinks {
    /// Links of a stream whose store already holds up to `last_seq`.
    pub fn new(last_seq: u64) -> Self {
        SourceLinks {
            durable: AtomicU64::new(last_seq),
            ..SourceLinks::default()
        }
    }

    /// After a batch made everything up to `last_seq` durable: followers
    /// may take it now, so wake them (dropping those that are gone).
    pub fn notify_followers(&self, last_seq: u64) {
        let before = self.durable.swap(last_seq, Ordering::AcqRel);
        if before == last_seq {
            return;
        }
        // A full channel means the follower is busy and passes anyway.
        lock(&self.followers).retain(|follower| {
            !matches!(
                follower.try_send(Control::Wake),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
    }

    fn follow(&self, wake: &mpsc::Sender<Control>) {
        let mut followers = lock(&self.followers);
        if !followers.iter().any(|f| f.same_channel(wake)) {
            followers.push(wake.clone());
        }
    }

    /// `StreamInfo.mirror` and `.sources` for `config`, with the progress
    /// made so far.
    pub fn info(
        &self,
        config: &StreamConfig,
        now: i64,
    ) -> (Option<StreamSourceInfo>, Vec<StreamSourceInfo>) {
        let set = lock(&self.set);
        let describe = |source: &StreamSource| {
            let index_name = source.index_name();
            let entry = set.entries.iter().find(|e| e.index_name == index_name);
            StreamSourceInfo {
                name: source.name.clone(),
                external: source.external.clone(),
                lag: entry.map_or(0, |e| e.lag),
                active: entry
                    .and_then(|e| e.last_read)
                    .map_or(-1, |at| now.saturating_sub(at).max(0)),
                error: entry.and_then(|e| e.error.clone()),
                filter_subject: source.filter_subject.clone(),
                subject_transforms: source
                    .subject_transforms
                    .iter()
                    .map(|t| SourceTransform {
                        src: t.src.clone(),
                        dest: t.dest.clone(),
                    })
                    .collect(),
            }
        };
        let mirror = config.mirror.as_ref().map(describe);
        let sources = config.sources.iter().flatten().map(describe).collect();
        (mirror, sources)
    }
}

/// The mirror or the sources of one stream, as its worker drives them.
#[derive(Default)]
struct SourceSet {
    /// The config the entries follow (`mirror` or `sources`).
    mirror: Option<StreamSource>,
    sources: Vec<StreamSource>,
    entries: Vec<Entry>,
}

/// One origin.
struct Entry {
    config: StreamSource,
    index_name: String,
    filters: Vec<String>,
    transforms: Vec<SubjectTransform>,
    /// The next origin sequence to take; None until placed.
    next: Option<u64>,
    /// This stream's headers were searched for where it stopped.
    resumed: bool,
    /// The origin handle this stream registered with as a follower.
    origin: Weak<StreamHandle>,
    /// Origin messages not taken yet.
    lag: u64,
    /// When the origin was last read, ns.
    last_read: Option<i64>,
    /// Why it is not working.
    error: Option<ApiError>,
    /// The stream refused a message of it (limits): not before then.
    retry_at: Option<i64>,
}

impl Entry {
    fn new(config: StreamSource) -> Self {
        Entry {
            index_name: config.index_name(),
            filters: config.filters(),
            transforms: config.transforms(),
            config,
            next: None,
            resumed: false,
            origin: Weak::new(),
            lag: 0,
            last_read: None,
            error: None,
            retry_at: None,
        }
    }
}

/// What a worker needs to drive its stream's mirror or sources.
pub(super) struct Sourcing {
    /// The account's streams (the origins are found there by name).
    pub registry: Arc<AccountJetStream>,
    /// This stream's links.
    pub links: Arc<SourceLinks>,
    /// This stream's control channel: origins wake it through it.
    pub wake: mpsc::Sender<Control>,
}

/// Messages taken in one pass, in order, to apply in the batch.
pub(super) struct Taken {
    items: Vec<(usize, u64, Operation)>,
}

/// What applying [`Taken`] did, to commit after the sync.
#[derive(Default)]
pub(super) struct Applied {
    /// (entry, origin seq, stored or already held).
    results: Vec<(usize, u64, bool)>,
}

impl Sourcing {
    /// Read what the origins have for this stream, at `now`. Returns the
    /// messages to apply (None if there are none) and when to look again.
    pub fn collect(&self, stream: &Mutex<Stream>, now: i64) -> (Option<Taken>, Option<i64>) {
        let mut set = lock(&self.links.set);
        let (mirror, sources, last_seq) = {
            let stream = lock(stream);
            let config = stream.config();
            if !config.has_sources() && set.entries.is_empty() {
                return (None, None);
            }
            (
                config.mirror.clone(),
                config.sources.clone().unwrap_or_default(),
                stream.store().state().last_seq,
            )
        };
        if set.mirror != mirror || set.sources != sources {
            rebuild(&mut set, mirror, sources);
        }
        if set.entries.is_empty() {
            return (None, None);
        }
        let is_mirror = set.mirror.is_some();
        if set.entries.iter().any(|e| !e.resumed) && !is_mirror {
            place_sources(&mut set, stream);
        }
        let mut items = Vec::new();
        let mut more = false;
        for (index, entry) in set.entries.iter_mut().enumerate() {
            if entry.retry_at.is_some_and(|at| at > now) {
                continue;
            }
            entry.retry_at = None;
            let Some(origin) = self.registry.stream(&entry.config.name) else {
                entry.error = Some(ApiError::stream_not_found());
                entry.lag = 0;
                continue;
            };
            if !std::ptr::eq(entry.origin.as_ptr(), Arc::as_ptr(&origin)) {
                origin.sources.follow(&self.wake);
                entry.origin = Arc::downgrade(&origin);
            }
            entry.error = None;
            let up_to = origin.sources.durable.load(Ordering::Acquire);
            let origin_stream = lock(&origin.stream);
            let store = origin_stream.store();
            if entry.next.is_none() {
                entry.next = Some(if is_mirror && last_seq > 0 {
                    last_seq + 1
                } else {
                    start_seq(&entry.config, store)
                });
            }
            let mut next = entry.next.unwrap_or(1);
            let mut taken = 0;
            while taken < PER_SOURCE_PER_BATCH {
                let Some(message) = next_message(store, &entry.filters, next, up_to) else {
                    break;
                };
                next = message.seq + 1;
                taken += 1;
                let operation = if is_mirror {
                    mirrored(entry, message)
                } else {
                    sourced(entry, message)
                };
                items.push((index, next - 1, operation));
            }
            entry.lag = entry
                .filters
                .iter()
                .map(|filter| store.num_pending(filter, next, false))
                .sum();
            more |= taken == PER_SOURCE_PER_BATCH && entry.lag > 0;
            entry.last_read = Some(now);
        }
        let wake = if more { now } else { now + SOURCE_TICK };
        let taken = (!items.is_empty()).then_some(Taken { items });
        (taken, Some(wake))
    }

    /// After the batch became durable: move each source past what it
    /// stored.
    pub fn commit(&self, applied: Applied, now: i64) {
        let mut set = lock(&self.links.set);
        let mut blocked = Vec::new();
        for (index, origin_seq, stored) in applied.results {
            let Some(entry) = set.entries.get_mut(index) else {
                continue;
            };
            if blocked.contains(&index) {
                continue;
            }
            if stored {
                entry.next = Some(origin_seq + 1);
            } else {
                // Refused (limits): take it again later, nothing after it.
                blocked.push(index);
                entry.retry_at = Some(now + SOURCE_TICK);
            }
        }
    }

    /// The batch was lost (the store cut it back): place every source
    /// again from what the store holds.
    pub fn forget_positions(&self) {
        for entry in &mut lock(&self.links.set).entries {
            entry.next = None;
            entry.resumed = false;
        }
    }
}

/// Apply what a pass took, in order, under the stream's lock. After a
/// refusal the rest of that source's messages are not applied (they are
/// taken again with it).
pub(super) fn apply(stream: &mut Stream, taken: Taken, now: i64) -> Applied {
    let mut applied = Applied::default();
    let mut blocked: Vec<usize> = Vec::new();
    for (index, origin_seq, operation) in taken.items {
        if blocked.contains(&index) {
            continue;
        }
        let stored = match stream.apply(operation, now) {
            Outcome::Published(ack) => match ack.error {
                None => true,
                Some(error) if is_limit(&error) => {
                    blocked.push(index);
                    false
                }
                Some(error) => {
                    // nats-server retries such a message for ever; skip it.
                    tracing::warn!(stream = stream.name(), origin_seq, %error, "sourced message refused, skipped");
                    true
                }
            },
            _ => true,
        };
        applied.results.push((index, origin_seq, stored));
    }
    applied
}

/// A refusal a later retry can get past (discard new at a limit).
fn is_limit(error: &ApiError) -> bool {
    error.err_code == ApiError::store_failed("").err_code
}

fn rebuild(set: &mut SourceSet, mirror: Option<StreamSource>, sources: Vec<StreamSource>) {
    let mut old = std::mem::take(&mut set.entries);
    let configs: Vec<StreamSource> = mirror
        .iter()
        .cloned()
        .chain(sources.iter().cloned())
        .collect();
    set.entries = configs
        .into_iter()
        .map(|config| {
            let index_name = config.index_name();
            match old.iter().position(|e| e.index_name == index_name) {
                // Same origin, filter and transforms: keep its progress.
                Some(at) => {
                    let mut entry = old.swap_remove(at);
                    entry.config = config;
                    entry
                }
                None => Entry::new(config),
            }
        })
        .collect();
    if mirror.is_some() != set.mirror.is_some() {
        for entry in &mut set.entries {
            entry.next = None;
            entry.resumed = false;
        }
    }
    set.mirror = mirror;
    set.sources = sources;
}

/// Where each unplaced source resumes: after the newest message it
/// brought, found in this stream's headers.
fn place_sources(set: &mut SourceSet, stream: &Mutex<Stream>) {
    let unplaced: Vec<usize> = (0..set.entries.len())
        .filter(|index| !set.entries[*index].resumed)
        .collect();
    let wanted: Vec<(String, String)> = unplaced
        .iter()
        .map(|index| {
            let entry = &set.entries[*index];
            (entry.config.name.clone(), entry.index_name.clone())
        })
        .collect();
    let found = resume_points(lock(stream).store(), &wanted);
    for (index, last) in unplaced.into_iter().zip(found) {
        let entry = &mut set.entries[index];
        entry.resumed = true;
        entry.next = last.map(|seq| seq + 1);
    }
}

/// The first origin sequence of a source that never took anything:
/// `opt_start_seq`, else the first at or after `opt_start_time`, else 1.
fn start_seq(config: &StreamSource, store: &dyn MessageStore) -> u64 {
    if config.opt_start_seq > 0 {
        return config.opt_start_seq;
    }
    let Some(time) = config.opt_start_time else {
        return 1;
    };
    let state = store.state();
    let (mut low, mut high) = (state.first_seq.max(1), state.last_seq + 1);
    while low < high {
        let middle = low + (high - low) / 2;
        match store.load_next_msg("", middle) {
            Ok(message) if message.timestamp >= time => high = middle,
            Ok(message) => low = message.seq + 1,
            Err(_) => high = middle,
        }
    }
    low
}

/// The first origin message at or after `from` (and at most `up_to`)
/// matching one of `filters`.
fn next_message(
    store: &dyn MessageStore,
    filters: &[String],
    from: u64,
    up_to: u64,
) -> Option<StoredMsg> {
    if from > up_to {
        return None;
    }
    let mut best: Option<StoredMsg> = None;
    for filter in filters {
        let bound = best.as_ref().map_or(up_to, |b| b.seq);
        match store.load_next_msg(filter, from) {
            Ok(message) if message.seq <= bound => best = Some(message),
            Ok(_) | Err(StoreError::Eof | StoreError::MsgNotFound) => {}
            Err(error) => {
                tracing::warn!(%error, "reading a source's origin failed");
                return None;
            }
        }
    }
    best
}

/// The subject after the first transform that matches (or as it is).
fn transformed(entry: &Entry, subject: &str) -> String {
    entry
        .transforms
        .iter()
        .find_map(|t| t.map(subject))
        .unwrap_or_else(|| subject.to_string())
}

fn mirrored(entry: &Entry, message: StoredMsg) -> Operation {
    Operation::Mirrored(Box::new(Mirrored {
        seq: message.seq,
        subject: transformed(entry, &message.subject),
        headers: without_batch_headers(&message.headers),
        payload: message.payload,
        timestamp: message.timestamp,
    }))
}

fn sourced(entry: &Entry, message: StoredMsg) -> Operation {
    let value = source_header_value(&entry.index_name, message.seq);
    Operation::Sourced(Publish {
        subject: transformed(entry, &message.subject),
        headers: Bytes::from(sourced_headers(&message.headers, &value)),
        payload: message.payload,
    })
}
