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
    /// Set NEXT_HOP to `local_address` also towards this iBGP peer (done for eBGP unless
    /// `next_hop_unchanged`).
    pub next_hop_self: bool,
    /// Never rewrite NEXT_HOP towards this peer, even over eBGP (`next hop keep`); routes
    /// without a next hop still get ours.
    pub next_hop_unchanged: bool,
    /// The AS we present to this peer instead of [`RibConfig::local_as`](super::RibConfig).
    pub local_as: Option<u32>,
    /// Our CLUSTER_ID when reflecting routes to this peer, instead of the RIB's.
    pub cluster_id: Option<Ipv4Addr>,
    /// Embedder-chosen export policy tag: the key of the update group's export filter in
    /// [`Policy::export`](super::Policy::export), also
    /// [`GroupKey::export_policy`](super::GroupKey::export_policy). Peers with the same tag
    /// and rewriting share an update group.
    pub export_policy: u32,
}

impl PeerConfig {
    /// A peer with default settings: no reflection, next hop rewritten as RFC 4271 says, our
    /// AS and cluster ID, export policy 0.
    pub fn new(
        id: PeerId,
        address: IpAddr,
        local_address: IpAddr,
        asn: u32,
        router_id: Ipv4Addr,
    ) -> Self {
        Self {
            id,
            address,
            local_address,
            local_ipv6_next_hop: None,
            asn,
            router_id,
            route_reflector_client: false,
            next_hop_self: false,
            next_hop_unchanged: false,
            local_as: None,
            cluster_id: None,
            export_policy: 0,
        }
    }

    /// Whether this is an iBGP peer, given our AS (unless this peer has its own).
    pub fn is_internal(&self, local_as: u32) -> bool {
        self.asn == self.local_as.unwrap_or(local_as)
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
