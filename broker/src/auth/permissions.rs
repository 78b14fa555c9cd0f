//! Publish and subscribe permissions of one user (nats-server
//! `server/client.go`: `setPermissions`, `pubAllowedFullCheck`,
//! `canSubscribe`, `queueMatches`, `checkDenySub`).
//!
//! Rules:
//! - No allow list: everything is allowed unless denied. An allow list
//!   (even one whose entries are all invalid) allows only what it matches.
//!   Deny always wins over allow.
//! - Publish: the subject must match an allow pattern and no deny pattern.
//! - Subscribe: a subscription subject (wildcards included) is allowed when
//!   it is a subset of an allow pattern (`foo.*` under `foo.>`), and denied
//!   when a deny pattern matches it token by token, its wildcards taken as
//!   literal tokens, which is how nats-server's deny sublist sees it.
//!   (nats-server matches allow patterns that same way, which lets `foo.>`
//!   through under an allow of `foo.*`; the subset rule here does not.)
//! - An entry `"subject queue"` applies to queue subscriptions only. When
//!   some queue entry covers the subject, the queue must match one of them
//!   (`queueMatches`); a plain subscription is never allowed by one. A
//!   queue deny entry denies its queues only, and never lifts a plain deny
//!   (nats-server 2.9 let `foo` in queue `v2` through a deny of
//!   `["foo", "foo v1"]`; later versions fixed that, as here).
//! - Delivery: a wildcard subscription allowed above can still match a
//!   denied subject; [`PermissionChecker::deny_delivery`] filters those
//!   messages out, as nats-server's `checkDenySub`.
//! - `allow_responses` turns the blanket publish allow off (nats-server
//!   `validateResponsePermissions`); reply subjects are then allowed by the
//!   per-connection [`super::ResponseTracker`].

use std::time::Duration;

use starling_proto::subject::{has_wildcard, is_subset, is_valid_subject, matches};

use super::cache::{VerdictCache, PERMISSION_CACHE_ENTRIES};
use super::responses::ResponseTracker;
use crate::options::{Permissions, ResponsePermission};

/// Responses allowed per request when `allow_responses` gives no `max`
/// (nats-server `DEFAULT_ALLOW_RESPONSE_MAX_MSGS`).
pub const DEFAULT_ALLOW_RESPONSE_MAX_MSGS: usize = 1;

/// How long a reply subject stays publishable when `allow_responses` gives
/// no `expires`, or zero (nats-server `DEFAULT_ALLOW_RESPONSE_EXPIRATION`).
pub const DEFAULT_ALLOW_RESPONSE_EXPIRATION: Duration = Duration::from_secs(2 * 60);

/// A subscribe permission entry `"subject queue"`.
#[derive(Debug, Clone)]
struct QueueEntry {
    subject: String,
    queue: String,
}

/// Subscribe patterns split into plain and queue entries.
#[derive(Debug, Clone, Default)]
struct SubscribeRules {
    plain: Vec<String>,
    queue: Vec<QueueEntry>,
}

impl SubscribeRules {
    /// nats-server `splitSubjectQueue`: one field is a subject, two are a
    /// subject and a queue; anything else, and invalid subjects, are skipped
    /// (nats-server logs them and goes on).
    fn parse(entries: &[String]) -> SubscribeRules {
        let mut rules = SubscribeRules::default();
        for entry in entries {
            let mut fields = entry.split_whitespace();
            match (fields.next(), fields.next(), fields.next()) {
                (Some(subject), None, None) if is_valid_subject(subject) => {
                    rules.plain.push(subject.to_string());
                }
                (Some(subject), Some(queue), None) if is_valid_subject(subject) => {
                    rules.queue.push(QueueEntry {
                        subject: subject.to_string(),
                        queue: queue.to_string(),
                    });
                }
                _ => {}
            }
        }
        rules
    }
}

/// Valid patterns only; nats-server's sublist refuses the others.
fn valid_patterns(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .filter(|pattern| is_valid_subject(pattern))
        .cloned()
        .collect()
}

