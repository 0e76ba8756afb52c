//! Calico network policy: resolution of a cluster snapshot into one host's policy model, and
//! a direct evaluator of the same semantics.
//!
//! - [`resolve()`] turns a [`Snapshot`] into a [`HostPolicy`]: for each local endpoint, its
//!   ordered tiers, policies and profiles per direction; every rule compiled with selectors
//!   replaced by address-set IDs; the sets' members across the whole cluster; NAT-outgoing
//!   pools; the host's policy settings. This is the input of the nftables policy programmer.
//! - [`allowed()`] / [`Evaluator`] answer "does policy allow this packet from A to B?"
//!   straight from the resources and rules. It is written independently of the resolution so
//!   that each checks the other (`model/tests/policy_crosscheck.rs`).
//!
//! Both follow Calico's policy semantics as Felix renders them (`felix/rules/endpoints.go`,
//! `felix/rules/policy.go`: tiers, Pass, end-of-tier drop, profiles, rule actions, type
//! inference, rule match semantics). Both read the snapshot the same way
//! (module `index`: effective labels including namespace labels from `kns.<namespace>`
//! profiles, addresses, tiers; module `validity`: which rules are usable).
//! Neither does I/O; a resource that cannot be used is reported in
//! [`HostPolicy::problems`] and treated as absent (a missing or invalid profile as drop
//! rules), never a panic.

mod compile;
mod delta;
mod endpoint_program;
mod entity;
mod evaluate;
mod index;
mod ipsets;
pub mod packet;
mod policy_entry;
mod resolve;
pub mod resolved;
mod settings;
mod snapshot;
mod validity;

/// The steps of [`resolve()`] on one resource or one endpoint, public so that an incremental
/// calculator computes exactly what `resolve` computes: an entity's own labels, addresses
/// and named ports, and the labels it inherits; a policy in one shape with its checks and
/// its endpoint selector; tiers' sort keys; one endpoint's programs from the policies that
/// select it; a policy's or profile's compiled rules with the address sets they use; the
/// members one entity gives a set; the problems of local endpoints.
pub mod parts {
    pub use super::compile::{Compiled, compile_policy, compile_profile};
    pub use super::endpoint_program::{
        host_endpoint_interface_taken, host_endpoint_program, host_endpoint_without_interface,
        policies_of_host_endpoint, policies_of_workload, workload_interface_taken,
        workload_program, workload_without_interface,
    };
    pub use super::entity::{
        EndpointPort, EntityData, EntityId, global_network_set_data, host_endpoint_data,
        inherit_labels, label_parents, namespace_profile, network_set_data, workload_data,
    };
    pub use super::ipsets::{SetDef, SetDefKind, named_port_members};
    pub use super::policy_entry::{
        PolicyEntry, PolicyMeta, TierInfo, policy_problem, profile_problem, tier_info,
    };
    pub use super::resolve::ip_pools;
}

pub use delta::PolicyDelta;
pub use evaluate::{Destination, Evaluator, Peer, Source, Verdict, allowed};
pub use packet::{IpVersion, L4, Packet};
pub use resolve::resolve;
pub use resolved::{
    DirectionPolicy, HostEndpointPolicy, HostPolicy, IcmpMatch, IpPoolNets, IpSet, IpSetKind,
    NamedPortMember, PolicyId, PolicyRules, PortRange, Problem, ProfileRules, ResolvedEntity,
    ResolvedRule, TierPolicies, WorkloadEndpointPolicy,
};
pub use settings::{FailsafePort, HostSettings};
pub use snapshot::Snapshot;

/// Prefix of namespace labels as endpoints inherit them (`pcns.<key>`).
pub const NAMESPACE_LABEL_PREFIX: &str = "pcns.";
/// Prefix of service-account labels as endpoints inherit them (`pcsa.<key>`).
pub const SERVICE_ACCOUNT_LABEL_PREFIX: &str = "pcsa.";
/// Prefix of the profile that carries a namespace's labels (`kns.<namespace>`).
pub const NAMESPACE_PROFILE_PREFIX: &str = "kns.";
/// Namespace label holding the namespace's name (`pcns.projectcalico.org/name`).
pub const NAMESPACE_NAME_LABEL: &str = "projectcalico.org/name";
