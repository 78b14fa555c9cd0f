//! The limits a connection enforces itself: the largest payload (at the
//! parser) and its subscription count (at SUB). They are the tightest of
//! the server's, the account's and, for a JWT user, the user's own; an
//! account JWT pushed while the client is connected changes the account's
//! (nats-server `applyAccountLimits`), so each read buffer first checks the
//! account's limits generation and re-applies them when it moved.

use super::conn::Connection;

/// A JWT user's own limits (its claims, or its signing key's template);
/// None = unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct UserLimits {
    /// Largest payload in bytes.
    pub payload: Option<usize>,
    /// Subscriptions at most.
    pub subs: Option<usize>,
}

/// The smaller of two optional limits (None = no limit).
fn tighter(first: Option<usize>, second: Option<usize>) -> Option<usize> {
    match (first, second) {
        (Some(first), Some(second)) => Some(first.min(second)),
        (limit, None) | (None, limit) => limit,
    }
}

impl Connection {
    /// Puts the server's, the account's and the user's limits in force.
    pub(super) fn apply_limits(&mut self) {
        self.limits_generation = self.account.limits_generation();
        let account = self.account.limits();
        let user = self.user_limits.unwrap_or_default();
        let payload = tighter(account.max_payload, user.payload)
            .map_or(self.options.max_payload, |limit| {
                limit.min(self.options.max_payload)
            });
        self.parser.set_max_payload(payload);
        if self.user_limits.is_some() {
            // 0 in a JWT allows no subscription at all, so the account's
            // JWT limit is applied here too (the SUB path rounds a config
            // account's 0 up to 1).
            let server =
                (self.options.max_subscriptions > 0).then_some(self.options.max_subscriptions);
            self.max_subscriptions = tighter(server, tighter(user.subs, account.max_subscriptions));
        }
    }

    /// Re-applies the limits when the account's changed since.
    pub(super) fn refresh_limits(&mut self) {
        if self.account.limits_generation() != self.limits_generation {
            self.apply_limits();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tighter;

    #[test]
    fn the_tighter_limit_wins_and_none_is_unlimited() {
        assert_eq!(tighter(None, None), None);
        assert_eq!(tighter(Some(3), None), Some(3));
        assert_eq!(tighter(None, Some(0)), Some(0));
        assert_eq!(tighter(Some(3), Some(5)), Some(3));
    }
}
