//! What selectors pick: workload endpoints, host endpoints and network sets, each reduced to
//! its own labels, addresses and named ports ([`EntityData`]), and the labels it inherits
//! from its parents ([`inherit_labels`]). The label rules are in the docs of the `index`
//! module; these are the per-resource steps, shared by the batch resolution and by
//! incremental calculators.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::resolved::Problem;
use super::{
    NAMESPACE_LABEL_PREFIX, NAMESPACE_NAME_LABEL, NAMESPACE_PROFILE_PREFIX,
    SERVICE_ACCOUNT_LABEL_PREFIX,
};
use crate::resources::endpoint::{LABEL_NAMESPACE, LABEL_ORCHESTRATOR, LABEL_SERVICE_ACCOUNT};
use crate::resources::{
    GlobalNetworkSet, HostEndpoint, Kind, NetworkSet, ObjectMeta, Protocol, WorkloadEndpoint,
};
use crate::validation::net;

/// What an entity is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityId {
    Workload { namespace: String, name: String },
    Host { name: String },
    NetworkSet { namespace: String, name: String },
    GlobalNetworkSet { name: String },
}

impl EntityId {
    /// Whether the entity is a workload or host endpoint.
    pub fn is_endpoint(&self) -> bool {
        matches!(self, EntityId::Workload { .. } | EntityId::Host { .. })
    }

    /// The namespace whose labels the entity inherits (workloads and network sets).
    pub fn namespace(&self) -> Option<&str> {
        match self {
            EntityId::Workload { namespace, .. } | EntityId::NetworkSet { namespace, .. } => {
                Some(namespace)
            }
            _ => None,
        }
    }
}

/// A named port of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointPort {
    pub name: String,
    pub protocol: u8,
    pub port: u16,
}

/// One entity's own part: labels before inheritance, addresses, named ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityData {
    pub id: EntityId,
    /// Own labels (for workloads with the namespace, orchestrator and service-account labels
    /// set, and claimed `pcns.` / `pcsa.` labels removed), before [`inherit_labels`].
    pub labels: BTreeMap<String, String>,
    /// Addresses: a workload's as /32 or /128, a host endpoint's expected IPs, a network
    /// set's nets.
    pub nets: Vec<IpNet>,
    /// Named ports (endpoints only).
    pub ports: Vec<EndpointPort>,
}

pub(crate) fn problem(kind: Kind, namespace: Option<&str>, name: &str, message: String) -> Problem {
    Problem {
        kind,
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
        message,
    }
}

pub(crate) fn namespace_or_default(ns: Option<&str>) -> &str {
    ns.unwrap_or("default")
}

pub(crate) fn protocol_number(p: &Protocol) -> Option<u8> {
    p.number().filter(|n| *n != 0)
}

/// The address of a workload's network as a full-length prefix (Felix uses the network
/// address, ignoring the prefix length).
fn host_net(n: IpNet) -> IpNet {
    IpNet::from(n.network())
}

/// A workload endpoint's own part. `Ok(None)`: it has no addresses, so Felix does not know
/// it (it is skipped without a problem); `Err`: an address does not parse, and the endpoint
/// is ignored.
pub fn workload_data(w: &WorkloadEndpoint) -> Result<Option<EntityData>, Problem> {
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
        return Err(problem(Kind::WorkloadEndpoint, Some(ns), name, msg));
    }
    if nets.is_empty() {
        return Ok(None);
    }
    let mut labels: BTreeMap<String, String> = w
        .metadata
        .labels
        .iter()
        .filter(|(k, _)| {
            !k.starts_with(NAMESPACE_LABEL_PREFIX) && !k.starts_with(SERVICE_ACCOUNT_LABEL_PREFIX)
        })
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
    Ok(Some(EntityData {
        id: EntityId::Workload {
            namespace: ns.to_owned(),
            name: name.clone(),
        },
        labels,
        nets,
        ports,
    }))
}

