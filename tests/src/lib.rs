//! Shared helpers of the workspace-level tests and the bench.
//!
//! - [`certs`]: CA and leaf certificates generated at run time (rcgen).
//! - [`convergence`]: the cluster convergence figures (`starling-convergence`).

pub mod certs;
pub mod convergence;
