//! The resolved per-host policy model: what the nftables policy programmer renders and what
//! the simulation's policy twin interprets.
//!
//! Everything is plain data with a deterministic order (`BTreeMap`s, sorted sets, and lists
//! whose order is the evaluation order), so two resolutions of equal snapshots are equal and
//! a programmer can diff an old model against a new one.
//!
//! # Meaning
//!
//! For one endpoint and one direction ([`DirectionPolicy`]), in this order (Felix's
//! `felix/rules/endpoints.go`):
//!
//! 1. (egress of workloads only) unless [`HostSettings`] allows them, drop IP-in-IP packets
//!    (protocol 4) and VXLAN packets (UDP to `vxlan_port`);
//! 2. (host endpoints only) accept packets to a failsafe port;
//! 3. each tier in `tiers`, in order: run its policies in order; a rule with action `Allow`
//!    accepts the packet for this direction (evaluation of this direction stops), `Deny`
//!    drops it, `Pass` skips the rest of the tier, `Log` logs and goes on with the next rule;
//!    a policy where no rule matched goes on with the next policy. At the end of a tier that
//!    no `Pass` left, the packet is dropped if the tier's `default_action` is `Deny`;
//! 4. each profile in `profiles`, in order: `Allow` accepts, `Deny` drops, `Pass` skips to
//!    the next profile, `Log` goes on; after the last profile the packet is dropped.
//!
//! Traffic between two workloads of one host runs the sender's egress and then the
//! receiver's ingress; an egress `Allow` must therefore not accept the packet outright.
//! Workload-to-host traffic runs egress, then [`HostSettings::endpoint_to_host_action`];
//! IPv6 ICMP types 130–133, 135 and 136 from a workload to its host are accepted before egress
//! policy. Host-to-local-workload traffic is not policed.
//!
//! ## Host endpoints
//!
//! The host endpoint of a host interface is the one with that interface name, else the `*`
//! one; workload interfaces and `lo` have none. Its other programs ([`HostEndpointPolicy`])
//! are lists of tiers, run as in step 3 above but with their own end of tier:
//!
//! - **untracked** (`doNotTrack`), before connection tracking, for packets arriving through
//!   the interface (`untracked_ingress`) and packets the host sends through it
//!   (`untracked_egress`; forwarded packets leaving through it are not concerned). Packets to
//!   a failsafe port of the direction, or from one of the other direction (replies), skip it.
//!   `Allow` accepts the packet without tracking its flow, and no later host endpoint policy
//!   of this side runs; `Deny` drops; a tier ends without verdict (no end-of-tier drop). Only
//!   host endpoints of one interface have it.
//! - **pre-DNAT** (`pre_dnat_ingress`), after untracked ingress and before destination NAT,
//!   for packets arriving through the interface; packets to an inbound failsafe port skip
//!   it. `Allow` ends host endpoint policy for the packet on this side; `Deny` drops; a tier
//!   ends without verdict.
//! - **forward** (`forward_ingress` / `forward_egress`), for packets routed through the host
//!   arriving (not after an untracked or pre-DNAT `Allow`) or leaving through the interface;
//!   normal end of tier; no profiles; no tiers, or every tier passed: allowed. Between a
//!   workload and the outside, the workload's programs run as well (sender's egress, then
//!   receiver's ingress).
//! - `ingress` / `egress` ([`DirectionPolicy`], steps 2–4) for packets to and from the host
//!   itself, unless untracked or pre-DNAT policy allowed the packet.
//!
//! A rule ([`ResolvedRule`]) matches when all its criteria match. For a packet of IP version
//! `F`: the rule does not apply if `ip_version` is another version; in `nets` / `not_nets`
//! only networks of version `F` count, and a non-empty list with no network of version `F`
//! makes the rule not apply to `F` (Felix renders rules per IP version and skips such rules).
//! Address sets ([`IpSet`]) hold members of both versions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::packet::IpVersion;
use super::settings::HostSettings;
use crate::resources::{Action, Kind, TierDefaultAction};

