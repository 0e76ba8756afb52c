//! calico-node restarting over a programmed host, on a real kernel: 100 local workloads,
//! 1,000 global policies in use and 100,000 routes learned over BGP (a BIRD2 on another
//! namespace of the fabric announcing static /24s through a global BGPPeer, with graceful
//! restart, `node_bench::bird::static_peer`). Once everything is programmed, calico-node is
//! stopped (`calicoctl node stop`: SIGTERM; the dataplane stays, BIRD keeps the session's
//! routes as a graceful-restart helper) and started again.
//!
//! Timer: from spawning `calicoctl node run` (so calicoctl starting calico-node is included)
//! to the first `/readiness` answered 200, polled every 5 ms from the host namespace. Ready
//! means the datastore listed, the policy table, the routes and the interfaces read back and
//! in sync, the BGP session established and the peer's End-of-RIB received. Goal: under 1 s.
//! Anchor, in the same run: the same `calico` table (as the kernel holds it after the
//! restart, `nft list table`) loaded from scratch by `nft -f` into an empty namespace, the
//! median of three.
//!
//! Also: the kernel operations the restarted calico-node issued, from its metrics once it has
//! been ready for 3 s (`calico_node_apply_operations_total` per reconciler: routes added or
//! deleted, policy transaction operations, interface changes). Goal: 0 for each — the table,
//! the routes and the links are read back and diffed, not rewritten.
//!
//! Needs root: prints "skipped: needs root" otherwise (a failure when `CI` is set).
//!
//! `cargo bench -p netns-tests --bench node_restart [-- --routes N]`

use std::process::ExitCode;
use std::time::{Duration, Instant};

use dataplane::netns::Netns;
use netns_tests::calico_cluster::{CalicoCluster, HostOptions};
use netns_tests::daemons::{Bird, version};
use netns_tests::node_bench::bird::{PEER_AS, static_peer};
use netns_tests::node_bench::node::{
    CALICO_PROTOCOL, add_host_interfaces, count_routes, http_get, metric, metrics, node_env,
    percentile, ready,
};
use netns_tests::node_bench::scale::{self, CLUSTER_AS};
use netns_tests::node_bench::{Monitor, Writer, until};
use testkit::bench::{Figure, Goal, Row, exit_code, needs_root, record};

const BENCH: &str = "node_restart";
const HOST: &str = "h1";
const LOCAL: usize = 100;
const POLICIES: usize = 1_000;
const LIMIT: Duration = Duration::from_secs(240);
const RECONCILERS: [&str; 3] = ["routes", "policy", "links"];

type Result<T> = std::result::Result<T, String>;

fn options() -> HostOptions {
    HostOptions {
        env: node_env(),
        ..HostOptions::default()
    }
}

