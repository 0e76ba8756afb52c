//! What the session tasks report: state changes, sessions coming up (joining the RIB and
//! an update group) and going down (graceful restart of the peer, RFC 4724 §4.2), and the
//! UPDATEs they received.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Owner, Peer, send_encoded};
use crate::clock::now;
use crate::codec::{AddressFamily, FamilySet};
use crate::rib::{self, PeerId};
use crate::session::{Connector, DownReason, LocalAddress, Negotiated, NextHopMode, SessionEvent};
use crate::speaker::listener::PeerListener;
use crate::speaker::{Event, PeerSettings};

impl<C, L> Owner<C, L>
where
    C: Connector + Clone,
    C::Stream: LocalAddress,
    L: PeerListener<Stream = C::Stream>,
{
    pub(super) fn session_event(&mut self, id: PeerId, event: SessionEvent) {
        let Some(address) = self.by_id.get(&id).copied() else {
            // A removed peer's session, still winding down.
            return;
        };
        match event {
            SessionEvent::StateChanged { to, .. } => {
                if let Some(peer) = self.peers.get_mut(&address) {
                    peer.state = to;
                    peer.since = now();
                }
            }
            SessionEvent::Up(negotiated) => self.peer_up(address, negotiated),
            SessionEvent::Down(reason) => self.peer_down(address, reason),
            SessionEvent::Update { update, .. } => {
                let end_of_rib = update.end_of_rib_family();
                match self.rib.apply_update(id, update) {
                    Ok(changes) => self.best.extend(changes),
                    Err(e) => tracing::error!(peer = %address, error = %e, "UPDATE not applied"),
                }
                if let Some(family) = end_of_rib {
                    self.end_of_rib(address, id, family);
                }
            }
            SessionEvent::RouteRefresh(rr) => self.route_refresh(address, rr),
        }
    }

    fn peer_up(&mut self, address: IpAddr, negotiated: Box<Negotiated>) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        let id = peer.id;
        let wanted = rib_peer(id, &peer.settings, &negotiated);
        let codec = negotiated.codec.clone();
        peer.negotiated = Some(negotiated);
        if !self.rib_knows(address, wanted) {
            return;
        }
        if self.rib.peer_restarting(id) {
            // RFC 4724 §4.2: stale routes of a family the peer did not keep forwarding for
            // (or no longer offers graceful restart for) go now, not at End-of-RIB.
            let kept = peer_kept_forwarding(self.peers.get(&address));
            for family in [AddressFamily::IPV4_UNICAST, AddressFamily::IPV6_UNICAST] {
                if !kept.contains(family) {
                    let mut changes = Vec::new();
                    self.rib.sweep_stale(id, Some(family), &mut changes);
                    self.best.extend(changes);
                }
            }
        }
        match self.rib.peer_up(id, codec) {
            // While deferring, the table is sent when the deferral ends.
            Ok(_) if self.deferral.is_some() => {}
            Ok(messages) => {
                self.announced = true;
                if let Some(peer) = self.peers.get(&address) {
                    send_encoded(&peer.commands, messages);
                }
            }
            Err(e) => tracing::error!(peer = %address, error = %e, "RIB"),
        }
        tracing::info!(peer = %address, "BGP session established");
        self.report(Event::PeerUp { address, peer: id });
        self.deferral_peer_up(address);
    }

    /// Brings the RIB's view of the peer up to date with the session that just came up;
    /// `false` if the RIB refused it.
    fn rib_knows(&mut self, address: IpAddr, wanted: rib::PeerConfig) -> bool {
        let id = wanted.id;
        let Some(known) = self.rib.peer_config(id).cloned() else {
            return self.rib_add_peer(address, wanted);
        };
        if known == wanted {
            return true;
        }
        let same_but_router_id = rib::PeerConfig {
            router_id: wanted.router_id,
            ..known.clone()
        } == wanted;
        if same_but_router_id {
            // Only the peer's router ID changed (it restarted with a new one): its routes,
            // stale ones included, stay; RFC 4724 §4.2 keeps them for the session with the
            // peer, whatever identifier it comes back with.
            tracing::info!(peer = %address, old = %known.router_id, new = %wanted.router_id, "BGP peer's router ID changed");
            match self.rib.set_peer_router_id(id, wanted.router_id) {
                Ok(changes) => self.best.extend(changes),
                Err(e) => tracing::error!(peer = %address, error = %e, "RIB"),
            }
            return true;
        }
        // The peer came back as someone else (its AS or our address on the session
        // changed): its old routes go.
        match self.rib.remove_peer(id) {
            Ok(changes) => self.best.extend(changes),
            Err(e) => tracing::error!(peer = %address, error = %e, "RIB"),
        }
        self.rib_add_peer(address, wanted)
    }

    fn rib_add_peer(&mut self, address: IpAddr, wanted: rib::PeerConfig) -> bool {
        match self.rib.add_peer(wanted) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(peer = %address, error = %e, "RIB");
                false
            }
        }
    }

    fn peer_down(&mut self, address: IpAddr, reason: DownReason) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        let id = peer.id;
        peer.last_error = Some(reason.clone());
        // RFC 4724 §4.2: keep the routes when the connection was lost without a NOTIFICATION
        // from either side and the peer offered graceful restart.
        let keep_for = peer
            .negotiated
            .as_ref()
            .and_then(|n| n.graceful_restart.as_ref())
            .map(|gr| gr.restart_time)
            .filter(|t| !t.is_zero())
            .filter(|_| {
                matches!(
                    reason,
                    DownReason::ConnectionLost | DownReason::HoldTimerExpired
                )
            });
        let deadline = keep_for.map(|t| now() + t);
        match self.rib.peer_down(id, deadline) {
            Ok(changes) => self.best.extend(changes),
            Err(e) => tracing::error!(peer = %address, error = %e, "RIB"),
        }
        tracing::info!(peer = %address, %reason, routes_kept = deadline.is_some(), "BGP session down");
        self.report(Event::PeerDown {
            address,
            peer: id,
            reason,
            routes_kept: deadline.is_some(),
        });
    }
}

/// The RIB's view of a peer whose session just came up.
fn rib_peer(id: PeerId, settings: &PeerSettings, n: &Negotiated) -> rib::PeerConfig {
    let session = &settings.session;
    let address = session.address.to_canonical();
    let local_address = n
        .local_address
        .map(|a| a.ip().to_canonical())
        .or(session.source_address)
        .unwrap_or(match address {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
    rib::PeerConfig {
        id,
        address,
        local_address,
        local_ipv6_next_hop: settings.local_ipv6_next_hop,
        asn: n.peer_as,
        router_id: n.peer_id,
        route_reflector_client: session.route_reflector_client,
        next_hop_self: session.next_hop == NextHopMode::SelfAddress,
        next_hop_unchanged: session.next_hop == NextHopMode::Keep,
        local_as: session.local_as,
        cluster_id: session.cluster_id,
        export_policy: settings.export_policy,
    }
}

/// Families whose forwarding state the peer says it kept through its restart (F bit).
fn peer_kept_forwarding<S>(peer: Option<&Peer<S>>) -> FamilySet {
    let mut kept = FamilySet::default();
    let gr = peer
        .and_then(|p| p.negotiated.as_ref())
        .and_then(|n| n.graceful_restart.as_ref());
    for f in gr.map(|gr| gr.families.as_slice()).unwrap_or_default() {
        if f.forwarding_preserved {
            kept.insert(f.family);
        }
    }
    kept
}
