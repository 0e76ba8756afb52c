//! The namespace demo: reads the cluster from etcd (`ETCD_ENDPOINTS`), builds every Calico
//! Node as a host namespace on a shared fabric and every WorkloadEndpoint as a workload
//! namespace, programs each host's routes, interfaces and nftables policy with the dataplane,
//! then sends real traffic between every pair of workloads and prints what got through next to
//! what Calico's policy says. Exits 1 if the kernel and the policy disagree anywhere.
//! Needs root. Everything it creates is removed when it exits.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use datastore::config::DatastoreConfig;
use datastore::typed::{ResourceStore, SystemStamps};
use model::policy::{Evaluator, Packet, Peer, Snapshot};
use model::resources::{Kind, Resource};
use netns_tests::cluster::{Cluster, nodes_and_workloads};
use netns_tests::policy::program_snapshot;
use netns_tests::probe::{self, Servers};

const KINDS: [Kind; 11] = [
    Kind::Node,
    Kind::WorkloadEndpoint,
    Kind::HostEndpoint,
    Kind::Profile,
    Kind::NetworkPolicy,
    Kind::GlobalNetworkPolicy,
    Kind::Tier,
    Kind::NetworkSet,
    Kind::GlobalNetworkSet,
    Kind::IPPool,
    Kind::FelixConfiguration,
];

async fn read_cluster() -> Result<Vec<Resource>> {
    let cfg = DatastoreConfig::from_env().context("datastore configuration")?;
    let ds = datastore::config::connect(&cfg)
        .await
        .context("connecting to etcd")?;
    let store = ResourceStore::new(ds, Arc::new(SystemStamps));
    let mut out = Vec::new();
    for kind in KINDS {
        let listed = store
            .list(kind, None)
            .await
            .with_context(|| format!("listing {}", kind.name()))?;
        out.extend(listed.items);
    }
    Ok(out)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("calico-netns-demo: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool> {
    if !testkit::prereq::is_root() {
        anyhow::bail!("needs root (it creates network namespaces)");
    }
    let rt = tokio::runtime::Runtime::new()?;
    let resources = rt.block_on(read_cluster())?;
    let (nodes, weps) = nodes_and_workloads(&resources);
    let snapshot = Snapshot::from_resources(resources);
    let cluster = Cluster::build("demo", &nodes, &weps).context("building the namespaces")?;
    println!(
        "{} hosts on a fabric bridge, {} workloads:",
        cluster.hosts.len(),
        cluster
            .hosts
            .iter()
            .map(|h| h.host.workloads.len())
            .sum::<usize>()
    );
    for h in &cluster.hosts {
        let p = program_snapshot(&h.host.ns.as_ref(), &h.node, snapshot.clone());
        let t = dataplane::policy::render::render(&p.host_policy);
        println!(
            "  {} ({}, netns {}): {} workloads; nftables table calico: {} chains, {} rules, {} sets",
            h.node,
            h.address,
            h.host.ns.name(),
            h.host.workloads.len(),
            t.chains.len(),
            t.chains.values().map(|c| c.rules.len()).sum::<usize>(),
            t.sets.len()
        );
        for w in &h.host.workloads {
            println!("    {}/{} {} on {}", w.namespace, w.name, w.ip, w.iface);
        }
    }
    let all: Vec<_> = cluster
        .hosts
        .iter()
        .flat_map(|h| h.host.workloads.iter())
        .collect();
    let _servers: Vec<Servers> = all
        .iter()
        .map(|w| Servers::start(&w.ns.as_ref(), &[80, 5432], &[]))
        .collect::<std::io::Result<_>>()?;
    let evaluator = Evaluator::new(&snapshot);
    let mut agree = true;
    println!("\nreal traffic between workloads (kernel result, and what Calico policy says):");
    for from in &all {
        for to in &all {
            if from.name == to.name && from.namespace == to.namespace {
                continue;
            }
            let mut cells = Vec::new();
            for (what, packet, real) in [
                (
                    "tcp/80",
                    Packet::tcp(from.ip, 40000, to.ip, 80),
                    probe::tcp(&from.ns.as_ref(), to.ip, 80),
                ),
                (
                    "tcp/5432",
                    Packet::tcp(from.ip, 40000, to.ip, 5432),
                    probe::tcp(&from.ns.as_ref(), to.ip, 5432),
                ),
                (
                    "ping",
                    Packet::icmp(from.ip, to.ip, 8, 0),
                    probe::ping(&from.ns.as_ref(), to.ip),
                ),
            ] {
                let want = evaluator
                    .allowed(
                        &packet,
                        &Peer::workload(&from.namespace, &from.name),
                        &Peer::workload(&to.namespace, &to.name),
                    )
                    .allowed;
                agree &= want == real;
                let mark = if real { "ok" } else { "--" };
                let note = if want == real {
                    ""
                } else {
                    " (policy disagrees!)"
                };
                cells.push(format!("{what} {mark}{note}"));
            }
            println!(
                "  {:<32} -> {:<32} {}",
                format!("{}/{}", from.namespace, short(&from.name)),
                format!("{}/{}", to.namespace, short(&to.name)),
                cells.join("  ")
            );
        }
    }
    println!(
        "\n{}",
        if agree {
            "every probe matched Calico's policy"
        } else {
            "MISMATCH between the kernel and Calico's policy"
        }
    );
    Ok(agree)
}

/// `demo--a-k8s-frontend-eth0` → `frontend`.
fn short(wep: &str) -> &str {
    wep.split("-k8s-")
        .nth(1)
        .and_then(|s| s.strip_suffix("-eth0"))
        .unwrap_or(wep)
}
