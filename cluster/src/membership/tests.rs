use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use starling_proto::route::Member;
use tokio::time::Instant;

use super::*;
use crate::backoff::Backoff;
use crate::close::CloseReason;
use crate::url::RouteUrl;

const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(25),
    cap: Duration::from_secs(1),
};

fn member(id: &str) -> Member {
    Member {
        node_id: id.to_string(),
        node_name: format!("name-{id}"),
        route_url: format!("nats-route://{id}:6222"),
        client_urls: vec![format!("{id}:4222")],
        lame_duck: false,
    }
}

fn machine(local: &str, seeds: &[&str], now: Instant) -> Membership {
    let seeds = seeds.iter().map(|s| RouteUrl::parse(s).unwrap()).collect();
    let settings = Settings {
        connect_retries: 2,
        backoff: BACKOFF,
        defer_max: Duration::from_millis(250),
        refresh: Duration::from_secs(2),
        user: Some("ruser".to_string()),
        password: Some("pw".to_string()),
    };
    Membership::new(
        member(local),
        seeds,
        Vec::new(),
        settings,
        StdRng::seed_from_u64(42),
        now,
    )
}

/// The dials in `actions`, as (dial id, host:port).
fn dials(actions: &[Action]) -> Vec<(DialId, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial { dial, url, .. } => Some((*dial, url.host_port.clone())),
            _ => None,
        })
        .collect()
}

fn verdicts(actions: &[Action]) -> Vec<(u64, Verdict)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Verdict { rid, verdict } => Some((*rid, *verdict)),
            _ => None,
        })
        .collect()
}

/// Poll at `now` and return the dials started.
fn poll_dials(machine: &mut Membership, now: Instant) -> Vec<(DialId, String)> {
    machine.poll(now);
    dials(&machine.take_actions())
}

#[test]
fn seeds_are_dialed_at_start_and_redialed_forever_with_capped_backoff() {
    let t0 = Instant::now();
    let mut m = machine("b", &["nats://a:6222"], t0);
    let mut now = t0;
    let mut dial = poll_dials(&mut m, now);
    assert_eq!(dial.len(), 1, "the seed is dialed at once");
    for attempt in 0..50u32 {
        m.dial_finished(dial[0].0, DialOutcome::Failed, now);
        let failed_at = now;
        loop {
            now = m.next_deadline();
            dial = poll_dials(&mut m, now);
            if !dial.is_empty() {
                break;
            }
        }
        let wait = now - failed_at;
        assert!(
            wait <= BACKOFF.ceiling(attempt),
            "attempt {attempt}: waited {wait:?}"
        );
    }
}

#[test]
fn a_seed_that_reaches_this_node_is_never_dialed_again() {
    let t0 = Instant::now();
    let mut m = machine("a", &["a:6222"], t0);
    let dial = poll_dials(&mut m, t0);
    m.dial_finished(dial[0].0, DialOutcome::SelfRoute, t0);
    assert!(poll_dials(&mut m, t0 + Duration::from_secs(3600)).is_empty());
}

#[test]
fn registered_route_is_kept_gossiped_and_changes_client_urls() {
    let t0 = Instant::now();
    let mut m = machine("b", &["a:6222"], t0);
    let dial = poll_dials(&mut m, t0);
    m.register(7, Some(dial[0].0), member("a"), Authority::Decide, t0);
    let actions = m.take_actions();
    assert_eq!(verdicts(&actions), vec![(7, Verdict::Keep)]);
    assert!(actions.contains(&Action::BroadcastMembers { except: Some(7) }));
    assert!(actions.contains(&Action::MembersChanged));
    assert_eq!(m.client_urls(), ["b:4222", "a:4222"]);
    let ids: Vec<_> = m.members().into_iter().map(|m| m.node_id).collect();
    assert_eq!(ids, ["b", "a"]);
    assert!(
        poll_dials(&mut m, t0 + Duration::from_secs(60)).is_empty(),
        "a live seed is not redialed"
    );
}

#[test]
fn second_route_to_the_same_node_is_rejected_by_the_deciding_side() {
    let t0 = Instant::now();
    let mut m = machine("a", &[], t0);
    m.register(1, None, member("b"), Authority::Decide, t0);
    m.register(2, None, member("b"), Authority::Decide, t0);
    let actions = m.take_actions();
    assert_eq!(
        verdicts(&actions),
        vec![
            (1, Verdict::Keep),
            (2, Verdict::Reject(CloseReason::DuplicateRoute))
        ]
    );
    assert_eq!(m.live_routes(), vec![(1, "b".to_string())]);
}

