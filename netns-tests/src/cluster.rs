//! Several hosts on one fabric: a bridge namespace, and per Calico Node a host namespace
//! joined to it with the node's BGP address, carrying the node's WorkloadEndpoints. Routes
//! to other hosts' workloads are programmed by the route reconciler via the other node's
//! address (what the BGP speaker will learn and install).

use std::io;
use std::net::IpAddr;

use dataplane::netns::Netns;
use dataplane::routes::Route;
use ipnet::IpNet;
use model::resources::{Node, Resource, WorkloadEndpoint};

use crate::topology::Host;

/// One host of the cluster.
pub struct ClusterHost {
    pub node: String,
    pub address: IpAddr,
    pub host: Host,
}

/// The fabric and its hosts.
pub struct Cluster {
    pub hosts: Vec<ClusterHost>,
    // Dropped last.
    pub fabric: Netns,
}

/// The first address of a WorkloadEndpoint.
pub fn workload_ip(w: &WorkloadEndpoint) -> Option<IpAddr> {
    w.spec
        .ip_networks
        .iter()
        .find_map(|n| n.parse::<IpNet>().ok().map(|n| n.addr()))
}

/// The Nodes and WorkloadEndpoints among `resources`.
pub fn nodes_and_workloads(resources: &[Resource]) -> (Vec<Node>, Vec<WorkloadEndpoint>) {
    let mut nodes = Vec::new();
    let mut weps = Vec::new();
    for r in resources {
        match r {
            Resource::Node(n) => nodes.push(n.clone()),
            Resource::WorkloadEndpoint(w) => weps.push(w.clone()),
            _ => {}
        }
    }
    (nodes, weps)
}

impl Cluster {
    /// Builds the hosts of `nodes` (those with an IPv4 BGP address) with their workloads.
    pub fn build(prefix: &str, nodes: &[Node], weps: &[WorkloadEndpoint]) -> io::Result<Cluster> {
        let fabric = Netns::create(&format!("{prefix}-fabric"))?;
        fabric.ip(&["link", "add", "br0", "type", "bridge"])?;
        fabric.ip(&["link", "set", "br0", "up"])?;
        let placed: Vec<(&Node, IpAddr, IpNet)> = nodes
            .iter()
            .filter_map(|n| {
                let bgp = n.spec.bgp.as_ref()?;
                Some((n, IpAddr::V4(bgp.ipv4()?), bgp.ipv4_network()?))
            })
            .collect();
        let mut hosts = Vec::new();
        for (i, (node, address, net)) in placed.iter().enumerate() {
            let name = &node.metadata.name;
            let mut host = Host::new(&format!("{prefix}-{i}"))?;
            let far = format!("fab{i}");
            host.ns.ip(&[
                "link", "add", "fabric0", "type", "veth", "peer", "name", &far,
            ])?;
            host.ns.ip(&["link", "set", &far, "netns", fabric.name()])?;
            fabric.ip(&["link", "set", &far, "master", "br0", "up"])?;
            let cidr = format!("{address}/{}", net.prefix_len());
            host.ns.ip(&["addr", "add", &cidr, "dev", "fabric0"])?;
            host.ns.ip(&["link", "set", "fabric0", "up"])?;
            let local: Vec<(String, String, String, String)> = weps
                .iter()
                .filter(|w| &w.spec.node == name)
                .filter_map(|w| {
                    Some((
                        w.metadata.namespace.clone().unwrap_or_default(),
                        w.metadata.name.clone(),
                        w.spec.interface_name.clone(),
                        workload_ip(w)?.to_string(),
                    ))
                })
                .collect();
            let remote: Vec<Route> = weps
                .iter()
                .filter(|w| &w.spec.node != name)
                .filter_map(|w| {
                    let gw = placed
                        .iter()
                        .find(|(n, _, _)| n.metadata.name == w.spec.node)?
                        .1;
                    Some(Route::via(IpNet::from(workload_ip(w)?), gw))
                })
                .collect();
            let specs: Vec<(&str, &str, &str, &str)> = local
                .iter()
                .map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), d.as_str()))
                .collect();
            host.add_workloads(&format!("{prefix}-{i}"), &specs, &remote)?;
            hosts.push(ClusterHost {
                node: name.clone(),
                address: *address,
                host,
            });
        }
        Ok(Cluster { hosts, fabric })
    }
}
