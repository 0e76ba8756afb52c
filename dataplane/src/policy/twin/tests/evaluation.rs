//! Evaluation on hand-built tables: verdicts, statements and every match.

use std::collections::{BTreeMap, BTreeSet};

use model::policy::{Packet, PortRange, packet::proto};

use super::{chain, ip, net, table, twin};
use crate::policy::ir::{
    CtState, DispatchMap, Element, Family, Hook, IfField, IfName, Match, Rule, Set, SetType, Side,
    Statement, Verdict,
};
use crate::policy::twin::{Conntrack, PolicyTwin, Step};

fn rule(matches: Vec<Match>, statements: Vec<Statement>, verdict: Option<Verdict>) -> Rule {
    Rule {
        matches,
        statements,
        verdict,
        comment: None,
    }
}

fn jump(c: &str) -> Verdict {
    Verdict::Jump(c.to_owned())
}

fn goto(c: &str) -> Verdict {
    Verdict::Goto(c.to_owned())
}

fn mark_set(bits: u32) -> Match {
    Match::Mark { bits, set: true }
}

/// The chain and rule index of each rule step.
fn rules_hit(trace: &[Step]) -> Vec<(String, usize)> {
    trace
        .iter()
        .filter_map(|s| match s {
            Step::Rule { chain, index, .. } => Some((chain.clone(), *index)),
            _ => None,
        })
        .collect()
}

fn hits(list: &[(&str, usize)]) -> Vec<(String, usize)> {
    list.iter().map(|(c, i)| ((*c).to_owned(), *i)).collect()
}

fn tcp(dport: u16) -> Packet {
    Packet::tcp(ip("10.0.0.1"), 40000, ip("10.0.0.2"), dport)
}

#[test]
fn jump_returns_to_the_rule_after_the_jump() {
    let t = twin(table(vec![
        (
            "in",
            chain(
                Some(Hook::Input),
                vec![
                    Rule::new(vec![], jump("a")),
                    Rule::new(vec![mark_set(1)], Verdict::Drop),
                    Rule::new(vec![], Verdict::Accept),
                ],
            ),
        ),
        (
            "a",
            chain(None, vec![rule(vec![], vec![Statement::SetMark(1)], None)]),
        ),
    ]));
    let o = t.to_host("eth0", &tcp(80));
    assert!(!o.accepted, "{o}");
    assert_eq!(rules_hit(&o.trace), hits(&[("in", 0), ("a", 0), ("in", 1)]));
    assert_eq!(o.mark, 1);
}

#[test]
fn return_after_goto_goes_back_to_the_caller_of_the_chain_that_did_the_goto() {
    let t = twin(table(vec![
        (
            "in",
            chain(
                Some(Hook::Input),
                vec![
                    Rule::new(vec![], jump("a")),
                    Rule::new(vec![mark_set(2)], Verdict::Drop),
                    Rule::new(vec![], Verdict::Accept),
                ],
            ),
        ),
        (
            "a",
            chain(
                None,
                vec![
                    Rule::new(vec![], goto("b")),
                    Rule::new(vec![], Verdict::Drop),
                ],
            ),
        ),
        (
            "b",
            chain(
                None,
                vec![
                    rule(vec![], vec![Statement::SetMark(2)], None),
                    Rule::new(vec![], Verdict::Return),
                    Rule::new(vec![], Verdict::Drop),
                ],
            ),
        ),
    ]));
    let o = t.to_host("eth0", &tcp(80));
    assert!(!o.accepted, "{o}");
    assert_eq!(
        rules_hit(&o.trace),
        hits(&[("in", 0), ("a", 0), ("b", 0), ("b", 1), ("in", 1)])
    );
}

#[test]
fn returning_from_the_base_chain_applies_its_policy_accept() {
    // A goto from the base chain, then the end of the chain reached.
    let t = twin(table(vec![
        (
            "in",
            chain(
                Some(Hook::Input),
                vec![
                    Rule::new(vec![], goto("c")),
                    Rule::new(vec![], Verdict::Drop),
                ],
            ),
        ),
        ("c", chain(None, vec![])),
    ]));
    let o = t.to_host("eth0", &tcp(80));
    assert!(o.accepted, "{o}");
    assert_eq!(
        o.decided_by(),
        Some(&Step::Policy {
            chain: "in".to_owned()
        })
    );
    // A return in the base chain itself.
    let t = twin(table(vec![(
        "in",
        chain(
            Some(Hook::Input),
            vec![
                Rule::new(vec![], Verdict::Return),
                Rule::new(vec![], Verdict::Drop),
            ],
        ),
    )]));
    assert!(t.to_host("eth0", &tcp(80)).accepted);
}

