//! calico-node's memory with 10,000 cluster endpoints (100 local), 1,000 global policies and
//! 100,000 routes learned over BGP, on a real kernel: one host of a `CalicoCluster` runs
//! calico-node (`calicoctl node run`), and a BIRD2 on another namespace of the fabric announces
//! 100,000 static /24s to it through a global BGPPeer (`node_bench::bird::static_peer`).
//!
//! No timer: the resident set from `/proc/<pid>/status` once everything is programmed
//! (`/readiness` 200, 100,000 BGP routes desired by the route programmer and present in the
//! host's table main with calico-node's protocol, nf_tables quiet for 1 s). Reported: VmRSS
//! (goal under 30 MiB), and, without goals, its breakdown — RssAnon (heap and stacks) and
//! RssFile (the binary's mapped pages) — the peak (VmHWM), and VmRSS before the BGP peer
//! started (endpoints and policies programmed, no routes learned yet). No ratio: BIRD plus
//! the kernel's memory for the same routes is not a like-for-like figure.
//!
//! Needs root: prints "skipped: needs root" otherwise (a failure when `CI` is set).
//!
//! `cargo bench -p netns-tests --bench node_rss [-- --routes N --endpoints N]`

use std::process::ExitCode;
use std::time::{Duration, Instant};

use netns_tests::calico_cluster::{CalicoCluster, HostOptions};
use netns_tests::daemons::{Bird, version};
use netns_tests::node_bench::bird::{PEER_AS, static_peer};
use netns_tests::node_bench::node::{
    CALICO_PROTOCOL, Memory, add_host_interfaces, component_ready, count_routes, metric, metrics,
    mib, node_env, pid, ready,
};
use netns_tests::node_bench::scale::{self, CLUSTER_AS};
use netns_tests::node_bench::{Monitor, Writer, until};
use testkit::bench::{Figure, Goal, Row, exit_code, needs_root, record};

const BENCH: &str = "node_rss";
const HOST: &str = "h1";
const LOCAL: usize = 100;
const POLICIES: usize = 1_000;
const LIMIT: Duration = Duration::from_secs(240);

type Result<T> = std::result::Result<T, String>;

fn node_of(i: usize) -> String {
    if i < LOCAL {
        HOST.to_owned()
    } else {
        format!("node{}", i % 100)
    }
}

fn run(endpoints: usize, routes: u32) -> Result<()> {
    let mut cluster = CalicoCluster::new("nb-rss").map_err(|e| format!("cluster: {e}"))?;
    let endpoint = cluster.endpoint();
    let writer = Writer::start(&cluster.fabric.as_ref(), &endpoint)
        .map_err(|e| format!("etcd writer: {e}"))?;
    cluster.add_host(HOST).map_err(|e| format!("host: {e}"))?;
    let peer_host = cluster
        .add_host("bgp-peer")
        .map_err(|e| format!("peer host: {e}"))?;
    let peer_addr = peer_host.address;
    let node_addr = cluster.host(HOST).address;
    let mut resources = scale::base();
    resources.push(scale::global_peer(
        "bench-peer",
        &peer_addr.to_string(),
        PEER_AS,
    ));
    resources.extend(scale::policies(POLICIES));
    resources.extend(scale::workloads(0..endpoints, node_of));
    writer.apply_all(resources)?;
    let host = &cluster.hosts[0];
    let ifaces: Vec<String> = (0..LOCAL.min(endpoints)).map(scale::iface_of).collect();
    add_host_interfaces(&host.ns.as_ref(), &ifaces).map_err(|e| format!("interfaces: {e}"))?;
    let nft = Monitor::nftables(&host.ns.as_ref()).map_err(|e| format!("nft monitor: {e}"))?;
    cluster.hosts[0]
        .start(
            &endpoint,
            &HostOptions {
                env: node_env(),
                ..HostOptions::default()
            },
        )
        .map_err(|e| format!("calico-node: {e}"))?;
    let host = &cluster.hosts[0];
    let pid = pid(host).map_err(|e| format!("calico-node's pid: {e}"))?;

    // Endpoints and policies programmed; no BGP peer yet.
    if until(LIMIT, Duration::from_millis(100), || {
        component_ready(host, "policy")
    })
    .is_none()
    {
        return Err(format!("policy never programmed\n{}", host.log_tail(30)));
    }
    nft.settle(Duration::from_secs(1), Instant::now() + LIMIT);
    let before = Memory::of(pid).map_err(|e| e.to_string())?;

    let config = static_peer(peer_addr, node_addr, CLUSTER_AS, routes);
    let bird = Bird::start(&cluster.hosts[1].ns, &config).map_err(|e| format!("bird: {e}"))?;
    let t = Instant::now();
    let learned = || {
        metrics(host).is_ok_and(|m| {
            metric(&m, "calico_node_routes", &[("source", "bgp")]) == Some(f64::from(routes))
        })
    };
    let converged = until(LIMIT, Duration::from_millis(200), || {
        learned()
            && ready(host)
            && count_routes(&host.ns.as_ref(), CALICO_PROTOCOL).is_ok_and(|n| n >= routes as usize)
    });
    if converged.is_none() {
        return Err(format!(
            "{routes} routes never programmed (bird holds {:?}; {:?} in the kernel)\n{}",
            bird.route_count(),
            count_routes(&host.ns.as_ref(), CALICO_PROTOCOL),
            host.log_tail(30)
        ));
    }
    println!(
        "{BENCH}: {routes} routes learned and programmed {:.1} s after BIRD started",
        t.elapsed().as_secs_f64()
    );
    nft.settle(Duration::from_secs(1), Instant::now() + LIMIT);
    std::thread::sleep(Duration::from_secs(1));
    let after = Memory::of(pid).map_err(|e| e.to_string())?;
    let state = format!(
        "{endpoints} endpoints ({LOCAL} local), {POLICIES} policies, {}k learned routes",
        routes / 1000
    );
    println!(
        "{BENCH}: VmRSS {:.1} MiB (anon {:.1}, file {:.1}), peak {:.1} MiB; before the BGP peer {:.1} MiB (BIRD {} announcing)",
        mib(after.rss),
        mib(after.anon),
        mib(after.file),
        mib(after.peak),
        mib(before.rss),
        version("bird")
    );
    record(
        &Row::new(
            BENCH,
            &format!("calico-node VmRSS after convergence, {state}"),
            Figure::new(mib(after.rss), "MiB"),
        )
        .goal(Goal::AtMost(30.0)),
    );
    for (what, kib) in [
        ("RssAnon (heap, stacks)", after.anon),
        ("RssFile (binary pages)", after.file),
        ("peak VmRSS (VmHWM)", after.peak),
    ] {
        record(&Row::new(
            BENCH,
            &format!("calico-node {what} after convergence, {state}"),
            Figure::new(mib(kib), "MiB"),
        ));
    }
    record(&Row::new(
        BENCH,
        &format!(
            "calico-node VmRSS before any route was learned, {endpoints} endpoints ({LOCAL} local), {POLICIES} policies programmed"
        ),
        Figure::new(mib(before.rss), "MiB"),
    ));
    drop(bird);
    Ok(())
}

fn main() -> ExitCode {
    if let Some(code) = needs_root(BENCH) {
        return code;
    }
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u32| {
        args.iter()
            .position(|a| a == name)
            .and_then(|p| args.get(p + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    exit_code(
        BENCH,
        run(
            arg("--endpoints", 10_000) as usize,
            arg("--routes", 100_000),
        ),
    )
}
