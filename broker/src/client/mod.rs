//! Client connections.
//!
//! - [`conn`]: the reader task (read, parse, act) and keep-alive.
//! - [`ops`]: what each op does.
//! - `barrier`: the interest barrier (a PING after a SUB waits for peers'
//!   acknowledgements).
//! - [`writer`]: the writer task.
//! - [`handle`]: the shared side of a connection, and subscriptions.
//! - `tls`: the TLS upgrade (INFO first or handshake first, timeout).

mod barrier;
pub mod conn;
pub mod handle;
mod ops;
mod tls;
pub mod writer;

pub use handle::{ClientHandle, ClientId, Subscription};
