//! The system account's services: the server answers monitoring requests
//! (`$SYS.REQ.SERVER.PING`, `$SYS.REQ.SERVER.<id>.<ENDPOINT>`,
//! `$SYS.REQ.ACCOUNT.<acc>.<ENDPOINT>`, `$SYS.REQ.USER.INFO`) and publishes
//! events (`$SYS.ACCOUNT.<acc>.CONNECT`/`DISCONNECT`, periodic
//! `$SYS.SERVER.<id>.STATSZ`) as nats-server does, so the `nats` CLI's
//! `server list`/`server info`/`server report` work.
//!
//! - [`service`]: the task: internal subscriptions, request dispatch, timer.
//! - [`claims`]: the resolver's `$SYS.REQ.CLAIMS.*` / `CLAIMS.UPDATE` /
//!   `CLAIMS.LOOKUP` requests in operator mode (a task of its own);
//!   [`account_update`]: a new account JWT applied to the live account;
//!   [`lookup`]: asking the cluster for an account JWT this node lacks;
//!   [`sync`]: the periodic store sync between nodes.
//! - [`events`]: connect/disconnect events handed from client tasks.
//! - [`requests`]: building each endpoint's answer.
//! - [`messages`]: the JSON shapes.
//!
//! How it works: the service holds internal subscriptions
//! ([`crate::interest::Interest::Internal`]) in the system account; they
//! count as local interest, so peers forward PINGs here and every node of a
//! cluster answers the requester's reply subject (the reply crosses the
//! routes in the system account).

pub mod account_update;
pub mod claims;
pub mod events;
pub mod lookup;
pub mod messages;
pub mod requests;
pub mod service;
pub mod sync;

pub use events::SystemEvent;
pub use service::{run, ANNOUNCED_SUBSCRIPTIONS, STATSZ_INTERVAL};
