//! Entities — workload endpoints, host endpoints, network sets, cluster-wide — with their
//! effective labels, and what follows from a change to one: the sets it joins or leaves (and
//! its contribution to those it stays in), and, for an endpoint of this host, the policies
//! that select it and the interface it claims.
//!
//! Only the selectors that can change their answer are evaluated
//! ([`crate::selector_index`]): a label change evaluates the selectors mentioning a changed
//! key, a new entity those mentioning one of its keys or matching without them.

use std::collections::{BTreeMap, BTreeSet};
use std::mem;

use dataplane::links::Mac;
use model::policy::PolicyId;
use model::policy::parts::{
    EntityData, EntityId, global_network_set_data, host_endpoint_data, inherit_labels,
    label_parents, network_set_data, workload_data,
};
use model::resources::{GlobalNetworkSet, HostEndpoint, NetworkSet, WorkloadEndpoint};

use crate::calculator::Calculator;
use crate::local::EndpointKind;
use crate::problems::Source;
use crate::selector_index::changed_keys;

/// What a workload endpoint's interface needs beyond its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WorkloadLink {
    /// The workload's MAC (`None`: not given, or not a MAC).
    pub mac: Option<Mac>,
    /// `allowSpoofedSourcePrefixes` is set: no reverse-path filtering.
    pub spoofing: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct EntityState {
    /// Own labels, addresses, named ports.
    pub data: EntityData,
    /// Effective labels: own, then inherited.
    pub labels: BTreeMap<String, String>,
    pub node: Option<String>,
    pub interface: Option<String>,
    pub profiles: Vec<String>,
    pub link: Option<WorkloadLink>,
    /// Profiles it inherits labels from.
    parents: Vec<String>,
    /// Computed sets whose selectors match it.
    pub sets: BTreeSet<u32>,
    /// An endpoint of this host.
    pub local: bool,
    /// (Local endpoints) usable policies whose endpoint selectors match it.
    pub matched: BTreeSet<PolicyId>,
}

impl EntityState {
    pub fn kind(&self) -> Option<EndpointKind> {
        match self.data.id {
            EntityId::Workload { .. } => Some(EndpointKind::Workload),
            EntityId::Host { .. } => Some(EndpointKind::Host),
            _ => None,
        }
    }

    /// The interface claimed (`""` when none is named).
    pub fn iface(&self) -> &str {
        self.interface.as_deref().unwrap_or_default()
    }
}

/// An entity as a resource gives it.
pub(crate) struct NewEntity {
    data: EntityData,
    node: Option<String>,
    interface: Option<String>,
    profiles: Vec<String>,
    link: Option<WorkloadLink>,
}

impl Calculator {
    pub(crate) fn on_workload(&mut self, key: &str, id: EntityId, w: Option<&WorkloadEndpoint>) {
        let mut problems = Vec::new();
        let new = match w.map(|w| (w, workload_data(w))) {
            Some((w, Ok(Some(data)))) => Some(NewEntity {
                data,
                node: Some(w.spec.node.clone()),
                interface: Some(w.spec.interface_name.clone()),
                profiles: w.spec.profiles.clone(),
                link: Some(WorkloadLink {
                    mac: w.spec.mac.parse().ok(),
                    spoofing: !w.spec.allow_spoofed_source_prefixes.is_empty(),
                }),
            }),
            Some((_, Err(p))) => {
                problems.push(p);
                None
            }
            _ => None,
        };
        self.problems.set(Source::Key(key.to_owned()), problems);
        self.put_entity(id, new);
    }

    pub(crate) fn on_host_endpoint(&mut self, key: &str, id: EntityId, h: Option<&HostEndpoint>) {
        let (new, problems) = match h {
            Some(h) => {
                let (data, problems) = host_endpoint_data(h);
                let new = NewEntity {
                    data,
                    node: Some(h.spec.node.clone()),
                    interface: Some(h.spec.interface_name.clone()),
                    profiles: h.spec.profiles.clone(),
                    link: None,
                };
                (Some(new), problems)
            }
            None => (None, Vec::new()),
        };
        self.problems.set(Source::Key(key.to_owned()), problems);
        self.put_entity(id, new);
    }

    pub(crate) fn on_network_set(&mut self, key: &str, id: EntityId, n: Option<&NetworkSet>) {
        let parts = n.map(network_set_data);
        self.put_set_entity(key, id, parts);
    }

    pub(crate) fn on_global_network_set(
        &mut self,
        key: &str,
        id: EntityId,
        n: Option<&GlobalNetworkSet>,
    ) {
        let parts = n.map(global_network_set_data);
        self.put_set_entity(key, id, parts);
    }

