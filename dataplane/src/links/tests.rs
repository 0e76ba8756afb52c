//! Tests of the pure reconciler against the twin: unit tests of its bookkeeping and property
//! tests that a cycle reaches the desired state whatever the starting state and the order
//! of events.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::reconciler::ReadScope;

fn mac(b: u8) -> Mac {
    Mac([0x0a, 0, 0, 0, 0, b])
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cfg(name: &str, addrs: &[&str], m: u8) -> InterfaceConfig {
    InterfaceConfig::new(name)
        .with_addresses(addrs.iter().map(|a| ip(a)))
        .with_mac(mac(m))
}

/// Whether the twin's interface is configured as `want` says.
fn configured(twin: &LinkTwin, want: &InterfaceConfig) -> bool {
    twin.interface(&want.name)
        .is_some_and(|have| ops::diff(want, have).is_empty())
}

fn started(configs: &[InterfaceConfig]) -> LinkReconciler {
    let mut rec = LinkReconciler::default();
    for c in configs {
        rec.upsert(c.clone()).unwrap();
    }
    rec.set_complete();
    rec
}

#[test]
fn nothing_is_read_or_changed_before_desired_state_is_complete() {
    let mut twin = LinkTwin::new();
    twin.add_interface("cali1");
    let mut rec = LinkReconciler::default();
    rec.upsert(cfg("cali1", &["10.0.0.1"], 1)).unwrap();
    let t0 = Instant::now();
    assert!(rec.wants_read(t0).is_none());
    assert!(rec.sync(&mut twin, t0).unwrap().nothing_done());
    assert_eq!(twin.applied_ops(), 0);
    assert_eq!(rec.next_wakeup(), None);
    rec.set_complete();
    // A cycle is due at once (the caller syncs after set_complete without asking).
    assert!(rec.wants_read(t0).is_some());
    rec.sync(&mut twin, t0).unwrap();
    assert!(configured(&twin, &cfg("cali1", &["10.0.0.1"], 1)));
    assert!(rec.in_sync());
}

#[test]
fn configures_sysctls_link_and_permanent_neighbours() {
    let want = cfg("cali1", &["10.0.0.1", "fd00::1"], 1).with_rp_filter(0);
    let mut twin = LinkTwin::new();
    twin.add_interface("cali1");
    let mut rec = started(std::slice::from_ref(&want));
    rec.sync(&mut twin, Instant::now()).unwrap();
    let i = twin.interface("cali1").unwrap();
    assert!(i.up);
    assert_eq!(i.sysctls[&Sysctl::ProxyArp], 1);
    assert_eq!(i.sysctls[&Sysctl::ProxyDelay], 0);
    assert_eq!(i.sysctls[&Sysctl::RpFilter], 0);
    assert_eq!(i.sysctls[&Sysctl::AcceptRa], 0);
    assert_eq!(i.sysctls[&Sysctl::ProxyNdp], 1);
    assert_eq!(
        i.neighbours[&ip("fd00::1")],
        ObservedNeighbour::permanent(mac(1))
    );
}

#[test]
fn restart_over_configured_interfaces_plans_nothing() {
    let configs = [
        cfg("cali1", &["10.0.0.1"], 1),
        cfg("cali2", &["10.0.0.2"], 2),
    ];
    let mut twin = LinkTwin::new();
    twin.add_interface("cali1");
    twin.add_interface("cali2");
    let t0 = Instant::now();
    started(&configs).sync(&mut twin, t0).unwrap();
    let before = twin.applied_ops();

    let mut rec = started(&configs);
    let report = rec.sync(&mut twin, t0).unwrap();
    assert_eq!(
        (report.read, report.objects_read),
        (Some(ReadScope::Full), 2)
    );
    assert_eq!(report.ops, 0);
    assert_eq!(twin.applied_ops(), before);
    assert!(rec.in_sync());
}

#[test]
fn drift_is_repaired_at_the_next_refresh() {
    let want = cfg("cali1", &["10.0.0.1"], 1);
    let mut twin = LinkTwin::new();
    twin.add_interface("cali1");
    let mut rec = started(std::slice::from_ref(&want));
    let t0 = Instant::now();
    rec.sync(&mut twin, t0).unwrap();

    let i = twin.interface_mut("cali1").unwrap();
    i.neighbours.clear();
    i.sysctls.insert(Sysctl::ProxyArp, 0);
    assert!(
        rec.sync(&mut twin, t0 + Duration::from_secs(1))
            .unwrap()
            .nothing_done()
    );
    assert_eq!(rec.next_wakeup(), Some(t0 + Duration::from_secs(90)));
    rec.sync(&mut twin, t0 + Duration::from_secs(90)).unwrap();
    assert!(configured(&twin, &want));
}

#[test]
fn vanished_interface_fails_alone_and_is_configured_when_it_returns() {
    let configs = [
        cfg("cali1", &["10.0.0.1"], 1),
        cfg("cali2", &["10.0.0.2"], 2),
        cfg("cali3", &["10.0.0.3"], 3),
    ];
    let mut twin = LinkTwin::new();
    for c in &configs {
        twin.add_interface(&c.name);
    }
    let mut rec = started(&configs);
    let t0 = Instant::now();
    let read = rec.wants_read(t0).unwrap();
    let observed = twin.read(&read.names).unwrap();
    let plan = rec.plan(&read, &observed, t0);
    twin.remove_interface("cali2");
    let failures = twin.apply(&plan);
    assert!(!failures.is_empty());
    assert!(
        failures
            .iter()
            .all(|f| f.interface() == "cali2" && f.is_no_such_interface())
    );
    assert!(failures[0].to_string().contains("cali2"), "{}", failures[0]);
    rec.applied(&plan, &failures, t0);
    assert!(configured(&twin, &configs[0]));
    assert!(configured(&twin, &configs[2]));
    let retry_at = rec.pending()["cali2"].unwrap();
    assert!(retry_at > t0);
    assert!(!rec.in_sync());

    // Retried after the backoff: still absent, so still pending, later.
    assert!(rec.wants_read(t0).is_none());
    let r = rec.sync(&mut twin, retry_at).unwrap();
    assert_eq!(
        (r.read, r.objects_read, r.ops),
        (Some(ReadScope::Partial), 1, 0)
    );
    let retry_again = rec.pending()["cali2"].unwrap();
    assert!(retry_again > retry_at);

    // It comes back: configured at the next retry.
    twin.add_interface("cali2");
    rec.sync(&mut twin, retry_again).unwrap();
    assert!(configured(&twin, &configs[1]));
    assert!(rec.in_sync());
}

#[test]
fn link_notification_reads_the_interface_without_waiting() {
    let want = cfg("cali1", &["10.0.0.1"], 1);
    let mut twin = LinkTwin::new();
    let mut rec = started(std::slice::from_ref(&want));
    let t0 = Instant::now();
    rec.sync(&mut twin, t0).unwrap();
    assert!(rec.pending().contains_key("cali1"));
    twin.add_interface("cali1");
    rec.link_changed("cali1");
    rec.sync(&mut twin, t0).unwrap();
    assert!(configured(&twin, &want));
}

#[test]
fn removed_interface_loses_only_its_permanent_neighbours() {
    let want = cfg("cali1", &["10.0.0.1"], 1);
    let mut twin = LinkTwin::new();
    twin.add_interface("cali1");
    let mut rec = started(std::slice::from_ref(&want));
    let t0 = Instant::now();
    rec.sync(&mut twin, t0).unwrap();
    twin.learn_neighbour("cali1", ip("10.0.0.7"), mac(7));
    rec.remove("cali1");
    rec.sync(&mut twin, t0).unwrap();
    let i = twin.interface("cali1").unwrap();
    assert_eq!(i.neighbours.len(), 1);
    assert!(!i.neighbours[&ip("10.0.0.7")].permanent);
    assert!(rec.in_sync());
    // Forgotten: not read again.
    assert_eq!(
        rec.wants_read(t0 + Duration::from_secs(90))
            .unwrap()
            .names
            .len(),
        0
    );
}

#[test]
fn removed_interface_that_is_gone_is_forgotten() {
    let mut twin = LinkTwin::new();
    twin.add_interface("cali1");
    let mut rec = started(&[cfg("cali1", &["10.0.0.1"], 1)]);
    let t0 = Instant::now();
    rec.sync(&mut twin, t0).unwrap();
    twin.remove_interface("cali1");
    rec.remove("cali1");
    rec.sync(&mut twin, t0).unwrap();
    assert!(rec.in_sync());
}

#[test]
fn refuses_names_that_are_not_workload_interfaces() {
    let mut rec = LinkReconciler::default();
    for bad in ["eth0", "cali/../x", "cali0123456789ab", ""] {
        assert!(rec.upsert(InterfaceConfig::new(bad)).is_err(), "{bad:?}");
    }
    let e = rec
        .upsert(InterfaceConfig::new("cali1").with_rp_filter(3))
        .unwrap_err();
    assert!(e.to_string().contains("cali1"), "{e}");
    assert!(rec.desired().is_empty());
}

// ---- property tests ----

const NAMES: [&str; 4] = ["cali0", "cali1", "cali2", "cali3"];

fn arb_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u8..6).prop_map(|i| IpAddr::from([10, 0, 0, i])),
        (0u16..6).prop_map(|i| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, i])),
    ]
}

