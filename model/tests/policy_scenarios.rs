//! Policy scenarios: isolation, tiers, Pass, profiles, actions, ordering, types — mirroring
//! what the real-kernel tests check. Each verdict comes from the direct evaluator and is
//! checked against an interpreter of the resolved model (`policy_fixtures.rs`).

#[path = "policy_fixtures.rs"]
mod fixtures;

use fixtures::*;
use model::policy::{Packet, Peer};
use serde_json::json;

#[test]
fn profile_allows_when_no_policy_selects_the_endpoint() {
    let s = snapshot(base());
    let v = check(&s, &tcp("10.0.0.1", "10.0.0.2", 5432), fe(), db());
    assert!(v.allowed, "{:?}", v.trace);
    assert!(v.trace.iter().any(|l| l.contains("profile allow-all")));
}

#[test]
fn a_selecting_policy_isolates_and_allows_by_selector() {
    let s = snapshot(with(
        base(),
        vec![np(
            "ns1",
            "db-from-fe",
            json!({"selector": "role == 'db'", "ingress": [
                {"action": "Allow", "source": {"selector": "role == 'fe'"}}
            ]}),
        )],
    ));
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 5432), fe(), db()).allowed);
    let v = check(&s, &tcp("10.0.0.3", "10.0.0.2", 5432), other(), db());
    assert!(!v.allowed);
    assert!(v.decided_by().contains("denied"));
    assert!(v.trace.iter().any(|l| l.contains("end of tier default")));
    // A namespaced policy's selectors stay in its namespace: fe2 is in ns2.
    assert!(!check(&s, &tcp("10.0.1.1", "10.0.0.2", 5432), fe2(), db()).allowed);
    // Egress is not isolated by an ingress-only policy.
    assert!(check(&s, &tcp("10.0.0.2", "10.0.0.3", 80), db(), other()).allowed);
}

#[test]
fn deny_by_port_then_allow_the_rest() {
    let s = snapshot(with(
        base(),
        vec![gnp(
            "no-ssh",
            json!({"selector": "all()", "ingress": [
                {"action": "Deny", "protocol": "TCP", "destination": {"ports": [22]}},
                {"action": "Allow"}
            ]}),
        )],
    ));
    let v = check(&s, &tcp("10.0.0.1", "10.0.0.2", 22), fe(), db());
    assert!(!v.allowed);
    assert!(v.trace.iter().any(|l| l.contains("rule 0: Deny")));
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
    let udp = Packet::udp(ip("10.0.0.1"), 1000, ip("10.0.0.2"), 22);
    assert!(check(&s, &udp, fe(), db()).allowed);
}

#[test]
fn pass_goes_to_the_next_tier() {
    let mut rs = base();
    rs.push(tier("security", 100.0, "Deny"));
    rs.push(gnp(
        "sec",
        json!({"tier": "security", "selector": "all()", "ingress": [
            {"action": "Pass", "source": {"selector": "role == 'fe'"}},
            {"action": "Deny", "source": {"selector": "role == 'other'"}}
        ]}),
    ));
    // The default tier then only allows port 80.
    rs.push(gnp(
        "web",
        json!({"selector": "all()", "ingress": [
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}
        ]}),
    ));
    let s = snapshot(rs);
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
    // Passed, but the default tier has no rule for 81: end-of-tier drop there.
    let v = check(&s, &tcp("10.0.0.1", "10.0.0.2", 81), fe(), db());
    assert!(!v.allowed);
    assert!(v.trace.iter().any(|l| l.contains("Pass to the next tier")));
    // Denied in the first tier.
    assert!(!check(&s, &tcp("10.0.0.3", "10.0.0.2", 80), other(), db()).allowed);
    // Neither passed nor denied: end of tier "security" drops.
    let ext = Packet::tcp(ip("192.168.7.7"), 1, ip("10.0.0.2"), 80);
    let v = check(&s, &ext, Peer::External, db());
    assert!(!v.allowed);
    assert!(v.trace.iter().any(|l| l.contains("end of tier security")));
}