/// A NetworkPolicy or GlobalNetworkPolicy.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyId {
    /// A GlobalNetworkPolicy, by name.
    Global { name: String },
    /// A NetworkPolicy, by namespace and name.
    Namespaced { namespace: String, name: String },
}

impl PolicyId {
    /// The name Felix knows the policy by: `<namespace>/<name>` or `<name>`. Policies of
    /// equal order are sorted by it.
    pub fn felix_name(&self) -> String {
        match self {
            PolicyId::Global { name } => name.clone(),
            PolicyId::Namespaced { namespace, name } => format!("{namespace}/{name}"),
        }
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyId::Global { name } => write!(f, "GlobalNetworkPolicy {name}"),
            PolicyId::Namespaced { namespace, name } => {
                write!(f, "NetworkPolicy {namespace}/{name}")
            }
        }
    }
}

/// A resource the resolution could not use as written, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub name: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(
                f,
                "{} {ns}/{}: {}",
                self.kind.name(),
                self.name,
                self.message
            ),
            None => write!(f, "{} {}: {}", self.kind.name(), self.name, self.message),
        }
    }
}

/// The policy of one host: its endpoints' programs and everything they reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPolicy {
    pub host: String,
    /// Local workload endpoints, by interface name.
    pub workload_endpoints: BTreeMap<String, WorkloadEndpointPolicy>,
    /// Local host endpoints, by interface name (`*` for all interfaces).
    pub host_endpoints: BTreeMap<String, HostEndpointPolicy>,
    /// Every policy some local endpoint uses, with its rules.
    pub policies: BTreeMap<PolicyId, PolicyRules>,
    /// Every profile some local endpoint uses, with its rules.
    pub profiles: BTreeMap<String, ProfileRules>,
    /// Every address set the rules above reference, by ID.
    pub ip_sets: BTreeMap<String, IpSet>,
    /// IP pool networks for NAT outgoing.
    pub ip_pools: IpPoolNets,
    pub settings: HostSettings,
    /// Resources that were ignored or used only in part, sorted.
    pub problems: Vec<Problem>,
}

/// A local workload endpoint's programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadEndpointPolicy {
    pub namespace: String,
    pub name: String,
    /// Traffic to the workload (`cali-tw-<iface>`).
    pub ingress: DirectionPolicy,
    /// Traffic from the workload (`cali-fw-<iface>`).
    pub egress: DirectionPolicy,
}

/// A local host endpoint's programs. Ingress is traffic arriving through the interface,
/// egress traffic leaving through it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEndpointPolicy {
    pub name: String,
    /// Traffic from the interface to the host (`cali-fh-<iface>`), after inbound failsafes.
    pub ingress: DirectionPolicy,
    /// Traffic from the host to the interface (`cali-th-<iface>`), after outbound failsafes.
    pub egress: DirectionPolicy,
    /// Forwarded traffic arriving through the interface: `applyOnForward` policies only. No
    /// profiles; when there are no tiers the traffic is allowed.
    pub forward_ingress: Vec<TierPolicies>,
    /// Forwarded traffic leaving through the interface (as `forward_ingress`).
    pub forward_egress: Vec<TierPolicies>,
    /// `preDNAT` policies (ingress only; no end-of-tier drop, no profiles).
    pub pre_dnat_ingress: Vec<TierPolicies>,
    /// `doNotTrack` policies for ingress (no end-of-tier drop, no profiles; always empty for
    /// the `*` host endpoint).
    pub untracked_ingress: Vec<TierPolicies>,
    /// `doNotTrack` policies for egress (as `untracked_ingress`).
    pub untracked_egress: Vec<TierPolicies>,
}

/// The program of one endpoint in one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectionPolicy {
    /// Tiers with at least one policy for this endpoint and direction, in tier order.
    pub tiers: Vec<TierPolicies>,
    /// The endpoint's profiles, in order (keys of [`HostPolicy::profiles`]).
    pub profiles: Vec<String>,
}

/// One tier's policies for one endpoint and direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierPolicies {
    pub tier: String,
    /// What happens when no policy of the tier allowed, denied or passed the packet.
    pub default_action: TierDefaultAction,
    /// Keys of [`HostPolicy::policies`], in evaluation order (order, then Felix name).
    pub policies: Vec<PolicyId>,
}

