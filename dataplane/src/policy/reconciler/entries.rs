//! The per-entry setters of [`PolicyReconciler`]: one set, policy, profile or endpoint at a
//! time, as an incremental calculator emits them ([`PolicyDelta`]). Each re-renders only the
//! objects of its entry (a workload's two chains and its dispatch elements, a policy's two
//! chains, a set's two family sets) and marks dirty what differs, so its cost is that of the
//! change. After any sequence of them the desired table is exactly what
//! [`PolicyReconciler::set_host_policy`] of the resulting
//! [`model::policy::HostPolicy`] gives
//! (`dataplane/tests/policy_entries.rs`).
//!
//! Two changes re-render more than their entry: a host endpoint re-renders the host
//! endpoint part (every host endpoint's chains, their dispatch, the base chains that depend
//! on whether there is a `*` endpoint: a handful of objects per host endpoint), and the
//! settings re-render the whole table (they are in every workload chain).

use model::policy::{
    HostEndpointPolicy, HostSettings, IpPoolNets, IpSet, IpSetKind, NamedPortMember, PolicyDelta,
    PolicyId, PolicyRules, ProfileRules, WorkloadEndpointPolicy,
};

use super::{PolicyReconciler, of_family};
use crate::policy::ir::{Chain, DispatchMap, Element, Family, Set};
use crate::policy::names;
use crate::policy::render::{
    nets_set, render_fixed, render_host_part, render_ip_set, render_policy, render_profile,
    render_workload,
};

impl PolicyReconciler {
    /// Applies one delta through the setter of its entry.
    pub fn apply(&mut self, delta: &PolicyDelta) {
        match delta {
            PolicyDelta::Settings(s) => self.set_settings(s),
            PolicyDelta::IpPools(p) => self.set_ip_pools(p),
            PolicyDelta::ProblemAdded(_) | PolicyDelta::ProblemRemoved(_) => {
                // Nothing to render; kept in the model.
                self.hp.apply(delta);
            }
            PolicyDelta::SetUpserted { id, set } => self.upsert_set(id, set),
            PolicyDelta::SetMembers { id, added, removed } => {
                self.ensure_rendered();
                self.update_set_members(id, added, removed);
            }
            PolicyDelta::NamedPortMembers { id, added, removed } => {
                self.update_named_port_members(id, added, removed)
            }
            PolicyDelta::SetRemoved { id } => self.remove_set(id),
            PolicyDelta::PolicyUpserted { id, rules } => self.upsert_policy(id, rules),
            PolicyDelta::PolicyRemoved { id } => self.remove_policy(id),
            PolicyDelta::ProfileUpserted { name, rules } => self.upsert_profile(name, rules),
            PolicyDelta::ProfileRemoved { name } => self.remove_profile(name),
            PolicyDelta::WorkloadEndpointUpserted { iface, policy } => {
                self.upsert_workload_endpoint(iface, policy)
            }
            PolicyDelta::WorkloadEndpointRemoved { iface } => self.remove_workload_endpoint(iface),
            PolicyDelta::HostEndpointUpserted { iface, policy } => {
                self.upsert_host_endpoint(iface, policy)
            }
            PolicyDelta::HostEndpointRemoved { iface } => self.remove_host_endpoint(iface),
        }
    }

    /// Creates or replaces address set `id` with all its members.
    pub fn upsert_set(&mut self, id: &str, set: &IpSet) {
        self.ensure_rendered();
        self.hp.ip_sets.insert(id.to_owned(), set.clone());
        for (name, s) in render_ip_set(id, set) {
            match &set.kind {
                IpSetKind::Nets(nets) => {
                    let members = of_family(nets, s.set_type.family());
                    self.members.insert(name.clone(), members);
                }
                IpSetKind::NamedPort { .. } => {
                    self.members.remove(&name);
                }
            }
            self.put_set(name, s);
        }
    }

