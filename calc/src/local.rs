//! This host's endpoints by interface: which endpoints claim each interface (the first by
//! ID wins, as in `resolve`; the others are reported and ignored), which interfaces need
//! their programs, routes and configuration recomputed, and what the consumers were last
//! sent for each.

use std::collections::{BTreeMap, BTreeSet};

use dataplane::links::InterfaceConfig;
use dataplane::routes::Route;
use ipnet::IpNet;
use model::policy::parts::EntityId;
use model::policy::{HostEndpointPolicy, WorkloadEndpointPolicy};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndpointKind {
    Workload,
    Host,
}

/// A local workload interface as sent: its owner, addresses and configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LocalWorkload {
    pub id: EntityId,
    pub nets: Vec<IpNet>,
    pub config: InterfaceConfig,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct LocalState {
    /// Interface → the local endpoints naming it, in ID order (`""`: those naming none).
    pub workload_claims: BTreeMap<String, BTreeSet<EntityId>>,
    pub host_claims: BTreeMap<String, BTreeSet<EntityId>>,
    /// Interfaces to recompute at the next flush.
    pub dirty_workloads: BTreeSet<String>,
    pub dirty_hosts: BTreeSet<String>,
    /// The programs sent, by interface.
    pub workload_programs: BTreeMap<String, WorkloadEndpointPolicy>,
    pub host_programs: BTreeMap<String, HostEndpointPolicy>,
    /// The workload interfaces sent (configuration, and the addresses routed to them).
    pub workloads: BTreeMap<String, LocalWorkload>,
    /// Destination → the local workloads with that address, with their interfaces; the
    /// first by ID gets the route.
    pub route_owners: BTreeMap<IpNet, BTreeSet<(EntityId, String)>>,
    pub dirty_routes: BTreeSet<IpNet>,
    /// The routes sent (and prefixes originated), by destination.
    pub routes: BTreeMap<IpNet, Route>,
}

impl LocalState {
    fn claims(&mut self, kind: EndpointKind) -> &mut BTreeMap<String, BTreeSet<EntityId>> {
        match kind {
            EndpointKind::Workload => &mut self.workload_claims,
            EndpointKind::Host => &mut self.host_claims,
        }
    }

    pub fn claim(&mut self, kind: EndpointKind, iface: &str, id: EntityId) {
        self.claims(kind)
            .entry(iface.to_owned())
            .or_default()
            .insert(id);
        self.mark(kind, iface);
    }

    pub fn unclaim(&mut self, kind: EndpointKind, iface: &str, id: &EntityId) {
        let claims = self.claims(kind);
        if let Some(c) = claims.get_mut(iface) {
            c.remove(id);
            if c.is_empty() {
                claims.remove(iface);
            }
        }
        self.mark(kind, iface);
    }

    /// Interface `iface` needs recomputing.
    pub fn mark(&mut self, kind: EndpointKind, iface: &str) {
        let dirty = match kind {
            EndpointKind::Workload => &mut self.dirty_workloads,
            EndpointKind::Host => &mut self.dirty_hosts,
        };
        if !dirty.contains(iface) {
            dirty.insert(iface.to_owned());
        }
    }

    /// The endpoint that gets interface `iface`, if any.
    pub fn winner(&self, kind: EndpointKind, iface: &str) -> Option<&EntityId> {
        if iface.is_empty() {
            return None;
        }
        let claims = match kind {
            EndpointKind::Workload => &self.workload_claims,
            EndpointKind::Host => &self.host_claims,
        };
        claims.get(iface)?.first()
    }

    /// Records `now` as what interface `iface` routes (replacing what it routed), marking
    /// the destinations that changed.
    pub fn set_routes(
        &mut self,
        iface: &str,
        old: Option<&LocalWorkload>,
        now: Option<&LocalWorkload>,
    ) {
        if let Some(o) = old {
            for n in &o.nets {
                if let Some(owners) = self.route_owners.get_mut(n) {
                    owners.remove(&(o.id.clone(), iface.to_owned()));
                    if owners.is_empty() {
                        self.route_owners.remove(n);
                    }
                }
                self.dirty_routes.insert(*n);
            }
        }
        if let Some(w) = now {
            for n in &w.nets {
                self.route_owners
                    .entry(*n)
                    .or_default()
                    .insert((w.id.clone(), iface.to_owned()));
                self.dirty_routes.insert(*n);
            }
        }
    }
}
