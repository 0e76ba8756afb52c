//! Our own graceful restart (RFC 4724 §4.1): after a restart the speaker holds its
//! announcements back until every restarting peer with graceful restart has sent End-of-RIB
//! for each of its families, or the selection deferral has run out; then every peer gets its
//! whole table once, followed by End-of-RIB.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use super::{Owner, send_encoded};
use crate::clock::now;
use crate::codec::{AddressFamily, FamilySet};
use crate::rib::PeerId;
use crate::session::{Connector, LocalAddress};
use crate::speaker::Event;
use crate::speaker::listener::PeerListener;

/// Announcements held back after our restart.
pub(super) struct Deferral {
    deadline: Instant,
    /// Restarting peers whose End-of-RIB we wait for: the families still missing (`None`
    /// until the session is up and the families are known).
    waiting: HashMap<IpAddr, Option<FamilySet>>,
}

impl<C, L> Owner<C, L>
where
    C: Connector + Clone,
    C::Stream: LocalAddress,
    L: PeerListener<Stream = C::Stream>,
{
    /// `address` was added as restarting with graceful restart: wait for its End-of-RIB
    /// before announcing, unless something was announced already.
    pub(super) fn defer_for(&mut self, address: IpAddr) {
        if self.announced {
            return;
        }
        let deadline = now() + self.config.selection_deferral;
        self.deferral
            .get_or_insert_with(|| Deferral {
                deadline,
                waiting: HashMap::new(),
            })
            .waiting
            .insert(address, None);
    }

    pub(super) fn deferral_deadline(&self) -> Option<Instant> {
        self.deferral.as_ref().map(|d| d.deadline)
    }

    /// The selection deferral ran out: announce without the missing End-of-RIBs.
    pub(super) fn deferral_tick(&mut self, now: Instant) {
        if self.deferral.as_ref().is_some_and(|d| d.deadline <= now) {
            tracing::warn!(
                "selection deferral ran out before every restarting peer sent End-of-RIB; announcing"
            );
            self.end_deferral(true);
        }
    }

    /// `address` (removed) is no longer waited for.
    pub(super) fn stop_waiting_for(&mut self, address: IpAddr) {
        if let Some(d) = self.deferral.as_mut() {
            d.waiting.remove(&address);
        }
        self.check_deferral();
    }

    /// The session with `address` came up: wait for End-of-RIB in the families it
    /// negotiated, if it negotiated graceful restart (only then does it surely send one) and
    /// is not restarting itself. RFC 4724 §4.1 excludes a peer whose OPEN has the Restart
    /// State bit: it defers its own announcements, End-of-RIB included, until ours, so two
    /// speakers restarting together would otherwise each wait out the selection deferral.
    pub(super) fn deferral_peer_up(&mut self, address: IpAddr) {
        let Some(d) = self.deferral.as_mut() else {
            return;
        };
        let Some(waiting) = d.waiting.get_mut(&address) else {
            return;
        };
        let n = self
            .peers
            .get(&address)
            .and_then(|p| p.negotiated.as_deref());
        let sends_end_of_rib = |n: &&crate::session::Negotiated| {
            n.graceful_restart.as_ref().is_some_and(|gr| !gr.restarting)
        };
        match n.filter(sends_end_of_rib) {
            Some(n) => *waiting = Some(n.families),
            None => {
                d.waiting.remove(&address);
            }
        }
        self.check_deferral();
    }

    pub(super) fn end_of_rib(&mut self, address: IpAddr, id: PeerId, family: AddressFamily) {
        tracing::debug!(peer = %address, %family, "End-of-RIB received");
        self.report(Event::EndOfRib {
            address,
            peer: id,
            family,
        });
        if let Some(d) = self.deferral.as_mut()
            && let Some(Some(missing)) = d.waiting.get_mut(&address)
        {
            missing.remove(family);
            if missing.is_empty() {
                d.waiting.remove(&address);
            }
            self.check_deferral();
        }
    }

    fn check_deferral(&mut self) {
        if self.deferral.as_ref().is_some_and(|d| d.waiting.is_empty()) {
            self.end_deferral(false);
        }
    }

    /// Sends every established peer its whole table and End-of-RIB, once.
    fn end_deferral(&mut self, timed_out: bool) {
        if self.deferral.take().is_none() {
            return;
        }
        self.announced = true;
        // Changes pending in the update groups are part of the tables sent now.
        let _ = self.rib.flush_updates();
        for peer in self.peers.values() {
            if let Ok(messages) = self.rib.full_table(peer.id) {
                send_encoded(&peer.commands, messages);
            }
        }
        tracing::info!(timed_out, "selection deferral over; tables sent");
        self.report(Event::DeferralOver { timed_out });
    }
}