    /// Removes address set `id`.
    pub fn remove_set(&mut self, id: &str) {
        self.ensure_rendered();
        self.hp.ip_sets.remove(id);
        for f in [Family::V4, Family::V6] {
            let name = names::ip_set(id, f);
            self.members.remove(&name);
            self.drop_set(&name);
        }
    }

    /// Adds and removes members of the named-port set `id`.
    pub fn update_named_port_members(
        &mut self,
        id: &str,
        added: &[NamedPortMember],
        removed: &[NamedPortMember],
    ) {
        self.ensure_rendered();
        let Some(IpSetKind::NamedPort { members, .. }) =
            self.hp.ip_sets.get_mut(id).map(|s| &mut s.kind)
        else {
            return;
        };
        for m in removed {
            members.remove(m);
        }
        members.extend(added.iter().copied());
        let changes = removed
            .iter()
            .map(|m| (m, false))
            .chain(added.iter().map(|m| (m, true)));
        for (m, add) in changes {
            let name = names::ip_set(id, Family::of_addr(&m.addr));
            let Some(set) = self.desired.sets.get_mut(&name) else {
                continue;
            };
            let e = Element::AddrProtoPort(m.addr, m.protocol, m.port);
            let changed = if add {
                set.elements.insert(e)
            } else {
                set.elements.remove(&e)
            };
            if changed {
                self.dirty.sets.insert(name);
            }
        }
    }

    /// Creates or replaces the chains of policy `id`.
    pub fn upsert_policy(&mut self, id: &PolicyId, rules: &PolicyRules) {
        self.ensure_rendered();
        self.hp.policies.insert(id.clone(), rules.clone());
        for (name, chain) in render_policy(id, rules) {
            self.put_chain(name, chain);
        }
    }

    /// Removes the chains of policy `id`.
    pub fn remove_policy(&mut self, id: &PolicyId) {
        self.ensure_rendered();
        self.hp.policies.remove(id);
        for ingress in [true, false] {
            self.drop_chain(&names::policy(id, ingress));
        }
    }

    /// Creates or replaces the chains of profile `name`.
    pub fn upsert_profile(&mut self, name: &str, rules: &ProfileRules) {
        self.ensure_rendered();
        self.hp.profiles.insert(name.to_owned(), rules.clone());
        for (chain_name, chain) in render_profile(name, rules) {
            self.put_chain(chain_name, chain);
        }
    }

    /// Removes the chains of profile `name`.
    pub fn remove_profile(&mut self, name: &str) {
        self.ensure_rendered();
        self.hp.profiles.remove(name);
        for ingress in [true, false] {
            self.drop_chain(&names::profile(name, ingress));
        }
    }

    /// Creates or replaces the chains of the workload interface `iface`, and its dispatch.
    pub fn upsert_workload_endpoint(&mut self, iface: &str, ep: &WorkloadEndpointPolicy) {
        self.ensure_rendered();
        self.hp
            .workload_endpoints
            .insert(iface.to_owned(), ep.clone());
        let [egress, ingress] = render_workload(&self.hp.settings, iface, ep);
        self.put_map_element(names::FROM_WORKLOAD_MAP, iface, Some(egress.0.clone()));
        self.put_map_element(names::TO_WORKLOAD_MAP, iface, Some(ingress.0.clone()));
        for (name, chain) in [egress, ingress] {
            self.put_chain(name, chain);
        }
    }

    /// Removes the chains of the workload interface `iface`, and its dispatch.
    pub fn remove_workload_endpoint(&mut self, iface: &str) {
        self.ensure_rendered();
        self.hp.workload_endpoints.remove(iface);
        self.put_map_element(names::FROM_WORKLOAD_MAP, iface, None);
        self.put_map_element(names::TO_WORKLOAD_MAP, iface, None);
        self.drop_chain(&names::from_workload(iface));
        self.drop_chain(&names::to_workload(iface));
    }

