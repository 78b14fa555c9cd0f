//! Membership and failure handling as a synchronous state machine.
//!
//! Route lifecycle events and the time go in ([`Membership::register`],
//! [`Membership::dial_finished`], [`Membership::route_closed`],
//! [`Membership::members_received`], [`Membership::poll`]); [`Action`]s come
//! out (dial this URL, answer that registration, gossip the members, tell
//! the broker the client URLs changed), and a [`Progress`] view for
//! readiness. No I/O and no clock of its own, so
//! every rule is unit-tested under exact times; `crate::driver` runs it.
//!
//! Rules, following nats-server's route.go where it has one:
//! - Seeds are redialed forever with jittered backoff; a seed that reached
//!   this node itself is never dialed again. A seed named by a host name is
//!   resolved, every address dialed, and resolved again before each redial
//!   (`names`).
//! - A gossiped member is dialed at once, then retried `connect_retries`
//!   times, then forgotten. Only the side that dialed a lost route redials
//!   it; the other side forgets the member (the dialer will come back).
//! - A node gossips itself and the members it has a live route to, so a
//!   dead member stops being gossiped as soon as its routes are gone.
//! - Duplicates: the node with the smaller id decides for the pair. It keeps
//!   the first route it registers, except that it holds an inbound route
//!   briefly while one of its own dials that may reach the same node is in
//!   flight, so the route it dialed wins a simultaneous dial. The node with
//!   the larger id waits for that verdict (a Members frame or a Close) before
//!   it calls the route up, so both sides agree before `peer_up`.

mod dials;
mod io;
mod machine;
mod names;
#[cfg(test)]
mod names_tests;
mod progress;
#[cfg(test)]
mod tests;
mod view;

pub(crate) use io::{Action, Authority, DialId, DialOutcome, DialTarget, Settings, Verdict};
pub(crate) use machine::Membership;
pub(crate) use progress::Progress;
