//! Route convergence of a 10-host cluster on a real kernel: ten host namespaces on one fabric
//! bridge, each running calico-node (`calicoctl node run`) with its BGP speaker in a
//! node-to-node mesh, etcd on the fabric. 100 workloads (after 5 not counted, to warm up),
//! round-robin over the hosts, each with its host-side interface in place first (as the CNI
//! plugin makes it before writing the endpoint), are written one at a time as
//! WorkloadEndpoints.
//!
//! Timer: from the return of the WorkloadEndpoint's etcd write (our client, inside the fabric
//! namespace) to the RTM_NEWROUTE notification of the workload's /32 in each other host's
//! kernel (read in-process from each host namespace's RTNLGRP_IPV4_ROUTE group — what `ip
//! monitor route` reads — all stamped on the same clock). Reported: p50 and p99 over the
//! 900 (workload, other host) pairs, and over the 100 workloads of the time until every
//! other host has the route.
//!
//! Anchor, in the same run: BIRD2 alone carrying a kernel route from one host to another (two
//! more namespaces on the same fabric; the sender's `protocol kernel` learns routes as the
//! kernel announces them and sends them over eBGP, the receiver writes them into its
//! kernel): from the return of the netlink request adding a /32 to the sender's table to its
//! RTM_NEWROUTE in the receiver's, timed the same way, 100 routes after 5. In Calico the route
//! BIRD exports is programmed by Felix first, whose dataplane applies are throttled to one per
//! 100 ms; the anchor does not include that.
//!
//! Goal: p99 under 50 ms.
//!
//! Needs root: prints "skipped: needs root" otherwise (a failure when `CI` is set).
//!
//! `cargo bench -p netns-tests --bench node_convergence [-- --hosts N --workloads N]`

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dataplane::netlink::NetlinkSocket;
use dataplane::netlink::wire::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, RTM_NEWROUTE};
use dataplane::routes::Route;
use dataplane::routes::wire::encode_route;
use ipnet::IpNet;
use netns_tests::calico_cluster::{CalicoCluster, HostOptions};
use netns_tests::daemons::{Bird, version};
use netns_tests::node_bench::bird::{anchor_receiver, anchor_sender};
use netns_tests::node_bench::node::{add_host_interfaces, node_env, percentile, ready};
use netns_tests::node_bench::scale::{self, labels_of};
use netns_tests::node_bench::{Monitor, RouteEvent, Writer, until};
use testkit::bench::{Figure, Goal, Row, exit_code, needs_root, record};

const BENCH: &str = "node_convergence";
const WARM_UP: usize = 5;
const LIMIT: Duration = Duration::from_secs(10);
const START_LIMIT: Duration = Duration::from_secs(180);
/// The route protocol the anchor's routes are added with (RTPROT_STATIC: BIRD learns it).
const RTPROT_STATIC: u8 = 4;
/// The interface the anchor's routes go out of on the sending host.
const ANCHOR_DEV: &str = "anchor0";

type Result<T> = std::result::Result<T, String>;

fn host_name(h: usize) -> String {
    format!("host-{h}")
}

/// The instant `dst` was first added to the table `monitor` watches, from position `from`.
fn added(
    monitor: &Monitor<RouteEvent>,
    from: usize,
    deadline: Instant,
    dst: IpNet,
) -> Option<Instant> {
    monitor.wait_for(from, deadline, |events| {
        events.iter().find_map(|e| match &e.event {
            RouteEvent::Added { dst: d, .. } if *d == dst => Some(e.at),
            _ => None,
        })
    })
}

fn host_route(ip: Ipv4Addr) -> IpNet {
    IpNet::new(IpAddr::V4(ip), 32).expect("a /32 is a valid prefix")
}

