//! One local endpoint's programs from the policies that select it: per direction and flavour
//! the policies that apply, grouped by tier; tiers ordered (by order, missing last, then
//! name; tiers that do not exist after all others) and policies ordered (by order, missing
//! last, then Felix name), as Felix's `felix/rules/endpoints.go` renders them. See
//! [`super::resolved`] for what the programs mean.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::entity::problem;
use super::policy_entry::{PolicyMeta, TierInfo};
use super::resolved::{
    DirectionPolicy, HostEndpointPolicy, PolicyId, Problem, TierPolicies, WorkloadEndpointPolicy,
};
use crate::resources::Kind;

/// Which policies a program takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    /// Filter-table policy of workloads and host endpoints.
    Normal,
    /// `applyOnForward` policy of host endpoints, for forwarded traffic.
    Forward,
    /// `preDNAT` policy of host endpoints.
    PreDnat,
    /// `doNotTrack` policy of host endpoints.
    Untracked,
}

impl Flavor {
    fn takes(self, p: &PolicyMeta) -> bool {
        match self {
            Flavor::Normal => !p.do_not_track && !p.pre_dnat,
            Flavor::Forward => p.apply_on_forward && !p.do_not_track && !p.pre_dnat,
            Flavor::PreDnat => p.pre_dnat,
            Flavor::Untracked => p.do_not_track,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

fn order_key(order: Option<f64>) -> f64 {
    order.unwrap_or(f64::INFINITY)
}

fn policy_cmp(a: &PolicyMeta, b: &PolicyMeta) -> Ordering {
    order_key(a.order)
        .total_cmp(&order_key(b.order))
        .then_with(|| a.id.felix_name().cmp(&b.id.felix_name()))
}

/// The tiers of `matching` (the policies selecting the endpoint) for `dir` and `flavor`.
fn tiers(
    matching: &[&PolicyMeta],
    dir: Direction,
    flavor: Flavor,
    tier: &dyn Fn(&str) -> TierInfo,
) -> Vec<TierPolicies> {
    let mut by_tier: BTreeMap<&str, Vec<&PolicyMeta>> = BTreeMap::new();
    for p in matching {
        let applies = match dir {
            Direction::Ingress => p.ingress_type,
            Direction::Egress => p.egress_type,
        };
        if applies && flavor.takes(p) {
            by_tier.entry(p.tier.as_str()).or_default().push(p);
        }
    }
    let mut tiers: Vec<(&str, TierInfo, Vec<&PolicyMeta>)> = by_tier
        .into_iter()
        .map(|(name, pols)| (name, tier(name), pols))
        .collect();
    tiers.sort_by(|(a, ta, _), (b, tb, _)| {
        tb.valid
            .cmp(&ta.valid)
            .then_with(|| order_key(ta.order).total_cmp(&order_key(tb.order)))
            .then_with(|| a.cmp(b))
    });
    tiers
        .into_iter()
        .map(|(name, info, mut pols)| {
            pols.sort_by(|a, b| policy_cmp(a, b));
            TierPolicies {
                tier: name.to_owned(),
                default_action: info.default_action,
                policies: pols.iter().map(|p| p.id.clone()).collect(),
            }
        })
        .collect()
}

fn direction(
    matching: &[&PolicyMeta],
    profiles: &[String],
    dir: Direction,
    tier: &dyn Fn(&str) -> TierInfo,
) -> DirectionPolicy {
    DirectionPolicy {
        tiers: tiers(matching, dir, Flavor::Normal, tier),
        profiles: profiles.to_vec(),
    }
}

/// The programs of workload endpoint `namespace/name`, selected by the policies `matching`
/// (in any order), with `profiles`; `tier` gives each tier's sort key.
pub fn workload_program(
    namespace: &str,
    name: &str,
    matching: &[&PolicyMeta],
    profiles: &[String],
    tier: &dyn Fn(&str) -> TierInfo,
) -> WorkloadEndpointPolicy {
    WorkloadEndpointPolicy {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        ingress: direction(matching, profiles, Direction::Ingress, tier),
        egress: direction(matching, profiles, Direction::Egress, tier),
    }
}

/// The programs of host endpoint `name` of interface `iface`, as [`workload_program`]. The
/// endpoint for all interfaces (`*`) gets no untracked policy, and a problem when it has
/// some.
pub fn host_endpoint_program(
    name: &str,
    iface: &str,
    matching: &[&PolicyMeta],
    profiles: &[String],
    tier: &dyn Fn(&str) -> TierInfo,
) -> (HostEndpointPolicy, Option<Problem>) {
    let mut untracked_ingress = tiers(matching, Direction::Ingress, Flavor::Untracked, tier);
    let mut untracked_egress = tiers(matching, Direction::Egress, Flavor::Untracked, tier);
    let mut issue = None;
    if iface == "*" && !(untracked_ingress.is_empty() && untracked_egress.is_empty()) {
        // As in Felix: untracked policy needs a specific interface.
        issue = Some(problem(
            Kind::HostEndpoint,
            None,
            name,
            "doNotTrack policy does not apply to a host endpoint for all interfaces (interfaceName \"*\"); it is ignored".to_owned(),
        ));
        untracked_ingress.clear();
        untracked_egress.clear();
    }
    let hep = HostEndpointPolicy {
        name: name.to_owned(),
        ingress: direction(matching, profiles, Direction::Ingress, tier),
        egress: direction(matching, profiles, Direction::Egress, tier),
        forward_ingress: tiers(matching, Direction::Ingress, Flavor::Forward, tier),
        forward_egress: tiers(matching, Direction::Egress, Flavor::Forward, tier),
        pre_dnat_ingress: tiers(matching, Direction::Ingress, Flavor::PreDnat, tier),
        untracked_ingress,
        untracked_egress,
    };
    (hep, issue)
}

/// Every policy a program refers to.
pub fn policies_of_workload(w: &WorkloadEndpointPolicy) -> impl Iterator<Item = &PolicyId> {
    [&w.ingress.tiers, &w.egress.tiers]
        .into_iter()
        .flat_map(|t| t.iter().flat_map(|t| t.policies.iter()))
}

/// Every policy a host endpoint's programs refer to.
pub fn policies_of_host_endpoint(h: &HostEndpointPolicy) -> impl Iterator<Item = &PolicyId> {
    [
        &h.ingress.tiers,
        &h.egress.tiers,
        &h.forward_ingress,
        &h.forward_egress,
        &h.pre_dnat_ingress,
        &h.untracked_ingress,
        &h.untracked_egress,
    ]
    .into_iter()
    .flat_map(|t| t.iter().flat_map(|t| t.policies.iter()))
}

/// A local workload endpoint without an interface name.
pub fn workload_without_interface(namespace: &str, name: &str) -> Problem {
    problem(
        Kind::WorkloadEndpoint,
        Some(namespace),
        name,
        "no interfaceName; the endpoint is ignored".to_owned(),
    )
}

/// A local workload endpoint whose interface an endpoint before it took.
pub fn workload_interface_taken(namespace: &str, name: &str, iface: &str) -> Problem {
    problem(
        Kind::WorkloadEndpoint,
        Some(namespace),
        name,
        format!(
            "interface {iface:?} is already used by another endpoint of this host; the endpoint is ignored"
        ),
    )
}

/// A local host endpoint without an interface name.
pub fn host_endpoint_without_interface(name: &str) -> Problem {
    problem(
        Kind::HostEndpoint,
        None,
        name,
        "no interfaceName; host endpoints matched by expectedIPs are not supported, the endpoint is ignored".to_owned(),
    )
}

/// A local host endpoint whose interface an endpoint before it took.
pub fn host_endpoint_interface_taken(name: &str, iface: &str) -> Problem {
    problem(
        Kind::HostEndpoint,
        None,
        name,
        format!("interface {iface:?} already has a host endpoint; the endpoint is ignored"),
    )
}