#[test]
fn simultaneous_dials_keep_the_route_dialed_by_the_smaller_id() {
    // "a" < "b": a holds b's inbound route while its own seed dial is in
    // flight, then keeps the route it dialed.
    let t0 = Instant::now();
    let mut m = machine("a", &["b:6222"], t0);
    let dial = poll_dials(&mut m, t0);
    m.register(10, None, member("b"), Authority::Decide, t0);
    assert!(
        verdicts(&m.take_actions()).is_empty(),
        "inbound route is held"
    );
    m.register(
        11,
        Some(dial[0].0),
        member("b"),
        Authority::Decide,
        t0 + Duration::from_millis(5),
    );
    let actions = m.take_actions();
    assert_eq!(
        verdicts(&actions),
        vec![
            (11, Verdict::Keep),
            (10, Verdict::Reject(CloseReason::DuplicateRoute))
        ]
    );
    assert_eq!(m.live_routes(), vec![(11, "b".to_string())]);
}

#[test]
fn held_inbound_route_is_kept_when_the_competing_dial_fails_or_times_out() {
    let t0 = Instant::now();
    let mut m = machine("a", &["x:6222", "y:6222"], t0);
    let dial = poll_dials(&mut m, t0);
    m.register(10, None, member("b"), Authority::Decide, t0);
    m.dial_finished(dial[0].0, DialOutcome::Failed, t0);
    assert!(
        verdicts(&m.take_actions()).is_empty(),
        "the other seed dial is still in flight"
    );
    assert!(m.next_deadline() <= t0 + Duration::from_millis(250));
    m.poll(t0 + Duration::from_millis(250));
    assert_eq!(verdicts(&m.take_actions()), vec![(10, Verdict::Keep)]);
}

#[test]
fn confirmed_route_replaces_a_stale_live_route_once_that_one_has_ended() {
    let t0 = Instant::now();
    let mut m = machine("b", &[], t0);
    m.register(1, None, member("a"), Authority::Confirmed, t0);
    m.take_actions();
    m.register(2, None, member("a"), Authority::Confirmed, t0);
    let actions = m.take_actions();
    assert_eq!(actions, vec![Action::Supersede { rid: 1 }]);
    assert_eq!(
        m.live_routes(),
        vec![(1, "a".to_string())],
        "still the old one"
    );
    m.route_closed(1, t0);
    assert_eq!(verdicts(&m.take_actions()), vec![(2, Verdict::Keep)]);
    assert_eq!(m.live_routes(), vec![(2, "a".to_string())]);
    assert_eq!(m.member_ids(), ["a"], "the member stays");
}

#[test]
fn replacement_that_ends_first_is_dropped_and_the_old_route_closes_normally() {
    let t0 = Instant::now();
    let mut m = machine("b", &[], t0);
    m.register(1, None, member("a"), Authority::Confirmed, t0);
    m.register(2, None, member("a"), Authority::Confirmed, t0);
    m.take_actions();
    m.route_closed(2, t0);
    m.route_closed(1, t0);
    assert!(verdicts(&m.take_actions()).is_empty());
    assert!(m.live_routes().is_empty());
}

#[test]
fn gossiped_member_is_dialed_then_retried_then_forgotten() {
    let t0 = Instant::now();
    let mut m = machine("a", &[], t0);
    m.register(1, None, member("b"), Authority::Decide, t0);
    m.members_received(1, vec![member("b"), member("a"), member("c")], t0);
    m.take_actions();
    let mut now = t0;
    let mut attempts = 0;
    loop {
        let dial = poll_dials(&mut m, now);
        if dial.is_empty() {
            break;
        }
        assert_eq!(dial[0].1, "c:6222");
        attempts += 1;
        m.dial_finished(dial[0].0, DialOutcome::Failed, now);
        now = m.next_deadline().min(now + Duration::from_secs(1));
    }
    assert_eq!(attempts, 3, "one dial and connect_retries = 2 retries");
    assert_eq!(m.member_ids(), ["b"]);
}

#[test]
fn gossiped_member_dial_uses_the_configured_credentials() {
    let t0 = Instant::now();
    let mut m = machine("a", &[], t0);
    m.register(1, None, member("b"), Authority::Decide, t0);
    m.members_received(1, vec![member("c")], t0);
    m.poll(t0);
    let actions = m.take_actions();
    let url = actions.iter().find_map(|a| match a {
        Action::Dial { url, .. } => Some(url.clone()),
        _ => None,
    });
    assert_eq!(url.unwrap().user.as_deref(), Some("ruser"));
}