#[test]
fn tier_with_default_action_pass_falls_through() {
    let mut rs = base();
    rs.push(tier("platform", 50.0, "Pass"));
    rs.push(gnp(
        "platform-deny-other",
        json!({"tier": "platform", "selector": "role == 'db'", "ingress": [
            {"action": "Deny", "source": {"selector": "role == 'other'"}}
        ]}),
    ));
    let s = snapshot(rs);
    let v = check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db());
    assert!(v.allowed);
    assert!(v.trace.iter().any(|l| l.contains("default action Pass")));
    assert!(!check(&s, &tcp("10.0.0.3", "10.0.0.2", 80), other(), db()).allowed);
}

#[test]
fn profiles_are_the_fallback_in_order() {
    let rs = vec![
        profile(
            "deny-web",
            json!({"ingress": [
                {"action": "Deny", "protocol": "TCP", "destination": {"ports": [80]}}
            ]}),
        ),
        allow_all("allow-all"),
        wep("ns1", "a", "h1", "calia", "10.0.0.1", &[], &["allow-all"]),
        wep(
            "ns1",
            "b",
            "h1",
            "calib",
            "10.0.0.2",
            &[],
            &["deny-web", "allow-all"],
        ),
        wep("ns1", "c", "h1", "calic", "10.0.0.3", &[], &[]),
    ];
    let s = snapshot(rs);
    let (a, b, c) = (
        Peer::workload("ns1", "a"),
        Peer::workload("ns1", "b"),
        Peer::workload("ns1", "c"),
    );
    assert!(!check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), a.clone(), b.clone()).allowed);
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 81), a.clone(), b.clone()).allowed);
    // No profiles at all: nothing allows, so everything is dropped.
    let v = check(&s, &tcp("10.0.0.1", "10.0.0.3", 81), a, c);
    assert!(!v.allowed);
    assert!(v.trace.iter().any(|l| l.contains("no profile allowed")));
}

#[test]
fn missing_profile_fails_closed() {
    let rs = vec![
        allow_all("allow-all"),
        wep("ns1", "a", "h1", "calia", "10.0.0.1", &[], &["allow-all"]),
        wep(
            "ns1",
            "b",
            "h1",
            "calib",
            "10.0.0.2",
            &[],
            &["ghost", "allow-all"],
        ),
    ];
    let s = snapshot(rs);
    let v = check(
        &s,
        &tcp("10.0.0.1", "10.0.0.2", 80),
        Peer::workload("ns1", "a"),
        Peer::workload("ns1", "b"),
    );
    assert!(!v.allowed);
    assert!(
        v.trace
            .iter()
            .any(|l| l.contains("profile ghost is missing"))
    );
    let hp = model::policy::resolve(&s, "h1");
    let ghost = &hp.profiles["ghost"];
    assert!(ghost.missing);
    assert_eq!(ghost.ingress.len(), 1);
    assert_eq!(ghost.ingress[0].action, model::resources::Action::Deny);
    assert!(hp.problems.iter().any(|p| p.name == "ghost"));
}

#[test]
fn egress_and_ingress_both_apply_on_one_host() {
    let s = snapshot(with(
        base(),
        vec![
            gnp(
                "fe-egress",
                json!({"selector": "role == 'fe'", "egress": [
                    {"action": "Allow", "destination": {"selector": "role == 'db'"}}
                ]}),
            ),
            gnp(
                "db-ingress",
                json!({"selector": "role == 'db'", "types": ["Ingress"], "ingress": [
                    {"action": "Allow", "protocol": "TCP", "destination": {"ports": [5432]}}
                ]}),
            ),
        ],
    ));
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 5432), fe(), db()).allowed);
    // Egress allows, ingress denies.
    let v = check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db());
    assert!(!v.allowed);
    assert!(
        v.trace
            .iter()
            .any(|l| l.contains("workload ns1/db ingress"))
    );
    // Egress denies (end of tier), whatever the receiver says.
    let v = check(&s, &tcp("10.0.0.1", "10.0.0.3", 80), fe(), other());
    assert!(!v.allowed);
    assert!(v.trace.iter().any(|l| l.contains("workload ns1/fe egress")));
    // A remote sender's egress is enforced at its own host.
    let v = check(&s, &tcp("10.0.1.1", "10.0.0.2", 5432), fe2(), db());
    assert!(v.allowed);
    let v = check(&s, &tcp("10.0.1.1", "10.0.0.3", 5432), fe2(), other());
    assert!(!v.allowed);
}

