//! The operator-mode settings of a node (`operator`, `resolver`,
//! `resolver_preload`), as the config step produces them.

use super::resolver::DirResolverOptions;

/// JWT operator mode; on when `operators` is not empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OperatorOptions {
    /// The trusted operator JWTs (`operator: file or JWT`, or a list), as
    /// text; decoded and checked again at server start.
    pub operators: Vec<String>,
    /// Where account JWTs come from; required with `operators`.
    pub resolver: Option<ResolverOptions>,
    /// `resolver_preload { ACCOUNT_PUBKEY: JWT }`, in file order.
    pub preload: Vec<(String, String)>,
}

impl OperatorOptions {
    /// True when the node runs in operator mode.
    pub fn enabled(&self) -> bool {
        !self.operators.is_empty()
    }
}

/// `resolver: MEMORY` or `resolver { type: full, ... }`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolverOptions {
    /// `MEMORY`: only the preloaded accounts (and updates kept in memory).
    Memory,
    /// `type: full`: a directory of account JWTs.
    Full(DirResolverOptions),
}