#[test]
fn lost_route_is_redialed_only_by_the_side_that_dialed_it() {
    let t0 = Instant::now();
    let mut m = machine("a", &[], t0);
    m.register(1, None, member("b"), Authority::Decide, t0);
    m.members_received(1, vec![member("c")], t0);
    let dial = poll_dials(&mut m, t0);
    m.register(2, Some(dial[0].0), member("c"), Authority::Decide, t0);
    m.take_actions();

    m.route_closed(1, t0);
    assert_eq!(
        m.member_ids(),
        ["c"],
        "b dialed us: b redials, we forget it"
    );
    m.route_closed(2, t0);
    let redial = poll_dials(&mut m, t0 + BACKOFF.ceiling(0));
    assert_eq!(redial.len(), 1, "we dialed c: we redial it");
    assert_eq!(redial[0].1, "c:6222");
}

#[test]
fn lost_seed_route_is_redialed_even_when_the_seed_dialed_us() {
    let t0 = Instant::now();
    let mut m = machine("b", &["a:6222"], t0);
    let dial = poll_dials(&mut m, t0);
    m.register(5, None, member("a"), Authority::Confirmed, t0);
    m.dial_finished(
        dial[0].0,
        DialOutcome::Duplicate {
            node_id: "a".into(),
        },
        t0,
    );
    assert!(
        poll_dials(&mut m, t0 + Duration::from_secs(10)).is_empty(),
        "satisfied by route 5"
    );
    m.route_closed(5, t0 + Duration::from_secs(10));
    let redial = poll_dials(&mut m, t0 + Duration::from_secs(10) + BACKOFF.ceiling(0));
    assert_eq!(redial.len(), 1);
}

#[test]
fn restarted_node_with_a_new_id_replaces_the_old_member() {
    let t0 = Instant::now();
    let mut m = machine("a", &[], t0);
    m.register(1, None, member("b"), Authority::Decide, t0);
    m.members_received(1, vec![member("c")], t0);
    let dial = poll_dials(&mut m, t0);
    m.register(2, Some(dial[0].0), member("c"), Authority::Decide, t0);
    m.route_closed(2, t0);
    let redial = poll_dials(&mut m, t0 + Duration::from_secs(1));
    let mut restarted = member("c2");
    restarted.route_url = "nats-route://c:6222".to_string();
    m.register(
        3,
        Some(redial[0].0),
        restarted,
        Authority::Decide,
        t0 + Duration::from_secs(1),
    );
    assert_eq!(m.member_ids(), ["b", "c2"]);
}

#[test]
fn lame_duck_members_leave_the_client_urls() {
    let t0 = Instant::now();
    let mut m = machine("a", &[], t0);
    m.register(1, None, member("b"), Authority::Decide, t0);
    m.take_actions();
    let mut b = member("b");
    b.lame_duck = true;
    m.members_received(1, vec![b], t0);
    assert_eq!(m.take_actions(), vec![Action::MembersChanged]);
    assert_eq!(m.client_urls(), ["a:4222"]);
    m.enter_lame_duck();
    let actions = m.take_actions();
    assert!(actions.contains(&Action::BroadcastMembers { except: None }));
    assert!(actions.contains(&Action::MembersChanged));
    assert!(m.client_urls().is_empty());
    assert!(m.members()[0].lame_duck);
}

#[test]
fn members_are_regossiped_periodically_while_routes_exist() {
    let t0 = Instant::now();
    let mut m = machine("a", &[], t0);
    m.poll(t0 + Duration::from_secs(2));
    assert!(m.take_actions().is_empty(), "nobody to gossip to");
    m.register(1, None, member("b"), Authority::Decide, t0);
    m.take_actions();
    m.poll(t0 + Duration::from_secs(4));
    assert_eq!(
        m.take_actions(),
        vec![Action::BroadcastMembers { except: None }]
    );
}

#[test]
fn only_routed_members_are_gossiped() {
    let t0 = Instant::now();
    let mut m = machine("a", &[], t0);
    m.register(1, None, member("b"), Authority::Decide, t0);
    m.members_received(1, vec![member("c")], t0);
    let ids: Vec<_> = m.members().into_iter().map(|m| m.node_id).collect();
    assert_eq!(ids, ["a", "b"], "c is known but not routed");
}
