//! The route reconciler on a real kernel: each test makes its own uniquely named network
//! namespace (deleted on drop) with veths, programs it through [`KernelRoutes`], and checks
//! with `ip`. Needs root ("skipped: needs root" otherwise).
//!
//! Every namespace also holds routes that are not ours — the connected subnet of the uplink
//! (proto kernel), a default route (proto boot), a static route, IPv6 link-local routes —
//! and every test checks they come out of it untouched.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dataplane::ReadScope;
use dataplane::netns::Netns;
use dataplane::routes::route::protocol;
use dataplane::routes::{
    DEFAULT_PROTOCOL, Forwarding, KernelRoute, KernelRoutes, Route, RouteBackend, RouteConfig,
    RouteKind, RouteOp, RouteProblem, RouteReconciler, RouteTarget, RouteTwin,
};
use nix::errno::Errno;
use testkit::require_root;

const OURS: u8 = DEFAULT_PROTOCOL;

/// A host namespace: uplink 192.168.1.1/24 with a default route via .254 and a static route,
/// and two workload veths `cali1`, `cali2`.
fn host(prefix: &str) -> Netns {
    let ns = Netns::create(prefix).expect("creating a namespace");
    for (a, b) in [("uplink", "up-peer"), ("cali1", "wl1"), ("cali2", "wl2")] {
        veth(&ns, a, b);
    }
    ns.ip(&["addr", "add", "192.168.1.1/24", "dev", "uplink"])
        .expect("uplink address");
    ns.ip(&["route", "add", "default", "via", "192.168.1.254"])
        .expect("default route");
    ns.ip(&[
        "route",
        "add",
        "10.99.0.0/16",
        "via",
        "192.168.1.9",
        "proto",
        "static",
    ])
    .expect("static route");
    // The kernel adds each veth's IPv6 link-local route once its carrier is up, a moment
    // later; wait, so that "routes that are not ours" are complete before a test reads them.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let v6 = ns.ip(&["-6", "route", "show"]).unwrap_or_default();
        let ready = ["uplink", "up-peer", "cali1", "wl1", "cali2", "wl2"]
            .iter()
            .all(|d| v6.contains(&format!("fe80::/64 dev {d} ")));
        if ready {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ns
}

fn veth(ns: &Netns, a: &str, b: &str) {
    ns.ip(&["link", "add", a, "type", "veth", "peer", "name", b])
        .expect("adding a veth");
    ns.ip(&["link", "set", a, "up"]).expect("veth up");
    ns.ip(&["link", "set", b, "up"]).expect("veth peer up");
}

fn wl(i: u8, dev: &str) -> Route {
    Route::workload([10, 65, 0, i].into(), dev)
}

fn desired() -> Vec<Route> {
    vec![
        wl(2, "cali1"),
        wl(3, "cali2"),
        Route::workload("fd00::2".parse().unwrap(), "cali1"),
        Route::blackhole("10.65.0.0/26".parse().unwrap()),
        Route::blackhole("fd00::/122".parse().unwrap()),
        Route::via("10.65.1.0/26".parse().unwrap(), [192, 168, 1, 2].into()),
        Route::via_dev(
            "10.65.2.0/26".parse().unwrap(),
            [172, 16, 0, 1].into(),
            "uplink",
            true,
        ),
    ]
}

fn reconciler(routes: Vec<Route>) -> RouteReconciler {
    let mut r = RouteReconciler::new(RouteConfig::default());
    r.replace_desired(routes).expect("valid routes");
    r.set_complete();
    r
}

fn backend(ns: &Netns) -> KernelRoutes {
    KernelRoutes::open(&ns.as_ref()).expect("opening the route socket")
}

/// Routes that are not ours, as text, sorted.
fn foreign(be: &mut KernelRoutes) -> Vec<String> {
    let mut v: Vec<String> = be
        .read()
        .expect("reading routes")
        .routes
        .iter()
        .filter(|k| k.protocol != OURS)
        .map(KernelRoute::to_string)
        .collect();
    v.sort();
    v
}

/// `ip route show proto 80` (both families), sorted.
fn ours_in_kernel(ns: &Netns) -> Vec<String> {
    let mut v: Vec<String> = ["-4", "-6"]
        .iter()
        .flat_map(|f| {
            ns.ip(&[f, "route", "show", "proto", "80"])
                .expect("ip route show")
                .lines()
                .map(|l| l.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn programs_the_three_shapes_of_route_in_both_families() {
    if !require_root("programs_the_three_shapes_of_route_in_both_families") {
        return;
    }
    let ns = host("rt-shapes");
    let mut be = backend(&ns);
    let others = foreign(&mut be);
    let mut rec = reconciler(desired());
    let r = rec.sync(&mut be, Instant::now()).expect("sync");
    assert_eq!((r.ops, r.failures.len()), (7, 0));
    let v4 = ns.ip(&["route", "show", "proto", "80"]).unwrap();
    for line in [
        "10.65.0.2 dev cali1 scope link",
        "10.65.0.3 dev cali2 scope link",
        "blackhole 10.65.0.0/26",
        "10.65.1.0/26 via 192.168.1.2 dev uplink",
        "10.65.2.0/26 via 172.16.0.1 dev uplink onlink",
    ] {
        assert!(v4.contains(line), "{line:?} not in\n{v4}");
    }
    let v6 = ns.ip(&["-6", "route", "show", "proto", "80"]).unwrap();
    assert!(v6.contains("fd00::2 dev cali1"), "{v6}");
    assert!(v6.contains("blackhole fd00::/122"), "{v6}");
    assert!(rec.in_sync());
    assert_eq!(foreign(&mut be), others);
}

#[test]
fn a_restart_over_a_programmed_namespace_makes_no_change() {
    if !require_root("a_restart_over_a_programmed_namespace_makes_no_change") {
        return;
    }
    let ns = host("rt-restart");
    let mut be = backend(&ns);
    let now = Instant::now();
    reconciler(desired()).sync(&mut be, now).expect("first run");
    let programmed = ours_in_kernel(&ns);
    let others = foreign(&mut be);

    // A new process: new socket, new reconciler, same desired state.
    let mut be = backend(&ns);
    let mut rec = RouteReconciler::new(RouteConfig::default());
    rec.replace_desired(desired()).unwrap();
    let before_complete = rec.sync(&mut be, now).expect("sync");
    assert_eq!(
        (before_complete.read, before_complete.ops),
        (Some(ReadScope::Full), 0)
    );
    rec.set_complete();
    assert_eq!(rec.sync(&mut be, now).expect("sync").ops, 0);
    assert!(rec.in_sync());
    assert_eq!(ours_in_kernel(&ns), programmed);
    assert_eq!(foreign(&mut be), others);
}

#[test]
fn a_restart_with_a_different_desired_state_changes_only_the_difference() {
    if !require_root("a_restart_with_a_different_desired_state_changes_only_the_difference") {
        return;
    }
    let ns = host("rt-diff");
    let mut be = backend(&ns);
    let now = Instant::now();
    reconciler(desired()).sync(&mut be, now).expect("first run");
    let others = foreign(&mut be);

    let mut changed = desired();
    changed[0] = wl(2, "cali2"); // the workload moved to another interface
    changed.retain(|r| r.dst.to_string() != "10.65.1.0/26"); // a remote block went
    changed.push(wl(4, "cali1")); // a new workload
    let mut rec = reconciler(changed);
    let mut be = backend(&ns);
    let r = rec.sync(&mut be, now).expect("sync");
    assert_eq!((r.ops, r.failures.len()), (3, 0));
    let v4 = ns.ip(&["route", "show", "proto", "80"]).unwrap();
    assert!(v4.contains("10.65.0.2 dev cali2 scope link"), "{v4}");
    assert!(v4.contains("10.65.0.4 dev cali1 scope link"), "{v4}");
    assert!(!v4.contains("10.65.1.0/26"), "{v4}");
    assert_eq!(foreign(&mut be), others);
}

#[test]
fn a_route_deleted_by_hand_comes_back_at_the_next_refresh() {
    if !require_root("a_route_deleted_by_hand_comes_back_at_the_next_refresh") {
        return;
    }
    let ns = host("rt-drift");
    let mut be = backend(&ns);
    let t0 = Instant::now();
    let mut rec = reconciler(desired());
    rec.sync(&mut be, t0).expect("first run");
    let programmed = ours_in_kernel(&ns);
    let others = foreign(&mut be);
    ns.ip(&["route", "del", "10.65.0.2/32", "dev", "cali1"])
        .expect("deleting by hand");
    ns.ip(&["-6", "route", "del", "blackhole", "fd00::/122"])
        .expect("deleting by hand");

    assert_eq!(
        rec.sync(&mut be, t0 + Duration::from_secs(89)).unwrap().ops,
        0
    );
    let r = rec.sync(&mut be, t0 + Duration::from_secs(90)).unwrap();
    assert_eq!(
        (r.read, r.ops, r.failures.len()),
        (Some(ReadScope::Full), 2, 0)
    );
    assert_eq!(ours_in_kernel(&ns), programmed);
    assert_eq!(foreign(&mut be), others);
}

#[test]
fn a_foreign_route_on_a_workload_interface_is_taken_over() {
    if !require_root("a_foreign_route_on_a_workload_interface_is_taken_over") {
        return;
    }
    let ns = host("rt-takeover");
    // What the CNI plugin leaves behind: the workload route, proto boot.
    ns.ip(&[
        "route",
        "add",
        "10.65.0.2/32",
        "dev",
        "cali1",
        "scope",
        "link",
    ])
    .unwrap();
    let mut be = backend(&ns);
    let mut rec = reconciler(vec![wl(2, "cali1")]);
    let r = rec.sync(&mut be, Instant::now()).unwrap();
    assert_eq!((r.ops, r.failures.len()), (1, 0));
    let all = ns.ip(&["route", "show", "10.65.0.2/32"]).unwrap();
    assert_eq!(all.trim(), "10.65.0.2 dev cali1 proto 80 scope link");
}

#[test]
fn a_foreign_route_at_a_desired_destination_is_reported_and_left_alone() {
    if !require_root("a_foreign_route_at_a_desired_destination_is_reported_and_left_alone") {
        return;
    }
    let ns = host("rt-eexist");
    let mut be = backend(&ns);
    let t0 = Instant::now();
    let mut rec = reconciler(desired());
    rec.observed(be.read().unwrap(), t0);
    let ops = rec.plan(t0);
    // Somebody adds a route to one of our destinations between our read and our batch.
    ns.ip(&[
        "route",
        "add",
        "10.65.0.3/32",
        "dev",
        "uplink",
        "proto",
        "static",
    ])
    .unwrap();
    let others = foreign(&mut be);
    let failures = be.apply(&ops).expect("the batch goes through");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].errno, Errno::EEXIST);
    assert_eq!(
        ops[failures[0].index].route().dst.to_string(),
        "10.65.0.3/32"
    );
    rec.applied(&ops, &failures, t0);
    assert_eq!(
        ours_in_kernel(&ns).len(),
        6,
        "the rest of the batch applied"
    );
    let problem = rec.problems().next().expect("reported").to_string();
    assert!(
        problem.contains("10.65.0.3/32") && problem.contains("EEXIST"),
        "{problem}"
    );

    // The retry reads the kernel first, sees the foreign route, and leaves it.
    let r = rec.sync(&mut be, t0 + Duration::from_millis(100)).unwrap();
    assert_eq!((r.read, r.ops), (Some(ReadScope::Full), 0));
    assert!(
        rec.problems()
            .any(|p| matches!(p, RouteProblem::Conflict { .. }))
    );
    assert_eq!(foreign(&mut be), others);
    // Once it is gone, ours goes in at the next refresh.
    ns.ip(&["route", "del", "10.65.0.3/32", "proto", "static"])
        .unwrap();
    let r = rec.sync(&mut be, t0 + Duration::from_secs(91)).unwrap();
    assert_eq!((r.ops, r.failures.len()), (1, 0));
    assert!(rec.in_sync());
}

#[test]
fn an_interface_deleted_between_plan_and_apply_fails_only_its_route() {
    if !require_root("an_interface_deleted_between_plan_and_apply_fails_only_its_route") {
        return;
    }
    let ns = host("rt-enodev");
    let mut be = backend(&ns);
    let t0 = Instant::now();
    let mut rec = reconciler(desired());
    rec.observed(be.read().unwrap(), t0);
    let ops = rec.plan(t0);
    ns.ip(&["link", "del", "cali2"]).unwrap();
    let others = foreign(&mut be);
    let failures = be.apply(&ops).expect("the batch goes through");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].errno, Errno::ENODEV);
    rec.applied(&ops, &failures, t0);
    assert_eq!(
        ours_in_kernel(&ns).len(),
        6,
        "the rest of the batch applied"
    );

    let t1 = t0 + Duration::from_millis(100);
    let r = rec.sync(&mut be, t1).unwrap();
    assert_eq!((r.read, r.ops), (Some(ReadScope::Full), 0));
    assert!(
        rec.problems()
            .any(|p| matches!(p, RouteProblem::MissingInterface { iface, .. } if iface == "cali2"))
    );
    // The workload interface comes back (a new index): the route follows.
    veth(&ns, "cali2", "wl2");
    let r = rec.sync(&mut be, t1 + Duration::from_millis(200)).unwrap();
    assert_eq!(
        (r.read, r.ops, r.failures.len()),
        (Some(ReadScope::Partial), 1, 0)
    );
    assert!(
        ns.ip(&["route", "show", "proto", "80"])
            .unwrap()
            .contains("10.65.0.3 dev cali2 scope link")
    );
    assert!(rec.in_sync());
    // The recreated veth brings IPv6 link-local routes of its own, in its own time.
    let not_cali2 = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|r| !r.contains("dev cali2") && !r.contains("dev wl2"))
            .collect()
    };
    assert_eq!(not_cali2(foreign(&mut be)), not_cali2(others));
}