fn arb_config(name: &'static str) -> impl Strategy<Value = InterfaceConfig> {
    (
        proptest::collection::btree_set(arb_ip(), 0..4),
        proptest::option::of(0u8..4),
        0u8..3,
    )
        .prop_map(move |(addresses, m, rp)| InterfaceConfig {
            name: name.to_owned(),
            addresses,
            mac: m.map(mac),
            rp_filter: rp,
        })
}

fn arb_state() -> impl Strategy<Value = ObservedInterface> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::collection::btree_map(
            proptest::sample::select(Sysctl::ALL.to_vec()),
            0i32..3,
            0..8,
        ),
        proptest::collection::btree_map(
            arb_ip(),
            (proptest::option::of(0u8..4), any::<bool>()),
            0..5,
        ),
    )
        .prop_map(|(up, ipv6, sysctls, neigh)| ObservedInterface {
            up,
            ipv6,
            sysctls,
            neighbours: neigh
                .into_iter()
                .map(|(ip, (m, permanent))| {
                    (
                        ip,
                        ObservedNeighbour {
                            mac: m.map(mac),
                            permanent,
                        },
                    )
                })
                .collect(),
        })
}

/// Desired configs (some interfaces not desired) and a starting kernel state (some
/// interfaces absent).
fn arb_world()
-> impl Strategy<Value = (Vec<Option<InterfaceConfig>>, Vec<Option<ObservedInterface>>)> {
    (
        (
            proptest::option::of(arb_config(NAMES[0])),
            proptest::option::of(arb_config(NAMES[1])),
            proptest::option::of(arb_config(NAMES[2])),
            proptest::option::of(arb_config(NAMES[3])),
        )
            .prop_map(|(a, b, c, d)| vec![a, b, c, d]),
        proptest::collection::vec(proptest::option::of(arb_state()), 4),
    )
}

