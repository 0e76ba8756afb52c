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

use super::resolved::{PolicyId, Problem};
use super::validity::{parse_optional, rule_problem};
use super::{NAMESPACE_LABEL_PREFIX, NAMESPACE_NAME_LABEL, NAMESPACE_PROFILE_PREFIX};
use super::{Snapshot, packet::proto};
use crate::resources::endpoint::{LABEL_NAMESPACE, LABEL_ORCHESTRATOR, LABEL_SERVICE_ACCOUNT};
use crate::resources::tier::{builtin_tier_default_action, builtin_tier_order};
use crate::resources::{Kind, Profile, Protocol, Rule, TierDefaultAction};
use crate::validation::net;

/// What an entity is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EntityId {
    Workload { namespace: String, name: String },
    Host { name: String },
    NetworkSet { namespace: String, name: String },
    GlobalNetworkSet { name: String },
}

/// A named port of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EndpointPort {
    pub name: String,
    pub protocol: u8,
    pub port: u16,
}

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
        matches!(self.id, EntityId::Workload { .. } | EntityId::Host { .. })
    }
}

/// A NetworkPolicy or GlobalNetworkPolicy, in one shape.
#[derive(Clone, Debug)]
pub(crate) struct PolicyEntry<'a> {
    pub id: PolicyId,
    /// The namespace of a NetworkPolicy.
    pub namespace: Option<&'a str>,
    pub tier: &'a str,
    pub order: Option<f64>,
    /// Effective types (inferred from the rules when unset, as
    /// [`crate::resources::policy::infer_policy_types`] does).
    pub ingress_type: bool,
    pub egress_type: bool,
    pub selector: &'a str,
    /// GlobalNetworkPolicy only.
    pub namespace_selector: &'a str,
    pub service_account_selector: &'a str,
    pub ingress: &'a [Rule],
    pub egress: &'a [Rule],
    pub do_not_track: bool,
    pub pre_dnat: bool,
    pub apply_on_forward: bool,
}

/// A profile: labels always; rules only when every rule is usable.
#[derive(Clone, Debug)]
pub(crate) struct ProfileEntry<'a> {
    pub profile: &'a Profile,
    pub rules_valid: bool,
}

/// A tier as the sorter sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TierInfo {
    /// False for a tier that policies name but that does not exist; such tiers sort after
    /// all others (Felix's `TierLess`).
    pub valid: bool,
    pub order: Option<f64>,
    pub default_action: TierDefaultAction,
}

/// The indexed snapshot.
#[derive(Clone, Debug)]
pub(crate) struct Index<'a> {
    pub entities: Vec<Entity<'a>>,
    /// Usable policies, sorted by ID.
    pub policies: Vec<PolicyEntry<'a>>,
    pub profiles: BTreeMap<&'a str, ProfileEntry<'a>>,
    tiers: BTreeMap<&'a str, TierInfo>,
    pub problems: Vec<Problem>,
}

fn problem(kind: Kind, namespace: Option<&str>, name: &str, message: String) -> Problem {
    Problem {
        kind,
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
        message,
    }
}

fn namespace_or_default(ns: Option<&str>) -> &str {
    ns.unwrap_or("default")
}

fn first_rule_problem(ingress: &[Rule], egress: &[Rule]) -> Option<String> {
    for (dir, rules) in [("ingress", ingress), ("egress", egress)] {
        for (i, r) in rules.iter().enumerate() {
            if let Some(msg) = rule_problem(r) {
                return Some(format!("{dir} rule {i}: {msg}"));
            }
        }
    }
    None
}

fn protocol_number(p: &Protocol) -> Option<u8> {
    p.number().filter(|n| *n != 0)
}