#[test]
fn an_unreachable_gateway_is_reported_with_the_kernels_errno() {
    if !require_root("an_unreachable_gateway_is_reported_with_the_kernels_errno") {
        return;
    }
    let ns = host("rt-unreach");
    let mut be = backend(&ns);
    let mut routes = desired();
    routes.push(Route::via(
        "10.66.0.0/26".parse().unwrap(),
        [172, 16, 0, 1].into(),
    ));
    let mut rec = reconciler(routes);
    let r = rec.sync(&mut be, Instant::now()).unwrap();
    assert_eq!((r.ops, r.failures.len()), (8, 1));
    let problem = rec.problems().next().unwrap().to_string();
    assert!(problem.contains("10.66.0.0/26 via 172.16.0.1"), "{problem}");
    assert!(problem.contains("ENETUNREACH"), "{problem}");
    assert_eq!(ours_in_kernel(&ns).len(), 7);
}

/// `ip route get <addr>` in the namespace, as a [`Forwarding`].
fn kernel_lookup(ns: &Netns, addr: IpAddr) -> Forwarding {
    let out = ns
        .as_ref()
        .command_output("ip", &["-j", "route", "get", &addr.to_string()])
        .expect("running ip route get");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return if err.contains("Invalid argument") {
            Forwarding::Blackhole
        } else if err.contains("No route to host") {
            Forwarding::Unreachable
        } else if err.contains("Permission denied") {
            Forwarding::Prohibit
        } else if err.contains("Network is unreachable") {
            Forwarding::NoRoute
        } else {
            panic!("ip route get {addr}: {err}")
        };
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j output");
    let r = &v[0];
    let dev = r["dev"].as_str().expect("a device").to_owned();
    match r["gateway"].as_str() {
        Some(gw) => Forwarding::Gateway {
            via: gw.parse().expect("a gateway address"),
            dev,
        },
        None => Forwarding::Direct { dev },
    }
}