#[test]
fn log_rules_continue() {
    let s = snapshot(with(
        base(),
        vec![gnp(
            "log-then-deny",
            json!({"selector": "role == 'db'", "ingress": [
                {"action": "Log"},
                {"action": "Deny", "source": {"selector": "role == 'other'"}},
                {"action": "Log", "protocol": "TCP"},
                {"action": "Allow"}
            ]}),
        )],
    ));
    let v = check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db());
    assert!(v.allowed);
    assert_eq!(
        v.trace
            .iter()
            .filter(|l| l.contains("Log, continuing"))
            .count(),
        2
    );
    assert!(!check(&s, &tcp("10.0.0.3", "10.0.0.2", 80), other(), db()).allowed);
}

#[test]
fn policy_types_are_inferred_from_rules() {
    let s = snapshot(with(
        base(),
        vec![
            // Egress rules only: applies to egress only, ingress stays open.
            gnp(
                "db-egress-only",
                json!({"selector": "role == 'db'", "egress": [
                    {"action": "Deny", "protocol": "TCP", "destination": {"ports": [25]}},
                    {"action": "Allow"}
                ]}),
            ),
            // No rules at all: Ingress, so ingress to fe is isolated.
            gnp("fe-isolated", json!({"selector": "role == 'fe'"})),
            // Explicit types: egress isolated although there are no egress rules.
            gnp(
                "other-both",
                json!({"selector": "role == 'other'", "types": ["Ingress", "Egress"],
                "ingress": [{"action": "Allow"}]}),
            ),
        ],
    ));
    assert!(!check(&s, &tcp("10.0.0.3", "10.0.0.2", 80), other(), db()).allowed);
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
    assert!(!check(&s, &tcp("10.0.0.2", "10.0.0.1", 80), db(), fe()).allowed);
    assert!(!check(&s, &tcp("10.0.0.2", "10.0.0.3", 25), db(), other()).allowed);
    assert!(check(&s, &tcp("10.0.0.2", "10.0.0.3", 80), db(), other()).allowed);
    let hp = model::policy::resolve(&s, "h1");
    let db_ep = &hp.workload_endpoints["calidb"];
    assert!(db_ep.ingress.tiers.is_empty());
    assert_eq!(db_ep.egress.tiers.len(), 1);
}

#[test]
fn equal_orders_are_broken_by_name_and_missing_order_is_last() {
    let deny = json!({"selector": "role == 'db'", "order": 10, "ingress": [{"action": "Deny"}]});
    let allow = json!({"selector": "role == 'db'", "order": 10, "ingress": [{"action": "Allow"}]});
    let s = snapshot(with(
        base(),
        vec![gnp("a-deny", deny.clone()), gnp("b-allow", allow.clone())],
    ));
    assert!(!check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
    let s = snapshot(with(
        base(),
        vec![gnp("b-deny", deny), gnp("a-allow", allow)],
    ));
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
    // No order sorts after any order, whatever the names.
    let s = snapshot(with(
        base(),
        vec![
            gnp(
                "a-unordered",
                json!({"selector": "role == 'db'", "ingress": [{"action": "Deny"}]}),
            ),
            gnp(
                "z-ordered",
                json!({"selector": "role == 'db'", "order": 1000, "ingress": [{"action": "Allow"}]}),
            ),
        ],
    ));
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
    let hp = model::policy::resolve(&s, "h1");
    let names: Vec<String> = hp.workload_endpoints["calidb"].ingress.tiers[0]
        .policies
        .iter()
        .map(|p| p.felix_name())
        .collect();
    assert_eq!(names, ["z-ordered", "a-unordered"]);
}
