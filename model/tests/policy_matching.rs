//! Policy scenarios about what a rule matches: nets, selectors and notSelector, namespace
//! selectors, ICMP, named ports. Each verdict comes from the direct evaluator and is checked
//! against an interpreter of the resolved model (`policy_fixtures.rs`).

#[path = "policy_fixtures.rs"]
mod fixtures;

use fixtures::*;
use model::policy::{Packet, Peer};
use serde_json::json;

#[test]
fn not_nets_excludes_a_range() {
    let s = snapshot(with(
        base(),
        vec![gnp(
            "not-from-10-0-0-0-30",
            json!({"selector": "role == 'db'", "ingress": [
                {"action": "Allow", "source": {"notNets": ["10.0.0.0/31"]}}
            ]}),
        )],
    ));
    // 10.0.0.1 is inside 10.0.0.0/31, 10.0.0.3 is not.
    assert!(!check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
    assert!(check(&s, &tcp("10.0.0.3", "10.0.0.2", 80), other(), db()).allowed);
    // An IPv4-only notNets list makes the rule absent for IPv6.
    let hp = model::policy::resolve(&s, "h1");
    assert_eq!(hp.policies.len(), 1);
}

#[test]
fn not_selector_matches_outsiders_but_negated_selector_does_not() {
    let s = snapshot(with(
        base(),
        vec![
            gnp(
                "db-not-other",
                json!({"selector": "role == 'db'", "ingress": [
                    {"action": "Allow", "source": {"notSelector": "role == 'other'"}}
                ]}),
            ),
            gnp(
                "fe-not-has-role-other",
                json!({"selector": "role == 'fe'", "ingress": [
                    {"action": "Allow", "source": {"selector": "role != 'other'"}}
                ]}),
            ),
        ],
    ));
    let ext = |dst: &str| Packet::tcp(ip("192.168.7.7"), 1, ip(dst), 80);
    // notSelector: an external address is not a selected endpoint, so it matches.
    assert!(check(&s, &ext("10.0.0.2"), Peer::External, db()).allowed);
    assert!(!check(&s, &tcp("10.0.0.3", "10.0.0.2", 80), other(), db()).allowed);
    // selector "role != 'other'": only Calico endpoints can match it.
    assert!(!check(&s, &ext("10.0.0.1"), Peer::External, fe()).allowed);
    assert!(check(&s, &tcp("10.0.0.2", "10.0.0.1", 80), db(), fe()).allowed);
    assert!(!check(&s, &tcp("10.0.0.3", "10.0.0.1", 80), other(), fe()).allowed);
}

#[test]
fn icmp_type_and_code() {
    let s = snapshot(with(
        base(),
        vec![gnp(
            "ping",
            json!({"selector": "role == 'db'", "ingress": [
                {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8, "code": 0}},
                {"action": "Allow", "protocol": "ICMP", "notICMP": {"type": 8}}
            ]}),
        )],
    ));
    let icmp = |t, c| Packet::icmp(ip("10.0.0.1"), ip("10.0.0.2"), t, c);
    assert!(check(&s, &icmp(8, 0), fe(), db()).allowed);
    // Type 8 with another code misses both rules.
    assert!(!check(&s, &icmp(8, 1), fe(), db()).allowed);
    // Any other type is "not type 8".
    assert!(check(&s, &icmp(3, 1), fe(), db()).allowed);
    assert!(!check(&s, &tcp("10.0.0.1", "10.0.0.2", 8), fe(), db()).allowed);
    // ICMP rules never match ICMPv6.
    let s6 = snapshot(vec![
        wep("ns1", "a", "h1", "calia", "fd00::1", &[], &[]),
        wep("ns1", "b", "h1", "calib", "fd00::2", &[("role", "db")], &[]),
        gnp(
            "a-out",
            json!({"selector": "all()", "egress": [{"action": "Allow"}]}),
        ),
        gnp(
            "ping",
            json!({"selector": "role == 'db'", "ingress": [
                {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 128}},
                {"action": "Allow", "protocol": "ICMPv6", "icmp": {"type": 129}}
            ]}),
        ),
    ]);
    let icmp6 = |t| Packet::icmp(ip("fd00::1"), ip("fd00::2"), t, 0);
    let (a, b) = (Peer::workload("ns1", "a"), Peer::workload("ns1", "b"));
    assert!(!check(&s6, &icmp6(128), a.clone(), b.clone()).allowed);
    assert!(check(&s6, &icmp6(129), a, b).allowed);
}

