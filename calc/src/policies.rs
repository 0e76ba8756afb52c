//! Policies, tiers and profiles as they arrive: each policy's checks and endpoint selector,
//! which local endpoints it selects, and what a change to one marks for the next flush — the
//! endpoints whose programs may change, the used policies and profiles whose rules must be
//! compiled again, the entities whose inherited labels change.

use std::collections::BTreeSet;

use model::policy::parts::{PolicyEntry, PolicyMeta, profile_problem, tier_info};
use model::policy::{PolicyId, Problem};
use model::resources::{GlobalNetworkPolicy, NetworkPolicy, Profile, Resource, Tier};
use model::selector::Selector;

use crate::calculator::Calculator;
use crate::problems::Source;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PolicyResource {
    Namespaced(NetworkPolicy),
    Global(GlobalNetworkPolicy),
}

impl PolicyResource {
    pub fn entry(&self) -> PolicyEntry<'_> {
        match self {
            PolicyResource::Namespaced(p) => PolicyEntry::from_network_policy(p),
            PolicyResource::Global(p) => PolicyEntry::from_global_network_policy(p),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct PolicyState {
    pub resource: PolicyResource,
    pub meta: PolicyMeta,
    /// Passes the checks (its tier's existence then matters).
    pub usable: bool,
    /// Why it is ignored, if it is: it fails the checks, or its endpoint selector.
    check: Option<Problem>,
    /// The endpoint selector of a usable policy, when it parses: the policy selects.
    pub selector: Option<Selector>,
    /// Local endpoints it selects.
    pub matched: BTreeSet<u32>,
}

/// A policy or profile some local endpoint's programs refer to.
#[derive(Clone, Debug)]
pub(crate) struct Used<R> {
    /// Interfaces whose programs refer to it.
    pub refs: u32,
    /// The sets its compiled rules use.
    pub sets: Vec<u32>,
    /// The rules sent (`None`: none sent).
    pub sent: Option<R>,
}

impl<R> Default for Used<R> {
    fn default() -> Self {
        Used {
            refs: 0,
            sets: Vec::new(),
            sent: None,
        }
    }
}

impl Calculator {
    pub(crate) fn on_policy(&mut self, id: PolicyId, value: Option<Resource>) {
        let resource = match value {
            Some(Resource::NetworkPolicy(p)) => Some(PolicyResource::Namespaced(p)),
            Some(Resource::GlobalNetworkPolicy(p)) => Some(PolicyResource::Global(p)),
            _ => None,
        };
        let old = self.policies.remove(&id);
        if let Some(o) = &old {
            if let Some(sel) = &o.selector {
                self.policy_index.remove(&id, sel);
            }
            if let Some(ids) = self.policies_by_tier.get_mut(&o.meta.tier) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.policies_by_tier.remove(&o.meta.tier);
                }
            }
        }
        if old.as_ref().map(|o| &o.resource) != resource.as_ref()
            && self.used_policies.contains_key(&id)
        {
            self.dirty_policies.insert(id.clone());
        }
        let Some(resource) = resource else {
            self.problems.set(Source::Policy(id.clone()), Vec::new());
            if let Some(o) = old {
                for k in o.matched {
                    self.unmatch(k, &id);
                }
            }
            return;
        };
        let entry = resource.entry();
        let meta = entry.meta();
        let (usable, check, selector) = match entry.problem() {
            Some(p) => (false, Some(p), None),
            None => match entry.endpoint_selector() {
                Ok(sel) => (true, None, Some(sel)),
                Err(p) => (true, Some(p), None),
            },
        };
        self.policies_by_tier
            .entry(meta.tier.clone())
            .or_default()
            .insert(id.clone());
        if let Some(sel) = &selector {
            self.policy_index.insert(&id, sel);
        }
        let same_selector = old
            .as_ref()
            .map(|o| o.selector.as_ref().map(Selector::unique_id))
            == Some(selector.as_ref().map(Selector::unique_id));
        let meta_changed = old.as_ref().is_some_and(|o| o.meta != meta);
        let old_matched = old.map(|o| o.matched).unwrap_or_default();
        let state = PolicyState {
            resource,
            meta,
            usable,
            check,
            selector,
            matched: BTreeSet::new(),
        };
        self.policies.insert(id.clone(), state);
        self.refresh_policy_problems(&id);
        if same_selector {
            if let Some(p) = self.policies.get_mut(&id) {
                p.matched.clone_from(&old_matched);
            }
            if meta_changed {
                for k in old_matched {
                    self.mark_entity(k);
                }
            }
            return;
        }
        // A new selector: evaluate it against every local endpoint.
        let locals: Vec<u32> = self.locals.iter().copied().collect();
        for k in locals {
            let now = match (self.policies.get(&id), self.entities.get(k)) {
                (Some(p), Some(e)) => {
                    self.stats.selector_evaluations += u64::from(p.selector.is_some());
                    p.selector.as_ref().is_some_and(|s| s.matches(&e.labels))
                }
                _ => false,
            };
            let was = old_matched.contains(&k);
            if now {
                if let Some(p) = self.policies.get_mut(&id) {
                    p.matched.insert(k);
                }
                if let Some(e) = self.entities.get_mut(k) {
                    e.matched.insert(id.clone());
                }
            } else if was {
                self.unmatch(k, &id);
            }
            if now != was || (now && meta_changed) {
                self.mark_entity(k);
            }
        }
    }

