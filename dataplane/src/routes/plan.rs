//! Planning: desired routes + the kernel's table → the operations that make the kernel hold
//! the desired routes ([`RouteOp`]), and the problems that keep some from being programmed.
//! Pure: no I/O, no clock.
//!
//! Ownership, as in Felix's route table (`felix/routetable/route_table.go`), which recognises
//! its routes by protocol or by egress through a `cali` interface:
//! - a route is **ours** when it carries our protocol; only ours are ever deleted;
//! - a desired route goes into its destination's default slot (TOS 0, the family's default
//!   metric). If a route that is not ours is already there, it is replaced only when it goes
//!   out of an interface we own (a name with one of our prefixes, `cali` by default): that is
//!   where the CNI plugin's own `/32` route to a new workload sits before we take it over.
//!   Anywhere else the foreign route wins: it is left alone and reported
//!   ([`RouteProblem::Conflict`]), and ours is programmed once it has gone;
//! - routes that are not ours in other slots, or to other destinations, are never touched.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::op::RouteOp;
use super::problem::RouteProblem;
use super::route::{KernelRoute, Links, Route, RouteKind, scope};
use super::table::RouteTable;

/// Which routes are ours.
#[derive(Clone, Copy, Debug)]
pub struct Ownership<'a> {
    /// Our route protocol.
    pub protocol: u8,
    /// Interfaces whose name starts with one of these are ours (workload veths).
    pub interface_prefixes: &'a [String],
}

impl Ownership<'_> {
    /// Whether `k` carries our protocol.
    pub fn is_ours(&self, k: &KernelRoute) -> bool {
        k.protocol == self.protocol
    }

    /// Whether interface `dev` is one of ours.
    pub fn owns_interface(&self, dev: Option<&str>) -> bool {
        dev.is_some_and(|d| {
            self.interface_prefixes
                .iter()
                .any(|p| !p.is_empty() && d.starts_with(p.as_str()))
        })
    }
}

/// A plan: operations in the order to apply them (deletes, replaces, adds), and the desired
/// routes that cannot be programmed now, with the reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub ops: Vec<RouteOp>,
    pub problems: Vec<RouteProblem>,
}

/// Collects operations by kind so the plan applies deletes first.
#[derive(Default)]
pub(crate) struct OpsByKind {
    deletes: Vec<RouteOp>,
    replaces: Vec<RouteOp>,
    adds: Vec<RouteOp>,
}

