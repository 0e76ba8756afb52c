//! Per-peer settings. The FSM uses what is its business (ASes, hold and retry times, passive,
//! families, graceful restart and its R/F bits, add-path); the rest is kept here for the driver (address, port,
//! password, TTL security, source address) and the RIB (next-hop handling, route reflection).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::codec::{AddPathFamily, FamilySet};

/// Who we are, for every session of this speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalSpeaker {
    pub asn: u32,
    /// Our BGP identifier (router ID); must not be 0.0.0.0.
    pub router_id: Ipv4Addr,
}

/// What to do with the NEXT_HOP of routes sent to this peer (for the RIB's export).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NextHopMode {
    /// RFC 4271 rules: ours towards eBGP peers, unchanged towards iBGP peers.
    #[default]
    Default,
    /// Always our own address (`next hop self`).
    SelfAddress,
    /// Never changed, even towards eBGP peers (`next hop keep`).
    Keep,
}

/// Settings of one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub address: IpAddr,
    /// TCP port of the peer; 179 by default.
    pub port: u16,
    pub peer_as: u32,
    /// The AS we present to this peer instead of [`LocalSpeaker::asn`].
    pub local_as: Option<u32>,
    /// Hold time we propose; 0 (no keepalives) or at least 3 seconds.
    pub hold_time: u16,
    /// Seconds between our KEEPALIVEs (BIRD's `keepalive time`); at most a third of the
    /// negotiated hold time, which is also the default (`None` or 0; RFC 4271 §10).
    pub keepalive_time: Option<u16>,
    pub connect_retry_time: Duration,
    /// How long to wait in Idle before starting again after an error (RFC 4271 IdleHoldTimer).
    pub idle_hold_time: Duration,
    /// Never open a connection; wait for the peer in Active.
    pub passive: bool,
    /// TCP MD5 signature key (RFC 2385), applied by the driver's transport.
    pub password: Option<String>,
    /// GTSM (RFC 5082): the peer is at most this many hops away.
    pub ttl_security_hops: Option<u8>,
    pub source_address: Option<IpAddr>,
    pub next_hop: NextHopMode,
    pub route_reflector_client: bool,
    /// Our cluster ID when reflecting routes to/from this peer.
    pub cluster_id: Option<Ipv4Addr>,
    /// Advertise graceful restart with this restart time (seconds, at most 4095).
    pub graceful_restart_time: Option<u16>,
    /// With graceful restart: set the Forwarding State (F) bit of every family we offer
    /// (RFC 4724 §3), telling the peer that our forwarding state survives a restart of this
    /// speaker, so it keeps our routes until our End-of-RIB instead of flushing them when the
    /// new session comes up. True when routes stay in the kernel while the process is down.
    pub forwarding_preserved: bool,
    /// With graceful restart: set the Restart State (R) bit (RFC 4724 §4.1): this process
    /// has just restarted. The session clears it once a connection reaches Established, so
    /// later reconnections in the same process do not claim a restart.
    pub restarting: bool,
    /// Address families we offer (Multiprotocol capability).
    pub families: FamilySet,
    /// ADD-PATH modes we offer, per family.
    pub add_path: Vec<AddPathFamily>,
}

impl PeerConfig {
    /// Defaults from RFC 4271 §10: hold time 90 s, connect retry 120 s; IPv4 unicast only.
    pub fn new(address: IpAddr, peer_as: u32) -> Self {
        Self {
            address,
            port: 179,
            peer_as,
            local_as: None,
            hold_time: 90,
            keepalive_time: None,
            connect_retry_time: Duration::from_secs(120),
            idle_hold_time: Duration::from_secs(5),
            passive: false,
            password: None,
            ttl_security_hops: None,
            source_address: None,
            next_hop: NextHopMode::Default,
            route_reflector_client: false,
            cluster_id: None,
            graceful_restart_time: None,
            forwarding_preserved: false,
            restarting: false,
            families: FamilySet::IPV4_UNICAST,
            add_path: Vec::new(),
        }
    }

    /// The AS we present to this peer.
    pub fn local_as(&self, speaker: &LocalSpeaker) -> u32 {
        self.local_as.unwrap_or(speaker.asn)
    }

    /// Whether the session is internal (iBGP): the peer is in the AS we present to it.
    pub fn is_internal(&self, speaker: &LocalSpeaker) -> bool {
        self.peer_as == self.local_as(speaker)
    }
}