    /// Local endpoint `k` is no longer selected by policy `id`.
    fn unmatch(&mut self, k: u32, id: &PolicyId) {
        if let Some(e) = self.entities.get_mut(k) {
            e.matched.remove(id);
        }
        if let Some(p) = self.policies.get_mut(id) {
            p.matched.remove(&k);
        }
        self.mark_entity(k);
    }

    /// The interface of local endpoint `k` needs recomputing.
    fn mark_entity(&mut self, k: u32) {
        if let Some(e) = self.entities.get(k)
            && let Some(kind) = e.kind()
        {
            self.local.mark(kind, e.iface());
        }
    }

    /// A policy's problems: its checks, or a tier that does not exist.
    fn refresh_policy_problems(&mut self, id: &PolicyId) {
        let Some(p) = self.policies.get(id) else {
            return;
        };
        let mut problems: Vec<Problem> = p.check.iter().cloned().collect();
        if p.usable {
            let tier_exists = self.tiers.contains_key(&p.meta.tier);
            problems.extend(p.resource.entry().missing_tier_problem(tier_exists));
        }
        self.problems.set(Source::Policy(id.clone()), problems);
    }

    pub(crate) fn on_tier(&mut self, name: &str, tier: Option<Tier>) {
        let before = tier_info(self.tiers.get(name), name);
        match tier {
            Some(t) => {
                self.tiers.insert(name.to_owned(), t);
            }
            None => {
                self.tiers.remove(name);
            }
        }
        let after = tier_info(self.tiers.get(name), name);
        let ids: Vec<PolicyId> = self
            .policies_by_tier
            .get(name)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        for id in ids {
            self.refresh_policy_problems(&id);
            if before != after {
                let matched: Vec<u32> = self
                    .policies
                    .get(&id)
                    .map(|p| p.matched.iter().copied().collect())
                    .unwrap_or_default();
                for k in matched {
                    self.mark_entity(k);
                }
            }
        }
    }

    pub(crate) fn on_profile(&mut self, key: &str, name: &str, profile: Option<Profile>) {
        let problems = profile.as_ref().and_then(profile_problem);
        self.problems
            .set(Source::Key(key.to_owned()), problems.into_iter().collect());
        let old = match profile {
            Some(p) => self.profiles.insert(name.to_owned(), p),
            None => self.profiles.remove(name),
        };
        let new = self.profiles.get(name);
        if old.as_ref() != new && self.used_profiles.contains_key(name) {
            self.dirty_profiles.insert(name.to_owned());
        }
        let labels = |p: Option<&Profile>| {
            p.map(|p| p.spec.labels_to_apply.clone())
                .unwrap_or_default()
        };
        if labels(old.as_ref()) != labels(new) {
            self.relabel_children(name);
        }
    }
}