/// `nft -f <file>` run from a thread inside a fresh namespace: how long it took.
fn nft_load(file: &std::path::Path) -> Result<Duration> {
    let ns = Netns::create("nb-nft").map_err(|e| format!("namespace: {e}"))?;
    let file = file.to_owned();
    let (out, took) = ns
        .as_ref()
        .run(move || {
            let t = Instant::now();
            let out = std::process::Command::new("nft")
                .arg("-f")
                .arg(&file)
                .output()?;
            Ok((out, t.elapsed()))
        })
        .map_err(|e| format!("nft -f: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "nft -f refused the table: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(took)
}

fn run(routes: u32) -> Result<()> {
    let mut cluster = CalicoCluster::new("nb-rst").map_err(|e| format!("cluster: {e}"))?;
    let endpoint = cluster.endpoint();
    let writer = Writer::start(&cluster.fabric.as_ref(), &endpoint)
        .map_err(|e| format!("etcd writer: {e}"))?;
    cluster.add_host(HOST).map_err(|e| format!("host: {e}"))?;
    let peer_addr = cluster
        .add_host("bgp-peer")
        .map_err(|e| format!("peer host: {e}"))?
        .address;
    let node_addr = cluster.hosts[0].address;
    let mut resources = scale::base();
    resources.push(scale::global_peer(
        "bench-peer",
        &peer_addr.to_string(),
        PEER_AS,
    ));
    resources.extend(scale::policies(POLICIES));
    resources.extend(scale::workloads(0..LOCAL, |_| HOST.to_owned()));
    writer.apply_all(resources)?;
    let ns = cluster.hosts[0].ns.as_ref();
    let ifaces: Vec<String> = (0..LOCAL).map(scale::iface_of).collect();
    add_host_interfaces(&ns, &ifaces).map_err(|e| format!("interfaces: {e}"))?;
    let config = static_peer(peer_addr, node_addr, CLUSTER_AS, routes);
    let bird = Bird::start(&cluster.hosts[1].ns, &config).map_err(|e| format!("bird: {e}"))?;
    let nft = Monitor::nftables(&ns).map_err(|e| format!("nft monitor: {e}"))?;

    // Programmed once.
    cluster.hosts[0]
        .start(&endpoint, &options())
        .map_err(|e| format!("calico-node: {e}"))?;
    let converged = |host| {
        ready(host)
            && metrics(host).is_ok_and(|m| {
                metric(&m, "calico_node_routes", &[("source", "bgp")]) == Some(f64::from(routes))
            })
    };
    if until(LIMIT, Duration::from_millis(200), || {
        converged(&cluster.hosts[0])
    })
    .is_none()
    {
        return Err(format!(
            "never converged: bird holds {:?}\n{}",
            bird.route_count(),
            cluster.hosts[0].log_tail(30)
        ));
    }
    nft.settle(Duration::from_secs(2), Instant::now() + LIMIT);
    let routes_before =
        count_routes(&ns, CALICO_PROTOCOL).map_err(|e| format!("route dump: {e}"))?;

    // Stopped, then started again: polled for readiness from the moment of the spawn.
    cluster.hosts[0]
        .stop()
        .map_err(|e| format!("calico-node stop: {e}"))?;
    if ready(&cluster.hosts[0]) {
        return Err("calico-node still answers after node stop".into());
    }
    let nft_from = nft.mark();
    let (started, ready_after) = std::thread::scope(|s| {
        let host = &mut cluster.hosts[0];
        let t0 = Instant::now();
        let start = s.spawn(|| host.start(&endpoint, &options()));
        let took = until(LIMIT, Duration::from_millis(5), || {
            matches!(http_get(&ns, "/readiness"), Ok((200, _)))
        });
        let started = start
            .join()
            .map_err(|_| "calicoctl node run panicked".to_owned());
        (started, took.map(|_| t0.elapsed()))
    });
    started?.map_err(|e| format!("calico-node restart: {e}"))?;
    let host = &cluster.hosts[0];
    let ready_after = ready_after.ok_or_else(|| {
        format!(
            "not ready within {LIMIT:?} of the restart\n{}",
            host.log_tail(30)
        )
    })?;
    std::thread::sleep(Duration::from_secs(3));
    if std::env::var_os("NODE_BENCH_TRACE").is_some() {
        println!("{}", host.log_tail(60));
    }
    let text = metrics(host).map_err(|e| format!("metrics: {e}"))?;
    let routes_after =
        count_routes(&ns, CALICO_PROTOCOL).map_err(|e| format!("route dump: {e}"))?;
    let transactions = nft
        .since(nft_from)
        .iter()
        .filter(|e| e.event == netns_tests::node_bench::NftEvent::Generation)
        .count();

    // The anchor: the table as the kernel holds it, loaded from scratch.
    let table = ns
        .command_output("nft", &["list", "table", "inet", "calico"])
        .map_err(|e| format!("nft list: {e}"))?;
    if !table.status.success() {
        return Err("nft list table inet calico failed".into());
    }
    let file = cluster.path().join("calico-table.nft");
    std::fs::write(&file, &table.stdout).map_err(|e| e.to_string())?;
    let mut loads = (0..3)
        .map(|_| nft_load(&file))
        .collect::<Result<Vec<_>>>()?;
    let nft_time = percentile(&mut loads, 50.0);

    let state = format!(
        "{LOCAL} local workloads, {POLICIES} policies, {}k learned routes",
        routes / 1000
    );
    println!(
        "{BENCH}: ready {:.3} s after the spawn; nft -f of the same table {:.3} s ({} bytes); {routes_before} → {routes_after} routes of ours in table main; {transactions} nf_tables transactions after the restart; BIRD {}",
        ready_after.as_secs_f64(),
        nft_time.as_secs_f64(),
        table.stdout.len(),
        version("bird")
    );
    record(
        &Row::new(
            BENCH,
            &format!(
                "restart, {state}: `calicoctl node run` spawned → /readiness 200 (ours); the same calico table loaded from scratch by `nft -f` into an empty namespace (anchor)"
            ),
            Figure::secs(ready_after),
        )
        .against("nft -f of the table", Figure::secs(nft_time))
        .goal(Goal::AtMost(1.0)),
    );
    for reconciler in RECONCILERS {
        let ops = metric(
            &text,
            "calico_node_apply_operations_total",
            &[("reconciler", reconciler)],
        )
        .unwrap_or(0.0);
        let syncs = metric(
            &text,
            "calico_node_apply_seconds_count",
            &[("reconciler", reconciler)],
        )
        .unwrap_or(0.0);
        println!("{BENCH}: {reconciler}: {ops} operations in {syncs} syncs that changed something");
        record(
            &Row::new(
                BENCH,
                &format!(
                    "restart, {state}: kernel operations of the {reconciler} reconciler after the restart (calico_node_apply_operations_total, 3 s after ready)"
                ),
                Figure::new(ops, "ops"),
            )
            .goal(Goal::AtMost(0.0)),
        );
    }
    drop(bird);
    Ok(())
}

fn main() -> ExitCode {
    if let Some(code) = needs_root(BENCH) {
        return code;
    }
    let args: Vec<String> = std::env::args().collect();
    let routes = args
        .iter()
        .position(|a| a == "--routes")
        .and_then(|p| args.get(p + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    exit_code(BENCH, run(routes))
}