impl<'a> Index<'a> {
    /// Indexes a snapshot.
    pub fn new(s: &'a Snapshot) -> Index<'a> {
        let mut problems = Vec::new();
        let mut profiles = BTreeMap::new();
        for p in &s.profiles {
            let bad = first_rule_problem(&p.spec.ingress, &p.spec.egress);
            if let Some(msg) = &bad {
                problems.push(problem(
                    Kind::Profile,
                    None,
                    &p.metadata.name,
                    format!("{msg}; endpoints using the profile get drop rules"),
                ));
            }
            let entry = ProfileEntry {
                profile: p,
                rules_valid: bad.is_none(),
            };
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

    /// The `kns.<ns>` labels of namespace `ns`, with `pcns.projectcalico.org/name`.
    fn namespace_labels(&self, ns: &str) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        let profile = format!("{NAMESPACE_PROFILE_PREFIX}{ns}");
        if let Some(p) = self.profiles.get(profile.as_str()) {
            labels.extend(p.profile.spec.labels_to_apply.clone());
        }
        labels
            .entry(format!("{NAMESPACE_LABEL_PREFIX}{NAMESPACE_NAME_LABEL}"))
            .or_insert_with(|| ns.to_owned());
        labels
    }

    fn inherit(&self, labels: &mut BTreeMap<String, String>, profiles: &[String]) {
        for name in profiles {
            if let Some(p) = self.profiles.get(name.as_str()) {
                for (k, v) in &p.profile.spec.labels_to_apply {
                    labels.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }

    fn add_entities(&mut self, s: &'a Snapshot) {
        let mut entities: BTreeMap<EntityId, Entity<'a>> = BTreeMap::new();
        for w in &s.workload_endpoints {
            let ns = namespace_or_default(w.metadata.namespace());
            let name = &w.metadata.name;
            let mut nets = Vec::new();
            let mut bad = None;
            for n in &w.spec.ip_networks {
                match net::parse_cidr_or_ip(n) {
                    Ok((_, parsed)) => nets.push(host_net(parsed)),
                    Err(e) => bad = Some(format!("ipNetworks entry {n:?} does not parse: {e}")),
                }
            }
            if let Some(msg) = bad {
                let msg = format!("{msg}; the endpoint is ignored");
                self.problems
                    .push(problem(Kind::WorkloadEndpoint, Some(ns), name, msg));
                continue;
            }
            if nets.is_empty() {
                continue;
            }
            let mut labels: BTreeMap<String, String> = w
                .metadata
                .labels
                .iter()
                .filter(|(k, _)| !k.starts_with(NAMESPACE_LABEL_PREFIX) && !k.starts_with("pcsa."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.insert(LABEL_NAMESPACE.to_owned(), ns.to_owned());
            if !w.spec.orchestrator.is_empty() {
                labels.insert(LABEL_ORCHESTRATOR.to_owned(), w.spec.orchestrator.clone());
            }
            if !w.spec.service_account_name.is_empty() {
                let sa = w.spec.service_account_name.clone();
                labels.insert(LABEL_SERVICE_ACCOUNT.to_owned(), sa);
            }
            self.inherit(&mut labels, &w.spec.profiles);
            for (k, v) in self.namespace_labels(ns) {
                labels.entry(k).or_insert(v);
            }
            let ports = w
                .spec
                .ports
                .iter()
                .filter(|p| !p.name.is_empty())
                .filter_map(|p| {
                    Some(EndpointPort {
                        name: p.name.clone(),
                        protocol: protocol_number(&p.protocol)?,
                        port: p.port,
                    })
                })
                .collect();
            let id = EntityId::Workload {
                namespace: ns.to_owned(),
                name: name.clone(),
            };
            let entity = Entity {
                id: id.clone(),
                node: Some(w.spec.node.as_str()),
                interface: Some(w.spec.interface_name.as_str()),
                labels,
                nets,
                ports,
                profiles: &w.spec.profiles,
            };
            entities.insert(id, entity);
        }
        for h in &s.host_endpoints {
            let name = &h.metadata.name;
            let mut nets = Vec::new();
            for ip in &h.spec.expected_ips {
                match net::parse_cidr_or_ip(ip) {
                    Ok((addr, _)) => nets.push(IpNet::from(addr)),
                    Err(e) => self.problems.push(problem(
                        Kind::HostEndpoint,
                        None,
                        name,
                        format!("expectedIPs entry {ip:?} does not parse ({e}); it is skipped"),
                    )),
                }
            }
            let mut labels = h.metadata.labels.clone();
            self.inherit(&mut labels, &h.spec.profiles);
            let ports = h
                .spec
                .ports
                .iter()
                .filter_map(|p| {
                    Some(EndpointPort {
                        name: p.name.clone(),
                        protocol: protocol_number(&p.protocol)?,
                        port: p.port,
                    })
                })
                .collect();
            let id = EntityId::Host { name: name.clone() };
            let entity = Entity {
                id: id.clone(),
                node: Some(h.spec.node.as_str()),
                interface: Some(h.spec.interface_name.as_str()),
                labels,
                nets,
                ports,
                profiles: &h.spec.profiles,
            };
            entities.insert(id, entity);
        }
        let sets = s
            .network_sets
            .iter()
            .map(|n| (Some(namespace_or_default(n.metadata.namespace())), n))
            .map(|(ns, n)| (ns, &n.metadata, &n.spec))
            .chain(
                s.global_network_sets
                    .iter()
                    .map(|n| (None, &n.metadata, &n.spec)),
            );
        for (ns, meta, spec) in sets {
            let kind = if ns.is_some() {
                Kind::NetworkSet
            } else {
                Kind::GlobalNetworkSet
            };
            let mut nets = Vec::new();
            for n in &spec.nets {
                match net::parse_cidr_or_ip(n) {
                    Ok((_, parsed)) => nets.push(parsed),
                    Err(e) => self.problems.push(problem(
                        kind,
                        ns,
                        &meta.name,
                        format!("nets entry {n:?} does not parse ({e}); it is skipped"),
                    )),
                }
            }
            let mut labels = meta.labels.clone();
            let id = match ns {
                Some(ns) => {
                    labels.insert(LABEL_NAMESPACE.to_owned(), ns.to_owned());
                    for (k, v) in self.namespace_labels(ns) {
                        labels.entry(k).or_insert(v);
                    }
                    EntityId::NetworkSet {
                        namespace: ns.to_owned(),
                        name: meta.name.clone(),
                    }
                }
                None => EntityId::GlobalNetworkSet {
                    name: meta.name.clone(),
                },
            };
            let entity = Entity {
                id: id.clone(),
                node: None,
                interface: None,
                labels,
                nets,
                ports: Vec::new(),
                profiles: &[],
            };
            entities.insert(id, entity);
        }
        self.entities = entities.into_values().collect();
    }

    fn add_policies(&mut self, s: &'a Snapshot) {
        let mut policies: BTreeMap<PolicyId, PolicyEntry<'a>> = BTreeMap::new();
        for p in &s.network_policies {
            let ns = namespace_or_default(p.metadata.namespace());
            let spec = &p.spec;
            let types = spec.effective_types();
            let entry = PolicyEntry {
                id: PolicyId::Namespaced {
                    namespace: ns.to_owned(),
                    name: p.metadata.name.clone(),
                },
                namespace: Some(ns),
                tier: spec.tier_or_default(),
                order: spec.order,
                ingress_type: types.contains(&crate::resources::PolicyType::Ingress),
                egress_type: types.contains(&crate::resources::PolicyType::Egress),
                selector: &spec.selector,
                namespace_selector: "",
                service_account_selector: &spec.service_account_selector,
                ingress: &spec.ingress,
                egress: &spec.egress,
                do_not_track: false,
                pre_dnat: false,
                apply_on_forward: true,
            };
            policies.insert(entry.id.clone(), entry);
        }
        for p in &s.global_network_policies {
            let spec = &p.spec;
            let types = spec.effective_types();
            let entry = PolicyEntry {
                id: PolicyId::Global {
                    name: p.metadata.name.clone(),
                },
                namespace: None,
                tier: spec.tier_or_default(),
                order: spec.order,
                ingress_type: types.contains(&crate::resources::PolicyType::Ingress),
                egress_type: types.contains(&crate::resources::PolicyType::Egress),
                selector: &spec.selector,
                namespace_selector: &spec.namespace_selector,
                service_account_selector: &spec.service_account_selector,
                ingress: &spec.ingress,
                egress: &spec.egress,
                do_not_track: spec.do_not_track,
                pre_dnat: spec.pre_dnat,
                apply_on_forward: spec.apply_on_forward,
            };
            policies.insert(entry.id.clone(), entry);
        }
        for (id, p) in policies {
            let checks = [
                ("selector", p.selector),
                ("namespaceSelector", p.namespace_selector),
                ("serviceAccountSelector", p.service_account_selector),
            ];
            let bad = checks
                .iter()
                .find_map(|(field, text)| parse_optional(field, text).err())
                .or_else(|| first_rule_problem(p.ingress, p.egress));
            match bad {
                Some(msg) => {
                    let (kind, ns, name) = match &id {
                        PolicyId::Global { name } => (Kind::GlobalNetworkPolicy, None, name),
                        PolicyId::Namespaced { namespace, name } => {
                            (Kind::NetworkPolicy, Some(namespace.as_str()), name)
                        }
                    };
                    let msg = format!("{msg}; the policy is ignored");
                    self.problems.push(problem(kind, ns, name, msg));
                }
                None => self.policies.push(p),
            }
        }
    }

    fn add_tiers(&mut self, s: &'a Snapshot) {
        for t in &s.tiers {
            let name = t.metadata.name.as_str();
            let info = TierInfo {
                valid: true,
                order: t.spec.order.or_else(|| builtin_tier_order(name)),
                default_action: t
                    .spec
                    .default_action
                    .or_else(|| builtin_tier_default_action(name))
                    .unwrap_or(TierDefaultAction::Deny),
            };
            self.tiers.insert(name, info);
        }
        let missing: Vec<&PolicyEntry> = self
            .policies
            .iter()
            .filter(|p| !self.tiers.contains_key(p.tier) && builtin_tier_order(p.tier).is_none())
            .collect();
        let mut new_problems = Vec::new();
        for p in missing {
            let (kind, ns, name) = match &p.id {
                PolicyId::Global { name } => (Kind::GlobalNetworkPolicy, None, name),
                PolicyId::Namespaced { namespace, name } => {
                    (Kind::NetworkPolicy, Some(namespace.as_str()), name)
                }
            };
            let msg = format!(
                "tier {:?} does not exist; its policies run after all other tiers, with default action Deny",
                p.tier
            );
            new_problems.push(problem(kind, ns, name, msg));
        }
        self.problems.extend(new_problems);
    }

    /// How the sorter sees tier `name`: the Tier resource, else the built-in tier's defaults
    /// (`default` is 1,000,000 / Deny), else an invalid tier (sorted last, Deny).
    pub fn tier(&self, name: &str) -> TierInfo {
        if let Some(t) = self.tiers.get(name) {
            return *t;
        }
        match builtin_tier_order(name) {
            Some(order) => TierInfo {
                valid: true,
                order: Some(order),
                default_action: builtin_tier_default_action(name)
                    .unwrap_or(TierDefaultAction::Deny),
            },
            None => TierInfo {
                valid: false,
                order: None,
                default_action: TierDefaultAction::Deny,
            },
        }
    }

    /// The entity with this ID.
    pub fn entity(&self, id: &EntityId) -> Option<&Entity<'a>> {
        self.entities
            .binary_search_by(|e| e.id.cmp(id))
            .ok()
            .and_then(|i| self.entities.get(i))
    }
}

/// The address of a workload's network as a full-length prefix (Felix uses the network
/// address, ignoring the prefix length).
fn host_net(n: IpNet) -> IpNet {
    IpNet::from(n.network())
}

/// Protocol number of a rule's protocol field (validated: never `Other` or 0).
pub(crate) fn rule_protocol(p: &Option<Protocol>) -> Option<u8> {
    p.as_ref().and_then(protocol_number)
}

/// The protocol named ports of a rule use: the rule's protocol, TCP when unset.
pub(crate) fn named_port_protocol(p: &Option<Protocol>) -> u8 {
    rule_protocol(p).unwrap_or(proto::TCP)
}
