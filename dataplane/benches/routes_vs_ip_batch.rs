//! Route programming on a real kernel (needs root; prints "skipped: needs root" otherwise).
//!
//! In a fresh namespace with one veth, add N (default 100,000; `ROUTES_BENCH_N`) `/32`
//! scope-link routes with our protocol through our backend ([`LinuxRoutes`]: batches of route
//! messages on one netlink socket), then delete them; against `ip -batch` of the same N
//! `route add|del <ip>/32 dev cali0 scope link proto 80` lines in another fresh namespace.
//! Three runs; each prints both times, the rates and the ratio ours/ip-batch (goal ≥ 2x).
//! Also printed: the reconciler end to end (plan + apply of N new routes) and a restart over
//! the programmed namespace (read N routes + plan, which must plan nothing).
//!
//! `cargo bench -p dataplane --bench routes_vs_ip_batch`

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use dataplane::netns::Netns;
use dataplane::routes::{
    DEFAULT_PROTOCOL, LinuxRoutes, Route, RouteConfig, RouteDataplane, RouteOp, RouteReconciler,
};
use testkit::prereq::is_root;

const IFACE: &str = "cali0";

fn addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + i as u32))
}

fn namespace(prefix: &str) -> Netns {
    let ns = Netns::create(prefix).expect("creating a namespace");
    ns.ip(&["link", "add", IFACE, "type", "veth", "peer", "name", "wl0"])
        .expect("adding the veth");
    ns.ip(&["link", "set", IFACE, "up"]).expect("veth up");
    ns.ip(&["link", "set", "wl0", "up"]).expect("peer up");
    ns
}

fn route_count(ns: &Netns) -> usize {
    ns.ip(&["route", "show", "proto", &DEFAULT_PROTOCOL.to_string()])
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Our backend: (add, delete) times.
fn ours(n: usize) -> (Duration, Duration) {
    let ns = namespace("rtb-ours");
    let mut be = LinuxRoutes::open(&ns.as_ref()).expect("opening the route socket");
    let links = be.read_links().expect("reading links");
    let oif = links.index(IFACE);
    let routes: Vec<_> = (0..n)
        .map(|i| Route::workload(addr(i), IFACE).to_kernel(DEFAULT_PROTOCOL, oif))
        .collect();
    let adds: Vec<RouteOp> = routes.iter().cloned().map(RouteOp::Add).collect();
    let t = Instant::now();
    let failures = be.apply(&adds).expect("applying adds");
    let add = t.elapsed();
    assert!(failures.is_empty(), "adds refused: {:?}", &failures[..1]);
    assert_eq!(route_count(&ns), n, "routes in the kernel after our adds");
    let dels: Vec<RouteOp> = routes
        .into_iter()
        .map(|mut r| {
            r.scope = 255;
            RouteOp::Delete(r)
        })
        .collect();
    let t = Instant::now();
    let failures = be.apply(&dels).expect("applying deletes");
    let del = t.elapsed();
    assert!(failures.is_empty(), "deletes refused: {:?}", &failures[..1]);
    assert_eq!(
        route_count(&ns),
        0,
        "routes in the kernel after our deletes"
    );
    (add, del)
}

fn ip_batch(ns: &Netns, verb: &str, n: usize) -> Duration {
    let path = std::env::temp_dir().join(format!("rtb-{}-{verb}.batch", std::process::id()));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("batch file"));
    for i in 0..n {
        writeln!(
            f,
            "route {verb} {}/32 dev {IFACE} scope link proto {DEFAULT_PROTOCOL}",
            addr(i)
        )
        .expect("writing the batch file");
    }
    drop(f);
    let t = Instant::now();
    let out = Command::new("ip")
        .args(["-n", ns.name(), "-batch"])
        .arg(&path)
        .output()
        .expect("running ip -batch");
    let d = t.elapsed();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "ip -batch {verb}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

/// `ip -batch`: (add, delete) times.
fn iproute(n: usize) -> (Duration, Duration) {
    let ns = namespace("rtb-ip");
    let add = ip_batch(&ns, "add", n);
    assert_eq!(route_count(&ns), n, "routes in the kernel after ip's adds");
    let del = ip_batch(&ns, "del", n);
    assert_eq!(
        route_count(&ns),
        0,
        "routes in the kernel after ip's deletes"
    );
    (add, del)
}

/// The reconciler end to end: (first sync: read + plan + apply of n routes, restart: read +
/// plan over the programmed kernel, operations the restart planned).
fn reconciler(n: usize) -> (Duration, Duration, usize) {
    let ns = namespace("rtb-rec");
    let mut be = LinuxRoutes::open(&ns.as_ref()).expect("opening the route socket");
    let routes: Vec<Route> = (0..n).map(|i| Route::workload(addr(i), IFACE)).collect();
    let now = Instant::now();
    let mut rec = RouteReconciler::new(RouteConfig::default());
    rec.replace_desired(routes.iter().cloned())
        .expect("valid routes");
    rec.set_complete();
    let t = Instant::now();
    let report = rec.sync(&mut be, now).expect("first sync");
    let first = t.elapsed();
    assert_eq!((report.ops, report.failures), (n, 0));

    let mut rec = RouteReconciler::new(RouteConfig::default());
    rec.replace_desired(routes).expect("valid routes");
    rec.set_complete();
    let t = Instant::now();
    let report = rec.sync(&mut be, now).expect("restart sync");
    (first, t.elapsed(), report.ops)
}

fn main() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let n: usize = std::env::var("ROUTES_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("{n} /32 scope-link routes, proto {DEFAULT_PROTOCOL}, one veth");
    let mut add_ratios = Vec::new();
    let mut del_ratios = Vec::new();
    for run in 1..=3 {
        let (oa, od) = ours(n);
        let (ia, id) = iproute(n);
        let (ra, rd) = (rate(n, oa) / rate(n, ia), rate(n, od) / rate(n, id));
        add_ratios.push(ra);
        del_ratios.push(rd);
        println!(
            "run {run}: add  ours {:>8.1} ms ({:>9.0} routes/s)  ip -batch {:>8.1} ms ({:>9.0} routes/s)  ratio {ra:.2}x",
            oa.as_secs_f64() * 1e3,
            rate(n, oa),
            ia.as_secs_f64() * 1e3,
            rate(n, ia),
        );
        println!(
            "run {run}: del  ours {:>8.1} ms ({:>9.0} routes/s)  ip -batch {:>8.1} ms ({:>9.0} routes/s)  ratio {rd:.2}x",
            od.as_secs_f64() * 1e3,
            rate(n, od),
            id.as_secs_f64() * 1e3,
            rate(n, id),
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "median ratio ours/ip-batch: add {:.2}x, delete {:.2}x (goal >= 2x)",
        median(&mut add_ratios),
        median(&mut del_ratios)
    );
    let (first, restart, ops) = reconciler(n);
    println!(
        "reconciler: first sync (read + plan + apply {n}) {:.1} ms; restart (read {n} + plan) {:.1} ms, {ops} operations",
        first.as_secs_f64() * 1e3,
        restart.as_secs_f64() * 1e3,
    );
}
