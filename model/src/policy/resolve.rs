//! Resolution: from a snapshot of the cluster's resources to one host's [`HostPolicy`].
//!
//! A pure batch function. For each local endpoint and direction it picks the policies that
//! select the endpoint and apply in that direction, groups them by tier, orders tiers and
//! policies (module `endpoint_program`), appends the endpoint's profiles, compiles the rules
//! of every policy and profile used, and computes every address set those rules refer to
//! (as Felix's `felix/rules/endpoints.go` does). See [`super::resolved`] for what the result
//! means.
//!
//! Each step on one resource is a public function of [`super::parts`], so that an
//! incremental calculator computes exactly what this function computes.

use std::collections::{BTreeMap, BTreeSet};

use super::compile::{compile_policy, compile_profile};
use super::endpoint_program::{
    host_endpoint_interface_taken, host_endpoint_program, host_endpoint_without_interface,
    policies_of_host_endpoint, policies_of_workload, workload_interface_taken, workload_program,
    workload_without_interface,
};
use super::entity::EntityId;
use super::index::{Entity, Index};
use super::ipsets::IpSetRegistry;
use super::policy_entry::{PolicyMeta, TierInfo};
use super::resolved::{HostPolicy, IpPoolNets, PolicyId, Problem};
use super::settings::HostSettings;
use super::snapshot::Snapshot;
use crate::resources::IPPool;
use crate::selector::Selector;

struct Resolver<'a> {
    index: Index<'a>,
    /// Each usable policy with its parsed endpoint selector and what ordering needs of it.
    selectors: Vec<(usize, Selector, PolicyMeta)>,
    problems: Vec<Problem>,
}

/// Resolves the policy of `host` from a snapshot of the whole cluster.
pub fn resolve(snapshot: &Snapshot, host: &str) -> HostPolicy {
    let index = Index::new(snapshot);
    let mut problems = index.problems.clone();
    let mut selectors = Vec::new();
    for (i, p) in index.policies.iter().enumerate() {
        match p.endpoint_selector() {
            Ok(sel) => selectors.push((i, sel, p.meta())),
            Err(problem) => problems.push(problem),
        }
    }
    let r = Resolver {
        index,
        selectors,
        problems,
    };
    r.run(snapshot, host)
}

impl<'a> Resolver<'a> {
    fn run(mut self, snapshot: &Snapshot, host: &str) -> HostPolicy {
        let mut workload_endpoints = BTreeMap::new();
        let mut host_endpoints = BTreeMap::new();
        let mut profile_names = Vec::new();
        let tier = |name: &str| -> TierInfo { self.index.tier(name) };
        for e in self.index.entities.iter().filter(|e| e.node == Some(host)) {
            let iface = e.interface.unwrap_or_default();
            match &e.id {
                EntityId::Workload { namespace, name } => {
                    if iface.is_empty() {
                        self.problems
                            .push(workload_without_interface(namespace, name));
                        continue;
                    }
                    if workload_endpoints.contains_key(iface) {
                        self.problems
                            .push(workload_interface_taken(namespace, name, iface));
                        continue;
                    }
                    profile_names.extend(e.profiles.iter().cloned());
                    let matching = matching(&self.selectors, e);
                    let wep = workload_program(namespace, name, &matching, e.profiles, &tier);
                    workload_endpoints.insert(iface.to_owned(), wep);
                }
                EntityId::Host { name } => {
                    if iface.is_empty() {
                        self.problems.push(host_endpoint_without_interface(name));
                        continue;
                    }
                    if host_endpoints.contains_key(iface) {
                        self.problems
                            .push(host_endpoint_interface_taken(name, iface));
                        continue;
                    }
                    profile_names.extend(e.profiles.iter().cloned());
                    let matching = matching(&self.selectors, e);
                    let (hep, problem) =
                        host_endpoint_program(name, iface, &matching, e.profiles, &tier);
                    self.problems.extend(problem);
                    host_endpoints.insert(iface.to_owned(), hep);
                }
                _ => {}
            }
        }

        let mut sets = IpSetRegistry::default();
        let mut policies = BTreeMap::new();
        let used: BTreeSet<&PolicyId> = workload_endpoints
            .values()
            .flat_map(policies_of_workload)
            .chain(host_endpoints.values().flat_map(policies_of_host_endpoint))
            .collect();
        for id in used {
            let Some(p) = self.index.policies.iter().find(|p| &p.id == id) else {
                continue;
            };
            match compile_policy(p) {
                Ok(c) => {
                    sets.extend(c.sets);
                    policies.insert(id.clone(), c.rules);
                }
                Err(problem) => self.problems.push(problem),
            }
        }
        let mut profiles = BTreeMap::new();
        for name in profile_names {
            if profiles.contains_key(&name) {
                continue;
            }
            let entry = self.index.profiles.get(name.as_str()).map(|p| p.profile);
            let (c, problem) = compile_profile(&name, entry);
            self.problems.extend(problem);
            sets.extend(c.sets);
            profiles.insert(name, c.rules);
        }
        let ip_sets = sets.into_sets(&self.index);
        let mut problems = self.problems;
        problems.sort();
        problems.dedup();
        HostPolicy {
            host: host.to_owned(),
            workload_endpoints,
            host_endpoints,
            policies,
            profiles,
            ip_sets,
            ip_pools: ip_pools(&snapshot.ip_pools),
            settings: HostSettings::for_node(&snapshot.felix_configurations, host),
            problems,
        }
    }
}

/// The policies whose endpoint selector matches `e`.
fn matching<'s>(selectors: &'s [(usize, Selector, PolicyMeta)], e: &Entity) -> Vec<&'s PolicyMeta> {
    selectors
        .iter()
        .filter(|(_, sel, _)| sel.matches(&e.labels))
        .map(|(_, _, meta)| meta)
        .collect()
}

/// The networks of `pools` (disabled pools included) and of those with NAT outgoing.
pub fn ip_pools(pools: &[IPPool]) -> IpPoolNets {
    let mut out = IpPoolNets::default();
    for p in pools {
        if let Some(net) = p.spec.network() {
            out.all.insert(net);
            if p.spec.nat_outgoing {
                out.nat_outgoing.insert(net);
            }
        }
    }
    out
}