/// nats-server `queueMatches`: the same name, or a wildcard queue pattern
/// that covers it (queue names use subject syntax for this).
fn queue_matches(queue: &str, pattern: &str) -> bool {
    queue == pattern || (has_wildcard(pattern) && is_subset(queue, pattern))
}

/// The permissions of one user, ready to check. Built once per user and
/// shared (`Arc`) by all of that user's connections.
#[derive(Debug)]
pub struct PermissionChecker {
    /// None = no publish allow list.
    publish_allow: Option<Vec<String>>,
    publish_deny: Vec<String>,
    /// None = no subscribe allow list.
    subscribe_allow: Option<SubscribeRules>,
    subscribe_deny: SubscribeRules,
    /// `allow_responses`, with nats-server's defaults filled in.
    responses: Option<ResponsePermission>,
    /// Publish verdicts by subject: `can_publish` runs on every PUB.
    publish_cache: VerdictCache,
    /// Delivery-deny verdicts by subject: `deny_delivery` runs on every
    /// message delivered to a restricted client.
    delivery_cache: VerdictCache,
}

impl PermissionChecker {
    /// Prepares `permissions` for checking.
    pub fn new(permissions: &Permissions) -> Self {
        Self::with_cache_capacity(permissions, PERMISSION_CACHE_ENTRIES)
    }

    /// As `new`, with `capacity` cached verdicts per cache (0 = no cache).
    pub(crate) fn with_cache_capacity(permissions: &Permissions, capacity: usize) -> Self {
        let responses = permissions
            .allow_responses
            .as_ref()
            .map(|response| ResponsePermission {
                max_msgs: match response.max_msgs {
                    0 => DEFAULT_ALLOW_RESPONSE_MAX_MSGS,
                    max => max,
                },
                expires: match response.expires {
                    Duration::ZERO => DEFAULT_ALLOW_RESPONSE_EXPIRATION,
                    expires => expires,
                },
            });
        let publish = permissions.publish.clone().unwrap_or_default();
        let subscribe = permissions.subscribe.as_ref();
        // With allow_responses and no publish allow list, nats-server sets
        // an empty allow list: nothing but responses may be published.
        let publish_allow = if !publish.allow.is_empty() || responses.is_some() {
            Some(valid_patterns(&publish.allow))
        } else {
            None
        };
        let subscribe_allow = subscribe
            .filter(|sub| !sub.allow.is_empty())
            .map(|sub| SubscribeRules::parse(&sub.allow));
        let subscribe_deny = subscribe
            .map(|sub| SubscribeRules::parse(&sub.deny))
            .unwrap_or_default();
        PermissionChecker {
            publish_allow,
            publish_deny: valid_patterns(&publish.deny),
            subscribe_allow,
            subscribe_deny,
            responses,
            publish_cache: VerdictCache::new(capacity),
            delivery_cache: VerdictCache::new(capacity),
        }
    }

    /// True when these permissions allow everything; such a user needs no
    /// checker at all.
    pub fn is_unrestricted(&self) -> bool {
        self.publish_allow.is_none()
            && self.publish_deny.is_empty()
            && self.subscribe_allow.is_none()
            && self.subscribe_deny.plain.is_empty()
            && self.subscribe_deny.queue.is_empty()
            && self.responses.is_none()
    }

    /// May this client publish to `subject`? Static rules only: when this
    /// says no and [`Self::allow_responses`] is set, the caller asks the
    /// connection's `ResponseTracker` next, as nats-server does.
    pub fn can_publish(&self, subject: &str) -> bool {
        if self.publish_allow.is_none() && self.publish_deny.is_empty() {
            return true;
        }
        self.publish_cache
            .get_or_compute(subject, || self.publish_verdict(subject))
    }

