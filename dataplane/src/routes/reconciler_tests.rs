//! The reconciler over the twin, time passed in: completeness, restart, drift, retries.
//! The same behaviours are checked on a real kernel in `dataplane/tests/routes.rs`.

use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::backend::{KernelState, RouteBackend};
use super::op::{OpFailure, RouteOp};
use super::problem::{RouteError, RouteProblem};
use super::reconciler::{RouteConfig, RouteReconciler};
use super::route::{Links, Route, RouteTarget, protocol};
use super::twin::{Forwarding, RouteTwin};
use crate::netlink::NetlinkError;
use crate::reconciler::{ReadScope, SyncReport};

const OURS: u8 = 80;

fn host() -> RouteTwin {
    let mut t = RouteTwin::new();
    for l in ["eth0", "cali1", "cali2"] {
        t.add_link(l);
    }
    t.add_route(
        &Route::new(
            "192.168.1.0/24".parse().unwrap(),
            RouteTarget::Interface("eth0".into()),
        ),
        protocol::KERNEL,
    )
    .unwrap();
    t
}

fn wl(i: u8, dev: &str) -> Route {
    Route::workload([10, 65, 0, i].into(), dev)
}

fn desired() -> Vec<Route> {
    vec![
        wl(2, "cali1"),
        wl(3, "cali2"),
        Route::blackhole("10.65.0.0/26".parse().unwrap()),
        Route::via("10.65.1.0/26".parse().unwrap(), [192, 168, 1, 2].into()),
    ]
}

fn reconciler(routes: Vec<Route>) -> RouteReconciler {
    let mut r = RouteReconciler::new(RouteConfig::default());
    r.replace_desired(routes).unwrap();
    r.set_complete();
    r
}

fn ours(t: &RouteTwin) -> usize {
    t.routes().iter().filter(|k| k.protocol == OURS).count()
}

#[test]
fn nothing_changes_before_the_desired_state_is_complete() {
    let mut twin = host();
    let stale = wl(9, "cali1");
    twin.add_route(&stale, OURS).unwrap();
    let mut rec = RouteReconciler::new(RouteConfig::default());
    rec.replace_desired(desired()).unwrap();
    let now = Instant::now();
    let report = rec.sync(&mut twin, now).unwrap();
    assert_eq!(report.read, Some(ReadScope::Full));
    assert_eq!(report.ops, 0);
    assert_eq!(ours(&twin), 1);
    rec.set_complete();
    let report = rec.sync(&mut twin, now).unwrap();
    assert_eq!(
        (report.read, report.ops, report.failures.len()),
        (None, 5, 0)
    );
    assert_eq!(ours(&twin), 4);
    assert!(rec.in_sync());
}

#[test]
fn a_restart_over_a_programmed_kernel_changes_nothing_or_only_the_difference() {
    let mut twin = host();
    let now = Instant::now();
    reconciler(desired()).sync(&mut twin, now).unwrap();

    let mut same = reconciler(desired());
    assert_eq!(same.sync(&mut twin, now).unwrap().ops, 0);
    assert!(same.in_sync());

    let mut changed = desired();
    changed[0] = wl(2, "cali2"); // moved
    changed.pop(); // gone
    changed.push(wl(4, "cali1")); // new
    let mut other = reconciler(changed);
    let before = twin.read().unwrap().routes;
    assert_eq!(other.sync(&mut twin, now).unwrap().ops, 3);
    assert_eq!(ours(&twin), 4);
    let after = twin.read().unwrap().routes;
    let untouched = before.iter().filter(|k| after.contains(k)).count();
    assert_eq!(
        untouched,
        before.len() - 2,
        "only the moved and the removed route changed"
    );
}

#[test]
fn one_update_plans_one_operation() {
    let mut twin = host();
    let now = Instant::now();
    let many: Vec<Route> = (0..1000u32)
        .map(|i| Route::workload(std::net::Ipv4Addr::from(0x0a40_0000 + i).into(), "cali1"))
        .collect();
    let mut rec = reconciler(many);
    assert_eq!(rec.sync(&mut twin, now).unwrap().ops, 1000);
    rec.upsert(wl(7, "cali2")).unwrap();
    assert_eq!(
        rec.plan(now),
        vec![RouteOp::Add(
            wl(7, "cali2").to_kernel(OURS, twin.links().index("cali2"))
        )]
    );
}

