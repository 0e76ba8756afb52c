//! Compiling a rule: selectors become address-set IDs, ports are split into numeric ranges
//! and named-port sets, CIDRs are parsed (Felix's `ruleToParsedRule`).

use super::index::{named_port_protocol, rule_protocol};
use super::ipsets::{IpSetRegistry, side_selectors};
use super::packet::IpVersion;
use super::resolved::{IcmpMatch, PortRange, ResolvedEntity, ResolvedRule};
use crate::resources::{EntityRule, IcmpFields, Port, Rule};
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