    fn publish_verdict(&self, subject: &str) -> bool {
        let allowed = match &self.publish_allow {
            Some(allow) => allow.iter().any(|pattern| matches(pattern, subject)),
            None => true,
        };
        allowed
            && !self
                .publish_deny
                .iter()
                .any(|pattern| matches(pattern, subject))
    }

    /// May this client subscribe to `subject` (wildcards allowed), in
    /// `queue` when given? An empty queue counts as none.
    pub fn can_subscribe(&self, subject: &str, queue: Option<&str>) -> bool {
        let queue = queue.filter(|queue| !queue.is_empty());
        if let Some(allow) = &self.subscribe_allow {
            let mut allowed = allow
                .plain
                .iter()
                .any(|pattern| is_subset(subject, pattern));
            if let Some(queue) = queue {
                let mut covering = allow
                    .queue
                    .iter()
                    .filter(|entry| is_subset(subject, &entry.subject))
                    .peekable();
                // Queue entries for this subject, when there are any, decide.
                if covering.peek().is_some() {
                    allowed = covering.any(|entry| queue_matches(queue, &entry.queue));
                }
            }
            if !allowed {
                return false;
            }
        }
        let deny = &self.subscribe_deny;
        if deny.plain.iter().any(|pattern| matches(pattern, subject)) {
            return false;
        }
        match queue {
            Some(queue) => !deny.queue.iter().any(|entry| {
                matches(&entry.subject, subject) && queue_matches(queue, &entry.queue)
            }),
            None => true,
        }
    }

    /// Should a message on the literal `subject` be withheld from this
    /// client? True when a plain subscribe deny pattern matches it: a
    /// wildcard subscription that was allowed (`foo.>` with `foo.secret`
    /// denied) must not receive denied subjects. Queue deny entries never
    /// filter deliveries, as in nats-server.
    pub fn deny_delivery(&self, subject: &str) -> bool {
        if self.subscribe_deny.plain.is_empty() {
            return false;
        }
        self.delivery_cache.get_or_compute(subject, || {
            self.subscribe_deny
                .plain
                .iter()
                .any(|pattern| matches(pattern, subject))
        })
    }

    /// `allow_responses`, with nats-server's defaults for a zero `max_msgs`
    /// (1) or `expires` (2 minutes); None when not configured.
    pub fn allow_responses(&self) -> Option<&ResponsePermission> {
        self.responses.as_ref()
    }

