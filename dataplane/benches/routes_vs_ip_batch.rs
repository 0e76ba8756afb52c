//! Route programming on a real kernel, against `ip -batch`.
//!
//! In a fresh namespace with one veth, add N (default 100,000; `ROUTES_BENCH_N`) `/32`
//! scope-link routes with our protocol, then delete them: through our backend
//! ([`KernelRoutes`]: batches of hand-encoded route messages on one netlink socket), and with
//! `ip -batch` of the same N `route add|del <ip>/32 dev cali0 scope link proto 80` lines in
//! another fresh namespace. Three runs; the median rates are compared (goal: ours >= 2x).
//!
//! What each timer covers — the same work on both sides, process start included on theirs:
//! - ours: opening a NETLINK_ROUTE socket inside the namespace (a thread that enters it),
//!   looking `cali0` up by name (a link dump), building the N requests and sending them in
//!   batches until the last ack;
//! - `ip -batch`: starting the `ip` process, entering the namespace (`-n`), reading and
//!   parsing the batch file, looking `cali0` up, sending the N requests.
//!
//! The batch file is written, and the kernel's routes counted, outside both timers.
//!
//! Also reported: the reconciler end to end (read + plan + apply of N new routes) and a
//! restart over the programmed namespace (read N routes + plan, which must plan nothing).
//!
//! Needs root: without it prints "skipped: needs root" and exits 0, unless `CI` is truthy
//! (then it fails). A side that fails is an error exit with its message.
//!
//! `cargo bench -p dataplane --bench routes_vs_ip_batch`

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use dataplane::netns::Netns;
use dataplane::routes::{
    DEFAULT_PROTOCOL, KernelRoutes, Route, RouteBackend, RouteConfig, RouteOp, RouteReconciler,
};
use testkit::bench::{Figure, Goal, Row, record};

const BENCH: &str = "routes_vs_ip_batch";
const IFACE: &str = "cali0";
const RUNS: usize = 3;

type Result<T> = std::result::Result<T, String>;

fn addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + i as u32))
}

fn namespace(prefix: &str) -> Result<Netns> {
    let ns = Netns::create(prefix).map_err(|e| format!("creating a namespace: {e}"))?;
    for args in [
        &["link", "add", IFACE, "type", "veth", "peer", "name", "wl0"][..],
        &["link", "set", IFACE, "up"],
        &["link", "set", "wl0", "up"],
    ] {
        ns.ip(args).map_err(|e| e.to_string())?;
    }
    Ok(ns)
}

/// Routes with our protocol in the namespace (`ip route show proto 80`).
fn route_count(ns: &Netns) -> Result<usize> {
    ns.ip(&["route", "show", "proto", &DEFAULT_PROTOCOL.to_string()])
        .map(|s| s.lines().count())
        .map_err(|e| format!("counting routes: {e}"))
}