#[test]
fn a_route_deleted_by_hand_comes_back_at_the_refresh() {
    let mut twin = host();
    let t0 = Instant::now();
    let mut rec = reconciler(desired());
    rec.sync(&mut twin, t0).unwrap();
    twin.delete_route(&wl(2, "cali1"), OURS).unwrap();
    let foreign = Route::via("10.99.0.0/16".parse().unwrap(), [192, 168, 1, 9].into());
    twin.add_route(&foreign, protocol::STATIC).unwrap();

    let early = rec.sync(&mut twin, t0 + Duration::from_secs(89)).unwrap();
    assert_eq!(early, SyncReport::default());
    assert_eq!(rec.next_wakeup(), Some(t0 + Duration::from_secs(90)));
    let refresh = rec.sync(&mut twin, t0 + Duration::from_secs(90)).unwrap();
    assert_eq!((refresh.read, refresh.ops), (Some(ReadScope::Full), 1));
    assert_eq!(
        twin.lookup([10, 65, 0, 2].into()),
        Forwarding::Direct {
            dev: "cali1".into()
        }
    );
    assert_eq!(
        twin.lookup([10, 99, 1, 1].into()),
        Forwarding::Gateway {
            via: [192, 168, 1, 9].into(),
            dev: "eth0".into()
        }
    );
}

#[test]
fn a_route_waits_for_its_interface_without_holding_up_the_others() {
    let mut twin = host();
    let t0 = Instant::now();
    let mut routes = desired();
    routes.push(wl(5, "cali5"));
    let mut rec = reconciler(routes);
    let r = rec.sync(&mut twin, t0).unwrap();
    assert_eq!((r.ops, r.failures.len()), (4, 0));
    let problems: Vec<&RouteProblem> = rec.problems().collect();
    assert!(matches!(
        problems[..],
        [RouteProblem::MissingInterface { iface, .. }] if iface == "cali5"
    ));
    // Retried with backoff: a links read, and still waiting.
    assert_eq!(rec.wants_read(t0), None);
    let t1 = t0 + Duration::from_millis(100);
    assert_eq!(rec.wants_read(t1), Some(ReadScope::Partial));
    assert_eq!(rec.sync(&mut twin, t1).unwrap().ops, 0);
    // The interface appears and is reported: programmed at once, no backoff.
    twin.add_link("cali5");
    rec.observed_links(twin.read_links().unwrap(), t1);
    assert_eq!(rec.sync(&mut twin, t1).unwrap().ops, 1);
    assert!(rec.in_sync());
}

#[test]
fn a_workload_moving_to_a_missing_interface_loses_its_old_route_and_waits() {
    let mut twin = host();
    let t0 = Instant::now();
    let mut rec = reconciler(desired());
    rec.sync(&mut twin, t0).unwrap();
    rec.upsert(wl(2, "cali7")).unwrap();
    let r = rec.sync(&mut twin, t0).unwrap();
    assert_eq!(
        (r.ops, r.failures.len()),
        (1, 0),
        "the old route is deleted"
    );
    assert_eq!(
        twin.lookup([10, 65, 0, 2].into()),
        Forwarding::Blackhole,
        "inside the local block"
    );
    assert!(
        rec.problems()
            .any(|p| matches!(p, RouteProblem::MissingInterface { .. }))
    );
    twin.add_link("cali7");
    rec.observed_links(twin.read_links().unwrap(), t0);
    assert_eq!(rec.sync(&mut twin, t0).unwrap().ops, 1);
    assert_eq!(
        twin.lookup([10, 65, 0, 2].into()),
        Forwarding::Direct {
            dev: "cali7".into()
        }
    );
    assert!(rec.in_sync());
}

