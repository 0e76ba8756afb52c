//! [`RouteTwin`]: an in-memory table main with the kernel's interface ([`RouteBackend`]),
//! for the simulation and for tests that need no root. It holds every route, ours and
//! others (connected subnets, a default route), refuses what the kernel refuses where it
//! matters to the reconciler, and answers "where is a packet to this address forwarded"
//! ([`RouteTwin::lookup`]). `dataplane/tests/routes.rs` checks the answers against
//! `ip route get` in a namespace.
//!
//! Kernel rules kept (net/ipv4/fib_semantics.c, fib_trie.c):
//! - an add into an occupied slot fails with EEXIST; a delete of nothing with ESRCH;
//! - an unknown output interface fails with ENODEV;
//! - a gateway must be reachable through a route straight out of an interface (scope link or
//!   narrower; a default route does not count) — else ENETUNREACH — unless `onlink`;
//! - deleting an interface deletes the routes out of it;
//! - lookup is longest-prefix match; among routes to one destination the lowest metric wins;
//!   blackhole, unreachable and prohibit routes stop the lookup.
//!
//! Not modelled: other tables and policy routing, the local table (addresses of the host),
//! TOS, ECMP, interfaces going down (the kernel then drops IPv4 routes out of them).

use std::net::IpAddr;

use ipnet::IpNet;
use nix::errno::Errno;

use super::backend::{KernelState, RouteBackend};
use super::op::{OpFailure, RouteOp};
use super::problem::RouteError;
use super::route::{KernelRoute, Links, Route, RouteKind, scope};
use super::table::RouteTable;

/// Where a packet to an address goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Forwarding {
    /// Out of `dev` to the address itself (a workload route, a connected subnet).
    Direct { dev: String },
    /// To the next hop `via`, out of `dev`.
    Gateway { via: IpAddr, dev: String },
    /// Dropped silently (`ip route get` fails with EINVAL).
    Blackhole,
    /// Refused with "host unreachable" (EHOSTUNREACH).
    Unreachable,
    /// Refused with "administratively prohibited" (EACCES).
    Prohibit,
    /// No route (ENETUNREACH).
    NoRoute,
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct RouteTwin {
    links: Links,
    next_index: u32,
    table: RouteTable,
}

impl Default for RouteTwin {
    fn default() -> Self {
        RouteTwin::new()
    }
}

impl RouteTwin {
    /// A twin with only `lo` (index 1), like a fresh namespace.
    pub fn new() -> RouteTwin {
        let mut links = Links::new();
        links.insert("lo", 1);
        RouteTwin {
            links,
            next_index: 2,
            table: RouteTable::new(),
        }
    }

    /// Adds interface `name` (if new) and returns its index.
    pub fn add_link(&mut self, name: &str) -> u32 {
        if let Some(i) = self.links.index(name) {
            return i;
        }
        let i = self.next_index;
        self.next_index += 1;
        self.links.insert(name, i);
        i
    }

    /// Deletes interface `name` and every route out of it. Returns whether it existed.
    pub fn remove_link(&mut self, name: &str) -> bool {
        match self.links.remove(name) {
            Some(i) => {
                self.table.remove_interface(i);
                true
            }
            None => false,
        }
    }

    pub fn links(&self) -> &Links {
        &self.links
    }

    /// Table main.
    pub fn routes(&self) -> &RouteTable {
        &self.table
    }

    /// `ip route add <route> proto <protocol>`: adds a route of anybody (a connected subnet
    /// is `Route::new(net, RouteTarget::Interface(dev))` with [`super::route::protocol::KERNEL`]).
    pub fn add_route(&mut self, route: &Route, protocol: u8) -> Result<(), Errno> {
        let oif = match route.interface() {
            Some(name) => Some(self.links.index(name).ok_or(Errno::ENODEV)?),
            None => None,
        };
        self.apply_op(&RouteOp::Add(route.to_kernel(protocol, oif)))
    }

    /// `ip route del <route> proto <protocol>`.
    pub fn delete_route(&mut self, route: &Route, protocol: u8) -> Result<(), Errno> {
        let mut k = route.to_kernel(protocol, None);
        k.scope = scope::NOWHERE;
        self.apply_op(&RouteOp::Delete(k))
    }

    /// Applies one operation as the kernel would, or refuses it with the kernel's errno.
    pub fn apply_op(&mut self, op: &RouteOp) -> Result<(), Errno> {
        match op {
            RouteOp::Delete(req) => self.table.delete(req).map(|_| ()).ok_or(Errno::ESRCH),
            RouteOp::Add(r) | RouteOp::Replace(r) => {
                let r = self.check(r)?;
                if matches!(op, RouteOp::Add(_)) && self.table.in_slot(&r).is_some() {
                    return Err(Errno::EEXIST);
                }
                self.table.set(r);
                Ok(())
            }
        }
    }

    /// The route as the kernel would store it (interface name and gateway device resolved),
    /// or the kernel's refusal.
    fn check(&self, r: &KernelRoute) -> Result<KernelRoute, Errno> {
        let mut r = r.clone();
        if r.kind != RouteKind::Unicast {
            r.oif = None;
            r.dev = None;
            r.gateway = None;
            return Ok(r);
        }
        if let Some(oif) = r.oif {
            r.dev = Some(self.links.name(oif).ok_or(Errno::ENODEV)?.to_owned());
        }
        match r.gateway {
            None if r.oif.is_none() => Err(Errno::ENODEV),
            None => Ok(r),
            Some(_) if r.onlink => {
                if r.oif.is_none() {
                    return Err(Errno::EINVAL);
                }
                Ok(r)
            }
            Some(gw) => match self.resolve(gw, |k| k.gateway.is_none() && link_scoped(k)) {
                Some(Forwarding::Direct { dev }) if r.dev.as_ref().is_none_or(|d| *d == dev) => {
                    r.oif = self.links.index(&dev);
                    r.dev = Some(dev);
                    Ok(r)
                }
                _ => Err(Errno::ENETUNREACH),
            },
        }
    }