    fn put_set_entity(
        &mut self,
        key: &str,
        id: EntityId,
        parts: Option<(EntityData, Vec<model::policy::Problem>)>,
    ) {
        let (new, problems) = match parts {
            Some((data, problems)) => {
                let new = NewEntity {
                    data,
                    node: None,
                    interface: None,
                    profiles: Vec::new(),
                    link: None,
                };
                (Some(new), problems)
            }
            None => (None, Vec::new()),
        };
        self.problems.set(Source::Key(key.to_owned()), problems);
        self.put_entity(id, new);
    }

    fn put_entity(&mut self, id: EntityId, new: Option<NewEntity>) {
        match (self.entity_ids.get(&id).copied(), new) {
            (None, None) => {}
            (Some(k), None) => self.remove_entity(k),
            (None, Some(n)) => self.add_entity(n),
            (Some(k), Some(n)) => self.change_entity(k, n),
        }
    }

    fn effective_labels(&self, data: &EntityData, profiles: &[String]) -> BTreeMap<String, String> {
        let mut labels = data.labels.clone();
        inherit_labels(&mut labels, profiles, data.id.namespace(), |name| {
            self.profiles.get(name).map(|p| &p.spec.labels_to_apply)
        });
        labels
    }

    fn is_local(&self, n: &NewEntity) -> bool {
        n.data.id.is_endpoint() && n.node.as_deref() == Some(self.cfg.hostname.as_str())
    }

    fn add_entity(&mut self, n: NewEntity) {
        let labels = self.effective_labels(&n.data, &n.profiles);
        let parents = label_parents(&n.profiles, n.data.id.namespace());
        let local = self.is_local(&n);
        let id = n.data.id.clone();
        let state = EntityState {
            data: n.data,
            labels,
            node: n.node,
            interface: n.interface,
            profiles: n.profiles,
            link: n.link,
            parents: Vec::new(),
            sets: BTreeSet::new(),
            local,
            matched: BTreeSet::new(),
        };
        let k = self.entities.insert(state);
        self.entity_ids.insert(id, k);
        self.set_parents(k, parents);
        self.update_sets(k, None, None);
        if local {
            self.become_local(k);
        }
    }

    fn change_entity(&mut self, k: u32, n: NewEntity) {
        let labels = self.effective_labels(&n.data, &n.profiles);
        let parents = label_parents(&n.profiles, n.data.id.namespace());
        let local = self.is_local(&n);
        let Some(e) = self.entities.get_mut(k) else {
            return;
        };
        let old_data = mem::replace(&mut e.data, n.data);
        let old_labels = mem::replace(&mut e.labels, labels);
        let old_iface = e.iface().to_owned();
        let was_local = e.local;
        e.node = n.node;
        e.interface = n.interface;
        e.profiles = n.profiles;
        e.link = n.link;
        let relabelled = old_labels != e.labels;
        self.set_parents(k, parents);
        self.update_sets(k, Some(&old_labels), Some(&old_data));
        match (was_local, local) {
            (true, false) => self.stop_being_local(k, &old_iface),
            (false, true) => self.become_local(k),
            (true, true) => {
                let Some(e) = self.entities.get(k) else {
                    return;
                };
                let (kind, iface, id) = (e.kind(), e.iface().to_owned(), e.data.id.clone());
                if let Some(kind) = kind {
                    if iface != old_iface {
                        self.local.unclaim(kind, &old_iface, &id);
                        self.local.claim(kind, &iface, id);
                    } else {
                        self.local.mark(kind, &iface);
                    }
                }
                if relabelled {
                    self.update_matches(k, Some(&old_labels));
                }
            }
            (false, false) => {}
        }
    }

    fn remove_entity(&mut self, k: u32) {
        let Some(e) = self.entities.get(k) else {
            return;
        };
        let iface = e.iface().to_owned();
        if e.local {
            self.stop_being_local(k, &iface);
        }
        self.set_parents(k, Vec::new());
        let Some(e) = self.entities.remove(k) else {
            return;
        };
        self.entity_ids.remove(&e.data.id);
        for s in &e.sets {
            if let Some(set) = self.sets.slab.get_mut(*s) {
                self.stats.member_changes += set.contribute(&e.data, false);
                set.entities.remove(&k);
                self.sets.dirty.insert(*s);
            }
        }
    }

    fn become_local(&mut self, k: u32) {
        let Some(e) = self.entities.get_mut(k) else {
            return;
        };
        e.local = true;
        let (kind, iface, id) = (e.kind(), e.iface().to_owned(), e.data.id.clone());
        self.locals.insert(k);
        self.update_matches(k, None);
        if let Some(kind) = kind {
            self.local.claim(kind, &iface, id);
        }
    }

    fn stop_being_local(&mut self, k: u32, old_iface: &str) {
        let Some(e) = self.entities.get_mut(k) else {
            return;
        };
        e.local = false;
        let matched = mem::take(&mut e.matched);
        let (kind, id) = (e.kind(), e.data.id.clone());
        self.locals.remove(&k);
        for p in matched {
            if let Some(p) = self.policies.get_mut(&p) {
                p.matched.remove(&k);
            }
        }
        if let Some(kind) = kind {
            self.local.unclaim(kind, old_iface, &id);
        }
    }