#[test]
fn a_route_refused_by_the_kernel_is_reported_and_retried_after_a_fresh_read() {
    let mut twin = host();
    let t0 = Instant::now();
    let mut rec = reconciler(desired());
    rec.sync(&mut twin, t0).unwrap(); // first read
    rec.upsert(wl(6, "cali1")).unwrap();
    rec.upsert(wl(7, "cali1")).unwrap();
    let ops = rec.plan(t0);
    assert_eq!(ops.len(), 2);
    // A foreign route appears between the read and the apply: EEXIST for that one only.
    let foreign = wl(6, "eth0");
    twin.add_route(&foreign, protocol::STATIC).unwrap();
    let failures = twin.apply(&ops).unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].errno, Errno::EEXIST);
    rec.applied(&ops, &failures, t0);
    assert_eq!(ours(&twin), 5);
    assert!(rec.problems().any(|p| matches!(p,
        RouteProblem::Kernel { errno: Errno::EEXIST, route, .. } if route.dst == wl(6, "x").dst)));
    // No retry before the backoff; then a read, which shows the conflict: left alone.
    assert_eq!(rec.sync(&mut twin, t0).unwrap(), SyncReport::default());
    let t1 = t0 + Duration::from_millis(100);
    let r = rec.sync(&mut twin, t1).unwrap();
    assert_eq!((r.read, r.ops), (Some(ReadScope::Full), 0));
    assert!(
        rec.problems()
            .any(|p| matches!(p, RouteProblem::Conflict { .. }))
    );
    assert_eq!(
        twin.lookup([10, 65, 0, 6].into()),
        Forwarding::Direct { dev: "eth0".into() }
    );
    // The foreign route goes: ours is programmed at the next refresh.
    twin.delete_route(&foreign, protocol::STATIC).unwrap();
    let r = rec.sync(&mut twin, t1 + Duration::from_secs(90)).unwrap();
    assert_eq!(r.ops, 1);
    assert!(rec.in_sync());
}

#[test]
fn an_interface_deleted_between_plan_and_apply_fails_one_route_which_waits_for_it() {
    let mut twin = host();
    let t0 = Instant::now();
    let mut rec = reconciler(desired());
    let ops = {
        rec.observed(twin.read().unwrap(), t0);
        rec.plan(t0)
    };
    twin.remove_link("cali2");
    let failures = twin.apply(&ops).unwrap();
    assert_eq!(
        failures.iter().map(|f| f.errno).collect::<Vec<_>>(),
        vec![Errno::ENODEV]
    );
    rec.applied(&ops, &failures, t0);
    assert_eq!(ours(&twin), 3);
    let t1 = t0 + Duration::from_millis(100);
    assert_eq!(rec.sync(&mut twin, t1).unwrap().read, Some(ReadScope::Full));
    assert!(
        rec.problems()
            .any(|p| matches!(p, RouteProblem::MissingInterface { .. }))
    );
    twin.add_link("cali2");
    let t2 = t1 + Duration::from_millis(200);
    let r = rec.sync(&mut twin, t2).unwrap();
    assert_eq!(
        (r.read, r.ops, r.failures.len()),
        (Some(ReadScope::Partial), 1, 0)
    );
    assert!(rec.in_sync());
}

/// A dataplane whose batches fail as a whole.
struct Broken(RouteTwin);

impl RouteBackend for Broken {
    fn read(&mut self) -> Result<KernelState, RouteError> {
        self.0.read()
    }
    fn read_links(&mut self) -> Result<Links, RouteError> {
        self.0.read_links()
    }
    fn apply(&mut self, _: &[RouteOp]) -> Result<Vec<OpFailure>, RouteError> {
        Err(NetlinkError::io("sending", std::io::Error::other("boom")).into())
    }
}

#[test]
fn a_batch_with_unknown_outcome_makes_the_kernel_read_again_after_a_backoff() {
    let mut dp = Broken(host());
    let t0 = Instant::now();
    let mut rec = reconciler(desired());
    assert!(rec.sync(&mut dp, t0).is_err());
    assert_eq!(rec.wants_read(t0), None);
    assert_eq!(rec.next_wakeup(), Some(t0 + Duration::from_millis(100)));
    let mut ok = dp.0;
    let r = rec.sync(&mut ok, t0 + Duration::from_millis(100)).unwrap();
    assert_eq!((r.read, r.ops), (Some(ReadScope::Full), 4));
}

#[test]
fn removing_a_desired_route_deletes_ours_only() {
    let mut twin = host();
    let t0 = Instant::now();
    let mut rec = reconciler(desired());
    rec.sync(&mut twin, t0).unwrap();
    let mut other = wl(2, "eth0").to_kernel(protocol::STATIC, twin.links().index("eth0"));
    other.metric = 50;
    twin.apply_op(&RouteOp::Add(other.clone())).unwrap();
    rec.remove(wl(2, "cali1").dst);
    assert_eq!(rec.sync(&mut twin, t0).unwrap().ops, 1);
    assert_eq!(twin.routes().at(&other.dst), &[other.clone()][..]);
    assert_eq!(
        twin.lookup([10, 65, 0, 2].into()),
        Forwarding::Direct { dev: "eth0".into() }
    );
}
