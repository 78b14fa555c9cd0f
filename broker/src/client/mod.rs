//! Client connections.
//!
//! - [`conn`]: the reader task (read, parse, act) and keep-alive.
//! - [`ops`]: what each op does; `jwt_connect`: CONNECT in operator mode.
//! - [`writer`]: the writer task.
//! - [`handle`]: the shared side of a connection, and subscriptions.
//! - `tls`: the TLS upgrade (INFO first or handshake first, timeout).

pub mod conn;
pub mod handle;
mod jwt_connect;
mod ops;
mod tls;
pub mod writer;

pub use handle::{ClientHandle, ClientId, Subscription};
