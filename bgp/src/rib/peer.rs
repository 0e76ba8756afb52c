//! Peer descriptors: who a route came from and how routes are rewritten towards a peer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use crate::codec::CodecContext;

/// The embedder's name for a peer. `u32::MAX` is reserved for locally originated routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

impl PeerId {
    /// The source id of routes the embedder originates.
    pub(crate) const LOCAL: PeerId = PeerId(u32::MAX);
}

/// A peer as the RIB needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub id: PeerId,
    /// The peer's address (last best-path tie-breaker).
    pub address: IpAddr,
    /// Our address on this session: the NEXT_HOP we announce with next-hop-self.
    pub local_address: IpAddr,
    /// Our IPv6 next hop for IPv6 routes when the session runs over IPv4 (with an IPv6
    /// `local_address` that address is used).
    pub local_ipv6_next_hop: Option<Ipv6Addr>,
    pub asn: u32,
    /// The peer's BGP Identifier (from its OPEN).
    pub router_id: Ipv4Addr,
    /// We reflect routes to this peer as a route-reflector client (RFC 4456); iBGP only.
    pub route_reflector_client: bool,
    /// Set NEXT_HOP to `local_address` also towards this iBGP peer (always done for eBGP).
    pub next_hop_self: bool,
    /// Embedder-chosen export policy tag, seen by
    /// [`RibPolicy::export`](super::RibPolicy::export) as
    /// [`GroupKey::export_policy`](super::GroupKey::export_policy). Peers with the same tag
    /// and rewriting share an update group.
    pub export_policy: u32,
}

impl PeerConfig {
    /// Whether this is an iBGP peer, given our AS.
    pub fn is_internal(&self, local_as: u32) -> bool {
        self.asn == local_as
    }
}

/// What the RIB keeps per peer.
#[derive(Debug, Clone)]
pub(crate) struct PeerState {
    pub config: PeerConfig,
    pub internal: bool,
    /// Routes currently in this peer's Adj-RIB-In (stale ones included).
    pub route_count: usize,
    /// Session up and member of an update group.
    pub established: Option<CodecContext>,
    /// Graceful restart in progress: stale routes are swept at this instant.
    pub restart_deadline: Option<Instant>,
}
