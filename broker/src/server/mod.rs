//! The server: listeners, accept loop, shared state and lifecycle.
//!
//! - [`state`]: what all tasks share.
//! - [`listen`]: binding, the accept loop and shutdown.
//! - [`info`]: the INFO sent to clients.
//! - [`ports_file`]: the `ports_file_dir` file of listener URLs.

pub mod info;
pub mod listen;
pub mod ports_file;
pub mod state;

pub use listen::{Server, ServerHandle};
pub use state::ServerState;
