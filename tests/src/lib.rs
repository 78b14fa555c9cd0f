//! Shared helpers of the workspace-level tests and the bench.
//!
//! - [`certs`]: CA and leaf certificates generated at run time (rcgen).

pub mod certs;
