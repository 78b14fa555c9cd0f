//! The router: publish to delivery, for every origin.
//!
//! - [`deliver`]: [`route`] matches a message in its account's sublist once,
//!   appends it to each local destination's outbound queue, and forwards it
//!   once to each interested peer (with the queue groups that peer must
//!   serve).
//! - `imports`: following the stream import, service import and response
//!   entries a match found (a second `route` into the other account).
//! - [`batch`]: what one read buffer's worth of messages leaves to do
//!   afterwards: wake each destination once, add the counters once.
//!
//! Origins: a local client (echo rules, forwards to peers), a route (local
//! delivery only: one hop; only the queue groups the sender named) and an
//! internal sender (the system account, later JetStream: like a client
//! without echo rules).

pub mod batch;
pub mod deliver;
mod imports;

pub use batch::Batch;
pub use deliver::{route, send_no_responders, slow_consumer, Message, Origin};
