//! The checks of a `mirror` / `sources` config that need the account's
//! other streams (nats-server's `checkStreamCfg`): message sizes against
//! an origin that exists (one that does not is no error: the source
//! becomes active when it appears), `mirror_direct` taken from the
//! origin's `allow_direct`, and cycles.

use std::collections::{BTreeSet, VecDeque};

use starling_jetstream::api::{ApiError, StreamConfig};
use starling_jetstream::subject;

use super::account::AccountJetStream;

/// Check `config` against the other streams of `account`, and fill what
/// it inherits from its origin.
pub(super) fn check(account: &AccountJetStream, config: &mut StreamConfig) -> Result<(), ApiError> {
    if !config.has_sources() {
        return Ok(());
    }
    let other = |name: &str| {
        account
            .stream(name)
            .filter(|_| name != config.name)
            .map(|handle| handle.config())
    };
    if let Some(origin) = config.mirror.as_ref().and_then(|m| other(&m.name)) {
        if too_small(config.max_msg_size, origin.max_msg_size) {
            return Err(ApiError::mirror_max_message_size());
        }
        config.mirror_direct = origin.allow_direct;
    }
    for source in config.sources.iter().flatten() {
        if let Some(origin) = other(&source.name) {
            if too_small(config.max_msg_size, origin.max_msg_size) {
                return Err(ApiError::source_max_message_size());
            }
        }
    }
    check_cycles(account, config)
}

fn too_small(mine: i32, origin: i32) -> bool {
    mine > 0 && origin > 0 && mine < origin
}

/// Walk from `config` through the streams it takes from: reaching a
/// visited stream again through a source whose filter overlaps the
/// sourcing stream's subjects, or through a mirror, is a cycle.
fn check_cycles(account: &AccountJetStream, config: &StreamConfig) -> Result<(), ApiError> {
    let cycle = || Err(ApiError::invalid_stream_config("detected cycle"));
    let mut to_visit = VecDeque::from([config.clone()]);
    let mut visited = BTreeSet::new();
    // Breadth first, as nats-server walks.
    while let Some(current) = to_visit.pop_front() {
        visited.insert(current.name.clone());
        for source in current.sources.iter().flatten() {
            if visited.contains(&source.name) {
                let overlaps = source.filter_subject.is_empty()
                    || current
                        .subjects
                        .iter()
                        .any(|s| subject::overlaps(s, &source.filter_subject));
                if overlaps {
                    return cycle();
                }
            } else if let Some(next) = account.stream(&source.name) {
                to_visit.push_back(next.config());
            }
        }
        if let Some(mirror) = &current.mirror {
            if visited.contains(&mirror.name) {
                return cycle();
            }
            if let Some(next) = account.stream(&mirror.name) {
                to_visit.push_back(next.config());
            }
        }
        if visited.len() > 10_000 {
            break;
        }
    }
    Ok(())
}