#[test]
fn no_table_or_no_base_chain_accepts() {
    let o = PolicyTwin::new().forward("eth0", "eth1", &tcp(80));
    assert!(o.accepted && o.trace.is_empty());
    let t = twin(table(vec![(
        "in",
        chain(Some(Hook::Input), vec![Rule::new(vec![], Verdict::Drop)]),
    )]));
    assert!(t.forward("eth0", "eth1", &tcp(80)).accepted);
    assert!(!t.to_host("eth0", &tcp(80)).accepted);
}

#[test]
fn dispatch_goes_to_the_interface_chain_and_an_unknown_interface_falls_through() {
    let mut t = table(vec![
        (
            "fwd",
            chain(
                Some(Hook::Forward),
                vec![
                    Rule::new(
                        vec![Match::Interface {
                            field: IfField::Input,
                            neg: false,
                            name: IfName::Prefix("cali".into()),
                        }],
                        Verdict::Dispatch {
                            field: IfField::Input,
                            map: "m".into(),
                        },
                    ),
                    Rule::new(vec![], Verdict::Drop),
                ],
            ),
        ),
        ("c1", chain(None, vec![Rule::new(vec![], Verdict::Return)])),
    ]);
    t.maps.insert(
        "m".into(),
        DispatchMap {
            elements: BTreeMap::from([("cali1".to_owned(), "c1".to_owned())]),
        },
    );
    let t = twin(t);
    // The dispatch is a goto: returning from c1 returns from the base chain.
    let o = t.forward("cali1", "eth0", &tcp(80));
    assert!(o.accepted, "{o}");
    assert_eq!(rules_hit(&o.trace), hits(&[("fwd", 0), ("c1", 0)]));
    let o = t.forward("cali9", "eth0", &tcp(80));
    assert!(!o.accepted, "{o}");
    assert_eq!(rules_hit(&o.trace), hits(&[("fwd", 0), ("fwd", 1)]));
}

#[test]
fn statements_set_and_clear_mark_bits_and_log() {
    let t = twin(table(vec![(
        "in",
        chain(
            Some(Hook::Input),
            vec![rule(
                vec![],
                vec![
                    Statement::SetMark(0b111),
                    Statement::ClearMark(0b101),
                    Statement::Log("seen: ".into()),
                ],
                None,
            )],
        ),
    )]));
    let o = t.to_host("eth0", &tcp(80));
    assert!(o.accepted);
    assert_eq!(o.mark, 0b010);
    assert_eq!(o.logs().collect::<Vec<_>>(), vec!["seen: "]);
}

#[test]
fn masquerade_ends_the_nat_chain() {
    let t = twin(table(vec![(
        "nat",
        chain(
            Some(Hook::NatPostrouting),
            vec![
                Rule::new(
                    vec![Match::Nets {
                        side: Side::Source,
                        family: Family::V4,
                        neg: false,
                        nets: vec![net("10.0.0.0/16")],
                    }],
                    Verdict::Masquerade,
                ),
                Rule::new(vec![], Verdict::Drop),
            ],
        ),
    )]));
    let o = t.postrouting(None, "eth0", &tcp(80));
    assert!(o.accepted && o.masquerade, "{o}");
    let other = Packet::tcp(ip("192.168.0.1"), 1, ip("8.8.8.8"), 53);
    assert!(!t.postrouting(None, "eth0", &other).accepted);
}

