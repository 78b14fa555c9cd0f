//! Connect and disconnect events: client tasks hand them to the service
//! through a bounded channel (a full channel drops the event: a client
//! never waits on the system account).

use std::sync::Arc;

use crate::client::ClientHandle;
use crate::server::state::ClosedClient;

/// Capacity of the event channel.
pub const EVENT_CHANNEL_CAPACITY: usize = 4096;

/// Something the service publishes an event for.
#[derive(Debug)]
pub enum SystemEvent {
    /// A client's CONNECT was accepted.
    Connect(Arc<ClientHandle>),
    /// A connected client closed, in the named account.
    Disconnect {
        /// What the closed ring keeps of it.
        closed: Box<ClosedClient>,
        /// Its account.
        account: String,
    },
}