#[test]
fn the_twin_forwards_like_the_kernel() {
    if !require_root("the_twin_forwards_like_the_kernel") {
        return;
    }
    let ns = host("rt-twin");
    ns.ip(&["route", "add", "unreachable", "10.69.0.0/24"])
        .unwrap();
    ns.ip(&["route", "add", "prohibit", "10.70.0.0/24"])
        .unwrap();

    // The same host in the twin: the same interfaces and foreign routes.
    let mut twin = RouteTwin::new();
    for l in ["uplink", "up-peer", "cali1", "wl1", "cali2", "wl2"] {
        twin.add_link(l);
    }
    let connected = Route::new(
        "192.168.1.0/24".parse().unwrap(),
        RouteTarget::Interface("uplink".into()),
    );
    twin.add_route(&connected, protocol::KERNEL).unwrap();
    let default = Route::via("0.0.0.0/0".parse().unwrap(), [192, 168, 1, 254].into());
    twin.add_route(&default, protocol::BOOT).unwrap();
    let static_route = Route::via("10.99.0.0/16".parse().unwrap(), [192, 168, 1, 9].into());
    twin.add_route(&static_route, protocol::STATIC).unwrap();
    for (net, kind) in [
        ("10.69.0.0/24", RouteKind::Unreachable),
        ("10.70.0.0/24", RouteKind::Prohibit),
    ] {
        let mut k = Route::blackhole(net.parse().unwrap()).to_kernel(protocol::BOOT, None);
        k.kind = kind;
        twin.apply_op(&RouteOp::Add(k)).unwrap();
    }

    // Our routes into both through the same reconciler code.
    let now = Instant::now();
    let mut be = backend(&ns);
    let k = reconciler(desired()).sync(&mut be, now).unwrap();
    let t = reconciler(desired()).sync(&mut twin, now).unwrap();
    assert_eq!((k.ops, k.failures.len()), (t.ops, t.failures.len()));

    let addrs = [
        "10.65.0.2",   // workload on cali1
        "10.65.0.3",   // workload on cali2
        "10.65.0.9",   // local block, no workload: blackhole
        "10.65.1.5",   // remote block via a neighbour
        "10.65.2.5",   // remote block via a gateway onlink (IPIP-like)
        "10.99.3.3",   // foreign static route
        "10.69.0.1",   // unreachable
        "10.70.0.1",   // prohibit
        "8.8.8.8",     // default route
        "192.168.1.7", // connected subnet
        "fd00::2",     // IPv6 workload
        "fd00::9",     // IPv6 local block: blackhole
        "fd01::1",     // no IPv6 route
    ];
    for a in addrs {
        let addr: IpAddr = a.parse().unwrap();
        assert_eq!(
            twin.lookup(addr),
            kernel_lookup(&ns, addr),
            "forwarding of {a}"
        );
    }

    // And after the kernel deletes routes with an interface, in both.
    ns.ip(&["link", "del", "cali1"]).unwrap();
    twin.remove_link("cali1");
    twin.remove_link("wl1");
    for a in ["10.65.0.2", "fd00::2"] {
        let addr: IpAddr = a.parse().unwrap();
        assert_eq!(
            twin.lookup(addr),
            kernel_lookup(&ns, addr),
            "forwarding of {a}"
        );
    }
}
