//! Compiling a rule: selectors become address-set IDs, ports are split into numeric ranges
//! and named-port sets, CIDRs are parsed (Felix's `ruleToParsedRule`).

use std::collections::BTreeMap;

use super::entity::problem;
use super::index::{named_port_protocol, rule_protocol};
use super::ipsets::{IpSetRegistry, SetDef, side_selectors};
use super::packet::IpVersion;
use super::policy_entry::{PolicyEntry, policy_problem, profile_problem};
use super::resolved::{
    IcmpMatch, PolicyRules, PortRange, Problem, ProfileRules, ResolvedEntity, ResolvedRule,
};
use crate::resources::{Action, EntityRule, IcmpFields, Kind, Port, Profile, Rule};
use crate::validation::net;

/// Compiles `rule` of a policy in namespace `policy_ns` (`None` for global policies and
/// profiles), registering the sets it uses.
pub(crate) fn compile_rule(
    rule: &Rule,
    policy_ns: Option<&str>,
    sets: &mut IpSetRegistry,
) -> Result<ResolvedRule, String> {
    let np_proto = named_port_protocol(&rule.protocol);
    Ok(ResolvedRule {
        action: rule.action,
        ip_version: match rule.ip_version {
            Some(4) => Some(IpVersion::V4),
            Some(6) => Some(IpVersion::V6),
            _ => None,
        },
        protocol: rule_protocol(&rule.protocol),
        not_protocol: rule_protocol(&rule.not_protocol),
        icmp: icmp_match(&rule.icmp),
        not_icmp: icmp_match(&rule.not_icmp),
        source: compile_side(&rule.source, policy_ns, np_proto, sets)?,
        destination: compile_side(&rule.destination, policy_ns, np_proto, sets)?,
    })
}

fn icmp_match(f: &Option<IcmpFields>) -> Option<IcmpMatch> {
    let f = f.as_ref()?;
    let icmp_type = u8::try_from(f.icmp_type?).ok()?;
    Some(IcmpMatch {
        icmp_type,
        code: f.code.and_then(|c| u8::try_from(c).ok()),
    })
}

fn nets(list: &[String]) -> Vec<ipnet::IpNet> {
    list.iter()
        .filter_map(|n| net::parse_cidr_or_ip(n).ok().map(|(_, n)| n))
        .collect()
}

fn split_ports(ports: &[Port]) -> (Vec<PortRange>, Vec<&str>) {
    let mut numeric = Vec::new();
    let mut named = Vec::new();
    for p in ports {
        match p {
            Port::Range { min, max } => numeric.push(PortRange {
                first: *min,
                last: *max,
            }),
            Port::Named(n) => named.push(n.as_str()),
        }
    }
    (numeric, named)
}

fn compile_side(
    er: &EntityRule,
    policy_ns: Option<&str>,
    np_proto: u8,
    sets: &mut IpSetRegistry,
) -> Result<ResolvedEntity, String> {
    let sels = side_selectors(er, policy_ns)?;
    let (ports, named) = split_ports(&er.ports);
    let (not_ports, not_named) = split_ports(&er.not_ports);
    let positive = sels.positive.as_deref();
    let mut named_port_sets = Vec::new();
    for n in named.iter().copied() {
        named_port_sets.push(sets.named_port_set(positive, np_proto, n)?);
    }
    let mut not_named_port_sets = Vec::new();
    for n in not_named {
        not_named_port_sets.push(sets.named_port_set(positive, np_proto, n)?);
    }
    // A named-port set already holds only the positive selector's endpoints; the selector's
    // own set is needed only when numeric ports could match without it.
    let ip_set = match positive {
        Some(text) if !ports.is_empty() || named.is_empty() => Some(sets.selector_set(text)?),
        _ => None,
    };
    let not_ip_set = match sels.negated.as_deref() {
        Some(text) => Some(sets.selector_set(text)?),
        None => None,
    };
    Ok(ResolvedEntity {
        nets: nets(&er.nets),
        not_nets: nets(&er.not_nets),
        ip_set,
        not_ip_set,
        ports,
        named_port_sets,
        not_ports,
        not_named_port_sets,
    })
}

/// Compiles `rules` of a policy in namespace `policy_ns` (`None` for global policies and
/// profiles), registering the sets they use.
pub(crate) fn compile_all(
    rules: &[Rule],
    ns: Option<&str>,
    sets: &mut IpSetRegistry,
) -> Result<Vec<ResolvedRule>, String> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| compile_rule(r, ns, sets).map_err(|m| format!("rule {i}: {m}")))
        .collect()
}

/// A policy's or profile's compiled rules and the address sets they refer to, by ID.
#[derive(Clone, Debug, PartialEq)]
pub struct Compiled<R> {
    pub rules: R,
    pub sets: BTreeMap<String, SetDef>,
}

/// Compiles a usable policy. `Err`: a combined selector does not parse (an over-long
/// prefixed label); the policy then has no rules (endpoints still refer to it).
pub fn compile_policy(p: &PolicyEntry) -> Result<Compiled<PolicyRules>, Problem> {
    let mut sets = IpSetRegistry::default();
    let ns = p.namespace;
    let compiled = compile_all(p.ingress, ns, &mut sets)
        .and_then(|i| Ok((i, compile_all(p.egress, ns, &mut sets)?)));
    match compiled {
        Ok((ingress, egress)) => Ok(Compiled {
            rules: PolicyRules {
                tier: p.tier.to_owned(),
                ingress,
                egress,
            },
            sets: sets.into_defs(),
        }),
        Err(msg) => Err(policy_problem(&p.id, msg)),
    }
}

/// Compiles profile `name` (`None`: no such profile). A missing profile, one with an unusable
/// rule and one whose rules do not compile get one `Deny` rule per direction; the problem
/// says why, except for unusable rules, which [`super::policy_entry::profile_problem`]
/// reports whether or not the profile is used.
pub fn compile_profile(
    name: &str,
    profile: Option<&Profile>,
) -> (Compiled<ProfileRules>, Option<Problem>) {
    let drop = || Compiled {
        rules: ProfileRules {
            ingress: vec![ResolvedRule::any(Action::Deny)],
            egress: vec![ResolvedRule::any(Action::Deny)],
            missing: true,
        },
        sets: BTreeMap::new(),
    };
    let Some(p) = profile else {
        let message = "does not exist; endpoints using it get drop rules".to_owned();
        return (drop(), Some(problem(Kind::Profile, None, name, message)));
    };
    if profile_problem(p).is_some() {
        return (drop(), None);
    }
    let mut sets = IpSetRegistry::default();
    let compiled = compile_all(&p.spec.ingress, None, &mut sets)
        .and_then(|i| Ok((i, compile_all(&p.spec.egress, None, &mut sets)?)));
    match compiled {
        Ok((ingress, egress)) => {
            let rules = ProfileRules {
                ingress,
                egress,
                missing: false,
            };
            let c = Compiled {
                rules,
                sets: sets.into_defs(),
            };
            (c, None)
        }
        Err(message) => {
            let message = format!("{message}; endpoints using it get drop rules");
            (drop(), Some(problem(Kind::Profile, None, name, message)))
        }
    }
}
