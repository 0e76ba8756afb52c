//! Resolution: from a snapshot of the cluster's resources to one host's [`HostPolicy`].
//!
//! A pure batch function. For each local endpoint and direction it picks the policies that
//! select the endpoint and apply in that direction, groups them by tier, orders tiers (by
//! order, missing last, then name; tiers that do not exist after all others) and policies
//! (by order, missing last, then Felix name), appends the endpoint's profiles, compiles the
//! rules of every policy and profile used, and computes every address set those rules refer
//! to (as Felix's `felix/rules/endpoints.go` does). See [`super::resolved`] for what the result means.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::compile::compile_rule;
use super::index::{Entity, EntityId, Index, PolicyEntry};
use super::ipsets::{IpSetRegistry, policy_selector};
use super::resolved::{
    DirectionPolicy, HostEndpointPolicy, HostPolicy, IpPoolNets, PolicyId, PolicyRules, Problem,
    ProfileRules, ResolvedRule, TierPolicies, WorkloadEndpointPolicy,
};
use super::settings::HostSettings;
use super::snapshot::Snapshot;
use crate::resources::{Action, Kind, Rule};
use crate::selector::Selector;

/// Which policies a program takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    /// Filter-table policy of workloads and host endpoints.
    Normal,
    /// `applyOnForward` policy of host endpoints, for forwarded traffic.
    Forward,
    /// `preDNAT` policy of host endpoints.
    PreDnat,
    /// `doNotTrack` policy of host endpoints.
    Untracked,
}

