//! Which client drives the core scenarios (`--clients`).

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Error};

/// The load generator of the core (non-JetStream) scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clients {
    /// The bench's raw-wire clients ([`super::wire`], [`super::latency`]):
    /// cheap and identical for every server.
    #[default]
    Raw,
    /// async-nats, the official Rust client, with default connect options:
    /// what a user's application costs the server (and itself).
    AsyncNats,
}

impl Clients {
    /// The name used on the command line and in scenario names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::AsyncNats => "async-nats",
        }
    }

    /// `name` as reported: the bare name for raw clients (today's rows keep
    /// their names), `name@async-nats` otherwise.
    pub fn scenario_name(self, name: &str) -> String {
        match self {
            Self::Raw => name.to_string(),
            other => format!("{name}@{}", other.name()),
        }
    }
}

impl fmt::Display for Clients {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for Clients {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        match value {
            "raw" => Ok(Self::Raw),
            "async-nats" => Ok(Self::AsyncNats),
            other => bail!("--clients wants raw or async-nats, got {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_both_modes_and_rejects_others() {
        assert_eq!("raw".parse::<Clients>().expect("raw"), Clients::Raw);
        assert_eq!(
            "async-nats".parse::<Clients>().expect("async-nats"),
            Clients::AsyncNats
        );
        assert!("nats".parse::<Clients>().is_err());
        assert!("".parse::<Clients>().is_err());
    }

    #[test]
    fn scenario_name_suffixes_only_the_async_nats_mode() {
        assert_eq!(Clients::Raw.scenario_name("pubsub-16b"), "pubsub-16b");
        assert_eq!(
            Clients::AsyncNats.scenario_name("pubsub-16b"),
            "pubsub-16b@async-nats"
        );
    }
}