fn expect_routes(ns: &Netns, n: usize, after: &str) -> Result<()> {
    let have = route_count(ns)?;
    if have != n {
        return Err(format!(
            "{have} routes in the kernel after {after}, expected {n}"
        ));
    }
    Ok(())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// One timed pass of our backend: open the socket, look the interface up, build `n`
/// requests (adds or deletes), apply them.
fn our_pass(ns: &Netns, n: usize, delete: bool) -> Result<Duration> {
    let t = Instant::now();
    let mut be = KernelRoutes::open(&ns.as_ref()).map_err(|e| e.to_string())?;
    let oif = be
        .read_links()
        .map_err(|e| e.to_string())?
        .index(IFACE)
        .ok_or_else(|| format!("{IFACE} not found in the namespace"))?;
    let ops: Vec<RouteOp> = (0..n)
        .map(|i| {
            let mut r = Route::workload(addr(i), IFACE).to_kernel(DEFAULT_PROTOCOL, Some(oif));
            if delete {
                r.scope = 255;
                RouteOp::Delete(r)
            } else {
                RouteOp::Add(r)
            }
        })
        .collect();
    let failures = be.apply(&ops).map_err(|e| e.to_string())?;
    let elapsed = t.elapsed();
    if let Some(f) = failures.first() {
        return Err(format!(
            "the kernel refused {} of our {} requests; the first: {:?}",
            failures.len(),
            if delete { "delete" } else { "add" },
            f
        ));
    }
    Ok(elapsed)
}

/// Our backend: (add, delete) times.
fn ours(n: usize) -> Result<(Duration, Duration)> {
    let ns = namespace("rtb-ours")?;
    let add = our_pass(&ns, n, false)?;
    expect_routes(&ns, n, "our adds")?;
    let del = our_pass(&ns, n, true)?;
    expect_routes(&ns, 0, "our deletes")?;
    Ok((add, del))
}

fn ip_batch(ns: &Netns, verb: &str, n: usize) -> Result<Duration> {
    let path = std::env::temp_dir().join(format!("rtb-{}-{verb}.batch", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        for i in 0..n {
            writeln!(
                f,
                "route {verb} {}/32 dev {IFACE} scope link proto {DEFAULT_PROTOCOL}",
                addr(i)
            )?;
        }
        f.flush()
    };
    write().map_err(|e| format!("writing {}: {e}", path.display()))?;
    let t = Instant::now();
    let out = Command::new("ip")
        .args(["-n", ns.name(), "-batch"])
        .arg(&path)
        .output();
    let d = t.elapsed();
    let _ = std::fs::remove_file(&path);
    let out = out.map_err(|e| format!("running ip -batch: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip -batch {verb}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(d)
}

/// `ip -batch`: (add, delete) times.
fn iproute(n: usize) -> Result<(Duration, Duration)> {
    let ns = namespace("rtb-ip")?;
    let add = ip_batch(&ns, "add", n)?;
    expect_routes(&ns, n, "ip's adds")?;
    let del = ip_batch(&ns, "del", n)?;
    expect_routes(&ns, 0, "ip's deletes")?;
    Ok((add, del))
}

/// The reconciler end to end: (first sync: read + plan + apply of n routes, restart: read +
/// plan over the programmed kernel).
fn reconciler(n: usize) -> Result<(Duration, Duration)> {
    let ns = namespace("rtb-rec")?;
    let mut be = KernelRoutes::open(&ns.as_ref()).map_err(|e| e.to_string())?;
    let routes: Vec<Route> = (0..n).map(|i| Route::workload(addr(i), IFACE)).collect();
    let now = Instant::now();
    let mut rec = RouteReconciler::new(RouteConfig::default());
    rec.replace_desired(routes.iter().cloned())
        .map_err(|e| e.to_string())?;
    rec.set_complete();
    let t = Instant::now();
    let report = rec.sync(&mut be, now).map_err(|e| e.to_string())?;
    let first = t.elapsed();
    if (report.ops, report.failures.len()) != (n, 0) {
        return Err(format!("first sync: {report:?}, expected {n} operations"));
    }

    let mut rec = RouteReconciler::new(RouteConfig::default());
    rec.replace_desired(routes).map_err(|e| e.to_string())?;
    rec.set_complete();
    let t = Instant::now();
    let report = rec.sync(&mut be, now).map_err(|e| e.to_string())?;
    let restart = t.elapsed();
    if report.ops != 0 {
        return Err(format!(
            "the restart planned {} operations over a programmed kernel",
            report.ops
        ));
    }
    Ok((first, restart))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run() -> Result<()> {
    let n: usize = std::env::var("ROUTES_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("{n} /32 scope-link routes, proto {DEFAULT_PROTOCOL}, one veth");
    println!(
        "timers: ours = open a netlink socket in the namespace + look up {IFACE} by name + build \
         and send the requests; ip -batch = process start + entering the namespace + parsing \
         the batch file + the requests"
    );
    let (mut oa, mut od, mut ia, mut id) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 1..=RUNS {
        let (our_add, our_del) = ours(n).map_err(|e| format!("ours, run {run}: {e}"))?;
        let (ip_add, ip_del) = iproute(n).map_err(|e| format!("ip -batch, run {run}: {e}"))?;
        for (verb, o, i) in [("add", our_add, ip_add), ("del", our_del, ip_del)] {
            println!(
                "run {run}: {verb}  ours {:>8.1} ms ({:>9.0} routes/s)  ip -batch {:>8.1} ms ({:>9.0} routes/s)  ratio {:.2}x",
                o.as_secs_f64() * 1e3,
                rate(n, o),
                i.as_secs_f64() * 1e3,
                rate(n, i),
                rate(n, o) / rate(n, i),
            );
        }
        oa.push(rate(n, our_add));
        od.push(rate(n, our_del));
        ia.push(rate(n, ip_add));
        id.push(rate(n, ip_del));
    }
    for (verb, ours, theirs) in [("add", oa, ia), ("delete", od, id)] {
        record(
            &Row::new(
                BENCH,
                &format!(
                    "{verb} {n} routes, median of {RUNS} (ours: socket in netns + link lookup + \
                     batches; ip -batch: process start + netns + file parse + requests)"
                ),
                Figure::new(median(ours), "routes/s"),
            )
            .against("ip -batch", Figure::new(median(theirs), "routes/s"))
            .goal(Goal::RatioAtLeast(2.0)),
        );
    }
    let (first, restart) = reconciler(n).map_err(|e| format!("reconciler: {e}"))?;
    record(&Row::new(
        BENCH,
        &format!("reconciler first sync: read + plan + apply {n} routes"),
        Figure::millis(first),
    ));
    record(&Row::new(
        BENCH,
        &format!("reconciler restart: read {n} routes + plan (0 operations)"),
        Figure::millis(restart),
    ));
    Ok(())
}

fn main() -> ExitCode {
    if let Some(code) = testkit::bench::needs_root(BENCH) {
        return code;
    }
    testkit::bench::exit_code(BENCH, run())
}
