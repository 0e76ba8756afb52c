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
mod evaluate;
mod index;
mod ipsets;
pub mod packet;
mod resolve;
pub mod resolved;
mod settings;
mod snapshot;
mod validity;

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
