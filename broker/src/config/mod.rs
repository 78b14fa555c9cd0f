//! Configuration: nats-server's config-file syntax and command-line flags,
//! producing [`Options`](crate::options::Options).
//!
//! Module map:
//! - `scanner`, `syntax`, `value`: the config format (nats-server's
//!   `conf/lex.go` and `conf/parse.go`) parsed into a tree of values that
//!   remember their lines; `resolve` handles `include`, `$VARIABLE` and
//!   the environment lookup.
//! - `apply`, `auth`, `accounts` (with `imports`), `cluster`, `tls`, `field`: the tree applied onto `Options`,
//!   key by key (nats-server's `opts.go`), with typed errors naming key and
//!   line; `no_auth_user` checks that option against the whole file.
//! - `operator`: JWT operator mode (`operator`, `resolver`,
//!   `resolver_preload`).
//! - `address`, `duration`: `host:port`, route URLs, Go durations.
//! - `flags`, `cli`, `usage`: Go `flag`-style scanning of nats-server's
//!   flags, turned into a [`Command`]; flags override the file whatever
//!   their position.
//! - `load`: the file and text entry points.
//!
//! Design note: parsing and applying are separate passes so that the parser
//! knows nothing of options and the apply step sees whole values (it can tell
//! a referenced variable from an unknown key, as nats-server does).
//! Unsupported nats-server features (JetStream, leaf nodes, gateways,
//! accounts, HTTPS monitoring) are a [`ConfigError::Unsupported`], never
//! ignored; `docs/CONFIG-OPTIONS.md` lists every option and its status.

mod accounts;
mod address;
mod apply;
mod auth;
mod cli;
mod cluster;
mod duration;
mod error;
mod field;
mod flags;
mod imports;
mod jetstream;
mod load;
mod mappings;
mod no_auth_user;
mod operator;
#[cfg(test)]
mod options_tests;
mod resolve;
mod scanner;
mod syntax;
#[cfg(test)]
mod test_support;
mod tls;
mod usage;
mod value;

pub use cli::{parse_command_line, Command, SignalKind};
pub use error::ConfigError;
pub(crate) use imports::find_export;
#[doc(hidden)]
pub use load::parse_str_without_env;
pub use load::{load_file, parse_str};