    /// A fresh tracker for one connection, when `allow_responses` is set.
    pub fn response_tracker(&self) -> Option<ResponseTracker> {
        self.responses.as_ref().map(ResponseTracker::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::SubjectPermission;

    fn list(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|entry| entry.to_string()).collect()
    }

    fn rules(allow: &[&str], deny: &[&str]) -> Option<SubjectPermission> {
        Some(SubjectPermission {
            allow: list(allow),
            deny: list(deny),
        })
    }

    fn publish(allow: &[&str], deny: &[&str]) -> Permissions {
        Permissions {
            publish: rules(allow, deny),
            ..Permissions::default()
        }
    }

    fn subscribe(allow: &[&str], deny: &[&str]) -> Permissions {
        Permissions {
            subscribe: rules(allow, deny),
            ..Permissions::default()
        }
    }

    /// Every rule is checked with the cache on and off; with the cache on,
    /// each question is asked twice so the second answer comes from it.
    fn checkers(permissions: &Permissions) -> [PermissionChecker; 2] {
        [
            PermissionChecker::with_cache_capacity(permissions, 0),
            PermissionChecker::new(permissions),
        ]
    }

    fn can_publish(permissions: &Permissions, subject: &str) -> bool {
        let verdicts: Vec<bool> = checkers(permissions)
            .iter()
            .flat_map(|checker| [checker.can_publish(subject), checker.can_publish(subject)])
            .collect();
        assert!(
            verdicts.iter().all(|&v| v == verdicts[0]),
            "{subject}: {verdicts:?}"
        );
        verdicts[0]
    }

    fn can_subscribe(permissions: &Permissions, subject: &str, queue: Option<&str>) -> bool {
        let verdicts: Vec<bool> = checkers(permissions)
            .iter()
            .map(|checker| checker.can_subscribe(subject, queue))
            .collect();
        assert_eq!(verdicts[0], verdicts[1]);
        verdicts[0]
    }

    fn deny_delivery(permissions: &Permissions, subject: &str) -> bool {
        let verdicts: Vec<bool> = checkers(permissions)
            .iter()
            .flat_map(|checker| {
                [
                    checker.deny_delivery(subject),
                    checker.deny_delivery(subject),
                ]
            })
            .collect();
        assert!(
            verdicts.iter().all(|&v| v == verdicts[0]),
            "{subject}: {verdicts:?}"
        );
        verdicts[0]
    }

    #[test]
    fn no_permissions_allow_everything() {
        let permissions = Permissions::default();
        assert!(PermissionChecker::new(&permissions).is_unrestricted());
        assert!(can_publish(&permissions, "any.thing"));
        assert!(can_subscribe(&permissions, ">", None));
        assert!(can_subscribe(&permissions, "a.*", Some("q")));
        assert!(!deny_delivery(&permissions, "a.b"));
        assert!(PermissionChecker::new(&permissions)
            .allow_responses()
            .is_none());
    }

    #[test]
    fn publish_allow_list_allows_only_matching_subjects() {
        let permissions = publish(&["foo.*", "bar.>", "baz"], &[]);
        assert!(!PermissionChecker::new(&permissions).is_unrestricted());
        assert!(can_publish(&permissions, "foo.x"));
        assert!(can_publish(&permissions, "bar.x.y"));
        assert!(can_publish(&permissions, "baz"));
        assert!(!can_publish(&permissions, "foo.x.y"));
        assert!(!can_publish(&permissions, "foo"));
        assert!(!can_publish(&permissions, "bar"));
        assert!(!can_publish(&permissions, "baz.x"));
        assert!(!can_publish(&permissions, "other"));
    }

    #[test]
    fn publish_empty_allow_list_allows_all_but_denied() {
        let permissions = publish(&[], &["secret.>", "admin"]);
        assert!(can_publish(&permissions, "anything"));
        assert!(can_publish(&permissions, "secret"));
        assert!(!can_publish(&permissions, "secret.x"));
        assert!(!can_publish(&permissions, "admin"));
        assert!(can_publish(&permissions, "admin.x"));
    }

    #[test]
    fn publish_deny_wins_over_allow() {
        let permissions = publish(&["foo.>"], &["foo.secret", "foo.*.private"]);
        assert!(can_publish(&permissions, "foo.public"));
        assert!(!can_publish(&permissions, "foo.secret"));
        assert!(can_publish(&permissions, "foo.secret.x"));
        assert!(!can_publish(&permissions, "foo.a.private"));
        // The same pattern in both lists: denied.
        let permissions = publish(&["x"], &["x"]);
        assert!(!can_publish(&permissions, "x"));
    }

    #[test]
    fn publish_to_a_wildcard_subject_is_matched_token_by_token() {
        // Non-pedantic clients may publish to "foo.*"; nats-server matches it
        // against the lists with its wildcards as literal tokens.
        let permissions = publish(&["foo.*"], &[]);
        assert!(can_publish(&permissions, "foo.*"));
        assert!(can_publish(&permissions, "foo.>"));
        let permissions = publish(&["foo.bar"], &[]);
        assert!(!can_publish(&permissions, "foo.*"));
    }

    #[test]
    fn publish_allow_list_of_only_invalid_patterns_allows_nothing() {
        let permissions = publish(&["foo..bar", "a b c"], &[]);
        assert!(!can_publish(&permissions, "foo"));
        assert!(!can_publish(&permissions, "a"));
    }

    #[test]
    fn subscribe_literal_and_wildcard_allow() {
        let permissions = subscribe(&["foo.>", "bar.*", "baz"], &[]);
        assert!(can_subscribe(&permissions, "foo.x", None));
        assert!(can_subscribe(&permissions, "foo.x.y", None));
        assert!(can_subscribe(&permissions, "bar.x", None));
        assert!(can_subscribe(&permissions, "baz", None));
        assert!(!can_subscribe(&permissions, "bar.x.y", None));
        assert!(!can_subscribe(&permissions, "qux", None));
        // A plain allow entry allows any queue.
        assert!(can_subscribe(&permissions, "baz", Some("anyq")));
    }

    #[test]
    fn subscribe_wildcard_must_be_a_subset_of_an_allow_pattern() {
        let permissions = subscribe(&["foo.>", "bar.*", "baz.x"], &[]);
        assert!(can_subscribe(&permissions, "foo.*", None));
        assert!(can_subscribe(&permissions, "foo.>", None));
        assert!(can_subscribe(&permissions, "foo.*.>", None));
        assert!(can_subscribe(&permissions, "bar.*", None));
        // Wider than the allow pattern: refused.
        assert!(!can_subscribe(&permissions, "bar.>", None));
        assert!(!can_subscribe(&permissions, "baz.*", None));
        assert!(!can_subscribe(&permissions, ">", None));
        assert!(!can_subscribe(&permissions, "*.x", None));
    }

    #[test]
    fn subscribe_deny_wins_over_allow() {
        let permissions = subscribe(&["foo.>"], &["foo.secret"]);
        assert!(can_subscribe(&permissions, "foo.public", None));
        assert!(!can_subscribe(&permissions, "foo.secret", None));
        assert!(!can_subscribe(&permissions, "foo.secret", Some("q")));
        // A wider wildcard is allowed; its deliveries are filtered instead.
        assert!(can_subscribe(&permissions, "foo.>", None));
        assert!(can_subscribe(&permissions, "foo.*", None));
    }

    #[test]
    fn subscribe_deny_covers_wildcard_subjects_it_matches_token_by_token() {
        let permissions = subscribe(&[], &["foo.>", "bar.*"]);
        assert!(!can_subscribe(&permissions, "foo.x", None));
        assert!(!can_subscribe(&permissions, "foo.*", None));
        assert!(!can_subscribe(&permissions, "foo.>", None));
        assert!(!can_subscribe(&permissions, "bar.*", None));
        // nats-server's deny sublist matches "bar.>" with "bar.*".
        assert!(!can_subscribe(&permissions, "bar.>", None));
        assert!(can_subscribe(&permissions, "bar.x.y", None));
        assert!(can_subscribe(&permissions, "foo", None));
        // Wider than a deny pattern: allowed, deliveries filtered.
        assert!(can_subscribe(&permissions, ">", None));
        assert!(can_subscribe(&permissions, "*.x", None));
    }

    #[test]
    fn queue_entry_allows_only_that_queue_and_no_plain_subscription() {
        let permissions = subscribe(&["q.> grp"], &[]);
        assert!(can_subscribe(&permissions, "q.x", Some("grp")));
        assert!(can_subscribe(&permissions, "q.*", Some("grp")));
        assert!(!can_subscribe(&permissions, "q.x", Some("other")));
        // MEAS: `SUB q.x 3` denied when only "q.> grp" is allowed.
        assert!(!can_subscribe(&permissions, "q.x", None));
        assert!(!can_subscribe(&permissions, "q.x", Some("")));
        assert!(!can_subscribe(&permissions, "r.x", Some("grp")));
    }

    #[test]
    fn queue_entry_narrows_a_plain_allow_for_queue_subscriptions() {
        // nats-server: ["foo", "foo v1"] -> may subscribe to foo, but may
        // queue-subscribe to foo only in v1.
        let permissions = subscribe(&["foo", "foo v1"], &[]);
        assert!(can_subscribe(&permissions, "foo", None));
        assert!(can_subscribe(&permissions, "foo", Some("v1")));
        assert!(!can_subscribe(&permissions, "foo", Some("v2")));
        // No queue entry for bar: the plain entry decides.
        let permissions = subscribe(&["foo v1", "bar"], &[]);
        assert!(can_subscribe(&permissions, "bar", Some("any")));
    }

    #[test]
    fn queue_entry_queue_may_be_a_wildcard() {
        let permissions = subscribe(&["foo v1.*", "bar *", "baz >"], &[]);
        assert!(can_subscribe(&permissions, "foo", Some("v1.a")));
        assert!(!can_subscribe(&permissions, "foo", Some("v1.a.b")));
        assert!(!can_subscribe(&permissions, "foo", Some("v2.a")));
        assert!(can_subscribe(&permissions, "foo", Some("v1.*")));
        assert!(can_subscribe(&permissions, "bar", Some("anyq")));
        assert!(!can_subscribe(&permissions, "bar", Some("a.b")));
        assert!(can_subscribe(&permissions, "baz", Some("a.b")));
    }

    #[test]
    fn queue_deny_entry_denies_that_queue_only() {
        let permissions = subscribe(&[], &["foo v1", "bar v.*"]);
        assert!(!can_subscribe(&permissions, "foo", Some("v1")));
        assert!(can_subscribe(&permissions, "foo", Some("v2")));
        assert!(can_subscribe(&permissions, "foo", None));
        assert!(!can_subscribe(&permissions, "bar", Some("v.x")));
        assert!(can_subscribe(&permissions, "bar", Some("w")));
        // Queue deny entries do not filter deliveries.
        assert!(!deny_delivery(&permissions, "foo"));
    }

    #[test]
    fn plain_deny_wins_over_a_queue_deny_entry_for_other_queues() {
        // Older nats-server let "foo v2" through here; deny wins.
        let permissions = subscribe(&[], &["foo", "foo v1"]);
        assert!(!can_subscribe(&permissions, "foo", Some("v2")));
        assert!(!can_subscribe(&permissions, "foo", Some("v1")));
        assert!(!can_subscribe(&permissions, "foo", None));
    }

    #[test]
    fn malformed_subscribe_entries_are_skipped() {
        // Three fields and an invalid subject: ignored, but the allow list
        // still exists, so nothing else is allowed.
        let permissions = subscribe(&["a b c", "foo..bar"], &["x y z"]);
        assert!(!can_subscribe(&permissions, "a", None));
        assert!(!can_subscribe(&permissions, "a", Some("b")));
        assert!(!can_subscribe(&permissions, "foo..bar", None));
        let permissions = subscribe(&[], &["x y z"]);
        assert!(can_subscribe(&permissions, "x", Some("y")));
    }

    #[test]
    fn deny_delivery_filters_denied_subjects_of_wildcard_subscriptions() {
        let permissions = subscribe(&["foo.>"], &["foo.secret", "foo.*.private"]);
        assert!(can_subscribe(&permissions, "foo.>", None));
        assert!(deny_delivery(&permissions, "foo.secret"));
        assert!(deny_delivery(&permissions, "foo.a.private"));
        assert!(!deny_delivery(&permissions, "foo.public"));
        assert!(!deny_delivery(&permissions, "foo.secret.x"));
        // Without a deny list nothing is filtered.
        let permissions = subscribe(&["foo.>"], &[]);
        assert!(!deny_delivery(&permissions, "foo.secret"));
    }

    #[test]
    fn publish_and_subscribe_lists_are_independent() {
        let permissions = Permissions {
            publish: rules(&["pub.>"], &[]),
            subscribe: rules(&["sub.>"], &[]),
            allow_responses: None,
        };
        assert!(can_publish(&permissions, "pub.x"));
        assert!(!can_publish(&permissions, "sub.x"));
        assert!(can_subscribe(&permissions, "sub.x", None));
        assert!(!can_subscribe(&permissions, "pub.x", None));
    }

    #[test]
    fn allow_responses_turns_off_the_blanket_publish_allow() {
        let permissions = Permissions {
            allow_responses: Some(ResponsePermission::default()),
            ..Permissions::default()
        };
        let checker = PermissionChecker::new(&permissions);
        assert!(!checker.is_unrestricted());
        assert!(!can_publish(&permissions, "anything"));
        assert!(can_subscribe(&permissions, "anything", None));
        // An explicit allow list still applies.
        let permissions = Permissions {
            publish: rules(&["ok.>"], &[]),
            allow_responses: Some(ResponsePermission::default()),
            ..Permissions::default()
        };
        assert!(can_publish(&permissions, "ok.x"));
        assert!(!can_publish(&permissions, "other"));
    }

    #[test]
    fn allow_responses_zero_values_get_nats_server_defaults() {
        let permissions = Permissions {
            allow_responses: Some(ResponsePermission {
                max_msgs: 0,
                expires: Duration::ZERO,
            }),
            ..Permissions::default()
        };
        let checker = PermissionChecker::new(&permissions);
        let responses = checker.allow_responses().expect("configured");
        assert_eq!(responses.max_msgs, DEFAULT_ALLOW_RESPONSE_MAX_MSGS);
        assert_eq!(responses.expires, DEFAULT_ALLOW_RESPONSE_EXPIRATION);
        let permissions = Permissions {
            allow_responses: Some(ResponsePermission {
                max_msgs: 5,
                expires: Duration::from_secs(7),
            }),
            ..Permissions::default()
        };
        let checker = PermissionChecker::new(&permissions);
        let responses = checker.allow_responses().expect("configured");
        assert_eq!(responses.max_msgs, 5);
        assert_eq!(responses.expires, Duration::from_secs(7));
    }

    #[test]
    fn response_tracker_uses_the_defaults_and_allows_recorded_replies() {
        let permissions = Permissions {
            allow_responses: Some(ResponsePermission {
                max_msgs: 0,
                expires: Duration::ZERO,
            }),
            ..Permissions::default()
        };
        let checker = PermissionChecker::new(&permissions);
        let mut tracker = checker.response_tracker().expect("allow_responses is set");
        let start = tokio::time::Instant::now();
        tracker.record("_INBOX.r", start);
        assert!(!checker.can_publish("_INBOX.r"));
        let late = start + DEFAULT_ALLOW_RESPONSE_EXPIRATION + Duration::from_secs(1);
        assert!(!tracker.allow("_INBOX.r", late));
        tracker.record("_INBOX.r", start);
        assert!(tracker.allow("_INBOX.r", start));
        assert!(!tracker.allow("_INBOX.r", start));
        assert!(PermissionChecker::new(&Permissions::default())
            .response_tracker()
            .is_none());
    }

    #[test]
    fn debug_output_leaves_cached_subjects_out() {
        let checker = PermissionChecker::new(&publish(&["a.*"], &[]));
        assert!(checker.can_publish("a.cached-subject"));
        let printed = format!("{checker:?}");
        assert!(printed.contains("a.*"));
        assert!(!printed.contains("cached-subject"));
    }

    #[test]
    fn cache_is_bounded_and_cleared_when_full() {
        let checker = PermissionChecker::new(&publish(&["a.*"], &["a.bad"]));
        for n in 0..PERMISSION_CACHE_ENTRIES {
            assert!(checker.can_publish(&format!("a.{n}")));
        }
        assert_eq!(checker.publish_cache.len(), PERMISSION_CACHE_ENTRIES);
        assert!(!checker.can_publish("a.bad"));
        assert_eq!(checker.publish_cache.len(), 1);
        assert!(!checker.can_publish("a.bad"));
        assert!(checker.can_publish("a.0"));
        assert_eq!(checker.publish_cache.len(), 2);
    }

    #[test]
    fn unrestricted_publish_does_not_fill_the_cache() {
        let checker = PermissionChecker::new(&subscribe(&["x"], &[]));
        assert!(checker.can_publish("anything"));
        assert_eq!(checker.publish_cache.len(), 0);
    }

    #[test]
    fn checker_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PermissionChecker>();
    }
}
