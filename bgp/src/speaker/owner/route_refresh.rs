//! ROUTE-REFRESH both ways: the embedder asks a peer to re-advertise (RFC 2918); a peer's
//! request is answered from its update group's Adj-RIB-Out, inside Beginning/End-of-RIB-Refresh
//! markers when enhanced route refresh was negotiated, and a peer's own markers make its
//! routes stale until it has re-advertised them (RFC 7313).

use std::net::IpAddr;

use super::{Owner, send_encoded};
use crate::codec::{AddressFamily, RouteRefresh, RouteRefreshSubtype};
use crate::session::{self, Connector, LocalAddress, State};
use crate::speaker::listener::PeerListener;

impl<C, L> Owner<C, L>
where
    C: Connector + Clone,
    C::Stream: LocalAddress,
    L: PeerListener<Stream = C::Stream>,
{
    /// Asks the peer to send its routes of `family` again, if it can (RFC 2918).
    pub(super) fn request_refresh(&mut self, address: IpAddr, family: AddressFamily) {
        let Some(peer) = self.peers.get(&address.to_canonical()) else {
            return;
        };
        let negotiated = peer
            .negotiated
            .as_ref()
            .filter(|_| peer.state == State::Established);
        match negotiated {
            Some(n) if n.route_refresh && n.families.contains(family) => {
                let _ =
                    peer.commands
                        .send(session::Command::SendRouteRefresh(RouteRefresh::request(
                            family,
                        )));
            }
            _ => {
                tracing::info!(peer = %address, %family, "route refresh not possible on this session")
            }
        }
    }

    /// A ROUTE-REFRESH message from the peer: a request, or one of its RFC 7313 markers.
    pub(super) fn route_refresh(&mut self, address: IpAddr, rr: RouteRefresh) {
        let Some(peer) = self.peers.get(&address) else {
            return;
        };
        let Some(n) = &peer.negotiated else {
            return;
        };
        if rr.must_ignore(&n.codec) {
            return;
        }
        let id = peer.id;
        match rr.subtype {
            RouteRefreshSubtype::Normal => {}
            // RFC 7313 §4: the peer re-advertises the family between these two markers.
            RouteRefreshSubtype::BeginningOfRouteRefresh if n.enhanced_route_refresh => {
                self.rib.begin_route_refresh(id, rr.family);
                return;
            }
            RouteRefreshSubtype::EndOfRouteRefresh if n.enhanced_route_refresh => {
                let changes = self.rib.end_route_refresh(id, rr.family);
                self.best.extend(changes);
                return;
            }
            _ => return,
        }
        if self.deferral.is_some() {
            // The whole table follows when the deferral ends.
            return;
        }
        let enhanced = n.enhanced_route_refresh;
        let messages = match self.rib.route_refresh(peer.id, rr.family) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(peer = %address, error = %e, "ROUTE-REFRESH not answered");
                return;
            }
        };
        let marker = |subtype| RouteRefresh {
            family: rr.family,
            subtype,
        };
        if enhanced {
            let _ = peer
                .commands
                .send(session::Command::SendRouteRefresh(marker(
                    RouteRefreshSubtype::BeginningOfRouteRefresh,
                )));
        }
        send_encoded(&peer.commands, messages);
        if enhanced {
            let _ = peer
                .commands
                .send(session::Command::SendRouteRefresh(marker(
                    RouteRefreshSubtype::EndOfRouteRefresh,
                )));
        }
    }
}
