//! One policy or profile rule of the model ([`ResolvedRule`]) as nft rules.
//!
//! A rule that needs alternatives nft cannot write in one rule (ports *or* named ports, a
//! negated ICMP type-and-code) becomes several rules with the same action; a rule that reads
//! addresses is written once per IP version it can apply to (module docs of
//! `model::policy::resolved`). `Allow` sets the Accept mark bit and returns, `Pass` sets the
//! Pass bit and returns, `Deny` drops, `Log` logs and goes on.

use ipnet::IpNet;
use model::policy::{IpVersion, ResolvedEntity, ResolvedRule, packet::proto};
use model::resources::Action;

use super::ir::{Chain, Family, MARK_ACCEPT, MARK_PASS, Match, Rule, Side, Statement, Verdict};
use super::names;

/// The prefix of `log` statements (Felix's `LogPrefix` default).
pub const LOG_PREFIX: &str = "calico-packet: ";

fn version_family(v: IpVersion) -> Family {
    match v {
        IpVersion::V4 => Family::V4,
        IpVersion::V6 => Family::V6,
    }
}

/// The chain of one policy's or profile's rules for one direction.
pub fn rules_chain(rules: &[ResolvedRule]) -> Chain {
    Chain {
        hook: None,
        rules: rules.iter().flat_map(render_rule).collect(),
    }
}

/// The nft rules of one model rule (several when it needs alternatives or IP versions).
pub fn render_rule(r: &ResolvedRule) -> Vec<Rule> {
    let (statements, verdict) = match r.action {
        Action::Allow => (vec![Statement::SetMark(MARK_ACCEPT)], Some(Verdict::Return)),
        Action::Deny => (Vec::new(), Some(Verdict::Drop)),
        Action::Pass => (vec![Statement::SetMark(MARK_PASS)], Some(Verdict::Return)),
        Action::Log => (vec![Statement::Log(LOG_PREFIX.to_owned())], None),
    };
    rule_alternatives(r)
        .into_iter()
        .map(|matches| Rule {
            matches,
            statements: statements.clone(),
            verdict: verdict.clone(),
            comment: None,
        })
        .collect()
}

fn entity_needs_family(e: &ResolvedEntity) -> bool {
    !e.nets.is_empty()
        || !e.not_nets.is_empty()
        || e.ip_set.is_some()
        || e.not_ip_set.is_some()
        || !e.named_port_sets.is_empty()
        || !e.not_named_port_sets.is_empty()
}

fn entity_has_ports(e: &ResolvedEntity) -> bool {
    !e.ports.is_empty()
        || !e.named_port_sets.is_empty()
        || !e.not_ports.is_empty()
        || !e.not_named_port_sets.is_empty()
}

/// Whether a rule can match packets of family `f`.
fn applies_to(r: &ResolvedRule, f: Family) -> bool {
    if r.ip_version.is_some_and(|v| version_family(v) != f) {
        return false;
    }
    match r.protocol {
        Some(proto::ICMP) if f == Family::V6 => return false,
        Some(proto::ICMPV6) if f == Family::V4 => return false,
        _ => {}
    }
    let has = |nets: &[IpNet]| nets.is_empty() || nets.iter().any(|n| Family::of(n) == f);
    [&r.source, &r.destination]
        .iter()
        .all(|e| has(&e.nets) && has(&e.not_nets))
}

