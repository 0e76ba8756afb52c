//! The OPEN exchange: what we offer, how we check the peer's OPEN (RFC 4271 §6.2, RFC 6793),
//! and what both sides agreed on.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::codec::{
    AS_TRANS, AddPathFamily, Capability, CodecContext, FamilySet, GracefulRestart,
    GracefulRestartFamily, Notification, Open, OpenMessageError, PeerKind,
};

use super::config::{LocalSpeaker, PeerConfig};

/// The OPEN we send to `peer`. With graceful restart, the Restart State bit is
/// [`PeerConfig::restarting`] and every family's Forwarding State bit is
/// [`PeerConfig::forwarding_preserved`] (RFC 4724 §3).
pub fn local_open(speaker: &LocalSpeaker, peer: &PeerConfig) -> Open {
    let asn = peer.local_as(speaker);
    let mut caps: Vec<Capability> = peer
        .families
        .iter()
        .map(Capability::Multiprotocol)
        .collect();
    caps.push(Capability::RouteRefresh);
    caps.push(Capability::EnhancedRouteRefresh);
    caps.push(Capability::FourOctetAs(asn));
    if let Some(restart_time) = peer.graceful_restart_time {
        caps.push(Capability::GracefulRestart(GracefulRestart {
            restart_state: peer.restarting,
            notification: false,
            restart_time: restart_time.min(0x0fff),
            families: peer
                .families
                .iter()
                .map(|family| GracefulRestartFamily {
                    family,
                    forwarding_preserved: peer.forwarding_preserved,
                })
                .collect(),
        }));
    }
    if !peer.add_path.is_empty() {
        caps.push(Capability::AddPath(peer.add_path.clone()));
    }
    Open::new(asn, peer.hold_time, speaker.router_id, caps)
}

/// Checks the peer's OPEN against our settings; the error is the NOTIFICATION to send.
/// Version and a zero identifier are already rejected by the decoder; they are checked again
/// here for OPENs built in memory.
pub fn validate_open(
    open: &Open,
    speaker: &LocalSpeaker,
    peer: &PeerConfig,
) -> Result<(), Notification> {
    // RFC 6793 §4.2: a peer with a 4-octet AS sends AS_TRANS in My AS and its AS in the
    // capability; `Open::asn` reads the capability first.
    open.check_peer_as(peer.peer_as)?;
    if open.four_octet_as().is_none() && u32::from(open.my_as) == AS_TRANS {
        return Err(Notification::new(OpenMessageError::BadPeerAs, Vec::new()));
    }
    if open.hold_time == 1 || open.hold_time == 2 {
        return Err(Notification::new(
            OpenMessageError::UnacceptableHoldTime,
            Vec::new(),
        ));
    }
    open.check_bgp_identifier(speaker.router_id, peer.is_internal(speaker))
}

/// The peer's graceful-restart capability (RFC 4724), restricted to negotiated families.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerGracefulRestart {
    pub restart_time: Duration,
    /// The peer restarted and kept its forwarding state (R bit).
    pub restarting: bool,
    /// RFC 8538 N bit.
    pub notification: bool,
    /// Families the peer preserves across a restart, with its forwarding flag for each.
    pub families: Vec<GracefulRestartFamily>,
}

/// What both sides agreed on when the OPENs were exchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub peer_as: u32,
    pub peer_id: Ipv4Addr,
    pub local_as: u32,
    pub internal: bool,
    /// min(ours, theirs); zero means no keepalives and no hold timer.
    pub hold_time: Duration,
    /// The configured keepalive time ([`PeerConfig::keepalive_time`]), at most hold_time / 3
    /// (the default); zero when hold_time is zero.
    pub keepalive_time: Duration,
    /// Families both sides advertised.
    pub families: FamilySet,
    pub four_octet_as: bool,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    pub extended_message: bool,
    /// Present when both sides advertised graceful restart.
    pub graceful_restart: Option<PeerGracefulRestart>,
    pub add_path_receive: FamilySet,
    pub add_path_send: FamilySet,
    /// The context to encode and decode the session's messages with.
    pub codec: CodecContext,
    /// Our end of the connection, when the stream knows it (filled in by the driver).
    pub local_address: Option<std::net::SocketAddr>,
}

/// Our keepalive interval: the configured one, never more than a third of the negotiated hold
/// time (so a KEEPALIVE always comes before the peer's hold timer can expire).
fn keepalive_time(configured: Option<u16>, hold_time: Duration) -> Duration {
    let third = hold_time / 3;
    match configured.filter(|k| *k > 0) {
        Some(k) => Duration::from_secs(u64::from(k)).min(third),
        None => third,
    }
}

impl Negotiated {
    /// Combines our OPEN and the peer's (already validated) OPEN.
    pub fn new(local: &Open, remote: &Open, speaker: &LocalSpeaker, peer: &PeerConfig) -> Self {
        let internal = peer.is_internal(speaker);
        let kind = if internal {
            PeerKind::Internal
        } else {
            PeerKind::External
        };
        let codec = CodecContext::negotiate(local, remote, kind, Some(peer.peer_as));
        let hold_secs = local.hold_time.min(remote.hold_time);
        let hold_time = Duration::from_secs(u64::from(hold_secs));
        let both = |pred: fn(&Capability) -> bool| {
            local.capabilities.iter().any(pred) && remote.capabilities.iter().any(pred)
        };
        let graceful_restart = graceful_restart(local, remote, codec.families);
        Self {
            peer_as: remote.asn(),
            peer_id: remote.bgp_identifier,
            local_as: peer.local_as(speaker),
            internal,
            hold_time,
            keepalive_time: keepalive_time(peer.keepalive_time, hold_time),
            families: codec.families,
            four_octet_as: codec.four_octet_as,
            route_refresh: both(|c| matches!(c, Capability::RouteRefresh)),
            enhanced_route_refresh: both(|c| matches!(c, Capability::EnhancedRouteRefresh)),
            extended_message: codec.extended_message,
            graceful_restart,
            add_path_receive: codec.add_path_receive,
            add_path_send: codec.add_path_send,
            codec,
            local_address: None,
        }
    }

    /// ADD-PATH modes in effect for each family, as (family, receive, send).
    pub fn add_path(&self) -> Vec<AddPathFamily> {
        use crate::codec::AddPathMode;
        self.families
            .iter()
            .filter_map(|family| {
                let mode = match (
                    self.add_path_receive.contains(family),
                    self.add_path_send.contains(family),
                ) {
                    (true, true) => AddPathMode::Both,
                    (true, false) => AddPathMode::Receive,
                    (false, true) => AddPathMode::Send,
                    (false, false) => return None,
                };
                Some(AddPathFamily { family, mode })
            })
            .collect()
    }
}

fn graceful_restart_cap(open: &Open) -> Option<&GracefulRestart> {
    open.capabilities.iter().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr),
        _ => None,
    })
}

fn graceful_restart(
    local: &Open,
    remote: &Open,
    families: FamilySet,
) -> Option<PeerGracefulRestart> {
    graceful_restart_cap(local)?;
    let theirs = graceful_restart_cap(remote)?;
    Some(PeerGracefulRestart {
        restart_time: Duration::from_secs(u64::from(theirs.restart_time)),
        restarting: theirs.restart_state,
        notification: theirs.notification,
        families: theirs
            .families
            .iter()
            .filter(|f| families.contains(f.family))
            .copied()
            .collect(),
    })
}
