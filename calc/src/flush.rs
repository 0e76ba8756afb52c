//! What a flush does with what updates marked, in this order:
//!
//! 1. each marked local interface: its winner's programs (from the policies that select it,
//!    its profiles, the tiers), the problems of its claimants, and for workloads its routes
//!    and interface configuration; a changed program takes references on the policies and
//!    profiles it names and drops those on the ones it no longer names;
//! 2. each policy and profile whose references or resource changed: compiled again when
//!    still used (taking references on the sets its rules use), dropped when not;
//! 3. each set whose references changed: its members computed when it comes into use,
//!    dropped when no longer used;
//! 4. the deltas, in dependency order (see [`crate::Intents::policy`]).
//!
//! References are taken before they are dropped, so something still used through another
//! endpoint or rule is never dropped and sent again.

use std::collections::BTreeSet;
use std::mem;

use bgp::codec::{Ipv4Prefix, Ipv6Prefix, Prefix};
use dataplane::links::InterfaceConfig;
use dataplane::routes::Route;
use ipnet::IpNet;
use model::policy::parts::{
    EntityId, compile_policy, compile_profile, host_endpoint_interface_taken,
    host_endpoint_program, host_endpoint_without_interface, policies_of_host_endpoint,
    policies_of_workload, tier_info, workload_interface_taken, workload_program,
    workload_without_interface,
};
use model::policy::{DirectionPolicy, PolicyDelta, PolicyId, Problem};

use crate::calculator::Calculator;
use crate::intents::{BgpIntent, Intents, InterfaceIntent, RouteIntent};
use crate::local::{EndpointKind, LocalWorkload};
use crate::problems::Source;

/// Deltas of one flush, by the place they take in the output.
#[derive(Default)]
struct Out {
    upserted_profiles: Vec<PolicyDelta>,
    upserted_policies: Vec<PolicyDelta>,
    endpoints: Vec<PolicyDelta>,
    removed_policies: Vec<PolicyDelta>,
    removed_profiles: Vec<PolicyDelta>,
    /// References to drop once every new reference is taken.
    policy_refs_dropped: Vec<PolicyId>,
    profile_refs_dropped: Vec<String>,
    set_refs_dropped: Vec<u32>,
}

impl Calculator {
    pub(crate) fn compute_intents(&mut self) -> Intents {
        let mut intents = Intents::default();
        let mut out = Out::default();
        for iface in mem::take(&mut self.local.dirty_workloads) {
            self.flush_workload(&iface, &mut out, &mut intents);
        }
        for iface in mem::take(&mut self.local.dirty_hosts) {
            self.flush_host(&iface, &mut out);
        }
        for id in mem::take(&mut out.policy_refs_dropped) {
            if let Some(u) = self.used_policies.get_mut(&id) {
                u.refs = u.refs.saturating_sub(1);
                if u.refs == 0 {
                    self.dirty_policies.insert(id);
                }
            }
        }
        for name in mem::take(&mut out.profile_refs_dropped) {
            if let Some(u) = self.used_profiles.get_mut(&name) {
                u.refs = u.refs.saturating_sub(1);
                if u.refs == 0 {
                    self.dirty_profiles.insert(name);
                }
            }
        }
        for id in mem::take(&mut self.dirty_policies) {
            self.flush_policy(id, &mut out);
        }
        for name in mem::take(&mut self.dirty_profiles) {
            self.flush_profile(name, &mut out);
        }
        for k in mem::take(&mut out.set_refs_dropped) {
            self.sets.drop_ref(k);
        }
        self.settle_sets();
        self.flush_routes(&mut intents);
        self.flush_bgp_config(&mut intents);

        let policy = &mut intents.policy;
        self.settings.drain(&self.cfg.hostname, policy);
        self.problems.drain(policy);
        self.sets.drain_changes(policy);
        policy.append(&mut out.upserted_profiles);
        policy.append(&mut out.upserted_policies);
        policy.append(&mut out.endpoints);
        policy.append(&mut out.removed_policies);
        policy.append(&mut out.removed_profiles);
        self.sets.drain_removed(policy);
        intents
    }

