//! Read access to the RIB: Loc-RIB, Adj-RIBs-In and -Out, counters.

use std::sync::Arc;

use super::Rib;
use super::attributes::Attributes;
use super::peer::PeerId;
use super::route::Route;
use crate::codec::Prefix;

impl Rib {
    /// The Loc-RIB best route to `prefix`.
    pub fn best(&self, prefix: Prefix) -> Option<Route> {
        self.table.get(prefix).map(|d| self.route(d.best()))
    }

    /// Every route to `prefix`, best first.
    pub fn routes(&self, prefix: Prefix) -> Vec<Route> {
        self.table
            .get(prefix)
            .map(|d| d.paths().iter().map(|p| self.route(p)).collect())
            .unwrap_or_default()
    }

    /// The Loc-RIB: every prefix with its best route, IPv4 first, in prefix order.
    pub fn loc_rib(&self) -> impl Iterator<Item = (Prefix, Route)> + '_ {
        self.table.iter().map(|(p, d)| (p, self.route(d.best())))
    }

    /// `id`'s Adj-RIB-In (stale routes included).
    pub fn adj_rib_in(&self, id: PeerId) -> Vec<(Prefix, Route)> {
        self.table
            .iter()
            .filter_map(|(prefix, d)| {
                let path = d.paths().iter().find(|p| p.peer == id)?;
                Some((prefix, self.route(path)))
            })
            .collect()
    }

    /// `id`'s Adj-RIB-Out as last flushed (its update group's); empty if not established.
    pub fn adj_rib_out(&self, id: PeerId) -> Vec<(Prefix, Attributes)> {
        self.groups
            .iter()
            .find(|g| g.members.contains(&id))
            .map(|g| {
                g.adj_rib_out
                    .iter()
                    .map(|(p, a)| (p, Arc::clone(a)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Routes in `id`'s Adj-RIB-In.
    pub fn peer_route_count(&self, id: PeerId) -> Option<usize> {
        self.peers.get(&id).map(|p| p.route_count)
    }

    /// Routes in `id`'s Adj-RIB-Out (its update group's); 0 if not established.
    pub fn adj_rib_out_count(&self, id: PeerId) -> usize {
        self.groups
            .iter()
            .find(|g| g.members.contains(&id))
            .map_or(0, |g| g.adj_rib_out.len())
    }

    /// Whether `id` is in graceful restart: its routes kept, stale, until End-of-RIB or the
    /// deadline.
    pub fn peer_restarting(&self, id: PeerId) -> bool {
        self.peers
            .get(&id)
            .is_some_and(|p| p.restart_deadline.is_some())
    }

    /// The settings `id` was added with.
    pub fn peer_config(&self, id: PeerId) -> Option<&super::PeerConfig> {
        self.peers.get(&id).map(|p| &p.config)
    }

    /// Prefixes in the Loc-RIB.
    pub fn prefix_count(&self) -> usize {
        self.table.len()
    }

    /// Distinct attribute sets stored (received and exported).
    pub fn attribute_set_count(&self) -> usize {
        self.attributes.len()
    }

    /// Number of update groups (one per distinct export rewriting among established peers).
    pub fn update_group_count(&self) -> usize {
        self.groups.len()
    }

    /// The members of `id`'s update group (including `id`).
    pub fn update_group_members(&self, id: PeerId) -> Vec<PeerId> {
        self.groups
            .iter()
            .find(|g| g.members.contains(&id))
            .map(|g| g.members.clone())
            .unwrap_or_default()
    }
}