#[test]
fn numeric_and_named_ports_together_keep_the_selector() {
    let mut rs = base();
    let db_idx = rs.iter().position(|r| r.name() == "db").unwrap_or_default();
    rs[db_idx] = wep_with(
        rs[db_idx].clone(),
        json!({"ports": [{"name": "pg", "protocol": "TCP", "port": 5432}]}),
    );
    rs.push(gnp(
        "fe-out",
        json!({"selector": "role == 'fe'", "egress": [
            {"action": "Allow", "protocol": "TCP", "destination": {"selector": "role == 'db'", "ports": ["pg", 80]}}
        ]}),
    ));
    let s = snapshot(rs);
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 5432), fe(), db()).allowed);
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
    // Port 80 is numeric, but the destination must still be a db.
    assert!(!check(&s, &tcp("10.0.0.1", "10.0.0.3", 80), fe(), other()).allowed);
    assert!(!check(&s, &tcp("10.0.0.1", "10.0.0.3", 5432), fe(), other()).allowed);
    let hp = model::policy::resolve(&s, "h1");
    let dst = &hp.policies[&model::policy::PolicyId::Global {
        name: "fe-out".into(),
    }]
        .egress[0]
        .destination;
    assert!(dst.ip_set.is_some());
    assert_eq!(dst.named_port_sets.len(), 1);
}

#[test]
fn namespace_selector_reads_kns_profile_labels() {
    let mut rs = base();
    rs.push(profile(
        "kns.ns2",
        json!({"labelsToApply": {"pcns.team": "a"}}),
    ));
    rs.push(wep(
        "ns3",
        "fe3",
        "h2",
        "calife3",
        "10.0.2.1",
        &[("role", "fe")],
        &["allow-all"],
    ));
    rs.push(np(
        "ns1",
        "db-from-team-a",
        json!({"selector": "role == 'db'", "ingress": [
            {"action": "Allow", "source": {"namespaceSelector": "team == 'a'", "selector": "role == 'fe'"}},
            {"action": "Allow", "source": {"namespaceSelector": "projectcalico.org/name == 'ns3'"}}
        ]}),
    ));
    let s = snapshot(rs);
    assert!(check(&s, &tcp("10.0.1.1", "10.0.0.2", 80), fe2(), db()).allowed);
    assert!(
        check(
            &s,
            &tcp("10.0.2.1", "10.0.0.2", 80),
            Peer::workload("ns3", "fe3"),
            db()
        )
        .allowed
    );
    // ns1's own fe is not in a team-a namespace, nor in ns3.
    assert!(!check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
}

#[test]
fn global_namespace_selector_picks_only_global_sets_and_host_endpoints() {
    let mut rs = base();
    rs.push(res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
        "metadata": {"name": "partners", "labels": {"kind": "partner"}},
        "spec": {"nets": ["192.168.0.0/16"]}
    })));
    rs.push(res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
        "metadata": {"namespace": "ns1", "name": "local-partners", "labels": {"kind": "partner"}},
        "spec": {"nets": ["172.16.0.0/12"]}
    })));
    rs.push(np(
        "ns1",
        "db-from-partners",
        json!({"selector": "role == 'db'", "ingress": [
            {"action": "Allow", "source": {"namespaceSelector": "global()", "selector": "kind == 'partner'"}},
        ]}),
    ));
    rs.push(np(
        "ns1",
        "fe-from-partners",
        json!({"selector": "role == 'fe'", "ingress": [
            {"action": "Allow", "source": {"selector": "kind == 'partner'"}},
        ]}),
    ));
    let s = snapshot(rs);
    let from = |src: &str, dst: &str| Packet::tcp(ip(src), 1, ip(dst), 80);
    assert!(check(&s, &from("192.168.3.3", "10.0.0.2"), Peer::External, db()).allowed);
    assert!(!check(&s, &from("172.16.3.3", "10.0.0.2"), Peer::External, db()).allowed);
    // Without a namespace selector, a NetworkPolicy sees its own namespace's sets only.
    assert!(check(&s, &from("172.16.3.3", "10.0.0.1"), Peer::External, fe()).allowed);
    assert!(!check(&s, &from("192.168.3.3", "10.0.0.1"), Peer::External, fe()).allowed);
}