/// Each inner list is one nft rule's conditions; the rule matches when any list matches.
fn rule_alternatives(r: &ResolvedRule) -> Vec<Vec<Match>> {
    let family_specific = r.ip_version.is_some()
        || matches!(r.protocol, Some(proto::ICMP | proto::ICMPV6))
        || r.icmp.is_some()
        || r.not_icmp.is_some()
        || entity_needs_family(&r.source)
        || entity_needs_family(&r.destination);
    let families: Vec<Option<Family>> = if family_specific {
        [Family::V4, Family::V6]
            .into_iter()
            .filter(|f| applies_to(r, *f))
            .map(Some)
            .collect()
    } else {
        vec![None]
    };
    let mut out = Vec::new();
    for f in families {
        let mut base = Vec::new();
        if let Some(f) = f {
            base.push(Match::Family(f));
        }
        if let Some(p) = r.protocol {
            base.push(Match::Protocol {
                neg: false,
                protocol: p,
            });
        } else if entity_has_ports(&r.source) || entity_has_ports(&r.destination) {
            base.push(Match::HasPorts);
        }
        if let Some(p) = r.not_protocol {
            base.push(Match::Protocol {
                neg: true,
                protocol: p,
            });
        }
        let mut alts = vec![base];
        if let (Some(m), Some(f)) = (r.icmp, f) {
            for a in &mut alts {
                a.push(Match::Icmp {
                    family: f,
                    icmp_type: m.icmp_type,
                    code: m.code,
                    neg_type: false,
                    neg_code: false,
                });
            }
        }
        if let (Some(m), Some(f)) = (r.not_icmp, f) {
            let choices = match m.code {
                None => vec![Match::Icmp {
                    family: f,
                    icmp_type: m.icmp_type,
                    code: None,
                    neg_type: true,
                    neg_code: false,
                }],
                Some(c) => vec![
                    Match::Icmp {
                        family: f,
                        icmp_type: m.icmp_type,
                        code: None,
                        neg_type: true,
                        neg_code: false,
                    },
                    Match::Icmp {
                        family: f,
                        icmp_type: m.icmp_type,
                        code: Some(c),
                        neg_type: false,
                        neg_code: true,
                    },
                ],
            };
            alts = cross(alts, choices.into_iter().map(|m| vec![m]).collect());
        }
        for (side, e) in [
            (Side::Source, &r.source),
            (Side::Destination, &r.destination),
        ] {
            let (fixed, port_choices) = entity_matches(side, f, e);
            for a in &mut alts {
                a.extend(fixed.iter().cloned());
            }
            if !port_choices.is_empty() {
                alts = cross(alts, port_choices);
            }
        }
        out.extend(alts);
    }
    out
}

fn cross(alts: Vec<Vec<Match>>, choices: Vec<Vec<Match>>) -> Vec<Vec<Match>> {
    let mut out = Vec::with_capacity(alts.len() * choices.len());
    for a in &alts {
        for c in &choices {
            let mut v = a.clone();
            v.extend(c.iter().cloned());
            out.push(v);
        }
    }
    out
}

/// The conditions on one side of a rule: those every alternative has, and the port
/// alternatives (empty: no port condition).
fn entity_matches(
    side: Side,
    f: Option<Family>,
    e: &ResolvedEntity,
) -> (Vec<Match>, Vec<Vec<Match>>) {
    let mut fixed = Vec::new();
    if let Some(f) = f {
        let of_f = |nets: &[IpNet]| -> Vec<IpNet> {
            nets.iter()
                .filter(|n| Family::of(n) == f)
                .copied()
                .collect()
        };
        if !e.nets.is_empty() {
            fixed.push(Match::Nets {
                side,
                family: f,
                neg: false,
                nets: of_f(&e.nets),
            });
        }
        if !e.not_nets.is_empty() {
            fixed.push(Match::Nets {
                side,
                family: f,
                neg: true,
                nets: of_f(&e.not_nets),
            });
        }
        if let Some(id) = &e.ip_set {
            fixed.push(Match::InSet {
                side,
                family: f,
                neg: false,
                set: names::ip_set(id, f),
            });
        }
        if let Some(id) = &e.not_ip_set {
            fixed.push(Match::InSet {
                side,
                family: f,
                neg: true,
                set: names::ip_set(id, f),
            });
        }
    }
    if !e.not_ports.is_empty() {
        fixed.push(Match::Ports {
            side,
            neg: true,
            ranges: e.not_ports.clone(),
        });
    }
    if let Some(f) = f {
        for id in &e.not_named_port_sets {
            fixed.push(Match::NamedPorts {
                side,
                family: f,
                neg: true,
                set: names::ip_set(id, f),
            });
        }
    }
    let mut choices = Vec::new();
    if !e.ports.is_empty() {
        choices.push(vec![Match::Ports {
            side,
            neg: false,
            ranges: e.ports.clone(),
        }]);
    }
    if let Some(f) = f {
        for id in &e.named_port_sets {
            choices.push(vec![Match::NamedPorts {
                side,
                family: f,
                neg: false,
                set: names::ip_set(id, f),
            }]);
        }
    }
    (fixed, choices)
}