impl OpsByKind {
    fn push(&mut self, op: RouteOp) {
        match op {
            RouteOp::Delete(_) => self.deletes.push(op),
            RouteOp::Replace(_) => self.replaces.push(op),
            RouteOp::Add(_) => self.adds.push(op),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.deletes.len() + self.replaces.len() + self.adds.len()
    }

    pub(crate) fn into_vec(self) -> Vec<RouteOp> {
        let mut v = self.deletes;
        v.extend(self.replaces);
        v.extend(self.adds);
        v
    }
}

/// Plans the whole table: every destination that is desired or has a route of ours.
pub fn plan(
    desired: &BTreeMap<IpNet, Route>,
    kernel: &RouteTable,
    links: &Links,
    own: Ownership<'_>,
) -> Plan {
    let mut ops = OpsByKind::default();
    let mut problems = Vec::new();
    let mut dsts: Vec<&IpNet> = desired.keys().collect();
    dsts.extend(
        kernel
            .destinations()
            .filter(|d| !desired.contains_key(*d) && kernel.at(d).iter().any(|k| own.is_ours(k))),
    );
    for dst in dsts {
        if let Some(p) =
            plan_destination(dst, desired.get(dst), kernel.at(dst), links, own, &mut ops)
        {
            problems.push(p);
        }
    }
    Plan {
        ops: ops.into_vec(),
        problems,
    }
}

/// Plans one destination: `want` (if desired) against the kernel's routes `have` to it.
/// Pushes the operations; returns why `want` cannot be programmed now, if it cannot.
pub(crate) fn plan_destination(
    dst: &IpNet,
    want: Option<&Route>,
    have: &[KernelRoute],
    links: &Links,
    own: Ownership<'_>,
    ops: &mut OpsByKind,
) -> Option<RouteProblem> {
    let ours = have.iter().filter(|k| own.is_ours(k));
    let Some(route) = want else {
        for k in ours {
            ops.push(RouteOp::Delete(delete_request(k)));
        }
        return None;
    };
    debug_assert_eq!(&route.dst, dst, "desired routes are keyed by destination");
    let oif = match route.interface() {
        Some(name) => match links.index(name) {
            Some(i) => Some(i),
            None => {
                for k in ours {
                    ops.push(RouteOp::Delete(delete_request(k)));
                }
                return Some(RouteProblem::MissingInterface {
                    route: route.clone(),
                    iface: name.to_owned(),
                });
            }
        },
        None => None,
    };
    let wanted = route.to_kernel(own.protocol, oif);
    let in_slot = |k: &KernelRoute| k.tos == wanted.tos && k.metric == wanted.metric;
    let mut satisfied = false;
    for k in ours {
        if !in_slot(k) {
            ops.push(RouteOp::Delete(delete_request(k)));
        } else if route.is_satisfied_by(k) && k.oif == wanted.oif.or(k.oif) {
            satisfied = true;
        }
    }
    if satisfied {
        return None;
    }
    let occupant = have
        .iter()
        .filter(|k| in_slot(k))
        .min_by_key(|k| !own.is_ours(k));
    match occupant {
        None => ops.push(RouteOp::Add(wanted)),
        Some(k) if own.is_ours(k) || own.owns_interface(k.dev.as_deref()) => {
            ops.push(RouteOp::Replace(wanted))
        }
        Some(k) => {
            return Some(RouteProblem::Conflict {
                route: route.clone(),
                existing: k.clone(),
            });
        }
    }
    None
}

/// The delete request for our route `k`: destination, TOS, metric, type and our protocol;
/// any scope.
fn delete_request(k: &KernelRoute) -> KernelRoute {
    KernelRoute {
        scope: scope::NOWHERE,
        kind: match k.kind {
            RouteKind::Other(_) => RouteKind::Other(0),
            kind => kind,
        },
        ..k.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::route::protocol;

    const OURS: u8 = 80;

    fn links() -> Links {
        [("cali1".to_owned(), 4), ("eth0".to_owned(), 2)]
            .into_iter()
            .collect()
    }

    fn prefixes() -> Vec<String> {
        vec!["cali".to_owned()]
    }

    fn run(desired: &[Route], kernel: &[KernelRoute]) -> Plan {
        let p = prefixes();
        let own = Ownership {
            protocol: OURS,
            interface_prefixes: &p,
        };
        let d = desired.iter().map(|r| (r.dst, r.clone())).collect();
        plan(
            &d,
            &RouteTable::from_routes(kernel.iter().cloned()),
            &links(),
            own,
        )
    }

    fn wl(ip: &str, dev: &str) -> Route {
        Route::workload(ip.parse().unwrap(), dev)
    }

    #[test]
    fn nothing_to_do_when_the_kernel_already_holds_the_routes() {
        let r = wl("10.65.0.2", "cali1");
        let p = run(std::slice::from_ref(&r), &[r.to_kernel(OURS, Some(4))]);
        assert_eq!(p, Plan::default());
    }

    #[test]
    fn adds_missing_replaces_changed_and_deletes_unwanted_routes_of_ours() {
        let a = wl("10.65.0.2", "cali1");
        let b = Route::blackhole("10.65.0.0/26".parse().unwrap());
        let gone = wl("10.65.0.3", "cali1").to_kernel(OURS, Some(4));
        let changed = Route::blackhole("10.65.0.2/32".parse().unwrap()).to_kernel(OURS, None);
        let p = run(&[a.clone(), b.clone()], &[gone.clone(), changed]);
        assert_eq!(
            p.ops,
            vec![
                RouteOp::Delete(delete_request(&gone)),
                RouteOp::Replace(a.to_kernel(OURS, Some(4))),
                RouteOp::Add(b.to_kernel(OURS, None)),
            ]
        );
    }

    #[test]
    fn a_foreign_route_on_our_interface_is_taken_over() {
        let r = wl("10.65.0.2", "cali1");
        let cni = r.to_kernel(protocol::BOOT, Some(4));
        let p = run(std::slice::from_ref(&r), &[cni]);
        assert_eq!(p.ops, vec![RouteOp::Replace(r.to_kernel(OURS, Some(4)))]);
    }

    #[test]
    fn a_foreign_route_elsewhere_wins_and_is_reported() {
        let r = wl("10.65.0.2", "cali1");
        let foreign = wl("10.65.0.2", "eth0").to_kernel(protocol::STATIC, Some(2));
        let p = run(std::slice::from_ref(&r), std::slice::from_ref(&foreign));
        assert!(p.ops.is_empty());
        assert_eq!(
            p.problems,
            vec![RouteProblem::Conflict {
                route: r,
                existing: foreign
            }]
        );
    }

    #[test]
    fn foreign_routes_in_other_slots_and_to_other_destinations_are_ignored() {
        let r = wl("10.65.0.2", "cali1");
        let mut other_metric = wl("10.65.0.2", "eth0").to_kernel(protocol::STATIC, Some(2));
        other_metric.metric = 100;
        let default = Route::via(
            "0.0.0.0/0".parse().unwrap(),
            "192.168.1.254".parse().unwrap(),
        )
        .to_kernel(protocol::BOOT, Some(2));
        let p = run(std::slice::from_ref(&r), &[other_metric, default]);
        assert_eq!(p.ops, vec![RouteOp::Add(r.to_kernel(OURS, Some(4)))]);
    }

    #[test]
    fn a_route_whose_interface_is_missing_waits_and_the_old_one_goes() {
        let r = wl("10.65.0.2", "cali9");
        let old = wl("10.65.0.2", "cali1").to_kernel(OURS, Some(4));
        let p = run(std::slice::from_ref(&r), std::slice::from_ref(&old));
        assert_eq!(p.ops, vec![RouteOp::Delete(delete_request(&old))]);
        assert!(matches!(
            &p.problems[..],
            [RouteProblem::MissingInterface { iface, .. }] if iface == "cali9"
        ));
    }

    #[test]
    fn an_interface_recreated_with_a_new_index_gets_the_route_again() {
        let r = wl("10.65.0.2", "cali1");
        let stale = r.to_kernel(OURS, Some(99));
        let p = run(std::slice::from_ref(&r), &[stale]);
        assert_eq!(p.ops, vec![RouteOp::Replace(r.to_kernel(OURS, Some(4)))]);
    }
}