/// A host endpoint's own part, and the expected IPs that were skipped because they do not
/// parse.
pub fn host_endpoint_data(h: &HostEndpoint) -> (EntityData, Vec<Problem>) {
    let name = &h.metadata.name;
    let mut nets = Vec::new();
    let mut problems = Vec::new();
    for ip in &h.spec.expected_ips {
        match net::parse_cidr_or_ip(ip) {
            Ok((addr, _)) => nets.push(IpNet::from(addr)),
            Err(e) => problems.push(problem(
                Kind::HostEndpoint,
                None,
                name,
                format!("expectedIPs entry {ip:?} does not parse ({e}); it is skipped"),
            )),
        }
    }
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
    let data = EntityData {
        id: EntityId::Host { name: name.clone() },
        labels: h.metadata.labels.clone(),
        nets,
        ports,
    };
    (data, problems)
}

/// A NetworkSet's own part, and the nets that were skipped because they do not parse.
pub fn network_set_data(n: &NetworkSet) -> (EntityData, Vec<Problem>) {
    let ns = namespace_or_default(n.metadata.namespace());
    set_data(Some(ns), &n.metadata, &n.spec.nets)
}

/// A GlobalNetworkSet's own part, and the nets that were skipped because they do not parse.
pub fn global_network_set_data(n: &GlobalNetworkSet) -> (EntityData, Vec<Problem>) {
    set_data(None, &n.metadata, &n.spec.nets)
}

fn set_data(ns: Option<&str>, meta: &ObjectMeta, list: &[String]) -> (EntityData, Vec<Problem>) {
    let kind = if ns.is_some() {
        Kind::NetworkSet
    } else {
        Kind::GlobalNetworkSet
    };
    let mut nets = Vec::new();
    let mut problems = Vec::new();
    for n in list {
        match net::parse_cidr_or_ip(n) {
            Ok((_, parsed)) => nets.push(parsed),
            Err(e) => problems.push(problem(
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
            EntityId::NetworkSet {
                namespace: ns.to_owned(),
                name: meta.name.clone(),
            }
        }
        None => EntityId::GlobalNetworkSet {
            name: meta.name.clone(),
        },
    };
    let data = EntityData {
        id,
        labels,
        nets,
        ports: Vec::new(),
    };
    (data, problems)
}

/// The name of the profile that carries namespace `ns`'s labels (`kns.<ns>`).
pub fn namespace_profile(ns: &str) -> String {
    format!("{NAMESPACE_PROFILE_PREFIX}{ns}")
}

/// Adds inherited labels to `labels` (an entity's own, from [`EntityData`]), each only for
/// keys not yet set: the `labelsToApply` of each profile in `profiles`, in order, then, for
/// an entity of namespace `namespace`, the namespace's labels (those of the `kns.<ns>`
/// profile, and `pcns.projectcalico.org/name`). `labels_to_apply` looks a profile up by name.
pub fn inherit_labels<'p>(
    labels: &mut BTreeMap<String, String>,
    profiles: &[String],
    namespace: Option<&str>,
    labels_to_apply: impl Fn(&str) -> Option<&'p BTreeMap<String, String>>,
) {
    for name in profiles {
        if let Some(l) = labels_to_apply(name) {
            for (k, v) in l {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    let Some(ns) = namespace else { return };
    let mut ns_labels = BTreeMap::new();
    if let Some(l) = labels_to_apply(&namespace_profile(ns)) {
        ns_labels.extend(l.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    ns_labels
        .entry(format!("{NAMESPACE_LABEL_PREFIX}{NAMESPACE_NAME_LABEL}"))
        .or_insert_with(|| ns.to_owned());
    for (k, v) in ns_labels {
        labels.entry(k).or_insert(v);
    }
}

/// The profiles an entity inherits labels from: its own `profiles`, then the namespace's
/// `kns.<ns>` profile.
pub fn label_parents(profiles: &[String], namespace: Option<&str>) -> Vec<String> {
    let mut out = profiles.to_vec();
    if let Some(ns) = namespace {
        out.push(namespace_profile(ns));
    }
    out
}
