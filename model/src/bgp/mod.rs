//! One node's BGP sessions and exports, computed from the resources exactly as Calico's confd
//! computes them for BIRD (`confd/pkg/backends/calico/client.go`, `bgp_processor.go`, and the
//! templates `confd/etc/calico/confd/templates/bird.cfg.template` and `bird_ipam.cfg.template`).
//! Checked against confd's own test vectors (`model/tests/bgp_peerings_confd.rs`).
//!
//! [`peerings`] gives the sessions of one node per address family:
//! - **Mesh** (BGPConfiguration `default`, `nodeToNodeMeshEnabled`, on by default): a session to
//!   every other node with an address of the family, at the peer's AS (its own, else the
//!   cluster's) and listen port. Route reflectors take no part: a node with
//!   `routeReflectorClusterID` has no mesh sessions and no node has a mesh session with it.
//!   Of the two sides of a mesh session the one with the greater address (compared as text,
//!   as confd does: `10.0.0.10` < `10.0.0.2`) is passive.
//! - **Global** BGPPeers (neither `node` nor `nodeSelector`) apply to every node, **node**
//!   BGPPeers to the node named or selected. `peerIP` (`ip`, `v4:port`, `[v6]:port`) gives one
//!   session in its family; `peerSelector` one per selected node and family, at that node's AS,
//!   listen port and cluster ID. A `peerIP` that is a Calico node's address without a port
//!   gets that node's listen port, and on a global peering the side with the greater address
//!   is passive. Unless `reversePeering: Manual`, a node that a BGPPeer reaches (by
//!   `peerSelector`, or by `peerIP` with the node's AS and port) peers back with the nodes the
//!   BGPPeer applies to (a `Node_` session).
//! - One session per address and port in each scope: a global peering beats a node one to the
//!   same address and port, a forward peering beats a reverse one, and of two BGPPeers with the
//!   same address the one whose name sorts first wins. Mesh and explicit sessions to the same
//!   address are both kept, as confd keeps them. A session to the node's own address is left
//!   out, and a family in which the node has no address has no sessions.
//! - Route reflection: a node with a cluster ID treats an iBGP peer (the peer's AS equal to the
//!   AS it presents) that has no cluster ID, or another, as its client. A `peerIP` peer has no
//!   cluster ID, so two reflectors of one cluster peered by address are each other's clients.
//! - Per session: `localASNumber`, `numAllowedLocalASNumbers` and the deprecated
//!   `keepOriginalNextHop` (eBGP only) come from `peerIP` BGPPeers only, as in confd;
//!   `nextHopMode`, `password`, `sourceAddress` (default `UseNodeIP`), `maxRestartTime`,
//!   `keepaliveTime`, `ttlSecurity`, `reachableBy` and `filters` from any BGPPeer. The mesh
//!   takes its password and restart time from `nodeMeshPassword` and
//!   `nodeMeshMaxRestartTime`. Passwords stay references to a Secret key.
//!
//! Not modelled: `localWorkloadSelector` peerings (sessions with workloads); BGPFilter contents
//! (sessions carry the filter names).
//!
//! [`export_policy`] gives the export filter the IP pools define and [`workload_routes`] the
//! routes a node originates.

mod cluster;
mod explicit;
mod export;
mod mesh;
mod render;
mod session;

pub use cluster::BgpInputs;
pub use export::{
    ExportAction, ExportPolicy, ExportRule, FamilyExport, export_policy, workload_routes,
};
pub use session::{
    NextHop, Password, PeeringError, PeeringOptions, Peerings, RouterIdSource, Session,
    SessionKind, go_ip_string,
};

use cluster::Cluster;
use render::LocalSide;

/// The BGP sessions of node `node_name`, from `inputs`.
pub fn peerings(
    node_name: &str,
    inputs: &BgpInputs<'_>,
    options: PeeringOptions,
) -> Result<Peerings, PeeringError> {
    let cluster = Cluster::new(inputs);
    let node = cluster
        .node(node_name)
        .ok_or_else(|| PeeringError::UnknownNode(node_name.to_owned()))?;
    let as_number = cluster.as_of(node);
    let records = explicit::records(&cluster, &inputs.peers, node_name);

    let family = |v6: bool| -> Vec<Session> {
        let Some(ip) = node.address(v6) else {
            return Vec::new();
        };
        let local = LocalSide {
            ip,
            as_number,
            cluster_id: node.cluster_id,
        };
        let mut sessions = mesh::sessions(&cluster, node_name, &local, v6);
        let scoped = [
            (SessionKind::Global, &records.global),
            (SessionKind::Node, &records.node),
        ];
        for (kind, map) in scoped {
            sessions.extend(
                map.values()
                    .filter(|r| r.ip.is_ipv6() == v6)
                    .filter_map(|r| render::session(&local, kind, r)),
            );
        }
        sessions.sort_by(|a, b| a.name.cmp(&b.name));
        sessions
    };

    Ok(Peerings {
        node: node_name.to_owned(),
        router_id: match options.router_id {
            RouterIdSource::NodeAddress => node.ipv4,
            RouterIdSource::Hash => Some(session::hashed_router_id(node_name)),
            RouterIdSource::Fixed(id) => Some(id),
        },
        as_number,
        listen_port: cluster.listen_port_of(node_name),
        listen_addresses: match cluster.bind_to_node_ip {
            true => [node.address(false), node.address(true)]
                .into_iter()
                .flatten()
                .collect(),
            false => Vec::new(),
        },
        route_reflector_cluster_id: node.cluster_id,
        v4: family(false),
        v6: family(true),
    })
}
