//! Which rules the policy code can use. A policy or profile with a rule that fails these
//! checks is treated as invalid as a whole (as Felix drops a policy it cannot render; and
//! ARCHITECTURE.md's invariant: a bad resource is reported and treated as absent), the same way in resolution and evaluation.
//!
//! The checks are the ones that change what a rule means: selectors that do not parse, CIDRs
//! that do not parse (Calico would silently drop them, widening the match), unknown
//! protocols, ICMP fields out of range or without an ICMP protocol, ports without a protocol
//! that has ports, an `ipVersion` other than 4 or 6, and match criteria this dataplane does
//! not implement (`http`, `services`).

use crate::resources::{EntityRule, IcmpFields, Protocol, Rule};
use crate::selector::Selector;
use crate::validation::net;

/// Parses a selector field; `""` is `Ok(None)` (no selector).
pub(crate) fn parse_optional(field: &str, text: &str) -> Result<Option<Selector>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    Selector::parse(text)
        .map(Some)
        .map_err(|e| format!("{field} {text:?} does not parse: {e}"))
}

/// Why `rule` cannot be used, if it cannot.
pub(crate) fn rule_problem(rule: &Rule) -> Option<String> {
    if let Some(v) = rule.ip_version
        && v != 4
        && v != 6
    {
        return Some(format!("ipVersion {v} is neither 4 nor 6"));
    }
    for (field, p) in [
        ("protocol", &rule.protocol),
        ("notProtocol", &rule.not_protocol),
    ] {
        if let Some(p) = p {
            match p {
                Protocol::Other(name) => {
                    return Some(format!("{field} {name:?} is not a known protocol"));
                }
                Protocol::Number(0) => return Some(format!("{field} 0 is not a protocol")),
                _ => {}
            }
        }
    }
    for (field, icmp) in [("icmp", &rule.icmp), ("notICMP", &rule.not_icmp)] {
        if let Some(f) = icmp {
            if let Some(msg) = icmp_problem(f) {
                return Some(format!("{field}: {msg}"));
            }
            let is_icmp = rule
                .protocol
                .as_ref()
                .is_some_and(|p| p.is_icmp() || p.is_icmpv6());
            if !is_icmp {
                return Some(format!("{field} needs protocol ICMP or ICMPv6"));
            }
        }
    }
    if rule.http.is_some() {
        return Some("http matches are not supported by this dataplane".to_owned());
    }
    for (side, e) in [("source", &rule.source), ("destination", &rule.destination)] {
        if let Some(msg) = entity_problem(e, rule.protocol.as_ref()) {
            return Some(format!("{side}: {msg}"));
        }
    }
    None
}

fn icmp_problem(f: &IcmpFields) -> Option<String> {
    if let Some(t) = f.icmp_type
        && !(0..=254).contains(&t)
    {
        return Some(format!("type {t} is not between 0 and 254"));
    }
    if let Some(c) = f.code {
        if !(0..=255).contains(&c) {
            return Some(format!("code {c} is not between 0 and 255"));
        }
        if f.icmp_type.is_none() {
            return Some("a code needs a type".to_owned());
        }
    }
    None
}

fn entity_problem(e: &EntityRule, protocol: Option<&Protocol>) -> Option<String> {
    if e.services.is_some() {
        return Some("services matches are not supported by this dataplane".to_owned());
    }
    let mut selectors = vec![
        ("selector", e.selector.as_str()),
        ("notSelector", e.not_selector.as_str()),
        ("namespaceSelector", e.namespace_selector.as_str()),
    ];
    if let Some(sa) = &e.service_accounts {
        selectors.push(("serviceAccounts.selector", sa.selector.as_str()));
    }
    for (field, text) in selectors {
        if let Err(msg) = parse_optional(field, text) {
            return Some(msg);
        }
    }
    for (field, nets) in [("nets", &e.nets), ("notNets", &e.not_nets)] {
        for n in nets {
            if let Err(msg) = net::parse_cidr_or_ip(n) {
                return Some(format!("{field} entry {n:?} is not a CIDR: {msg}"));
            }
        }
    }
    let has_ports = !e.ports.is_empty() || !e.not_ports.is_empty();
    if has_ports && !protocol.is_some_and(Protocol::supports_ports) {
        return Some("ports need protocol TCP, UDP or SCTP".to_owned());
    }
    for p in e.ports.iter().chain(e.not_ports.iter()) {
        if let Some((min, max)) = p.range()
            && (min == 0 || min > max)
        {
            return Some(format!("port {p} is not a valid port or range"));
        }
    }
    None
}