    /// Where a packet to `addr` is forwarded: longest-prefix match over table main.
    pub fn lookup(&self, addr: IpAddr) -> Forwarding {
        self.resolve(addr, |_| true).unwrap_or(Forwarding::NoRoute)
    }

    /// Longest-prefix match over the routes accepted by `usable`.
    fn resolve(&self, addr: IpAddr, usable: impl Fn(&KernelRoute) -> bool) -> Option<Forwarding> {
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        for len in (0..=max).rev() {
            let Ok(net) = IpNet::new(addr, len) else {
                continue;
            };
            let best = self
                .table
                .at(&net.trunc())
                .iter()
                .filter(|k| k.tos == 0 && !k.multipath && usable(k))
                .min_by_key(|k| k.metric);
            if let Some(k) = best {
                return Some(forwarding(k));
            }
        }
        None
    }
}

/// Whether a gateway can be reached through `k` (IPv4: scope link or narrower; IPv6 routes
/// all have scope universe, so any route straight out of an interface).
fn link_scoped(k: &KernelRoute) -> bool {
    match k.dst {
        IpNet::V4(_) => k.scope >= scope::LINK && k.scope != scope::NOWHERE,
        IpNet::V6(_) => true,
    }
}

fn forwarding(k: &KernelRoute) -> Forwarding {
    let dev = k.dev.clone().unwrap_or_default();
    match k.kind {
        RouteKind::Blackhole => Forwarding::Blackhole,
        RouteKind::Unreachable => Forwarding::Unreachable,
        RouteKind::Prohibit => Forwarding::Prohibit,
        _ => match k.gateway {
            Some(via) => Forwarding::Gateway { via, dev },
            None => Forwarding::Direct { dev },
        },
    }
}

impl RouteBackend for RouteTwin {
    fn read(&mut self) -> Result<KernelState, RouteError> {
        Ok(KernelState {
            routes: self.table.iter().cloned().collect(),
            links: self.links.clone(),
        })
    }

    fn read_links(&mut self) -> Result<Links, RouteError> {
        Ok(self.links.clone())
    }

    fn apply(&mut self, ops: &[RouteOp]) -> Result<Vec<OpFailure>, RouteError> {
        Ok(ops
            .iter()
            .enumerate()
            .filter_map(|(index, op)| {
                self.apply_op(op).err().map(|errno| OpFailure {
                    index,
                    errno,
                    message: None,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::route::{RouteTarget, protocol};

    fn host() -> RouteTwin {
        let mut t = RouteTwin::new();
        t.add_link("eth0");
        t.add_link("cali1");
        t.add_route(
            &Route::new(
                "192.168.1.0/24".parse().unwrap(),
                RouteTarget::Interface("eth0".into()),
            ),
            protocol::KERNEL,
        )
        .unwrap();
        t.add_route(
            &Route::via(
                "0.0.0.0/0".parse().unwrap(),
                "192.168.1.254".parse().unwrap(),
            ),
            protocol::BOOT,
        )
        .unwrap();
        t
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = host();
        t.add_route(&Route::blackhole("10.65.0.0/26".parse().unwrap()), 80)
            .unwrap();
        t.add_route(&Route::workload("10.65.0.2".parse().unwrap(), "cali1"), 80)
            .unwrap();
        let at = |a: &str| t.lookup(a.parse().unwrap());
        assert_eq!(
            at("10.65.0.2"),
            Forwarding::Direct {
                dev: "cali1".into()
            }
        );
        assert_eq!(at("10.65.0.3"), Forwarding::Blackhole);
        assert_eq!(
            at("8.8.8.8"),
            Forwarding::Gateway {
                via: "192.168.1.254".parse().unwrap(),
                dev: "eth0".into()
            }
        );
        assert_eq!(at("192.168.1.9"), Forwarding::Direct { dev: "eth0".into() });
        assert_eq!(at("fd00::1"), Forwarding::NoRoute);
    }

    #[test]
    fn refuses_what_the_kernel_refuses() {
        let mut t = host();
        let r = Route::workload("10.65.0.2".parse().unwrap(), "cali1");
        assert_eq!(t.add_route(&r, 80), Ok(()));
        assert_eq!(t.add_route(&r, 80), Err(Errno::EEXIST));
        assert_eq!(
            t.add_route(&Route::workload("10.65.0.3".parse().unwrap(), "cali9"), 80),
            Err(Errno::ENODEV)
        );
        let far = Route::via(
            "10.66.0.0/26".parse().unwrap(),
            "172.16.0.1".parse().unwrap(),
        );
        assert_eq!(t.add_route(&far, 80), Err(Errno::ENETUNREACH));
        let onlink = Route::via_dev(far.dst, "172.16.0.1".parse().unwrap(), "eth0", true);
        assert_eq!(t.add_route(&onlink, 80), Ok(()));
        assert_eq!(t.delete_route(&r, protocol::STATIC), Err(Errno::ESRCH));
        assert_eq!(t.delete_route(&r, 80), Ok(()));
    }

    #[test]
    fn deleting_an_interface_deletes_its_routes() {
        let mut t = host();
        t.add_route(&Route::workload("10.65.0.2".parse().unwrap(), "cali1"), 80)
            .unwrap();
        assert!(t.remove_link("cali1"));
        assert_eq!(
            t.lookup("10.65.0.2".parse().unwrap()),
            Forwarding::Gateway {
                via: "192.168.1.254".parse().unwrap(),
                dev: "eth0".into()
            }
        );
    }
}
