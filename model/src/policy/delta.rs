//! Changes to a [`HostPolicy`], one entry at a time: what an incremental calculator emits and
//! what the policy programmer applies without re-reading the whole model.
//!
//! A sequence of deltas applied in order to the policy they were computed against gives the
//! new policy ([`HostPolicy::apply`]). A producer emits them in dependency order: sets before
//! the policies and profiles whose rules use them, those before the endpoints that refer to
//! them, and removals the other way round, so that a consumer applying them one by one never
//! holds a reference to something absent (the one exception is `resolve`'s own: a policy
//! whose rules do not compile is referred to but has no rules).

use ipnet::IpNet;

use super::resolved::{
    HostEndpointPolicy, HostPolicy, IpPoolNets, IpSet, IpSetKind, NamedPortMember, PolicyId,
    PolicyRules, Problem, ProfileRules, WorkloadEndpointPolicy,
};
use super::settings::HostSettings;

/// One change to a [`HostPolicy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyDelta {
    /// The host's policy settings, whole.
    Settings(HostSettings),
    /// The IP pool networks, whole.
    IpPools(IpPoolNets),
    ProblemAdded(Problem),
    ProblemRemoved(Problem),
    /// A set created (or replaced) with all its members.
    SetUpserted {
        id: String,
        set: IpSet,
    },
    /// Members of a [`IpSetKind::Nets`] set added and removed.
    SetMembers {
        id: String,
        added: Vec<IpNet>,
        removed: Vec<IpNet>,
    },
    /// Members of a [`IpSetKind::NamedPort`] set added and removed.
    NamedPortMembers {
        id: String,
        added: Vec<NamedPortMember>,
        removed: Vec<NamedPortMember>,
    },
    SetRemoved {
        id: String,
    },
    /// A policy's compiled rules, created or replaced.
    PolicyUpserted {
        id: PolicyId,
        rules: PolicyRules,
    },
    PolicyRemoved {
        id: PolicyId,
    },
    /// A profile's compiled rules, created or replaced.
    ProfileUpserted {
        name: String,
        rules: ProfileRules,
    },
    ProfileRemoved {
        name: String,
    },
    /// A local workload endpoint's programs, by interface, created or replaced.
    WorkloadEndpointUpserted {
        iface: String,
        policy: WorkloadEndpointPolicy,
    },
    WorkloadEndpointRemoved {
        iface: String,
    },
    /// A local host endpoint's programs, by interface (`*` for all), created or replaced.
    HostEndpointUpserted {
        iface: String,
        policy: HostEndpointPolicy,
    },
    HostEndpointRemoved {
        iface: String,
    },
}

impl HostPolicy {
    /// The policy of `host` with nothing in it: no endpoints, sets, pools or problems, and
    /// the default settings. What `resolve` gives for an empty snapshot.
    pub fn new(host: &str) -> HostPolicy {
        HostPolicy {
            host: host.to_owned(),
            workload_endpoints: Default::default(),
            host_endpoints: Default::default(),
            policies: Default::default(),
            profiles: Default::default(),
            ip_sets: Default::default(),
            ip_pools: IpPoolNets::default(),
            settings: HostSettings::default(),
            problems: Vec::new(),
        }
    }

    /// Applies one delta. Member changes of a set that does not exist, or is of the other
    /// kind, change nothing.
    pub fn apply(&mut self, delta: &PolicyDelta) {
        match delta {
            PolicyDelta::Settings(s) => self.settings = s.clone(),
            PolicyDelta::IpPools(p) => self.ip_pools = p.clone(),
            PolicyDelta::ProblemAdded(p) => {
                if let Err(i) = self.problems.binary_search(p) {
                    self.problems.insert(i, p.clone());
                }
            }
            PolicyDelta::ProblemRemoved(p) => {
                if let Ok(i) = self.problems.binary_search(p) {
                    self.problems.remove(i);
                }
            }
            PolicyDelta::SetUpserted { id, set } => {
                self.ip_sets.insert(id.clone(), set.clone());
            }
            PolicyDelta::SetMembers { id, added, removed } => {
                if let Some(IpSetKind::Nets(nets)) = self.ip_sets.get_mut(id).map(|s| &mut s.kind) {
                    for n in removed {
                        nets.remove(n);
                    }
                    nets.extend(added.iter().copied());
                }
            }
            PolicyDelta::NamedPortMembers { id, added, removed } => {
                if let Some(IpSetKind::NamedPort { members, .. }) =
                    self.ip_sets.get_mut(id).map(|s| &mut s.kind)
                {
                    for m in removed {
                        members.remove(m);
                    }
                    members.extend(added.iter().copied());
                }
            }
            PolicyDelta::SetRemoved { id } => {
                self.ip_sets.remove(id);
            }
            PolicyDelta::PolicyUpserted { id, rules } => {
                self.policies.insert(id.clone(), rules.clone());
            }
            PolicyDelta::PolicyRemoved { id } => {
                self.policies.remove(id);
            }
            PolicyDelta::ProfileUpserted { name, rules } => {
                self.profiles.insert(name.clone(), rules.clone());
            }
            PolicyDelta::ProfileRemoved { name } => {
                self.profiles.remove(name);
            }
            PolicyDelta::WorkloadEndpointUpserted { iface, policy } => {
                self.workload_endpoints
                    .insert(iface.clone(), policy.clone());
            }
            PolicyDelta::WorkloadEndpointRemoved { iface } => {
                self.workload_endpoints.remove(iface);
            }
            PolicyDelta::HostEndpointUpserted { iface, policy } => {
                self.host_endpoints.insert(iface.clone(), policy.clone());
            }
            PolicyDelta::HostEndpointRemoved { iface } => {
                self.host_endpoints.remove(iface);
            }
        }
    }
}
