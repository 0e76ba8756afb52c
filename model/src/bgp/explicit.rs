//! BGPPeers → the peer records confd keeps (`/calico/bgp/v1/global/peer_v4/<ip>[-<port>]` for
//! every node, `/calico/bgp/v1/host/<node>/peer_v4/...` for one), as
//! `confd/pkg/backends/calico/client.go` (`updatePeersV1`) computes them, for one node.
//!
//! Three passes over the BGPPeers, in name order:
//! 1. global BGPPeers (no `node`, no `nodeSelector`): a record for every node;
//! 2. the others, for the nodes their `node` / `nodeSelector` picks;
//! 3. reverse peerings (unless `reversePeering: Manual`): a node that a BGPPeer's
//!    `peerIP` (with its AS and port) or `peerSelector` reaches gets a record towards each node
//!    the BGPPeer applies to, so that both sides of a node-to-node peering are configured.
//!
//! One record per peer address and port in each scope; the first one written wins, so a
//! BGPPeer's forward peering beats a reverse one, and a node-scoped record is dropped when a
//! global one exists for the same address and port. (confd walks the BGPPeers in Go map order,
//! so which of two BGPPeers with the same address wins is unspecified there; here the one whose
//! name sorts first.)

use std::collections::HashMap;
use std::net::IpAddr;

use super::cluster::{Cluster, NodeFacts};
use crate::resources::{
    BGPPeer, Duration, NextHopMode, ReversePeering, SecretKeySelector, SourceAddress,
};

/// One peer record: what confd stores for a peering before rendering it.
#[derive(Clone, Debug)]
pub(super) struct PeerRecord<'a> {
    pub ip: IpAddr,
    pub port: Option<u16>,
    pub as_number: u32,
    pub local_as: Option<u32>,
    /// The peer node's cluster ID (peerings built from a node; none for a `peerIP`).
    pub rr_cluster_id: Option<std::net::Ipv4Addr>,
    pub password: Option<&'a SecretKeySelector>,
    pub source_address: SourceAddress,
    pub restart_time: Option<Duration>,
    pub keepalive_time: Option<Duration>,
    /// Deprecated `keepOriginalNextHop` (applies to eBGP sessions only).
    pub keep_next_hop: bool,
    pub next_hop_mode: Option<NextHopMode>,
    /// The `peerIP` is some Calico node's address.
    pub calico_node: bool,
    pub allow_local_as: Option<u32>,
    pub ttl_security: Option<u8>,
    pub reachable_by: Option<IpAddr>,
    pub filters: &'a [String],
}

/// A record's key within its scope.
type Key = (IpAddr, Option<u16>);

/// The records that apply to one node: the global ones and its own.
#[derive(Default)]
pub(super) struct Records<'a> {
    pub global: HashMap<Key, PeerRecord<'a>>,
    pub node: HashMap<Key, PeerRecord<'a>>,
}

impl<'a> Records<'a> {
    fn emit_global(&mut self, r: PeerRecord<'a>) {
        self.global.entry((r.ip, r.port)).or_insert(r);
    }

    fn emit_node(&mut self, r: PeerRecord<'a>) {
        let key = (r.ip, r.port);
        if !self.global.contains_key(&key) {
            self.node.entry(key).or_insert(r);
        }
    }
}

/// The records node `local` receives from `peers`.
pub(super) fn records<'a>(
    cluster: &Cluster<'_>,
    peers: &[&'a BGPPeer],
    local: &str,
) -> Records<'a> {
    let mut sorted: Vec<&'a BGPPeer> = peers.to_vec();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut out = Records::default();
    for p in sorted.iter().filter(|p| p.spec.is_global()) {
        forward(cluster, p)
            .into_iter()
            .for_each(|r| out.emit_global(r));
    }
    for p in sorted.iter().filter(|p| !p.spec.is_global()) {
        if applies_to(cluster, p, local) {
            forward(cluster, p)
                .into_iter()
                .for_each(|r| out.emit_node(r));
        }
    }
    for p in &sorted {
        reverse(cluster, p, local)
            .into_iter()
            .for_each(|r| out.emit_node(r));
    }
    out
}

/// Whether a non-global BGPPeer applies to node `local` (`node`, else `nodeSelector`).
fn applies_to(cluster: &Cluster<'_>, p: &BGPPeer, local: &str) -> bool {
    if !p.spec.node_selector.is_empty() {
        cluster
            .nodes_matching(&p.spec.node_selector)
            .iter()
            .any(|n| n.name == local)
    } else {
        p.spec.node == local
    }
}

/// The peer records a BGPPeer gives the nodes it applies to.
fn forward<'a>(cluster: &Cluster<'_>, p: &'a BGPPeer) -> Vec<PeerRecord<'a>> {
    let spec = &p.spec;
    let mut records = if !spec.peer_selector.is_empty() {
        cluster
            .nodes_matching(&spec.peer_selector)
            .into_iter()
            .flat_map(|n| node_as_peers(cluster, n, true, true, p))
            .collect()
    } else {
        match peer_ip_record(cluster, p) {
            Some(r) => vec![r],
            None => Vec::new(),
        }
    };
    records.iter_mut().for_each(|r| set_common_fields(r, p));
    records
}