    fn set_parents(&mut self, k: u32, parents: Vec<String>) {
        let Some(e) = self.entities.get_mut(k) else {
            return;
        };
        if e.parents == parents {
            return;
        }
        let old = mem::replace(&mut e.parents, parents.clone());
        for p in old {
            if let Some(children) = self.by_parent.get_mut(&p) {
                children.remove(&k);
                if children.is_empty() {
                    self.by_parent.remove(&p);
                }
            }
        }
        for p in parents {
            self.by_parent.entry(p).or_default().insert(k);
        }
    }

    /// Recomputes the labels of the entities inheriting from profile `name` (its
    /// `labelsToApply` changed).
    pub(crate) fn relabel_children(&mut self, name: &str) {
        let children: Vec<u32> = self
            .by_parent
            .get(name)
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default();
        for k in children {
            let Some(e) = self.entities.get(k) else {
                continue;
            };
            let labels = self.effective_labels(&e.data, &e.profiles);
            if labels == e.labels {
                continue;
            }
            self.stats.entities_relabelled += 1;
            let Some(e) = self.entities.get_mut(k) else {
                continue;
            };
            let old = mem::replace(&mut e.labels, labels);
            let local = e.local;
            self.update_sets(k, Some(&old), None);
            if local {
                self.update_matches(k, Some(&old));
            }
        }
    }

    /// Brings entity `k`'s set memberships and contributions up to date after its labels
    /// (before: `old_labels`; `None` for a new entity) or its addresses and ports (before:
    /// `old_data`) changed.
    fn update_sets(
        &mut self,
        k: u32,
        old_labels: Option<&BTreeMap<String, String>>,
        old_data: Option<&EntityData>,
    ) {
        let Calculator {
            entities,
            sets,
            stats,
            ..
        } = self;
        let Some(e) = entities.get_mut(k) else {
            return;
        };
        let candidates = match old_labels {
            None => sets.index.for_new(&e.labels),
            Some(old) => sets.index.for_change(changed_keys(old, &e.labels)),
        };
        let mut left = Vec::new();
        let mut joined = Vec::new();
        for s in candidates {
            let Some(set) = sets.slab.get(s) else {
                continue;
            };
            stats.selector_evaluations += 1;
            let now = set.def.selector.matches(&e.labels);
            let was = e.sets.contains(&s);
            if was && !now {
                left.push(s);
            } else if now && !was {
                joined.push(s);
            }
        }
        let before = old_data.unwrap_or(&e.data);
        for s in &left {
            e.sets.remove(s);
            if let Some(set) = sets.slab.get_mut(*s) {
                stats.member_changes += set.contribute(before, false);
                set.entities.remove(&k);
                sets.dirty.insert(*s);
            }
        }
        let moved = old_data.is_some_and(|d| d.nets != e.data.nets || d.ports != e.data.ports);
        if moved {
            for s in &e.sets {
                if let Some(set) = sets.slab.get_mut(*s) {
                    stats.member_changes += set.contribute(before, false);
                    stats.member_changes += set.contribute(&e.data, true);
                    sets.dirty.insert(*s);
                }
            }
        }
        for s in joined {
            e.sets.insert(s);
            if let Some(set) = sets.slab.get_mut(s) {
                stats.member_changes += set.contribute(&e.data, true);
                set.entities.insert(k);
                sets.dirty.insert(s);
            }
        }
    }

    /// Brings local endpoint `k`'s matching policies up to date after its labels changed
    /// (before: `old_labels`; `None`: it just became local). Its interface is marked for
    /// recomputation when they changed.
    fn update_matches(&mut self, k: u32, old_labels: Option<&BTreeMap<String, String>>) {
        let Calculator {
            entities,
            policies,
            policy_index,
            stats,
            local,
            ..
        } = self;
        let Some(e) = entities.get_mut(k) else {
            return;
        };
        let candidates = match old_labels {
            None => policy_index.for_new(&e.labels),
            Some(old) => policy_index.for_change(changed_keys(old, &e.labels)),
        };
        let mut changed = false;
        for id in candidates {
            let Some(p) = policies.get_mut(&id) else {
                continue;
            };
            let Some(sel) = &p.selector else {
                continue;
            };
            stats.selector_evaluations += 1;
            let now = sel.matches(&e.labels);
            if now != e.matched.contains(&id) {
                changed = true;
                if now {
                    p.matched.insert(k);
                    e.matched.insert(id);
                } else {
                    p.matched.remove(&k);
                    e.matched.remove(&id);
                }
            }
        }
        if changed && let Some(kind) = e.kind() {
            local.mark(kind, e.iface());
        }
    }
}
