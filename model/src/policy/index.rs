//! The snapshot, cleaned up and indexed once for both resolution and evaluation: which
//! resources are usable, each endpoint's and network set's effective labels and addresses,
//! policies in one shape whatever their kind, tiers with their built-in defaults.
//!
//! # Labels (libcalico-go's selector semantics and its v3→v1 conversion)
//!
//! A selector sees an entity's own labels first, then the labels its parents give, each
//! parent in order and only for keys not yet set:
//!
//! - **WorkloadEndpoint**: own labels without any `pcns.*` / `pcsa.*` key (so a workload
//!   cannot claim another namespace's or service account's labels), with
//!   `projectcalico.org/namespace` set to its namespace, `projectcalico.org/orchestrator`
//!   and `projectcalico.org/serviceaccount` set from its spec when there; then each profile
//!   in `spec.profiles`; then the namespace's labels.
//! - **NetworkSet**: own labels with `projectcalico.org/namespace` set; then the namespace's
//!   labels.
//! - **HostEndpoint**: own labels; then each profile in `spec.profiles`.
//! - **GlobalNetworkSet**: own labels.
//!
//! **Namespace labels in an etcd-only cluster.** There is no Namespace resource. As
//! Calico's Kubernetes conversion does, a namespace `ns` is represented by the Profile
//! `kns.ns`, whose `labelsToApply` carry the namespace's labels with the `pcns.` prefix
//! (`pcns.team: a`); `pcns.projectcalico.org/name: ns` is always present. These labels are
//! inherited by every namespaced entity of `ns`, whether or not it lists `kns.ns` in its
//! profiles (the profile's rules apply only to endpoints that list it). A
//! `namespaceSelector` such as `team == "a"` is evaluated as `pcns.team == "a"`.
//! Service-account labels work the same way with the `pcsa.` prefix, from profiles the
//! endpoint lists (Calico's `ksa.<ns>.<name>`).
//!
//! # Addresses
//!
//! A workload endpoint contributes the network address of each `ipNetworks` entry as a /32
//! or /128; an entry that does not parse makes the endpoint unusable (as in Felix); an
//! endpoint without addresses is unknown to Felix and is skipped. A host endpoint contributes
//! its `expectedIPs`; a network set its `nets`.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::Snapshot;
use super::entity::{
    EndpointPort, EntityId, global_network_set_data, host_endpoint_data, inherit_labels,
    network_set_data, protocol_number, workload_data,
};
use super::packet::proto;
use super::policy_entry::{PolicyEntry, TierInfo, profile_problem, tier_info};
use super::resolved::Problem;
use crate::resources::{Profile, Protocol, Tier};

/// Something selectors can pick: an endpoint or a network set.
#[derive(Clone, Debug)]
pub(crate) struct Entity<'a> {
    pub id: EntityId,
    /// The node of an endpoint.
    pub node: Option<&'a str>,
    /// The interface of an endpoint (may be empty, or `*` for host endpoints).
    pub interface: Option<&'a str>,
    /// Effective labels (own, then inherited).
    pub labels: BTreeMap<String, String>,
    pub nets: Vec<IpNet>,
    /// Named ports (endpoints only).
    pub ports: Vec<EndpointPort>,
    /// Profiles, in order (endpoints only).
    pub profiles: &'a [String],
}

impl Entity<'_> {
    /// Whether the entity is a workload or host endpoint.
    pub fn is_endpoint(&self) -> bool {
        self.id.is_endpoint()
    }
}

/// A profile: labels always; rules only when every rule is usable.
#[derive(Clone, Debug)]
pub(crate) struct ProfileEntry<'a> {
    pub profile: &'a Profile,
    pub rules_valid: bool,
}

/// The indexed snapshot.
#[derive(Clone, Debug)]
pub(crate) struct Index<'a> {
    pub entities: Vec<Entity<'a>>,
    /// Usable policies, sorted by ID.
    pub policies: Vec<PolicyEntry<'a>>,
    pub profiles: BTreeMap<&'a str, ProfileEntry<'a>>,
    tiers: BTreeMap<&'a str, &'a Tier>,
    pub problems: Vec<Problem>,
}

