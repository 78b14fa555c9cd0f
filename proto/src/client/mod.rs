//! The NATS client text protocol (nats-server's `client.go`/`parser.go`).
//!
//! - [`parser`]: incremental parser of what clients send.
//! - [`op`]: the parsed operations.
//! - [`encode`]: what the server sends (`MSG`, `HMSG`, `-ERR`, ...).
//! - [`connect`]: the `CONNECT` JSON.

pub mod connect;
pub mod encode;
pub mod op;
pub mod parser;

pub use connect::ConnectInfo;
pub use op::ClientOp;
pub use parser::{ClientParser, ParseError};