fn twin_of(states: &[Option<ObservedInterface>]) -> LinkTwin {
    let mut twin = LinkTwin::new();
    for (name, s) in NAMES.iter().zip(states) {
        if let Some(s) = s {
            twin.insert_interface(name, s.clone());
        }
    }
    twin
}

proptest! {
    /// apply(plan(desired, actual)) reaches desired, in one cycle, touching nothing it does
    /// not own; the next cycle plans nothing.
    #[test]
    fn one_cycle_reaches_the_desired_state(world in arb_world()) {
        let (configs, states) = world;
        let mut twin = twin_of(&states);
        let before = twin.clone();
        let desired: Vec<InterfaceConfig> = configs.iter().flatten().cloned().collect();
        let mut rec = started(&desired);
        let t0 = Instant::now();
        let report = rec.sync(&mut twin, t0).unwrap();
        prop_assert!(report.failures.is_empty(), "{:?}", report.failures);

        for (name, c) in NAMES.iter().zip(&configs) {
            let (now, was) = (twin.interface(name), before.interface(name));
            match c {
                Some(want) => {
                    prop_assert_eq!(now.is_some(), was.is_some());
                    if let (Some(now), Some(was)) = (now, was) {
                        prop_assert!(ops::diff(want, now).is_empty());
                        // Learnt entries for addresses that are not the workload's stay.
                        for (ip, n) in &was.neighbours {
                            let replaced = want.neighbours(was.ipv6).contains_key(ip);
                            if !n.permanent && !replaced {
                                prop_assert_eq!(now.neighbours.get(ip), Some(n));
                            }
                        }
                    }
                }
                None => prop_assert_eq!(now, was),
            }
        }
        let again = rec.wants_read(t0);
        prop_assert!(again.is_none(), "{:?}", again);
        let absent = configs.iter().zip(&states).any(|(c, s)| c.is_some() && s.is_none());
        prop_assert_eq!(rec.in_sync(), !absent);
    }

    /// The end state does not depend on the order of the upserts, nor on intermediate
    /// desired states.
    #[test]
    fn end_state_is_independent_of_update_order(
        world in arb_world(),
        detours in proptest::collection::vec(arb_config(NAMES[1]), 0..3),
    ) {
        let (configs, states) = world;
        let desired: Vec<InterfaceConfig> = configs.iter().flatten().cloned().collect();
        let t0 = Instant::now();

        let mut straight = twin_of(&states);
        started(&desired).sync(&mut straight, t0).unwrap();

        let mut winding = twin_of(&states);
        let mut rec = LinkReconciler::default();
        rec.set_complete();
        let mut t = t0;
        for d in &detours {
            rec.upsert(d.clone()).unwrap();
            rec.sync(&mut winding, t).unwrap();
            t += Duration::from_millis(10);
        }
        if configs[1].is_none() {
            rec.remove(NAMES[1]);
        }
        for c in desired.iter().rev() {
            rec.upsert(c.clone()).unwrap();
        }
        rec.sync(&mut winding, t).unwrap();

        for (name, c) in NAMES.iter().zip(&configs) {
            if let Some(want) = c {
                prop_assert_eq!(configured(&straight, want), configured(&winding, want));
                if let (Some(a), Some(b)) = (straight.interface(name), winding.interface(name)) {
                    let perm = |i: &ObservedInterface| -> BTreeMap<IpAddr, ObservedNeighbour> {
                        i.neighbours.iter().filter(|(_, n)| n.permanent).map(|(k, v)| (*k, *v)).collect()
                    };
                    prop_assert_eq!(perm(a), perm(b));
                }
            }
        }
    }

    /// Interfaces appearing and vanishing at any time, drift, upserts and removals: after
    /// the churn stops, every desired interface that exists is configured, removed ones
    /// have no permanent neighbours left, and nothing panics.
    #[test]
    fn converges_after_interfaces_appear_and_vanish(
        world in arb_world(),
        events in proptest::collection::vec((0u8..6, 0usize..4, 0u64..3000), 0..30),
    ) {
        let (configs, states) = world;
        let mut twin = twin_of(&states);
        let mut rec = LinkReconciler::default();
        rec.set_complete();
        let mut t = Instant::now();
        let mut wanted: Vec<Option<InterfaceConfig>> = vec![None; 4];
        let mut removed = [false; 4];
        for (kind, i, ms) in events {
            let name = NAMES[i];
            match kind {
                0 => { twin.add_interface(name); }
                1 => { twin.remove_interface(name); }
                2 => if let Some(c) = &configs[i] {
                    rec.upsert(c.clone()).unwrap();
                    wanted[i] = Some(c.clone());
                    removed[i] = false;
                },
                3 => {
                    rec.remove(name);
                    removed[i] |= wanted[i].take().is_some();
                }
                4 => if let Some(s) = twin.interface_mut(name) {
                    s.neighbours.clear();
                    s.sysctls.insert(Sysctl::ProxyArp, 0);
                },
                _ => {
                    // A cycle that is planned, then an interface vanishes before apply.
                    if let Some(read) = rec.wants_read(t) {
                        let obs = twin.read(&read.names).unwrap();
                        let plan = rec.plan(&read, &obs, t);
                        twin.remove_interface(name);
                        let failures = twin.apply(&plan);
                        rec.applied(&plan, &failures, t);
                    }
                }
            }
            t += Duration::from_millis(ms);
            let _ = rec.sync(&mut twin, t);
        }
        // Quiesce: run until the next refresh has passed.
        let end = t + Duration::from_secs(100);
        while t < end {
            let _ = rec.sync(&mut twin, t);
            t = rec.next_wakeup().map_or(end, |w| w.max(t + Duration::from_millis(1)));
        }
        let _ = rec.sync(&mut twin, t);
        for (i, name) in NAMES.iter().enumerate() {
            match &wanted[i] {
                Some(want) => if twin.interface(name).is_some() {
                    prop_assert!(configured(&twin, want), "{name}: {:?}", twin.interface(name));
                },
                None => if let (true, Some(s)) = (removed[i], twin.interface(name)) {
                    // Removed: its permanent entries went (one never desired is untouched).
                    prop_assert!(s.neighbours.values().all(|n| !n.permanent), "{name}: {s:?}");
                },
            }
        }
        for name in rec.pending().keys() {
            prop_assert!(rec.desired().contains_key(*name) && twin.interface(name).is_none());
        }
    }
}