impl<'a> Index<'a> {
    /// Indexes a snapshot.
    pub fn new(s: &'a Snapshot) -> Index<'a> {
        let mut problems = Vec::new();
        let mut profiles = BTreeMap::new();
        for p in &s.profiles {
            let bad = profile_problem(p);
            let entry = ProfileEntry {
                profile: p,
                rules_valid: bad.is_none(),
            };
            problems.extend(bad);
            profiles.insert(p.metadata.name.as_str(), entry);
        }
        let mut index = Index {
            entities: Vec::new(),
            policies: Vec::new(),
            profiles,
            tiers: BTreeMap::new(),
            problems,
        };
        index.add_entities(s);
        index.add_policies(s);
        index.add_tiers(s);
        index.problems.sort();
        index.problems.dedup();
        index
    }

    fn labels_to_apply(&self, name: &str) -> Option<&'a BTreeMap<String, String>> {
        self.profiles
            .get(name)
            .map(|p| &p.profile.spec.labels_to_apply)
    }

    fn add_entities(&mut self, s: &'a Snapshot) {
        let mut entities: BTreeMap<EntityId, Entity<'a>> = BTreeMap::new();
        let mut add = |data: super::entity::EntityData,
                       node: Option<&'a str>,
                       interface: Option<&'a str>,
                       profiles: &'a [String],
                       ix: &Index<'a>| {
            let mut labels = data.labels;
            let ns = data.id.namespace();
            inherit_labels(&mut labels, profiles, ns, |n| ix.labels_to_apply(n));
            let entity = Entity {
                id: data.id.clone(),
                node,
                interface,
                labels,
                nets: data.nets,
                ports: data.ports,
                profiles,
            };
            entities.insert(data.id, entity);
        };
        let mut problems = Vec::new();
        for w in &s.workload_endpoints {
            match workload_data(w) {
                Ok(Some(data)) => add(
                    data,
                    Some(w.spec.node.as_str()),
                    Some(w.spec.interface_name.as_str()),
                    &w.spec.profiles,
                    self,
                ),
                Ok(None) => {}
                Err(p) => problems.push(p),
            }
        }
        for h in &s.host_endpoints {
            let (data, p) = host_endpoint_data(h);
            problems.extend(p);
            add(
                data,
                Some(h.spec.node.as_str()),
                Some(h.spec.interface_name.as_str()),
                &h.spec.profiles,
                self,
            );
        }
        for n in &s.network_sets {
            let (data, p) = network_set_data(n);
            problems.extend(p);
            add(data, None, None, &[], self);
        }
        for n in &s.global_network_sets {
            let (data, p) = global_network_set_data(n);
            problems.extend(p);
            add(data, None, None, &[], self);
        }
        self.problems.extend(problems);
        self.entities = entities.into_values().collect();
    }

    fn add_policies(&mut self, s: &'a Snapshot) {
        let mut policies = BTreeMap::new();
        for p in &s.network_policies {
            let entry = PolicyEntry::from_network_policy(p);
            policies.insert(entry.id.clone(), entry);
        }
        for p in &s.global_network_policies {
            let entry = PolicyEntry::from_global_network_policy(p);
            policies.insert(entry.id.clone(), entry);
        }
        for p in policies.into_values() {
            match p.problem() {
                Some(problem) => self.problems.push(problem),
                None => self.policies.push(p),
            }
        }
    }

    fn add_tiers(&mut self, s: &'a Snapshot) {
        for t in &s.tiers {
            self.tiers.insert(t.metadata.name.as_str(), t);
        }
        let missing: Vec<Problem> = self
            .policies
            .iter()
            .filter_map(|p| p.missing_tier_problem(self.tiers.contains_key(p.tier)))
            .collect();
        self.problems.extend(missing);
    }

    /// How the sorter sees tier `name` (see [`tier_info`]).
    pub fn tier(&self, name: &str) -> TierInfo {
        tier_info(self.tiers.get(name).copied(), name)
    }

    /// The entity with this ID.
    pub fn entity(&self, id: &EntityId) -> Option<&Entity<'a>> {
        self.entities
            .binary_search_by(|e| e.id.cmp(id))
            .ok()
            .and_then(|i| self.entities.get(i))
    }
}

/// Protocol number of a rule's protocol field (validated: never `Other` or 0).
pub(crate) fn rule_protocol(p: &Option<Protocol>) -> Option<u8> {
    p.as_ref().and_then(protocol_number)
}

/// The protocol named ports of a rule use: the rule's protocol, TCP when unset.
pub(crate) fn named_port_protocol(p: &Option<Protocol>) -> u8 {
    rule_protocol(p).unwrap_or(proto::TCP)
}
