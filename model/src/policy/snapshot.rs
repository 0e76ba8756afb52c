//! The input of policy resolution and evaluation: every resource that affects policy, as one
//! consistent snapshot of the datastore.

use crate::resources::{
    FelixConfiguration, GlobalNetworkPolicy, GlobalNetworkSet, HostEndpoint, IPPool, NetworkPolicy,
    NetworkSet, Profile, Resource, Tier, WorkloadEndpoint,
};

/// All resources that affect policy, across the whole cluster.
///
/// Each resource should appear once; when two share a kind, namespace and name, the later one
/// in its list is used. Resources of other kinds are not needed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub workload_endpoints: Vec<WorkloadEndpoint>,
    pub host_endpoints: Vec<HostEndpoint>,
    pub profiles: Vec<Profile>,
    pub network_policies: Vec<NetworkPolicy>,
    pub global_network_policies: Vec<GlobalNetworkPolicy>,
    pub tiers: Vec<Tier>,
    pub network_sets: Vec<NetworkSet>,
    pub global_network_sets: Vec<GlobalNetworkSet>,
    pub ip_pools: Vec<IPPool>,
    /// `default` and `node.<name>` configurations (others are ignored).
    pub felix_configurations: Vec<FelixConfiguration>,
}

impl Snapshot {
    /// A snapshot of the given resources; kinds that do not affect policy are skipped.
    pub fn from_resources<I: IntoIterator<Item = Resource>>(resources: I) -> Snapshot {
        let mut s = Snapshot::default();
        for r in resources {
            s.insert(r);
        }
        s
    }

    /// Adds one resource (ignored if its kind does not affect policy).
    pub fn insert(&mut self, resource: Resource) {
        match resource {
            Resource::WorkloadEndpoint(r) => self.workload_endpoints.push(r),
            Resource::HostEndpoint(r) => self.host_endpoints.push(r),
            Resource::Profile(r) => self.profiles.push(r),
            Resource::NetworkPolicy(r) => self.network_policies.push(r),
            Resource::GlobalNetworkPolicy(r) => self.global_network_policies.push(r),
            Resource::Tier(r) => self.tiers.push(r),
            Resource::NetworkSet(r) => self.network_sets.push(r),
            Resource::GlobalNetworkSet(r) => self.global_network_sets.push(r),
            Resource::IPPool(r) => self.ip_pools.push(r),
            Resource::FelixConfiguration(r) => self.felix_configurations.push(r),
            _ => {}
        }
    }
}
