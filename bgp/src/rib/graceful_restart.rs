//! Graceful restart, receiving side (RFC 4724 §4.2): a restarting peer's routes are kept,
//! marked stale, until it sends End-of-RIB for the family or its restart timer expires; a
//! re-announced route replaces its stale copy. The caller owns the clock: it passes the
//! deadline to [`Rib::peer_down`] and the current time to [`Rib::tick`].
//!
//! Enhanced route refresh (RFC 7313) reuses the stale marking: between a peer's
//! Beginning- and End-of-RIB-Refresh its routes of the family are stale, and those it did
//! not re-advertise are swept at the end.

use std::time::Instant;

use super::Rib;
use super::destination::Op;
use super::peer::PeerId;
use super::route::BestChange;
use crate::codec::{AddressFamily, Prefix};

impl Rib {
    /// Sweeps the stale routes of every peer whose restart deadline is at or before `now`.
    pub fn tick(&mut self, now: Instant) -> Vec<BestChange> {
        let mut expired: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.restart_deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        expired.sort_unstable();
        let mut changes = Vec::new();
        for id in expired {
            tracing::info!(peer = ?id, "graceful restart timer expired; withdrawing stale routes");
            self.sweep_stale(id, None, &mut changes);
        }
        changes
    }

    /// Enhanced route refresh (RFC 7313 §4): the peer starts re-advertising `family`
    /// (Beginning-of-RIB-Refresh): its routes of the family become stale until it is done.
    pub fn begin_route_refresh(&mut self, id: PeerId, family: AddressFamily) {
        self.table.mark_stale(id, Some(family));
    }

    /// End-of-RIB-Refresh from the peer: its routes of `family` it did not re-advertise go.
    pub fn end_route_refresh(&mut self, id: PeerId, family: AddressFamily) -> Vec<BestChange> {
        let mut changes = Vec::new();
        self.sweep_stale(id, Some(family), &mut changes);
        changes
    }

    /// The earliest restart deadline, for the caller's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.peers.values().filter_map(|p| p.restart_deadline).min()
    }

    /// Withdraws `id`'s stale routes of `family` (all families when `None`).
    pub(crate) fn sweep_stale(
        &mut self,
        id: PeerId,
        family: Option<AddressFamily>,
        changes: &mut Vec<BestChange>,
    ) {
        let in_family = |p: &Prefix| match family {
            None => true,
            Some(f) => f == family_of(*p),
        };
        let stale: Vec<Prefix> = self
            .table
            .prefixes_of(id, true)
            .into_iter()
            .filter(in_family)
            .collect();
        for prefix in stale {
            self.change(prefix, Op::Remove(id), changes);
        }
        let any_left = !self.table.prefixes_of(id, true).is_empty();
        if let Some(peer) = self.peers.get_mut(&id)
            && !any_left
        {
            peer.restart_deadline = None;
        }
    }
}

fn family_of(prefix: Prefix) -> AddressFamily {
    match prefix {
        Prefix::V4(_) => AddressFamily::IPV4_UNICAST,
        Prefix::V6(_) => AddressFamily::IPV6_UNICAST,
    }
}