impl Flavor {
    fn takes(self, p: &PolicyEntry) -> bool {
        match self {
            Flavor::Normal => !p.do_not_track && !p.pre_dnat,
            Flavor::Forward => p.apply_on_forward && !p.do_not_track && !p.pre_dnat,
            Flavor::PreDnat => p.pre_dnat,
            Flavor::Untracked => p.do_not_track,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

struct Resolver<'a> {
    index: Index<'a>,
    /// Each usable policy with its parsed endpoint selector.
    selectors: Vec<(usize, Selector)>,
    problems: Vec<Problem>,
}

/// Resolves the policy of `host` from a snapshot of the whole cluster.
pub fn resolve(snapshot: &Snapshot, host: &str) -> HostPolicy {
    let index = Index::new(snapshot);
    let mut problems = index.problems.clone();
    let mut selectors = Vec::new();
    for (i, p) in index.policies.iter().enumerate() {
        match policy_selector(p).and_then(|t| Selector::parse(&t).map_err(|e| e.to_string())) {
            Ok(sel) => selectors.push((i, sel)),
            Err(msg) => problems.push(policy_problem(
                &p.id,
                format!("{msg}; the policy is ignored"),
            )),
        }
    }
    let r = Resolver {
        index,
        selectors,
        problems,
    };
    r.run(snapshot, host)
}

fn policy_problem(id: &PolicyId, message: String) -> Problem {
    match id {
        PolicyId::Global { name } => Problem {
            kind: Kind::GlobalNetworkPolicy,
            namespace: None,
            name: name.clone(),
            message,
        },
        PolicyId::Namespaced { namespace, name } => Problem {
            kind: Kind::NetworkPolicy,
            namespace: Some(namespace.clone()),
            name: name.clone(),
            message,
        },
    }
}

fn order_key(order: Option<f64>) -> f64 {
    order.unwrap_or(f64::INFINITY)
}

impl<'a> Resolver<'a> {
    fn run(mut self, snapshot: &Snapshot, host: &str) -> HostPolicy {
        let mut workload_endpoints = BTreeMap::new();
        let mut host_endpoints = BTreeMap::new();
        let mut profile_names = Vec::new();
        for e in self.index.entities.iter().filter(|e| e.node == Some(host)) {
            let iface = e.interface.unwrap_or_default();
            match &e.id {
                EntityId::Workload { namespace, name } => {
                    if iface.is_empty() {
                        self.problems.push(Problem {
                            kind: Kind::WorkloadEndpoint,
                            namespace: Some(namespace.clone()),
                            name: name.clone(),
                            message: "no interfaceName; the endpoint is ignored".to_owned(),
                        });
                        continue;
                    }
                    if workload_endpoints.contains_key(iface) {
                        self.problems.push(Problem {
                            kind: Kind::WorkloadEndpoint,
                            namespace: Some(namespace.clone()),
                            name: name.clone(),
                            message: format!(
                                "interface {iface:?} is already used by another endpoint of this host; the endpoint is ignored"
                            ),
                        });
                        continue;
                    }
                    profile_names.extend(e.profiles.iter().cloned());
                    let wep = WorkloadEndpointPolicy {
                        namespace: namespace.clone(),
                        name: name.clone(),
                        ingress: self.direction(e, Direction::Ingress),
                        egress: self.direction(e, Direction::Egress),
                    };
                    workload_endpoints.insert(iface.to_owned(), wep);
                }
                EntityId::Host { name } => {
                    let message = if iface.is_empty() {
                        Some("no interfaceName; host endpoints matched by expectedIPs are not supported, the endpoint is ignored".to_owned())
                    } else if host_endpoints.contains_key(iface) {
                        Some(format!(
                            "interface {iface:?} already has a host endpoint; the endpoint is ignored"
                        ))
                    } else {
                        None
                    };
                    if let Some(message) = message {
                        self.problems.push(Problem {
                            kind: Kind::HostEndpoint,
                            namespace: None,
                            name: name.clone(),
                            message,
                        });
                        continue;
                    }
                    profile_names.extend(e.profiles.iter().cloned());
                    let mut untracked_ingress =
                        self.tiers(e, Direction::Ingress, Flavor::Untracked);
                    let mut untracked_egress = self.tiers(e, Direction::Egress, Flavor::Untracked);
                    if iface == "*"
                        && !(untracked_ingress.is_empty() && untracked_egress.is_empty())
                    {
                        // As in Felix: untracked policy needs a specific interface.
                        self.problems.push(Problem {
                            kind: Kind::HostEndpoint,
                            namespace: None,
                            name: name.clone(),
                            message: "doNotTrack policy does not apply to a host endpoint for all interfaces (interfaceName \"*\"); it is ignored".to_owned(),
                        });
                        untracked_ingress.clear();
                        untracked_egress.clear();
                    }
                    let hep = HostEndpointPolicy {
                        name: name.clone(),
                        ingress: self.direction(e, Direction::Ingress),
                        egress: self.direction(e, Direction::Egress),
                        forward_ingress: self.tiers(e, Direction::Ingress, Flavor::Forward),
                        forward_egress: self.tiers(e, Direction::Egress, Flavor::Forward),
                        pre_dnat_ingress: self.tiers(e, Direction::Ingress, Flavor::PreDnat),
                        untracked_ingress,
                        untracked_egress,
                    };
                    host_endpoints.insert(iface.to_owned(), hep);
                }
                _ => {}
            }
        }

        let mut sets = IpSetRegistry::default();
        let mut policies = BTreeMap::new();
        let used = used_policies(
            workload_endpoints
                .values()
                .flat_map(|w| [&w.ingress.tiers, &w.egress.tiers]),
            host_endpoints.values().flat_map(|h| {
                [
                    &h.ingress.tiers,
                    &h.egress.tiers,
                    &h.forward_ingress,
                    &h.forward_egress,
                    &h.pre_dnat_ingress,
                    &h.untracked_ingress,
                    &h.untracked_egress,
                ]
            }),
        );
        for id in used {
            let Some(p) = self.index.policies.iter().find(|p| p.id == id) else {
                continue;
            };
            let ns = p.namespace;
            let saved = sets.clone();
            let compiled = compile_all(p.ingress, ns, &mut sets)
                .and_then(|i| Ok((i, compile_all(p.egress, ns, &mut sets)?)));
            match compiled {
                Ok((ingress, egress)) => {
                    let rules = PolicyRules {
                        tier: p.tier.to_owned(),
                        ingress,
                        egress,
                    };
                    policies.insert(id, rules);
                }
                // The selectors were checked when the snapshot was indexed, so this is a
                // combined selector that does not parse (an over-long prefixed label).
                Err(msg) => {
                    sets = saved;
                    self.problems.push(policy_problem(&id, msg));
                }
            }
        }
        let mut profiles = BTreeMap::new();
        for name in profile_names {
            if profiles.contains_key(&name) {
                continue;
            }
            let rules = self.profile_rules(&name, &mut sets);
            profiles.insert(name, rules);
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
            ip_pools: ip_pools(snapshot),
            settings: HostSettings::for_node(&snapshot.felix_configurations, host),
            problems,
        }
    }

    fn profile_rules(&mut self, name: &str, sets: &mut IpSetRegistry) -> ProfileRules {
        let drop = || ProfileRules {
            ingress: vec![ResolvedRule::any(Action::Deny)],
            egress: vec![ResolvedRule::any(Action::Deny)],
            missing: true,
        };
        let Some(entry) = self.index.profiles.get(name) else {
            self.problems.push(Problem {
                kind: Kind::Profile,
                namespace: None,
                name: name.to_owned(),
                message: "does not exist; endpoints using it get drop rules".to_owned(),
            });
            return drop();
        };
        if !entry.rules_valid {
            return drop();
        }
        let spec = &entry.profile.spec;
        let saved = sets.clone();
        let compiled = compile_all(&spec.ingress, None, sets)
            .and_then(|i| Ok((i, compile_all(&spec.egress, None, sets)?)));
        match compiled {
            Ok((ingress, egress)) => ProfileRules {
                ingress,
                egress,
                missing: false,
            },
            Err(message) => {
                *sets = saved;
                self.problems.push(Problem {
                    kind: Kind::Profile,
                    namespace: None,
                    name: name.to_owned(),
                    message: format!("{message}; endpoints using it get drop rules"),
                });
                drop()
            }
        }
    }

    fn direction(&self, e: &Entity, dir: Direction) -> DirectionPolicy {
        DirectionPolicy {
            tiers: self.tiers(e, dir, Flavor::Normal),
            profiles: e.profiles.to_vec(),
        }
    }

    /// The tiers with policies selecting `e` for `dir`, in order.
    fn tiers(&self, e: &Entity, dir: Direction, flavor: Flavor) -> Vec<TierPolicies> {
        let mut by_tier: BTreeMap<&str, Vec<&PolicyEntry>> = BTreeMap::new();
        for (i, sel) in &self.selectors {
            let Some(p) = self.index.policies.get(*i) else {
                continue;
            };
            let applies = match dir {
                Direction::Ingress => p.ingress_type,
                Direction::Egress => p.egress_type,
            };
            if applies && flavor.takes(p) && sel.matches(&e.labels) {
                by_tier.entry(p.tier).or_default().push(p);
            }
        }
        let mut tiers: Vec<(&str, Vec<&PolicyEntry>)> = by_tier.into_iter().collect();
        tiers.sort_by(|(a, _), (b, _)| {
            let (ta, tb) = (self.index.tier(a), self.index.tier(b));
            tb.valid
                .cmp(&ta.valid)
                .then_with(|| order_key(ta.order).total_cmp(&order_key(tb.order)))
                .then_with(|| a.cmp(b))
        });
        tiers
            .into_iter()
            .map(|(name, mut pols)| {
                pols.sort_by(|a, b| policy_cmp(a, b));
                TierPolicies {
                    tier: name.to_owned(),
                    default_action: self.index.tier(name).default_action,
                    policies: pols.iter().map(|p| p.id.clone()).collect(),
                }
            })
            .collect()
    }
}

fn policy_cmp(a: &PolicyEntry, b: &PolicyEntry) -> Ordering {
    order_key(a.order)
        .total_cmp(&order_key(b.order))
        .then_with(|| a.id.felix_name().cmp(&b.id.felix_name()))
}

fn used_policies<'t>(
    a: impl Iterator<Item = &'t Vec<TierPolicies>>,
    b: impl Iterator<Item = &'t Vec<TierPolicies>>,
) -> std::collections::BTreeSet<PolicyId> {
    a.chain(b)
        .flat_map(|tiers| tiers.iter().flat_map(|t| t.policies.iter().cloned()))
        .collect()
}

fn compile_all(
    rules: &[Rule],
    ns: Option<&str>,
    sets: &mut IpSetRegistry,
) -> Result<Vec<ResolvedRule>, String> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| compile_rule(r, ns, sets).map_err(|m| format!("rule {i}: {m}")))
        .collect()
}

fn ip_pools(snapshot: &Snapshot) -> IpPoolNets {
    let mut out = IpPoolNets::default();
    for p in &snapshot.ip_pools {
        if let Some(net) = p.spec.network() {
            out.all.insert(net);
            if p.spec.nat_outgoing {
                out.nat_outgoing.insert(net);
            }
        }
    }
    out
}
