//! The broker's side of clustering: what local clients are interested in
//! (announced to peers), what peers are interested in (in the sublist), and
//! the [`starling_cluster::ClusterHandler`] that ties them to the cluster.
//!
//! - [`local`]: counts of local interest; announces 0->1 and 1->0 edges.
//! - [`remote`]: peers' interest, kept in the sublist as `Interest::Remote`.
//! - [`glue`]: the handler the cluster calls.
//! - [`setup`]: cluster configuration from the options.
//! - [`tls`]: route TLS as a cluster transport and listener.

pub mod glue;
pub mod local;
pub mod remote;
pub mod setup;
pub mod tls;

pub use glue::ClusterGlue;
pub use local::LocalInterest;
pub use remote::RemoteInterestTable;