/// The record of a `peerIP` BGPPeer; none when `peerIP` is unset or malformed, or when
/// `reachableBy` is malformed or of the other family (confd skips such a BGPPeer).
fn peer_ip_record<'a>(cluster: &Cluster<'_>, p: &'a BGPPeer) -> Option<PeerRecord<'a>> {
    let spec = &p.spec;
    let (ip, mut port) = spec.peer_address()?;
    let peer_as = spec.as_number.map(|a| a.get());
    if port.is_none() {
        // A Calico node reached without a port is reached on the port it listens on.
        if let Some(n) = cluster.nodes_at(ip, peer_as, None).first() {
            port = cluster.listen_port_of(n.name);
        }
    }
    let reachable_by = match spec.reachable_by.as_str() {
        "" => None,
        text => {
            let gw: IpAddr = text.parse().ok()?;
            if gw.is_ipv4() != ip.is_ipv4() {
                return None;
            }
            Some(gw)
        }
    };
    Some(PeerRecord {
        ip,
        port,
        // confd writes an unset asNumber as AS 0, which BIRD refuses; the cluster's AS is
        // what `nodesWithIPPortAndAS` takes it to mean, and what is used here.
        as_number: peer_as.unwrap_or(cluster.global_as),
        local_as: spec.local_as_number.map(|a| a.get()),
        rr_cluster_id: None,
        password: None,
        source_address: SourceAddress::UseNodeIP,
        restart_time: None,
        keepalive_time: None,
        keep_next_hop: spec.keep_original_next_hop,
        next_hop_mode: None,
        calico_node: cluster.is_node_address(ip),
        allow_local_as: spec
            .num_allowed_local_as_numbers
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0),
        ttl_security: spec.ttl_security.filter(|t| *t > 0),
        reachable_by,
        filters: &[],
    })
}

/// A node as the peer of a selector peering: one record per address family asked for that
/// the node has an address in, with the node's AS, cluster ID and listen port (confd's
/// `nodeAsBGPPeers`).
fn node_as_peers<'a>(
    cluster: &Cluster<'_>,
    node: &NodeFacts<'_>,
    v4: bool,
    v6: bool,
    p: &'a BGPPeer,
) -> Vec<PeerRecord<'a>> {
    let families = [(v4, false), (v6, true)];
    families
        .into_iter()
        .filter(|(wanted, _)| *wanted)
        .filter_map(|(_, is_v6)| node.address(is_v6))
        .map(|ip| PeerRecord {
            ip,
            port: cluster.listen_port_of(node.name),
            as_number: cluster.as_of(node),
            local_as: None,
            rr_cluster_id: node.cluster_id,
            password: None,
            source_address: SourceAddress::UseNodeIP,
            restart_time: None,
            keepalive_time: None,
            keep_next_hop: false,
            next_hop_mode: None,
            calico_node: false,
            allow_local_as: None,
            ttl_security: p.spec.ttl_security.filter(|t| *t > 0),
            reachable_by: p.spec.reachable_by.parse().ok(),
            filters: &[],
        })
        .collect()
}

/// What every record of a BGPPeer takes from it, however it was built (confd's
/// `setPeerConfigFieldsFromV3Resource`).
fn set_common_fields<'a>(r: &mut PeerRecord<'a>, p: &'a BGPPeer) {
    let spec = &p.spec;
    r.password = spec
        .password
        .as_ref()
        .and_then(|pw| pw.secret_key_ref.as_ref());
    r.source_address = spec.source_address_or_default();
    r.restart_time = spec.max_restart_time;
    r.keepalive_time = spec.keepalive_time;
    r.next_hop_mode = spec.next_hop_mode;
    r.filters = &spec.filters;
}

/// The reverse records node `local` gets from a BGPPeer that reaches it.
fn reverse<'a>(cluster: &Cluster<'_>, p: &'a BGPPeer, local: &str) -> Vec<PeerRecord<'a>> {
    let spec = &p.spec;
    if spec.reverse_peering == Some(ReversePeering::Manual) {
        return Vec::new();
    }
    // The nodes the BGPPeer's remote side (peerSelector, or peerIP + AS + port) reaches; a
    // selector reaches them over both families, an address over its own.
    let (reached, v4, v6) = if !spec.peer_selector.is_empty() {
        (cluster.nodes_matching(&spec.peer_selector), true, true)
    } else if let Some((ip, port)) = spec.peer_address() {
        let reached = cluster.nodes_at(ip, spec.as_number.map(|a| a.get()), port);
        (reached, ip.is_ipv4(), ip.is_ipv6())
    } else {
        return Vec::new();
    };
    if !reached.iter().any(|n| n.name == local) {
        return Vec::new();
    }
    // ... peers with the nodes of its local side.
    let peer_nodes = if !spec.node_selector.is_empty() {
        cluster.nodes_matching(&spec.node_selector)
    } else if !spec.node.is_empty() {
        cluster.node(&spec.node).into_iter().collect()
    } else {
        cluster.nodes.iter().collect()
    };
    let mut records: Vec<PeerRecord<'a>> = peer_nodes
        .into_iter()
        .flat_map(|n| node_as_peers(cluster, n, v4, v6, p))
        .collect();
    records.iter_mut().for_each(|r| set_common_fields(r, p));
    records
}
