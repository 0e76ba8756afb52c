//! A peer record → the session BIRD is configured with, for one node and one address family
//! (confd's `buildPeerFromData`, `confd/pkg/backends/calico/bgp_processor.go`, and the
//! `protocol bgp` blocks of `bird.cfg.template`).

use std::net::{IpAddr, Ipv4Addr};

use super::explicit::PeerRecord;
use super::session::{NextHop, Session, SessionKind, go_ip_string, protocol_name, round_seconds};
use crate::resources::{NextHopMode, SourceAddress};

/// The node a session is rendered for, in one family.
pub(super) struct LocalSide {
    /// The node's address in this family.
    pub ip: IpAddr,
    pub as_number: u32,
    pub cluster_id: Option<Ipv4Addr>,
}

/// The session of `record` (global or node scope), or none when it points at this node itself.
pub(super) fn session(
    local: &LocalSide,
    kind: SessionKind,
    record: &PeerRecord<'_>,
) -> Option<Session> {
    if record.ip == local.ip {
        return None;
    }
    let effective_local_as = record.local_as.unwrap_or(local.as_number);
    // This node reflects to an iBGP peer that is not a reflector of its own cluster.
    let rr_cluster_id = local
        .cluster_id
        .filter(|own| record.as_number == effective_local_as && record.rr_cluster_id != Some(*own));
    let next_hop = match record.next_hop_mode {
        Some(NextHopMode::SelfHop) => Some(NextHop::SelfHop),
        Some(NextHopMode::Keep) => Some(NextHop::Keep),
        Some(NextHopMode::Auto) | None => (record.keep_next_hop
            && record.as_number != effective_local_as)
            .then_some(NextHop::Keep),
    };
    // Of two Calico nodes peered through a global BGPPeer, the one with the greater address
    // (compared as text, as confd does) waits for the other to connect.
    let passive = kind == SessionKind::Global
        && record.calico_node
        && go_ip_string(record.ip) > go_ip_string(local.ip);
    Some(Session {
        name: protocol_name(kind, record.ip, record.port),
        kind,
        ip: record.ip,
        port: record.port,
        as_number: record.as_number,
        local_as: record.local_as,
        effective_local_as,
        passive,
        rr_client: rr_cluster_id.is_some(),
        rr_cluster_id,
        password: record.password.cloned(),
        source_address: match record.source_address {
            SourceAddress::UseNodeIP => Some(local.ip),
            SourceAddress::None => None,
        },
        graceful_restart_time: record.restart_time.and_then(round_seconds),
        keepalive_time: record.keepalive_time.and_then(round_seconds),
        next_hop,
        ttl_security: record.ttl_security,
        allow_local_as: record.allow_local_as,
        reachable_by: record.reachable_by,
        filters: record.filters.to_vec(),
    })
}
