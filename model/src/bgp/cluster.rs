//! The facts confd reads from the resources, per node and cluster-wide: what libcalico-go's
//! BGP syncer turns Nodes and BGPConfigurations into (`/calico/bgp/v1/host/<node>/ip_addr_v4`,
//! `as_num`, `rr_cluster_id`, the listen ports, the global AS and mesh switch).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::resources::{
    BGPConfiguration, BGPPeer, DEFAULT_AS_NUMBER, Duration, IPPool, Node, Resource,
    SecretKeySelector,
};
use crate::selector::Selector;

/// The resources BGP sessions and exports are computed from. Borrowed, so a caller holding
/// them in any collection can pass them without copying.
#[derive(Clone, Debug, Default)]
pub struct BgpInputs<'a> {
    /// Every Node of the cluster.
    pub nodes: Vec<&'a Node>,
    /// Every BGPPeer.
    pub peers: Vec<&'a BGPPeer>,
    /// The BGPConfigurations: `default` and any `node.<name>`.
    pub configs: Vec<&'a BGPConfiguration>,
    /// Every IPPool (for the export policy).
    pub pools: Vec<&'a IPPool>,
}

impl<'a> BgpInputs<'a> {
    /// Picks the Nodes, BGPPeers, BGPConfigurations and IPPools out of `resources`.
    pub fn from_resources(resources: impl IntoIterator<Item = &'a Resource>) -> BgpInputs<'a> {
        let mut inputs = BgpInputs::default();
        for r in resources {
            match r {
                Resource::Node(n) => inputs.nodes.push(n),
                Resource::BGPPeer(p) => inputs.peers.push(p),
                Resource::BGPConfiguration(c) => inputs.configs.push(c),
                Resource::IPPool(p) => inputs.pools.push(p),
                _ => {}
            }
        }
        inputs
    }
}

/// One node as confd sees it.
pub(super) struct NodeFacts<'a> {
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// The node's own AS (`None`: the cluster's).
    pub as_number: Option<u32>,
    /// Set when the node is a route reflector. confd compares the text; an ID that is not an
    /// IPv4 address (which validation refuses) counts as none.
    pub cluster_id: Option<Ipv4Addr>,
}

impl NodeFacts<'_> {
    pub fn address(&self, v6: bool) -> Option<IpAddr> {
        match v6 {
            false => self.ipv4.map(IpAddr::V4),
            true => self.ipv6.map(IpAddr::V6),
        }
    }
}

/// Everything cluster-wide, with the nodes sorted by name.
pub(super) struct Cluster<'a> {
    pub nodes: Vec<NodeFacts<'a>>,
    /// `asNumber` of BGPConfiguration `default`, else 64512.
    pub global_as: u32,
    /// `listenPort` of `default` (when not 0).
    pub global_listen_port: Option<u16>,
    /// `listenPort` of `node.<name>` (when not 0), by node name.
    pub node_listen_ports: BTreeMap<&'a str, u16>,
    pub mesh_enabled: bool,
    pub mesh_password: Option<&'a SecretKeySelector>,
    pub mesh_restart_time: Option<Duration>,
    pub bind_to_node_ip: bool,
}

/// Prefix of per-node BGPConfiguration names.
const NODE_CONFIG_PREFIX: &str = "node.";

impl<'a> Cluster<'a> {
    pub fn new(inputs: &BgpInputs<'a>) -> Cluster<'a> {
        let mut nodes: Vec<NodeFacts<'a>> = inputs
            .nodes
            .iter()
            .map(|n| {
                let bgp = n.spec.bgp.as_ref();
                NodeFacts {
                    name: &n.metadata.name,
                    labels: &n.metadata.labels,
                    ipv4: bgp.and_then(|b| b.ipv4()),
                    ipv6: bgp.and_then(|b| b.ipv6()),
                    as_number: bgp.and_then(|b| b.as_number).map(|a| a.get()),
                    cluster_id: bgp
                        .filter(|b| b.is_route_reflector())
                        .and_then(|b| b.route_reflector_cluster_id.parse().ok()),
                }
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(b.name));
        nodes.dedup_by(|later, earlier| later.name == earlier.name);

        let default = inputs
            .configs
            .iter()
            .find(|c| c.metadata.name == "default")
            .map(|c| &c.spec);
        let node_listen_ports = inputs
            .configs
            .iter()
            .filter_map(|c| {
                let node = c.metadata.name.strip_prefix(NODE_CONFIG_PREFIX)?;
                let port = c.spec.listen_port.filter(|p| *p != 0)?;
                Some((node, port))
            })
            .collect();
        Cluster {
            nodes,
            global_as: default
                .and_then(|d| d.as_number)
                .map_or(DEFAULT_AS_NUMBER, |a| a.get()),
            global_listen_port: default.and_then(|d| d.listen_port).filter(|p| *p != 0),
            node_listen_ports,
            mesh_enabled: default.is_none_or(|d| d.node_to_node_mesh_enabled()),
            mesh_password: default
                .and_then(|d| d.node_mesh_password.as_ref())
                .and_then(|p| p.secret_key_ref.as_ref()),
            mesh_restart_time: default.and_then(|d| d.node_mesh_max_restart_time),
            bind_to_node_ip: default.and_then(|d| d.bind_mode)
                == Some(crate::resources::BindMode::NodeIP),
        }
    }

    pub fn node(&self, name: &str) -> Option<&NodeFacts<'a>> {
        self.nodes
            .binary_search_by(|n| n.name.cmp(name))
            .ok()
            .map(|i| &self.nodes[i])
    }

    /// A node's AS: its own, else the cluster's.
    pub fn as_of(&self, node: &NodeFacts<'_>) -> u32 {
        node.as_number.unwrap_or(self.global_as)
    }

    /// The port `node` listens on: its `node.<name>` listenPort, else the cluster's.
    pub fn listen_port_of(&self, node: &str) -> Option<u16> {
        self.node_listen_ports
            .get(node)
            .copied()
            .or(self.global_listen_port)
    }

    /// The nodes whose labels `selector` matches, by name. A selector that does not parse
    /// matches none (validation refuses it before it is stored).
    pub fn nodes_matching(&self, selector: &str) -> Vec<&NodeFacts<'a>> {
        match Selector::parse(selector) {
            Ok(s) => self.nodes.iter().filter(|n| s.matches(n.labels)).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Whether some node has `ip` as its IPv4 or IPv6 address (confd's "calico node" peers).
    pub fn is_node_address(&self, ip: IpAddr) -> bool {
        self.nodes
            .iter()
            .any(|n| n.address(false) == Some(ip) || n.address(true) == Some(ip))
    }

    /// The nodes a `peerIP` peering reaches (confd's `nodesWithIPPortAndAS`): those with `ip`
    /// as an address, whose AS (their own, else the cluster's) is `as_number` (the cluster's
    /// when unset), and, when the peering names a port, that listen on it. confd compares the
    /// port with the node's own listenPort and then again with the cluster's even when the
    /// node's matched; here the node's effective port (its own, else the cluster's) decides.
    pub fn nodes_at(
        &self,
        ip: IpAddr,
        as_number: Option<u32>,
        port: Option<u16>,
    ) -> Vec<&NodeFacts<'a>> {
        let wanted_as = as_number.unwrap_or(self.global_as);
        self.nodes
            .iter()
            .filter(|n| n.address(false) == Some(ip) || n.address(true) == Some(ip))
            .filter(|n| self.as_of(n) == wanted_as)
            .filter(|n| match (port, self.listen_port_of(n.name)) {
                (Some(wanted), Some(listening)) => wanted == listening,
                _ => true,
            })
            .collect()
    }
}
