//! The node-to-node mesh: a session to every other node with an address in the family, unless
//! the mesh is off, this node is a route reflector, or the other node is one
//! (`processMeshPeers` in `confd/pkg/backends/calico/bgp_processor.go`).

use std::collections::BTreeSet;

use super::cluster::Cluster;
use super::render::LocalSide;
use super::session::{Session, SessionKind, go_ip_string, protocol_name, round_seconds};

/// The mesh sessions of the node `local_name`, whose side is `local`, in family `v6`.
pub(super) fn sessions(
    cluster: &Cluster<'_>,
    local_name: &str,
    local: &LocalSide,
    v6: bool,
) -> Vec<Session> {
    if !cluster.mesh_enabled || local.cluster_id.is_some() {
        return Vec::new();
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for node in &cluster.nodes {
        let Some(ip) = node.address(v6) else {
            continue;
        };
        if node.name == local_name || ip == local.ip || node.cluster_id.is_some() {
            continue;
        }
        let name = protocol_name(SessionKind::Mesh, ip, None);
        // Two nodes with one address would give BIRD two protocols of one name; the first
        // node (by name) keeps it.
        if !names.insert(name.clone()) {
            continue;
        }
        out.push(Session {
            name,
            kind: SessionKind::Mesh,
            ip,
            port: cluster.listen_port_of(node.name),
            as_number: cluster.as_of(node),
            local_as: None,
            effective_local_as: local.as_number,
            // One side connects, the other (the greater address as text) waits: both sides
            // connecting would let a second connection abort a graceful restart.
            passive: go_ip_string(ip) > go_ip_string(local.ip),
            rr_client: false,
            rr_cluster_id: None,
            password: cluster.mesh_password.cloned(),
            source_address: Some(local.ip),
            graceful_restart_time: cluster.mesh_restart_time.and_then(round_seconds),
            keepalive_time: None,
            next_hop: None,
            ttl_security: None,
            allow_local_as: None,
            reachable_by: None,
            filters: Vec::new(),
        });
    }
    out
}