/// A twin whose forward chain drops what `m` matches, with a nets set `s4` (10.0.0.0/24) and a
/// named-port set `n4` (10.0.0.2 TCP 8080).
fn matcher(m: Match) -> PolicyTwin {
    let mut t = table(vec![(
        "fwd",
        chain(Some(Hook::Forward), vec![Rule::new(vec![m], Verdict::Drop)]),
    )]);
    t.sets.insert(
        "s4".into(),
        Set {
            set_type: SetType::Nets(Family::V4),
            elements: BTreeSet::from([Element::Net(net("10.0.0.0/24"))]),
        },
    );
    t.sets.insert(
        "n4".into(),
        Set {
            set_type: SetType::AddrProtoPort(Family::V4),
            elements: BTreeSet::from([Element::AddrProtoPort(ip("10.0.0.2"), proto::TCP, 8080)]),
        },
    );
    twin(t)
}

fn matches(m: &Match, iif: Option<&str>, oif: Option<&str>, p: &Packet, ct: Conntrack) -> bool {
    !matcher(m.clone())
        .evaluate(Hook::Forward, iif, oif, p, ct)
        .accepted
}

fn matches_packet(m: &Match, p: &Packet) -> bool {
    matches(m, Some("eth0"), Some("eth1"), p, Conntrack::New)
}

#[test]
fn a_missing_interface_fails_positive_and_passes_negated_interface_matches() {
    let iif = |neg, name: IfName| Match::Interface {
        field: IfField::Input,
        neg,
        name,
    };
    let p = tcp(80);
    let cali = iif(false, IfName::Prefix("cali".into()));
    assert!(matches(&cali, Some("cali1"), None, &p, Conntrack::New));
    assert!(!matches(&cali, Some("eth0"), None, &p, Conntrack::New));
    assert!(!matches(&cali, None, Some("cali1"), &p, Conntrack::New));
    let not_lo = iif(true, IfName::Exact("lo".into()));
    assert!(matches(&not_lo, None, None, &p, Conntrack::New));
    assert!(!matches(&not_lo, Some("lo"), None, &p, Conntrack::New));
    assert!(matches(&not_lo, Some("lo0"), None, &p, Conntrack::New));
}

#[test]
fn family_protocol_and_port_matches() {
    let v6 = Packet::tcp(ip("fd00::1"), 1, ip("fd00::2"), 80);
    let icmp = Packet::icmp(ip("10.0.0.1"), ip("10.0.0.2"), 8, 0);
    assert!(matches_packet(&Match::Family(Family::V4), &tcp(80)));
    assert!(!matches_packet(&Match::Family(Family::V4), &v6));
    let not_udp = Match::Protocol {
        neg: true,
        protocol: proto::UDP,
    };
    assert!(matches_packet(&not_udp, &tcp(80)));
    assert!(matches_packet(&not_udp, &icmp));
    assert!(matches_packet(&Match::HasPorts, &v6));
    assert!(!matches_packet(&Match::HasPorts, &icmp));
    let ports = |neg| Match::Ports {
        side: Side::Destination,
        neg,
        ranges: vec![PortRange {
            first: 80,
            last: 90,
        }],
    };
    assert!(matches_packet(&ports(false), &tcp(85)));
    assert!(!matches_packet(&ports(false), &tcp(91)));
    assert!(matches_packet(&ports(true), &tcp(91)));
    // Without ports neither the match nor its negation holds.
    assert!(!matches_packet(&ports(false), &icmp));
    assert!(!matches_packet(&ports(true), &icmp));
    let tcp_without_header = Packet::other(ip("10.0.0.1"), ip("10.0.0.2"), proto::TCP);
    assert!(!matches_packet(&ports(true), &tcp_without_header));
}

#[test]
fn address_matches_imply_the_family() {
    let nets = |neg| Match::Nets {
        side: Side::Source,
        family: Family::V4,
        neg,
        nets: vec![net("10.0.0.0/24")],
    };
    let in_set = |neg| Match::InSet {
        side: Side::Source,
        family: Family::V4,
        neg,
        set: "s4".into(),
    };
    let outside = Packet::tcp(ip("10.9.0.1"), 1, ip("10.0.0.2"), 80);
    let v6 = Packet::tcp(ip("fd00::1"), 1, ip("fd00::2"), 80);
    for m in [nets, in_set] {
        assert!(matches_packet(&m(false), &tcp(80)));
        assert!(!matches_packet(&m(false), &outside));
        assert!(matches_packet(&m(true), &outside));
        assert!(!matches_packet(&m(true), &tcp(80)));
        assert!(!matches_packet(&m(false), &v6));
        assert!(!matches_packet(&m(true), &v6));
    }
}

