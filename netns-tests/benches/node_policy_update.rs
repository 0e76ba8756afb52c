//! Policy update at scale, on the real calico-node: one label change with N cluster endpoints
//! (N = 1k, 5k, 10k; 100 of them local to the measured host, the others WorkloadEndpoints of
//! other Nodes, which run nothing, written straight into etcd) and 1,000 global policies all
//! in use on the host (the shape of `calc`'s label_change benchmark, `node_bench::scale`).
//! The host runs calico-node (started with `calicoctl node run`, `--backend none`) in a
//! namespace of a `CalicoCluster`, with etcd on the fabric; N grows 1k → 5k → 10k under the
//! same calico-node.
//!
//! Timer: from the return of the etcd write (our client, inside the fabric namespace) to the
//! nf_tables notification that the host's kernel committed the last transaction the change
//! caused (NFT_MSG_NEWGEN, read in-process from the host namespace's NFNLGRP_NFTABLES group —
//! what `nft monitor` reads — stamped on the same clock). A round counts only when the
//! committed transactions carry the moved endpoint's address as a set element of the `calico`
//! table (the change is in the kernel), and ends once no notification followed for 300 ms.
//! Two changes, each toggled back and forth 20 times, the median reported:
//!
//! - a remote endpoint moves from one role to another (two set member changes);
//! - a local endpoint moves from one app to another (its policies change: its chains are
//!   rewritten, and two member changes).
//!
//! Goal: under 5 ms, flat in N. Also reported, without a goal: N endpoints written → the
//! last one's address in the kernel's table.
//!
//! Needs root: prints "skipped: needs root" otherwise (a failure when `CI` is set).
//!
//! `cargo bench -p netns-tests --bench node_policy_update [-- --rounds N]`

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use netns_tests::calico_cluster::{CalicoCluster, CalicoHost, HostOptions};
use netns_tests::node_bench::node::{add_host_interfaces, node_env, percentile, ready};
use netns_tests::node_bench::scale::{self, labels_of};
use netns_tests::node_bench::{Monitor, NftEvent, NftKind, Stamped, Writer, until};
use testkit::bench::{Figure, Goal, Row, exit_code, needs_root, record};

const BENCH: &str = "node_policy_update";
const HOST: &str = "h1";
const LOCAL: usize = 100;
const POLICIES: usize = 1_000;
const SIZES: [usize; 3] = [1_000, 5_000, 10_000];
/// No notification for this long ends a change's burst of transactions.
const QUIET: Duration = Duration::from_millis(300);
const ROUND_LIMIT: Duration = Duration::from_secs(10);
const LOAD_LIMIT: Duration = Duration::from_secs(180);

type Result<T> = std::result::Result<T, String>;

fn node_of(i: usize) -> String {
    if i < LOCAL {
        HOST.to_owned()
    } else {
        format!("node{}", i % 100)
    }
}

/// Whether `e` is a set element of the `calico` table with key `ip`.
fn carries(e: &Stamped<NftEvent>, ip: Ipv4Addr, kind: NftKind) -> bool {
    matches!(&e.event, NftEvent::Object { kind: k, table, keys, .. }
        if *k == kind && table == "calico" && keys.iter().any(|key| key[..] == ip.octets()))
}

/// After a write at `t0`: waits for the element `ip` to be added and its transaction
/// committed, then for the burst to end; the time from `t0` to the last commit.
fn committed(nft: &Monitor<NftEvent>, from: usize, t0: Instant, ip: Ipv4Addr) -> Result<Duration> {
    let deadline = t0 + ROUND_LIMIT;
    nft.wait_for(from, deadline, |events| {
        let added = events
            .iter()
            .position(|e| carries(e, ip, NftKind::NewSetElem))?;
        events[added..]
            .iter()
            .any(|e| e.event == NftEvent::Generation)
            .then_some(())
    })
    .ok_or_else(|| format!("{ip} was not committed to the kernel within {ROUND_LIMIT:?}"))?;
    if !nft.settle(QUIET, deadline) {
        return Err(format!("nf_tables did not go quiet within {ROUND_LIMIT:?}"));
    }
    let events = nft.since(from);
    if events.iter().any(|e| e.event == NftEvent::Overflow) {
        return Err("the nf_tables monitor overflowed during the round".into());
    }
    let last = events
        .iter()
        .rev()
        .find(|e| e.event == NftEvent::Generation)
        .map(|e| e.at)
        .ok_or("no committed transaction")?;
    if std::env::var_os("NODE_BENCH_TRACE").is_some() {
        trace(&events, t0);
    }
    Ok(last.saturating_duration_since(t0))
}

/// Prints each committed transaction of a round: when, relative to the write's return, and
/// how many objects of each kind it changed.
fn trace(events: &[Stamped<NftEvent>], t0: Instant) {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut first = None;
    for e in events {
        first.get_or_insert(e.at);
        match &e.event {
            NftEvent::Object { kind, .. } => *counts.entry(format!("{kind:?}")).or_default() += 1,
            NftEvent::Generation => {
                let ms = |t: Instant| t.saturating_duration_since(t0).as_secs_f64() * 1e3;
                println!(
                    "  transaction: first notice {:.2} ms, committed {:.2} ms: {counts:?}",
                    first.map_or(0.0, ms),
                    ms(e.at)
                );
                counts.clear();
                first = None;
            }
            NftEvent::Overflow => println!("  overflow"),
        }
    }
}