/// Ours: the per-pair times and, per workload, the time until every other host had it.
fn ours(
    cluster: &mut CalicoCluster,
    writer: &Writer,
    hosts: usize,
    workloads: usize,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let endpoint = cluster.endpoint();
    let total = WARM_UP + workloads;
    for h in 0..hosts {
        let host = cluster
            .add_host(&host_name(h))
            .map_err(|e| format!("host {h}: {e}"))?;
        let ifaces: Vec<String> = (h..total).step_by(hosts).map(scale::iface_of).collect();
        add_host_interfaces(&host.ns.as_ref(), &ifaces)
            .map_err(|e| format!("interfaces on host {h}: {e}"))?;
    }
    let monitors = cluster
        .hosts
        .iter()
        .map(|h| Monitor::routes(&h.ns.as_ref()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| format!("route monitor: {e}"))?;
    let t = Instant::now();
    for host in cluster.hosts.iter_mut() {
        host.start(
            &endpoint,
            &HostOptions {
                env: node_env(),
                ..HostOptions::default()
            },
        )
        .map_err(|e| format!("calico-node on {}: {e}", host.name))?;
    }
    for host in &cluster.hosts {
        if until(START_LIMIT, Duration::from_millis(100), || ready(host)).is_none() {
            return Err(format!(
                "{} not ready (mesh of {hosts})\n{}\n{}",
                host.name,
                host.status().unwrap_or_default(),
                host.log_tail(20)
            ));
        }
    }
    println!(
        "{BENCH}: {hosts} calico-nodes ready (mesh established) {:.1} s after the first start",
        t.elapsed().as_secs_f64()
    );

    let mut pairs = Vec::new();
    let mut every = Vec::new();
    for i in 0..total {
        let home = i % hosts;
        let (role, app) = labels_of(i);
        let dst = host_route(scale::endpoint_ip(i));
        let marks: Vec<usize> = monitors.iter().map(Monitor::mark).collect();
        let t0 = writer.apply(scale::workload(i, &host_name(home), role, app))?;
        let mut last = Duration::ZERO;
        for (h, monitor) in monitors.iter().enumerate().filter(|(h, _)| *h != home) {
            let at = added(monitor, marks[h], t0 + LIMIT, dst).ok_or_else(|| {
                format!(
                    "{dst} of {} never reached {} within {LIMIT:?}\n{}",
                    host_name(home),
                    host_name(h),
                    cluster.hosts[h].log_tail(20)
                )
            })?;
            let took = at.saturating_duration_since(t0);
            last = last.max(took);
            if i >= WARM_UP {
                pairs.push(took);
            }
        }
        if i >= WARM_UP {
            every.push(last);
        }
    }
    Ok((pairs, every))
}

/// The anchor: BIRD carrying kernel routes from one fabric host to another.
fn anchor(cluster: &mut CalicoCluster, routes: usize) -> Result<Vec<Duration>> {
    let a = cluster
        .add_host("bird-a")
        .map_err(|e| format!("bird-a: {e}"))?
        .address;
    let b = cluster
        .add_host("bird-b")
        .map_err(|e| format!("bird-b: {e}"))?
        .address;
    let n = cluster.hosts.len();
    let (host_a, host_b) = (&cluster.hosts[n - 2], &cluster.hosts[n - 1]);
    // The routes' interface: a veth pair (this kernel may have no dummy driver).
    host_a
        .ns
        .ip(&[
            "link", "add", ANCHOR_DEV, "type", "veth", "peer", "name", "anchor1",
        ])
        .and_then(|_| host_a.ns.ip(&["link", "set", "anchor1", "up"]))
        .and_then(|_| host_a.ns.ip(&["link", "set", ANCHOR_DEV, "up"]))
        .map_err(|e| format!("{ANCHOR_DEV}: {e}"))?;
    let bird_a =
        Bird::start(&host_a.ns, &anchor_sender(a, b)).map_err(|e| format!("bird-a: {e}"))?;
    let bird_b =
        Bird::start(&host_b.ns, &anchor_receiver(b, a)).map_err(|e| format!("bird-b: {e}"))?;
    let up = until(Duration::from_secs(30), Duration::from_millis(50), || {
        bird_a.established("receiver") && bird_b.established("sender")
    });
    if up.is_none() {
        return Err("the anchor's BIRD session never came up".into());
    }
    let monitor = Monitor::routes(&host_b.ns.as_ref()).map_err(|e| format!("monitor: {e}"))?;
    let mut socket =
        NetlinkSocket::open(&host_a.ns.as_ref()).map_err(|e| format!("netlink: {e}"))?;
    let oif = socket
        .link_by_name(ANCHOR_DEV)
        .map_err(|e| format!("{ANCHOR_DEV}: {e}"))?
        .ok_or("the anchor's interface is missing")?
        .index;
    let mut times = Vec::new();
    for k in 0..WARM_UP + routes {
        let ip = Ipv4Addr::from(0x0a42_0000u32 + k as u32 + 1);
        let route = Route::workload(IpAddr::V4(ip), ANCHOR_DEV).to_kernel(RTPROT_STATIC, Some(oif));
        let from = monitor.mark();
        let sent = Instant::now();
        socket
            .request("adding the anchor's route", |out, seq| {
                encode_route(
                    out,
                    RTM_NEWROUTE,
                    NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                    seq,
                    &route,
                )
            })
            .map_err(|e| format!("{ip}: {e}"))?;
        let t0 = Instant::now();
        let at = added(&monitor, from, t0 + LIMIT, host_route(ip))
            .ok_or_else(|| format!("BIRD never carried {ip} across"))?;
        if std::env::var_os("NODE_BENCH_TRACE").is_some() {
            println!(
                "  {ip}: request {:?}, seen {:?} after the request was sent",
                t0 - sent,
                at.saturating_duration_since(sent)
            );
        }
        if k >= WARM_UP {
            times.push(at.saturating_duration_since(t0));
        }
    }
    Ok(times)
}

fn run(hosts: usize, workloads: usize) -> Result<()> {
    let mut cluster = CalicoCluster::new("nb-conv").map_err(|e| format!("cluster: {e}"))?;
    let writer = Writer::start(&cluster.fabric.as_ref(), &cluster.endpoint())
        .map_err(|e| format!("etcd writer: {e}"))?;
    writer.apply_all(scale::base())?;
    let (mut pairs, mut every) = ours(&mut cluster, &writer, hosts, workloads)?;
    let mut bird = anchor(&mut cluster, workloads)?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{BENCH}: ours per pair p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; every other host p50 {:.1} ms, p99 {:.1} ms; BIRD alone p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&mut pairs, 50.0)),
        ms(percentile(&mut pairs, 90.0)),
        ms(percentile(&mut pairs, 99.0)),
        ms(percentile(&mut pairs, 100.0)),
        ms(percentile(&mut every, 50.0)),
        ms(percentile(&mut every, 99.0)),
        ms(percentile(&mut bird, 50.0)),
        ms(percentile(&mut bird, 99.0)),
    );
    println!(
        "{BENCH}: note: in Calico, Felix throttles its dataplane applies to one per 100 ms \
         (felix/dataplane/linux/int_dataplane.go) before BIRD exports the route; the BIRD \
         anchor is BIRD alone, without that throttle"
    );
    let others = hosts - 1;
    let anchor_name = format!("BIRD {} alone, host to host", version("bird"));
    let anchor_what = "BIRD: netlink route add returned → route in the other host's kernel";
    for (p, goal) in [(50.0, None), (99.0, Some(Goal::AtMost(50.0)))] {
        let mut row = Row::new(
            BENCH,
            &format!(
                "{hosts}-host mesh, p{p}: WorkloadEndpoint etcd write returned → route in one other host's kernel ({workloads} workloads × {others} hosts); {anchor_what}"
            ),
            Figure::millis(percentile(&mut pairs, p)),
        )
        .against(&anchor_name, Figure::millis(percentile(&mut bird, p)));
        if let Some(g) = goal.clone() {
            row = row.goal(g);
        }
        record(&row);
        let mut row = Row::new(
            BENCH,
            &format!(
                "{hosts}-host mesh, p{p}: WorkloadEndpoint etcd write returned → route in every other host's kernel ({workloads} workloads); {anchor_what}"
            ),
            Figure::millis(percentile(&mut every, p)),
        )
        .against(&anchor_name, Figure::millis(percentile(&mut bird, p)));
        if let Some(g) = goal {
            row = row.goal(g);
        }
        record(&row);
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Some(code) = needs_root(BENCH) {
        return code;
    }
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|p| args.get(p + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    exit_code(BENCH, run(arg("--hosts", 10), arg("--workloads", 100)))
}
