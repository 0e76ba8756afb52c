//! [`RouteTable`]: the routes of one kernel table by destination, and what an add, replace or
//! delete does to them when the kernel accepts it. The reconciler keeps one as its picture of
//! the kernel; the twin keeps one as its state and checks the kernel's refusals on top.
//!
//! Kernel rules kept here (net/ipv4/fib_trie.c, net/ipv6/ip6_fib.c): routes to one
//! destination are told apart by TOS and metric (a "slot"); an exclusive add into an occupied
//! slot fails, a replace overwrites the slot's route whatever its protocol, and a delete that
//! names a protocol, type and metric removes only a route that has them.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::route::{KernelRoute, RouteKind};

/// Routes of one table, by destination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteTable {
    by_dst: BTreeMap<IpNet, Vec<KernelRoute>>,
    len: usize,
}

impl RouteTable {
    pub fn new() -> RouteTable {
        RouteTable::default()
    }

    /// A table holding `routes` (as read from the kernel; nothing is checked).
    pub fn from_routes(routes: impl IntoIterator<Item = KernelRoute>) -> RouteTable {
        let mut t = RouteTable::new();
        for r in routes {
            t.push(r);
        }
        t
    }

    /// Adds a route without any check.
    pub fn push(&mut self, route: KernelRoute) {
        self.by_dst.entry(route.dst).or_default().push(route);
        self.len += 1;
    }

    /// The routes to exactly `dst`.
    pub fn at(&self, dst: &IpNet) -> &[KernelRoute] {
        self.by_dst.get(dst).map_or(&[], Vec::as_slice)
    }

    /// Every destination with at least one route.
    pub fn destinations(&self) -> impl Iterator<Item = &IpNet> {
        self.by_dst.keys()
    }

    /// Every route, by destination.
    pub fn iter(&self) -> impl Iterator<Item = &KernelRoute> {
        self.by_dst.values().flatten()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The route in `route`'s slot (same destination, TOS and metric), if any.
    pub fn in_slot(&self, route: &KernelRoute) -> Option<&KernelRoute> {
        self.at(&route.dst)
            .iter()
            .find(|k| k.tos == route.tos && k.metric == route.metric)
    }

    /// Puts `route` into its slot, replacing whatever was there (an accepted add or
    /// replace). Returns the route it replaced.
    pub fn set(&mut self, route: KernelRoute) -> Option<KernelRoute> {
        let v = self.by_dst.entry(route.dst).or_default();
        match v
            .iter_mut()
            .find(|k| k.tos == route.tos && k.metric == route.metric)
        {
            Some(slot) => Some(std::mem::replace(slot, route)),
            None => {
                v.push(route);
                self.len += 1;
                None
            }
        }
    }

    /// Removes the route a delete request `req` names (destination, TOS, metric; protocol
    /// and type when set, as the kernel matches them). Returns it, or `None` (the kernel's
    /// ESRCH).
    pub fn delete(&mut self, req: &KernelRoute) -> Option<KernelRoute> {
        let v = self.by_dst.get_mut(&req.dst)?;
        let i = v.iter().position(|k| deletes(req, k))?;
        let removed = v.remove(i);
        if v.is_empty() {
            self.by_dst.remove(&req.dst);
        }
        self.len -= 1;
        Some(removed)
    }

    /// Removes every route out of interface `oif` (what the kernel does when an interface
    /// goes away). Returns the destinations that lost a route.
    pub fn remove_interface(&mut self, oif: u32) -> Vec<IpNet> {
        let mut touched = Vec::new();
        self.by_dst.retain(|dst, v| {
            let before = v.len();
            v.retain(|k| k.oif != Some(oif));
            if v.len() != before {
                touched.push(*dst);
                self.len -= before - v.len();
            }
            !v.is_empty()
        });
        touched
    }
}

/// Whether a delete request `req` removes `k`.
fn deletes(req: &KernelRoute, k: &KernelRoute) -> bool {
    k.tos == req.tos
        && k.metric == req.metric
        && (req.protocol == 0 || k.protocol == req.protocol)
        && (matches!(req.kind, RouteKind::Other(0)) || k.kind == req.kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::route::{Route, protocol};

    fn wl(ip: &str, dev: &str, proto: u8) -> KernelRoute {
        Route::workload(ip.parse().unwrap(), dev).to_kernel(proto, Some(2))
    }

    #[test]
    fn replace_overwrites_the_slot_and_delete_matches_protocol() {
        let mut t = RouteTable::new();
        assert!(t.set(wl("10.0.0.1", "cali1", protocol::STATIC)).is_none());
        let old = t.set(wl("10.0.0.1", "cali2", 80));
        assert_eq!(old.map(|k| k.protocol), Some(protocol::STATIC));
        assert_eq!(t.len(), 1);
        assert!(t.delete(&wl("10.0.0.1", "x", protocol::STATIC)).is_none());
        assert!(t.delete(&wl("10.0.0.1", "x", 80)).is_some());
        assert!(t.is_empty());
    }

    #[test]
    fn other_metrics_are_other_slots() {
        let mut t = RouteTable::new();
        let mut a = wl("10.0.0.1", "eth0", protocol::STATIC);
        a.metric = 5;
        t.set(a.clone());
        assert!(t.in_slot(&wl("10.0.0.1", "cali1", 80)).is_none());
        t.set(wl("10.0.0.1", "cali1", 80));
        assert_eq!(t.at(&a.dst).len(), 2);
        assert_eq!(t.remove_interface(2), vec![a.dst]);
        assert!(t.is_empty());
    }
}