    /// Creates or replaces the host endpoint of interface `iface` (`*`: all interfaces).
    pub fn upsert_host_endpoint(&mut self, iface: &str, ep: &HostEndpointPolicy) {
        self.ensure_rendered();
        self.hp.host_endpoints.insert(iface.to_owned(), ep.clone());
        self.render_host_endpoints();
    }

    /// Removes the host endpoint of interface `iface`.
    pub fn remove_host_endpoint(&mut self, iface: &str) {
        self.ensure_rendered();
        if self.hp.host_endpoints.remove(iface).is_some() {
            self.render_host_endpoints();
        }
    }

    /// The host's policy settings. They appear in every endpoint chain: the whole table is
    /// re-rendered (and only what differs marked dirty).
    pub fn set_settings(&mut self, settings: &HostSettings) {
        if self.rendered && self.hp.settings == *settings {
            return;
        }
        self.hp.settings = settings.clone();
        self.render_all();
    }

    /// The IP pool networks (the `pools` and `masq` sets).
    pub fn set_ip_pools(&mut self, pools: &IpPoolNets) {
        self.ensure_rendered();
        self.hp.ip_pools = pools.clone();
        for f in [Family::V4, Family::V6] {
            for (name, nets) in [
                (names::pools_set(f), &pools.all),
                (names::masq_set(f), &pools.nat_outgoing),
            ] {
                self.members.insert(name.to_owned(), of_family(nets, f));
                self.put_set(name.to_owned(), nets_set(f, nets));
            }
        }
    }

    /// Renders the (empty) model once, so that entries land in a whole table.
    fn ensure_rendered(&mut self) {
        if !self.rendered {
            self.render_all();
        }
    }

    fn render_host_endpoints(&mut self) {
        let part = render_host_part(&self.hp);
        let stale: Vec<String> = self
            .host_chains
            .iter()
            .filter(|n| !part.chains.contains_key(*n))
            .cloned()
            .collect();
        for name in stale {
            self.drop_chain(&name);
        }
        self.host_chains = part.chains.keys().cloned().collect();
        for (name, chain) in part.chains {
            self.put_chain(name, chain);
        }
        for (name, map) in part.maps {
            self.put_map(name, map);
        }
        for (name, chain) in render_fixed(&self.hp) {
            self.put_chain(name.to_owned(), chain);
        }
    }

    fn put_chain(&mut self, name: String, chain: Chain) {
        if self.desired.chains.get(&name) != Some(&chain) {
            self.dirty.chains.insert(name.clone());
            self.desired.chains.insert(name, chain);
        }
    }

    fn drop_chain(&mut self, name: &str) {
        if self.desired.chains.remove(name).is_some() {
            self.dirty.chains.insert(name.to_owned());
        }
    }

    fn put_set(&mut self, name: String, set: Set) {
        if self.desired.sets.get(&name) != Some(&set) {
            self.dirty.sets.insert(name.clone());
            self.desired.sets.insert(name, set);
        }
    }

    fn drop_set(&mut self, name: &str) {
        if self.desired.sets.remove(name).is_some() {
            self.dirty.sets.insert(name.to_owned());
        }
    }

    fn put_map(&mut self, name: String, map: DispatchMap) {
        if self.desired.maps.get(&name) != Some(&map) {
            self.dirty.maps.insert(name.clone());
            self.desired.maps.insert(name, map);
        }
    }

    /// Sets (`Some`) or removes (`None`) one element of a dispatch map.
    fn put_map_element(&mut self, map: &str, iface: &str, chain: Option<String>) {
        let m = self.desired.maps.entry(map.to_owned()).or_default();
        let changed = match chain {
            Some(c) => m.elements.insert(iface.to_owned(), c.clone()) != Some(c),
            None => m.elements.remove(iface).is_some(),
        };
        if changed {
            self.dirty.maps.insert(map.to_owned());
        }
    }
}