/// Toggles endpoint `i` between the label sets `a` and `b`, `rounds` times; each round's time.
fn toggle(
    writer: &Writer,
    nft: &Monitor<NftEvent>,
    i: usize,
    (a, b): ((usize, usize), (usize, usize)),
    rounds: usize,
) -> Result<Vec<Duration>> {
    let ip = scale::endpoint_ip(i);
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (role, app) = if round % 2 == 0 { b } else { a };
        nft.settle(QUIET, Instant::now() + ROUND_LIMIT);
        let from = nft.mark();
        let t0 = writer.apply(scale::workload(i, &node_of(i), role, app))?;
        times.push(committed(nft, from, t0, ip)?);
    }
    Ok(times)
}

/// Writes endpoints `have..want` and waits until the last one's address is in the kernel.
fn grow(writer: &Writer, nft: &Monitor<NftEvent>, have: usize, want: usize) -> Result<Duration> {
    let from = nft.mark();
    let t = Instant::now();
    writer.apply_all(scale::workloads(have..want, node_of))?;
    let ip = scale::endpoint_ip(want - 1);
    // A load this large may overflow the monitor's queue, losing the very notification
    // waited for: then the load is over when the table goes quiet.
    nft.wait_for(from, t + LOAD_LIMIT, |events| {
        events
            .iter()
            .any(|e| e.event == NftEvent::Overflow || carries(e, ip, NftKind::NewSetElem))
            .then_some(())
    })
    .ok_or_else(|| format!("{ip} never reached the kernel"))?;
    let took = t.elapsed();
    nft.settle(Duration::from_secs(1), t + LOAD_LIMIT);
    Ok(took)
}

fn summary(v: &mut [Duration]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms over {}",
        ms(percentile(v, 50.0)),
        ms(percentile(v, 90.0)),
        ms(percentile(v, 100.0)),
        v.len()
    )
}

fn run(rounds: usize) -> Result<()> {
    let mut cluster = CalicoCluster::new("nb-pol").map_err(|e| format!("cluster: {e}"))?;
    let endpoint = cluster.endpoint();
    let writer = Writer::start(&cluster.fabric.as_ref(), &endpoint)
        .map_err(|e| format!("etcd writer: {e}"))?;
    let mut resources = scale::base();
    resources.extend(scale::policies(POLICIES));
    writer.apply_all(resources)?;
    let host = cluster.add_host(HOST).map_err(|e| format!("host: {e}"))?;
    let ifaces: Vec<String> = (0..LOCAL).map(scale::iface_of).collect();
    add_host_interfaces(&host.ns.as_ref(), &ifaces).map_err(|e| format!("interfaces: {e}"))?;
    let nft = Monitor::nftables(&host.ns.as_ref()).map_err(|e| format!("nft monitor: {e}"))?;
    host.start(
        &endpoint,
        &HostOptions {
            no_bgp: true,
            env: node_env(),
            ..HostOptions::default()
        },
    )
    .map_err(|e| format!("calico-node: {e}"))?;
    let mut have = 0;
    for n in SIZES {
        let before = have;
        let load = grow(&writer, &nft, before, n)?;
        have = n;
        let host: &CalicoHost = cluster.host(HOST);
        if until(LOAD_LIMIT, Duration::from_millis(50), || ready(host)).is_none() {
            return Err(format!(
                "calico-node not ready with {n} endpoints\n{}",
                host.log_tail(30)
            ));
        }
        record(&Row::new(
            BENCH,
            &format!(
                "{n} endpoints ({LOCAL} local), {POLICIES} policies: from writing endpoints {before}..{n} (100 per etcd transaction) to the last one's address in the kernel"
            ),
            Figure::millis(load),
        ));

        // A remote endpoint: role r1 <-> r2, its app kept.
        let i = n - 1;
        let (_, app) = labels_of(i);
        let mut remote = toggle(&writer, &nft, i, ((1, app), (2, app)), rounds)?;
        println!("{BENCH}: remote, {n} endpoints: {}", summary(&mut remote));
        record(
            &Row::new(
                BENCH,
                &format!(
                    "remote endpoint label change, {n} endpoints ({LOCAL} local), {POLICIES} policies: etcd write returned → nf_tables transaction committed (median)"
                ),
                Figure::millis(percentile(&mut remote, 50.0)),
            )
            .goal(Goal::AtMost(5.0)),
        );

        // A local endpoint: app a7 <-> a8, its role kept.
        let (role, app) = labels_of(7);
        let mut local = toggle(&writer, &nft, 7, ((role, app), (role, app + 1)), rounds)?;
        println!("{BENCH}: local, {n} endpoints: {}", summary(&mut local));
        if std::env::var_os("NODE_BENCH_TRACE").is_some() {
            println!("{}", cluster.host(HOST).log_tail(12));
        }
        record(
            &Row::new(
                BENCH,
                &format!(
                    "local endpoint label change (its policies change), {n} endpoints ({LOCAL} local), {POLICIES} policies: etcd write returned → nf_tables transactions committed (median)"
                ),
                Figure::millis(percentile(&mut local, 50.0)),
            )
            .goal(Goal::AtMost(5.0)),
        );
    }
    drop(nft);
    Ok(())
}

fn main() -> ExitCode {
    if let Some(code) = needs_root(BENCH) {
        return code;
    }
    let args: Vec<String> = std::env::args().collect();
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|p| args.get(p + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    exit_code(BENCH, run(rounds))
}