    /// Takes a reference on each policy and profile of a new program.
    fn use_program<'p>(
        &mut self,
        policies: impl Iterator<Item = &'p PolicyId>,
        profiles: &[&DirectionPolicy],
    ) {
        for id in policies.collect::<BTreeSet<_>>() {
            let u = self.used_policies.entry(id.clone()).or_default();
            u.refs += 1;
            if u.refs == 1 {
                self.dirty_policies.insert(id.clone());
            }
        }
        for name in profiles_of(profiles) {
            let u = self.used_profiles.entry(name.to_owned()).or_default();
            u.refs += 1;
            if u.refs == 1 {
                self.dirty_profiles.insert(name.to_owned());
            }
        }
    }

    fn flush_workload(&mut self, iface: &str, out: &mut Out, intents: &mut Intents) {
        let claimants: Vec<EntityId> = self
            .local
            .workload_claims
            .get(iface)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default();
        let problems = claimants
            .iter()
            .enumerate()
            .filter_map(|(i, id)| match id {
                EntityId::Workload { namespace, name } if iface.is_empty() => {
                    Some(workload_without_interface(namespace, name))
                }
                EntityId::Workload { namespace, name } if i > 0 => {
                    Some(workload_interface_taken(namespace, name, iface))
                }
                _ => None,
            })
            .collect();
        self.problems
            .set(Source::WorkloadInterface(iface.to_owned()), problems);

        let winner = self
            .local
            .winner(EndpointKind::Workload, iface)
            .and_then(|id| self.entity_ids.get(id))
            .copied();
        let program = winner.and_then(|k| {
            let e = self.entities.get(k)?;
            let EntityId::Workload { namespace, name } = &e.data.id else {
                return None;
            };
            self.stats.programs_computed += 1;
            let metas: Vec<_> = e
                .matched
                .iter()
                .filter_map(|id| self.policies.get(id).map(|p| &p.meta))
                .collect();
            let tier = |t: &str| tier_info(self.tiers.get(t), t);
            Some(workload_program(
                namespace,
                name,
                &metas,
                &e.profiles,
                &tier,
            ))
        });
        if self.local.workload_programs.get(iface) != program.as_ref() {
            if let Some(p) = &program {
                self.use_program(policies_of_workload(p), &[&p.ingress, &p.egress]);
            }
            let old = match &program {
                Some(p) => self
                    .local
                    .workload_programs
                    .insert(iface.to_owned(), p.clone()),
                None => self.local.workload_programs.remove(iface),
            };
            if let Some(o) = old {
                out.policy_refs_dropped
                    .extend(policies_of_workload(&o).cloned().collect::<BTreeSet<_>>());
                out.profile_refs_dropped
                    .extend(profiles_of(&[&o.ingress, &o.egress]).map(str::to_owned));
            }
            out.endpoints.push(match program {
                Some(policy) => PolicyDelta::WorkloadEndpointUpserted {
                    iface: iface.to_owned(),
                    policy,
                },
                None => PolicyDelta::WorkloadEndpointRemoved {
                    iface: iface.to_owned(),
                },
            });
        }

        let now = winner.and_then(|k| {
            let e = self.entities.get(k)?;
            let link = e.link.as_ref()?;
            let mut config = InterfaceConfig::new(iface)
                .with_addresses(e.data.nets.iter().map(IpNet::addr))
                .with_rp_filter(if link.spoofing {
                    0
                } else {
                    self.cfg.default_rp_filter
                });
            config.mac = link.mac;
            Some(LocalWorkload {
                id: e.data.id.clone(),
                nets: e.data.nets.clone(),
                config,
            })
        });
        let old = self.local.workloads.get(iface).cloned();
        if old == now {
            return;
        }
        if old.as_ref().map(|o| (&o.id, &o.nets)) != now.as_ref().map(|n| (&n.id, &n.nets)) {
            self.local.set_routes(iface, old.as_ref(), now.as_ref());
        }
        match now {
            Some(w) => {
                if old.as_ref().map(|o| &o.config) != Some(&w.config) {
                    intents
                        .interfaces
                        .push(InterfaceIntent::Upsert(w.config.clone()));
                }
                self.local.workloads.insert(iface.to_owned(), w);
            }
            None => {
                intents
                    .interfaces
                    .push(InterfaceIntent::Remove(iface.to_owned()));
                self.local.workloads.remove(iface);
            }
        }
    }

    fn flush_host(&mut self, iface: &str, out: &mut Out) {
        let claimants: Vec<EntityId> = self
            .local
            .host_claims
            .get(iface)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default();
        let mut problems: Vec<Problem> = claimants
            .iter()
            .enumerate()
            .filter_map(|(i, id)| match id {
                EntityId::Host { name } if iface.is_empty() => {
                    Some(host_endpoint_without_interface(name))
                }
                EntityId::Host { name } if i > 0 => {
                    Some(host_endpoint_interface_taken(name, iface))
                }
                _ => None,
            })
            .collect();
        let winner = self
            .local
            .winner(EndpointKind::Host, iface)
            .and_then(|id| self.entity_ids.get(id))
            .copied();
        let program = winner.and_then(|k| {
            let e = self.entities.get(k)?;
            let EntityId::Host { name } = &e.data.id else {
                return None;
            };
            self.stats.programs_computed += 1;
            let metas: Vec<_> = e
                .matched
                .iter()
                .filter_map(|id| self.policies.get(id).map(|p| &p.meta))
                .collect();
            let tier = |t: &str| tier_info(self.tiers.get(t), t);
            let (program, problem) = host_endpoint_program(name, iface, &metas, &e.profiles, &tier);
            problems.extend(problem);
            Some(program)
        });
        self.problems
            .set(Source::HostInterface(iface.to_owned()), problems);
        if self.local.host_programs.get(iface) == program.as_ref() {
            return;
        }
        if let Some(p) = &program {
            self.use_program(policies_of_host_endpoint(p), &[&p.ingress, &p.egress]);
        }
        let old = match &program {
            Some(p) => self.local.host_programs.insert(iface.to_owned(), p.clone()),
            None => self.local.host_programs.remove(iface),
        };
        if let Some(o) = old {
            out.policy_refs_dropped.extend(
                policies_of_host_endpoint(&o)
                    .cloned()
                    .collect::<BTreeSet<_>>(),
            );
            out.profile_refs_dropped
                .extend(profiles_of(&[&o.ingress, &o.egress]).map(str::to_owned));
        }
        out.endpoints.push(match program {
            Some(policy) => PolicyDelta::HostEndpointUpserted {
                iface: iface.to_owned(),
                policy,
            },
            None => PolicyDelta::HostEndpointRemoved {
                iface: iface.to_owned(),
            },
        });
    }

    /// Compiles a used policy again, or drops an unused one.
    fn flush_policy(&mut self, id: PolicyId, out: &mut Out) {
        let Some(u) = self.used_policies.get_mut(&id) else {
            return;
        };
        if u.refs == 0 {
            let u = self.used_policies.remove(&id).unwrap_or_default();
            out.set_refs_dropped.extend(u.sets);
            if u.sent.is_some() {
                out.removed_policies
                    .push(PolicyDelta::PolicyRemoved { id: id.clone() });
            }
            self.problems.set(Source::PolicyRules(id), Vec::new());
            return;
        }
        let compiled = self
            .policies
            .get(&id)
            .filter(|p| p.usable)
            .map(|p| compile_policy(&p.resource.entry()));
        self.stats.rules_compiled += 1;
        let mut problems = Vec::new();
        let (rules, sets) = match compiled {
            Some(Ok(c)) => (Some(c.rules), c.sets),
            Some(Err(p)) => {
                problems.push(p);
                (None, Default::default())
            }
            None => (None, Default::default()),
        };
        let new_sets: Vec<u32> = sets
            .iter()
            .map(|(sid, def)| self.sets.add_ref(sid, def))
            .collect();
        let Some(u) = self.used_policies.get_mut(&id) else {
            return;
        };
        out.set_refs_dropped
            .extend(mem::replace(&mut u.sets, new_sets));
        match rules {
            Some(rules) if u.sent.as_ref() != Some(&rules) => {
                u.sent = Some(rules.clone());
                out.upserted_policies.push(PolicyDelta::PolicyUpserted {
                    id: id.clone(),
                    rules,
                });
            }
            Some(_) => {}
            None => {
                if u.sent.take().is_some() {
                    out.removed_policies
                        .push(PolicyDelta::PolicyRemoved { id: id.clone() });
                }
            }
        }
        self.problems.set(Source::PolicyRules(id), problems);
    }

    /// Compiles a used profile again, or drops an unused one.
    fn flush_profile(&mut self, name: String, out: &mut Out) {
        let Some(u) = self.used_profiles.get_mut(&name) else {
            return;
        };
        if u.refs == 0 {
            let u = self.used_profiles.remove(&name).unwrap_or_default();
            out.set_refs_dropped.extend(u.sets);
            if u.sent.is_some() {
                out.removed_profiles
                    .push(PolicyDelta::ProfileRemoved { name: name.clone() });
            }
            self.problems.set(Source::ProfileRules(name), Vec::new());
            return;
        }
        let (c, problem) = compile_profile(&name, self.profiles.get(&name));
        self.stats.rules_compiled += 1;
        let new_sets: Vec<u32> = c
            .sets
            .iter()
            .map(|(sid, def)| self.sets.add_ref(sid, def))
            .collect();
        let Some(u) = self.used_profiles.get_mut(&name) else {
            return;
        };
        out.set_refs_dropped
            .extend(mem::replace(&mut u.sets, new_sets));
        if u.sent.as_ref() != Some(&c.rules) {
            u.sent = Some(c.rules.clone());
            out.upserted_profiles.push(PolicyDelta::ProfileUpserted {
                name: name.clone(),
                rules: c.rules,
            });
        }
        self.problems
            .set(Source::ProfileRules(name), problem.into_iter().collect());
    }

    /// Computes the members of sets coming into use; drops sets no longer used.
    fn settle_sets(&mut self) {
        for k in mem::take(&mut self.sets.touched) {
            let Some(s) = self.sets.slab.get(k) else {
                continue;
            };
            if s.refs == 0 {
                let Some(s) = self.sets.slab.remove(k) else {
                    continue;
                };
                self.sets.ids.remove(&s.id);
                self.sets.dirty.remove(&k);
                if s.computed {
                    self.sets.index.remove(&k, &s.def.selector);
                }
                for e in &s.entities {
                    if let Some(e) = self.entities.get_mut(*e) {
                        e.sets.remove(&k);
                    }
                }
                if s.sent() {
                    self.sets.removed.push(s.id);
                }
                continue;
            }
            if s.computed {
                continue;
            }
            self.stats.sets_computed += 1;
            let selector = s.def.selector.clone();
            let mut matching = Vec::new();
            for (ek, e) in self.entities.iter() {
                self.stats.selector_evaluations += 1;
                if selector.matches(&e.labels) {
                    matching.push(ek);
                }
            }
            for ek in matching {
                let (Some(e), Some(s)) = (self.entities.get_mut(ek), self.sets.slab.get_mut(k))
                else {
                    continue;
                };
                e.sets.insert(k);
                s.entities.insert(ek);
                self.stats.member_changes += s.contribute(&e.data, true);
            }
            if let Some(s) = self.sets.slab.get_mut(k) {
                s.computed = true;
            }
            self.sets.index.insert(&k, &selector);
            self.sets.dirty.insert(k);
        }
    }

    /// Routes (and originated prefixes) of the destinations whose owners changed.
    fn flush_routes(&mut self, intents: &mut Intents) {
        for dst in mem::take(&mut self.local.dirty_routes) {
            let want = self
                .local
                .route_owners
                .get(&dst)
                .and_then(|owners| owners.first())
                .map(|(_, iface)| Route::workload(dst.addr(), iface.clone()));
            let had = self.local.routes.get(&dst);
            if had == want.as_ref() {
                continue;
            }
            let originated = had.is_some();
            match want {
                Some(r) => {
                    intents.routes.push(RouteIntent::Upsert(r.clone()));
                    self.local.routes.insert(dst, r);
                    if !originated && let Some(p) = prefix(dst) {
                        intents.bgp.push(BgpIntent::Originate(p));
                    }
                }
                None => {
                    intents.routes.push(RouteIntent::Remove(dst));
                    self.local.routes.remove(&dst);
                    if let Some(p) = prefix(dst) {
                        intents.bgp.push(BgpIntent::Withdraw(p));
                    }
                }
            }
        }
    }
}

/// Every profile of a program's directions, once.
fn profiles_of<'p>(dirs: &[&'p DirectionPolicy]) -> impl Iterator<Item = &'p str> {
    dirs.iter()
        .flat_map(|d| d.profiles.iter().map(String::as_str))
        .collect::<BTreeSet<_>>()
        .into_iter()
}

/// A workload address as a BGP prefix.
pub(crate) fn prefix(n: IpNet) -> Option<Prefix> {
    match n {
        IpNet::V4(n) => Ipv4Prefix::new(n.addr(), n.prefix_len()).map(Prefix::V4),
        IpNet::V6(n) => Ipv6Prefix::new(n.addr(), n.prefix_len()).map(Prefix::V6),
    }
}