#[test]
fn named_ports_resolve_through_endpoint_ports() {
    let mut rs = base();
    let db_idx = rs.iter().position(|r| r.name() == "db").unwrap_or_default();
    rs[db_idx] = wep_with(
        rs[db_idx].clone(),
        json!({"ports": [{"name": "pg", "protocol": "TCP", "port": 5432},
                         {"name": "pg", "protocol": "UDP", "port": 5433}]}),
    );
    rs.push(gnp(
        "db-pg",
        json!({"selector": "role == 'db'", "ingress": [
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": ["pg"]}}
        ]}),
    ));
    let s = snapshot(rs);
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 5432), fe(), db()).allowed);
    assert!(!check(&s, &tcp("10.0.0.1", "10.0.0.2", 5433), fe(), db()).allowed);
    let udp = Packet::udp(ip("10.0.0.1"), 1, ip("10.0.0.2"), 5433);
    assert!(!check(&s, &udp, fe(), db()).allowed);

    let hp = model::policy::resolve(&s, "h1");
    let rule = &hp.policies[&model::policy::PolicyId::Global {
        name: "db-pg".into(),
    }]
        .ingress[0];
    assert_eq!(rule.destination.named_port_sets.len(), 1);
    assert_eq!(rule.destination.ip_set, None);
    let id = &rule.destination.named_port_sets[0];
    assert!(id.starts_with("n:"));
    match &hp.ip_sets[id].kind {
        model::policy::IpSetKind::NamedPort {
            protocol,
            name,
            members,
        } => {
            assert_eq!((*protocol, name.as_str()), (6, "pg"));
            let m: Vec<_> = members.iter().map(|m| (m.addr, m.port)).collect();
            assert_eq!(m, vec![(ip("10.0.0.2"), 5432)]);
        }
        other => panic!("expected a named-port set, got {other:?}"),
    }
}

#[test]
fn named_port_sets_hold_only_endpoints_the_selector_picks() {
    // A network set labelled db covers fe's address; fe has the named port, but a
    // named-port set only holds endpoints matching the rule's selector (fe is not a db).
    let mut rs = base();
    let fe_idx = rs.iter().position(|r| r.name() == "fe").unwrap_or_default();
    rs[fe_idx] = wep_with(
        rs[fe_idx].clone(),
        json!({"ports": [{"name": "pg", "protocol": "TCP", "port": 5432}]}),
    );
    rs.push(res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
        "metadata": {"name": "db-range", "labels": {"role": "db"}},
        "spec": {"nets": ["10.0.0.0/30"]}
    })));
    rs.push(gnp(
        "db-out",
        json!({"selector": "role == 'db'", "egress": [
            {"action": "Allow", "protocol": "TCP", "destination": {"selector": "role == 'db'", "ports": ["pg"]}}
        ]}),
    ));
    let s = snapshot(rs);
    assert!(!check(&s, &tcp("10.0.0.2", "10.0.0.1", 5432), db(), fe()).allowed);
}
