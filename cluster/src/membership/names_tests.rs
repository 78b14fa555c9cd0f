//! Name seeds: every address dialed, re-resolution before each redial,
//! addresses that left the name retired, readiness progress.

use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use starling_proto::route::Member;
use tokio::time::Instant;

use super::*;
use crate::backoff::Backoff;
use crate::url::RouteUrl;

fn member(id: &str) -> Member {
    Member {
        node_id: id.to_string(),
        node_name: format!("name-{id}"),
        route_url: format!("nats-route://{id}:6222"),
        client_urls: vec![format!("{id}:4222")],
        lame_duck: false,
    }
}

fn named_machine(now: Instant) -> Membership {
    let settings = Settings {
        connect_retries: 2,
        backoff: Backoff {
            base: Duration::from_millis(25),
            cap: Duration::from_secs(1),
        },
        defer_max: Duration::from_millis(250),
        refresh: Duration::from_secs(2),
        user: None,
        password: None,
    };
    let name = RouteUrl::parse("nats://mesh:6222").unwrap();
    Membership::new(
        member("local"),
        Vec::new(),
        vec![name],
        settings,
        StdRng::seed_from_u64(7),
        now,
    )
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

fn resolves(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Resolve { name: 0, url } if url.host_port == "mesh:6222"))
        .count()
}

fn dials(actions: &[Action]) -> Vec<(DialId, String)> {
    let mut dials: Vec<(DialId, String)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial { dial, url, .. } => Some((*dial, url.host_port.clone())),
            _ => None,
        })
        .collect();
    dials.sort_by(|a, b| a.1.cmp(&b.1));
    dials
}

/// Poll until the next deadline that produces a dial or a resolution
/// (bounded).
fn next_actions(m: &mut Membership, mut now: Instant) -> (Vec<Action>, Instant) {
    for _ in 0..100 {
        m.poll(now);
        let actions = m.take_actions();
        if actions
            .iter()
            .any(|a| matches!(a, Action::Dial { .. } | Action::Resolve { .. }))
        {
            return (actions, now);
        }
        now = m.next_deadline();
    }
    panic!("no actions");
}

#[test]
fn every_address_of_a_name_is_dialed() {
    let t0 = Instant::now();
    let mut m = named_machine(t0);
    assert_eq!(m.progress().untried, 1, "the name is not resolved yet");
    m.poll(t0);
    assert_eq!(resolves(&m.take_actions()), 1);
    m.resolved(0, addrs(&["127.0.0.2:6222", "127.0.0.3:6222"]), t0);
    m.poll(t0);
    let dialed = dials(&m.take_actions());
    let targets: Vec<&str> = dialed.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(targets, ["127.0.0.2:6222", "127.0.0.3:6222"]);
    assert_eq!(m.progress().untried, 2, "both addresses still to be tried");
    m.register(1, Some(dialed[0].0), member("two"), Authority::Decide, t0);
    m.register(2, Some(dialed[1].0), member("three"), Authority::Decide, t0);
    assert_eq!(
        m.live_routes(),
        [(1, "two".to_string()), (2, "three".to_string())]
    );
    assert_eq!(m.progress().untried, 0);
}

#[test]
fn a_failed_address_resolves_the_name_again_before_any_redial() {
    let t0 = Instant::now();
    let mut m = named_machine(t0);
    m.poll(t0);
    m.take_actions();
    m.resolved(0, addrs(&["127.0.0.2:6222", "127.0.0.3:6222"]), t0);
    m.poll(t0);
    let dialed = dials(&m.take_actions());
    m.register(1, Some(dialed[0].0), member("two"), Authority::Decide, t0);
    m.take_actions();
    m.dial_finished(dialed[1].0, DialOutcome::Failed, t0);
    let (actions, now) = next_actions(&mut m, t0);
    assert_eq!(resolves(&actions), 1, "{actions:?}");
    assert!(
        dials(&actions).is_empty(),
        "no redial before the name is resolved"
    );
    // The pod moved: .3 left the name, .4 joined.
    m.resolved(0, addrs(&["127.0.0.2:6222", "127.0.0.4:6222"]), now);
    m.poll(now);
    let dialed: Vec<String> = dials(&m.take_actions())
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    assert_eq!(dialed, ["127.0.0.4:6222"], "only the new, unrouted address");
    assert!(m
        .seeds
        .iter()
        .any(|s| s.url.host_port == "127.0.0.3:6222" && s.retired));
    assert_eq!(
        m.progress().untried,
        1,
        "the retired address is not waited for"
    );
}

#[test]
fn a_lost_route_resolves_the_name_again_and_a_name_that_fails_is_retried() {
    let t0 = Instant::now();
    let mut m = named_machine(t0);
    m.poll(t0);
    m.take_actions();
    m.resolved(0, Vec::new(), t0);
    assert_eq!(m.progress().untried, 0, "tried, found nothing");
    assert!(!m.progress().has_remote_seeds);
    let (actions, now) = next_actions(&mut m, t0);
    assert_eq!(
        resolves(&actions),
        1,
        "a name that found nothing is retried"
    );
    m.resolved(0, addrs(&["127.0.0.2:6222"]), now);
    m.poll(now);
    let dialed = dials(&m.take_actions());
    m.register(1, Some(dialed[0].0), member("two"), Authority::Decide, now);
    m.take_actions();
    m.route_closed(1, now);
    let (actions, _) = next_actions(&mut m, now);
    assert_eq!(resolves(&actions), 1, "{actions:?}");
    assert!(dials(&actions).is_empty());
}