#[test]
fn named_port_matches_read_address_protocol_and_port() {
    let named = |neg| Match::NamedPorts {
        side: Side::Destination,
        family: Family::V4,
        neg,
        set: "n4".into(),
    };
    let web = Packet::tcp(ip("10.0.0.1"), 1, ip("10.0.0.2"), 8080);
    let other_port = Packet::tcp(ip("10.0.0.1"), 1, ip("10.0.0.2"), 8081);
    let udp = Packet::udp(ip("10.0.0.1"), 1, ip("10.0.0.2"), 8080);
    let v6 = Packet::tcp(ip("fd00::1"), 1, ip("fd00::2"), 8080);
    assert!(matches_packet(&named(false), &web));
    assert!(!matches_packet(&named(false), &other_port));
    assert!(!matches_packet(&named(false), &udp));
    assert!(matches_packet(&named(true), &udp));
    assert!(!matches_packet(&named(true), &web));
    assert!(!matches_packet(&named(true), &v6));
}

#[test]
fn icmp_matches_type_and_code_of_their_family_only() {
    let icmp = |icmp_type, code, neg_type, neg_code| Match::Icmp {
        family: Family::V4,
        icmp_type,
        code,
        neg_type,
        neg_code,
    };
    let echo = Packet::icmp(ip("10.0.0.1"), ip("10.0.0.2"), 8, 0);
    let echo_code1 = Packet::icmp(ip("10.0.0.1"), ip("10.0.0.2"), 8, 1);
    let unreach = Packet::icmp(ip("10.0.0.1"), ip("10.0.0.2"), 3, 4);
    let echo6 = Packet::icmp(ip("fd00::1"), ip("fd00::2"), 8, 0);
    assert!(matches_packet(&icmp(8, Some(0), false, false), &echo));
    assert!(!matches_packet(
        &icmp(8, Some(0), false, false),
        &echo_code1
    ));
    assert!(matches_packet(&icmp(8, None, false, false), &echo_code1));
    assert!(!matches_packet(&icmp(8, None, false, false), &echo6));
    assert!(!matches_packet(&icmp(8, None, false, false), &tcp(80)));
    // type != 3
    assert!(matches_packet(&icmp(3, None, true, false), &echo));
    assert!(!matches_packet(&icmp(3, None, true, false), &unreach));
    assert!(!matches_packet(&icmp(3, None, true, false), &tcp(80)));
    assert!(!matches_packet(&icmp(3, None, true, false), &echo6));
    // type 3 code != 4
    let unreach1 = Packet::icmp(ip("10.0.0.1"), ip("10.0.0.2"), 3, 1);
    assert!(matches_packet(&icmp(3, Some(4), false, true), &unreach1));
    assert!(!matches_packet(&icmp(3, Some(4), false, true), &unreach));
    assert!(!matches_packet(&icmp(3, Some(4), false, true), &echo));
    let v6_types = Match::Icmpv6Types(vec![135, 136]);
    let ns = Packet::icmp(ip("fd00::1"), ip("fd00::2"), 135, 0);
    let ns4 = Packet::icmp(ip("10.0.0.1"), ip("10.0.0.2"), 135, 0);
    assert!(matches_packet(&v6_types, &ns));
    assert!(!matches_packet(&v6_types, &ns4));
    assert!(!matches_packet(&v6_types, &echo6));
}

#[test]
fn conntrack_and_mark_matches() {
    let est = Match::Ct(CtState::EstablishedRelated);
    let inv = Match::Ct(CtState::Invalid);
    let p = tcp(80);
    let (i, o) = (Some("eth0"), Some("eth1"));
    assert!(matches(&est, i, o, &p, Conntrack::Established));
    assert!(!matches(&est, i, o, &p, Conntrack::New));
    assert!(matches(&inv, i, o, &p, Conntrack::Invalid));
    assert!(!matches(&inv, i, o, &p, Conntrack::Established));
    // The mark starts at 0.
    assert!(matches_packet(
        &Match::Mark {
            bits: 1,
            set: false
        },
        &p
    ));
    assert!(!matches_packet(&mark_set(1), &p));
}
