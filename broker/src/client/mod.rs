//! Client connections.
//!
//! - [`conn`]: the reader task (read, parse, act) and keep-alive.
//! - [`ops`]: what each op does; `jwt_connect`: CONNECT in operator mode
//!   (with the account looked up across the cluster when unknown here);
//!   `limits`: payload and subscription limits, re-applied when the
//!   account's change.
//! - `barrier`: the interest barrier (a PING after a SUB waits for peers'
//!   acknowledgements).
//! - [`writer`]: the writer task.
//! - [`handle`]: the shared side of a connection, and subscriptions.
//! - `tls`: the TLS upgrade (INFO first or handshake first, timeout).

mod barrier;
pub mod conn;
pub mod handle;
mod jwt_connect;
mod limits;
mod ops;
mod tls;
pub mod writer;

pub use handle::{ClientHandle, ClientId, Subscription};
