//! The three reconcilers have one shape: one generic driver, written against
//! `dataplane::Reconciler` alone (as calico-node's actors are), runs routes, policy and
//! workload interfaces against their twins. For each: nothing in the backend changes before
//! `set_complete`; then one `sync` brings the backend to the desired state and `in_sync` says
//! so; a second `sync` has nothing to do; `next_wakeup` names the periodic refresh, whose
//! `sync` reads everything and changes nothing.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::time::Instant;

use dataplane::links::{InterfaceConfig, LinkReconciler, LinkTwin, Mac};
use dataplane::policy::{PolicyReconciler, PolicyTwin};
use dataplane::routes::{Route, RouteReconciler, RouteTwin};
use dataplane::{ReadScope, Reconciler};
use model::policy::{HostPolicy, WorkloadEndpointPolicy};

/// Drives `rec` (its desired state already set through its own setters) over `backend`;
/// `held` is what the backend holds, as read through its own trait.
fn drive<R>(
    name: &str,
    mut rec: R,
    backend: &mut R::Backend,
    held: impl Fn(&mut R::Backend) -> String,
) where
    R: Reconciler,
    R::Error: Debug,
{
    let t0 = Instant::now();
    let before = held(backend);
    assert!(!rec.is_complete(), "{name}");

    // Before the desired state is complete: at most a read, never a change.
    let r = rec.sync(backend, t0).unwrap();
    assert_eq!(r.ops, 0, "{name}: {r:?}");
    assert_eq!(held(backend), before, "{name}: changed before set_complete");
    assert!(!rec.in_sync(), "{name}");

    // Complete: one sync programs the desired state.
    rec.set_complete();
    assert!(rec.is_complete(), "{name}");
    let r = rec.sync(backend, t0).unwrap();
    assert!(r.ops > 0, "{name}: {r:?}");
    assert!(r.failures.is_empty(), "{name}: {r:?}");
    assert!(rec.in_sync(), "{name}");
    let programmed = held(backend);
    assert_ne!(programmed, before, "{name}: the backend holds nothing new");

    // Nothing left to do until the refresh.
    let r = rec.sync(backend, t0).unwrap();
    assert!(r.nothing_done(), "{name}: {r:?}");
    let refresh = rec.next_wakeup().expect("a refresh is scheduled");
    assert!(refresh > t0, "{name}");

    // The refresh reads everything and finds the backend as programmed.
    let r = rec.sync(backend, refresh).unwrap();
    assert_eq!((r.read, r.ops), (Some(ReadScope::Full), 0), "{name}: {r:?}");
    assert!(rec.in_sync(), "{name}");
    assert_eq!(held(backend), programmed, "{name}");
    assert!(rec.next_wakeup().is_some_and(|t| t > refresh), "{name}");
}

#[test]
fn routes_policy_and_links_are_driven_the_same_way_through_the_trait() {
    // Routes: a workload route and a blackhole.
    let mut routes = RouteTwin::new();
    routes.add_link("eth0");
    routes.add_link("cali1");
    let mut rec = RouteReconciler::default();
    rec.replace_desired([
        Route::workload([10, 65, 0, 2].into(), "cali1"),
        Route::blackhole("10.65.0.0/26".parse().unwrap()),
    ])
    .unwrap();
    drive("routes", rec, &mut routes, |b| {
        format!("{:?}", b.read().unwrap().routes)
    });

    // Policy: one workload endpoint.
    let mut hp = HostPolicy {
        host: "h1".into(),
        workload_endpoints: Default::default(),
        host_endpoints: Default::default(),
        policies: Default::default(),
        profiles: Default::default(),
        ip_sets: Default::default(),
        ip_pools: Default::default(),
        settings: Default::default(),
        problems: Vec::new(),
    };
    hp.workload_endpoints.insert(
        "cali1".into(),
        WorkloadEndpointPolicy {
            namespace: "ns".into(),
            name: "pod-1".into(),
            ingress: Default::default(),
            egress: Default::default(),
        },
    );
    let mut rec = PolicyReconciler::default();
    rec.set_host_policy(&hp);
    drive("policy", rec, &mut PolicyTwin::new(), |b| {
        format!("{:?}", b.read().unwrap())
    });

    // Workload interfaces: one interface with an address and its MAC.
    let mut links = LinkTwin::new();
    links.add_interface("cali1");
    let mut rec = LinkReconciler::default();
    rec.upsert(
        InterfaceConfig::new("cali1")
            .with_addresses(["10.65.0.2".parse().unwrap()])
            .with_mac(Mac([0x0a, 0x58, 0, 0, 0, 2])),
    )
    .unwrap();
    let names: BTreeSet<String> = ["cali1".to_owned()].into();
    drive("links", rec, &mut links, |b| {
        format!("{:?}", b.read(&names).unwrap())
    });
}