/// A policy's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRules {
    pub tier: String,
    pub ingress: Vec<ResolvedRule>,
    pub egress: Vec<ResolvedRule>,
}

/// A profile's rules. A profile that does not exist (or is invalid) has one `Deny` rule in
/// each direction, so that endpoints using it fail closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileRules {
    pub ingress: Vec<ResolvedRule>,
    pub egress: Vec<ResolvedRule>,
    /// True when the rules are the fail-closed stand-in for a missing or invalid profile.
    pub missing: bool,
}

/// A rule with its selectors replaced by address-set IDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedRule {
    pub action: Action,
    /// From the rule's `ipVersion` only; see the module docs for the version of `nets`.
    pub ip_version: Option<IpVersion>,
    /// Protocol number the packet must have.
    pub protocol: Option<u8>,
    /// Protocol number the packet must not have.
    pub not_protocol: Option<u8>,
    /// ICMP type (and code) the packet must have (the packet must be ICMP or ICMPv6).
    pub icmp: Option<IcmpMatch>,
    /// ICMP type (and code) the packet must not have (the packet must be ICMP or ICMPv6).
    pub not_icmp: Option<IcmpMatch>,
    /// Matched against the packet's source address and source port.
    pub source: ResolvedEntity,
    /// Matched against the packet's destination address and destination port.
    pub destination: ResolvedEntity,
}

impl ResolvedRule {
    /// A rule that matches every packet.
    pub fn any(action: Action) -> ResolvedRule {
        ResolvedRule {
            action,
            ip_version: None,
            protocol: None,
            not_protocol: None,
            icmp: None,
            not_icmp: None,
            source: ResolvedEntity::default(),
            destination: ResolvedEntity::default(),
        }
    }
}

/// An ICMP type, and optionally code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IcmpMatch {
    pub icmp_type: u8,
    pub code: Option<u8>,
}

/// An inclusive port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

/// The criteria on one end of a packet (address and port). Empty fields match anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvedEntity {
    /// The address is in one of these (of the packet's version).
    pub nets: Vec<IpNet>,
    /// The address is in none of these (of the packet's version).
    pub not_nets: Vec<IpNet>,
    /// The address is a member of this [`IpSetKind::Nets`] set.
    pub ip_set: Option<String>,
    /// The address is not a member of this [`IpSetKind::Nets`] set.
    pub not_ip_set: Option<String>,
    /// The port is in one of `ports`, or `(address, protocol, port)` is a member of one of
    /// `named_port_sets`. Both empty: any port.
    pub ports: Vec<PortRange>,
    pub named_port_sets: Vec<String>,
    /// The port is in none of `not_ports`, and `(address, protocol, port)` is a member of
    /// none of `not_named_port_sets`.
    pub not_ports: Vec<PortRange>,
    pub not_named_port_sets: Vec<String>,
}

/// An address set, selected by labels across the whole cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSet {
    /// The selector the members were chosen with (Felix's form, with namespace and
    /// service-account conditions folded in).
    pub selector: String,
    pub kind: IpSetKind,
}

/// What an [`IpSet`] holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpSetKind {
    /// Networks: every matching endpoint's addresses (as /32 or /128) and every matching
    /// network set's nets. Networks may overlap.
    Nets(BTreeSet<IpNet>),
    /// A named port: `(address, protocol, port)` of every matching workload or host endpoint
    /// that has a port of this name and protocol.
    NamedPort {
        protocol: u8,
        name: String,
        members: BTreeSet<NamedPortMember>,
    },
}

/// A member of a named-port set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NamedPortMember {
    pub addr: IpAddr,
    pub protocol: u8,
    pub port: u16,
}

/// IP pool networks, for NAT outgoing (Felix's `felix/rules/nat.go`): traffic from a `nat_outgoing`
/// network to a destination outside every pool (`all`) is masqueraded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpPoolNets {
    /// Every pool's CIDR (disabled pools included).
    pub all: BTreeSet<IpNet>,
    /// The CIDRs of pools with `natOutgoing`.
    pub nat_outgoing: BTreeSet<IpNet>,
}
