//! Host endpoint policy beyond the filter table: untracked (`doNotTrack`), pre-DNAT and
//! forward (`applyOnForward`) policy, with their failsafe ports and default actions. Each
//! verdict comes from the direct evaluator and is checked against the interpreter of the
//! resolved model (`policy_fixtures.rs`).

#[path = "policy_fixtures.rs"]
mod fixtures;

use fixtures::*;
use model::policy::{Evaluator, Packet, Peer, Snapshot, resolve};
use model::resources::{Kind, Resource};
use serde_json::{Value, json};

/// h1's uplink in these tests.
const UPLINKS: &[(&str, &str)] = &[("h1", "eth0"), ("h2", "eth0")];

fn host_endpoint(name: &str, iface: &str) -> Resource {
    res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
        "metadata": {"name": name, "labels": {"host": "h1", "iface": iface}},
        "spec": {"node": "h1", "interfaceName": iface, "expectedIPs": ["10.1.0.1"]}
    }))
}

/// `base()` (workloads fe, db, other on h1, fe2 on h2) plus a host endpoint on h1's eth0.
fn cluster(more: Vec<Resource>) -> Snapshot {
    let mut rs = with(base(), vec![host_endpoint("h1-eth0", "eth0")]);
    rs.extend(more);
    snapshot(rs)
}

/// A GlobalNetworkPolicy for the host endpoints of h1 with extra fields (flags, types).
fn host_policy(name: &str, fields: Value) -> Resource {
    let mut spec = json!({"selector": "host == 'h1'"});
    if let (Some(spec), Value::Object(f)) = (spec.as_object_mut(), fields) {
        spec.extend(f);
    }
    gnp(name, spec)
}

fn allow_tcp(port: u16) -> Value {
    json!({"action": "Allow", "protocol": "TCP", "destination": {"ports": [port]}})
}

fn deny_tcp(port: u16) -> Value {
    json!({"action": "Deny", "protocol": "TCP", "destination": {"ports": [port]}})
}

fn from_outside(dport: u16) -> Packet {
    Packet::tcp(ip("192.168.7.7"), 40000, ip("10.1.0.1"), dport)
}

fn h1(iface: &str) -> Peer {
    Peer::host("h1", Some(iface))
}

fn traced(v: &model::policy::Verdict, needle: &str) -> bool {
    v.trace.iter().any(|l| l.contains(needle))
}

#[test]
fn untracked_deny_drops_what_normal_policy_allows() {
    let web = host_policy("host-web", json!({"ingress": [allow_tcp(80)]}));
    let s = cluster(vec![web.clone()]);
    assert!(check_via(&s, UPLINKS, &from_outside(80), Peer::External, h1("eth0")).allowed);
    let dnt = host_policy(
        "dnt-deny-web",
        json!({"doNotTrack": true, "applyOnForward": true, "ingress": [deny_tcp(80)]}),
    );
    let s = cluster(vec![web, dnt]);
    let v = check_via(&s, UPLINKS, &from_outside(80), Peer::External, h1("eth0"));
    assert!(!v.allowed);
    assert!(traced(&v, "untracked ingress"), "{:#?}", v.trace);
    // Forwarded traffic arriving through the interface meets the same untracked policy.
    let to_db = Packet::tcp(ip("192.168.7.7"), 40000, ip("10.0.0.2"), 80);
    assert!(!check_via(&s, UPLINKS, &to_db, Peer::External, db()).allowed);
    // Untracked policy of one interface does not touch another (eth1 has no endpoint).
    assert!(check_via(&s, UPLINKS, &from_outside(80), Peer::External, h1("eth1")).allowed);
}

#[test]
fn untracked_allow_skips_normal_policy_and_replies_need_their_own() {
    // The host endpoint has no normal policy: everything but failsafe ports is denied.
    let s = cluster(vec![]);
    assert!(!check_via(&s, UPLINKS, &from_outside(8081), Peer::External, h1("eth0")).allowed);
    let reply = Packet::tcp(ip("10.1.0.1"), 8081, ip("192.168.7.7"), 40000);
    let dnt_in = host_policy(
        "dnt-in",
        json!({"doNotTrack": true, "applyOnForward": true, "ingress": [allow_tcp(8081)]}),
    );
    let s = cluster(vec![dnt_in.clone()]);
    let v = check_via(&s, UPLINKS, &from_outside(8081), Peer::External, h1("eth0"));
    assert!(v.allowed);
    assert!(traced(&v, "not tracked"), "{:#?}", v.trace);
    // The reply is not tracked either: normal egress policy (deny) sees it.
    assert!(!check_via(&s, UPLINKS, &reply, h1("eth0"), Peer::External).allowed);
    let dnt_out = host_policy(
        "dnt-out",
        json!({"doNotTrack": true, "applyOnForward": true, "types": ["Egress"], "egress": [
            {"action": "Allow", "protocol": "TCP", "source": {"ports": [8081]}}
        ]}),
    );
    let s = cluster(vec![dnt_in, dnt_out]);
    assert!(check_via(&s, UPLINKS, &reply, h1("eth0"), Peer::External).allowed);
}

#[test]
fn failsafe_ports_pass_untracked_and_pre_dnat_policy() {
    let deny_all = |name: &str, flag: &str| {
        host_policy(
            name,
            json!({flag: true, "applyOnForward": true, "ingress": [{"action": "Deny"}]}),
        )
    };
    for flag in ["doNotTrack", "preDNAT"] {
        let s = cluster(vec![deny_all("deny-all", flag)]);
        let v = check_via(&s, UPLINKS, &from_outside(22), Peer::External, h1("eth0"));
        assert!(v.allowed, "{flag}: {:#?}", v.trace);
        assert!(traced(&v, "failsafe port 6/22 skips"), "{:#?}", v.trace);
        assert!(!check_via(&s, UPLINKS, &from_outside(80), Peer::External, h1("eth0")).allowed);
    }
    // Before connection tracking, replies from outbound failsafe ports skip untracked policy
    // too (normal policy then sees them as any other packet).
    let s = cluster(vec![deny_all("deny-all", "doNotTrack")]);
    let dns_reply = Packet::udp(ip("8.8.8.8"), 53, ip("10.1.0.1"), 5353);
    let v = check_via(&s, UPLINKS, &dns_reply, Peer::External, h1("eth0"));
    assert!(
        traced(&v, "failsafe port 17/53 skips untracked"),
        "{:#?}",
        v.trace
    );
    // Outbound: untracked egress deny-all leaves DNS (outbound failsafe) and replies from
    // ssh (inbound failsafe) alone.
    let egress_deny = host_policy(
        "dnt-egress-deny",
        json!({"doNotTrack": true, "applyOnForward": true, "types": ["Egress"],
               "egress": [{"action": "Deny"}]}),
    );
    let allow_out = host_policy(
        "allow-out",
        json!({"types": ["Egress"], "egress": [{"action": "Allow"}]}),
    );
    let s = cluster(vec![egress_deny, allow_out]);
    let dns = Packet::udp(ip("10.1.0.1"), 5353, ip("8.8.8.8"), 53);
    assert!(check_via(&s, UPLINKS, &dns, h1("eth0"), Peer::External).allowed);
    let ssh_reply = Packet::tcp(ip("10.1.0.1"), 22, ip("192.168.7.7"), 40000);
    assert!(check_via(&s, UPLINKS, &ssh_reply, h1("eth0"), Peer::External).allowed);
    let web = Packet::tcp(ip("10.1.0.1"), 40000, ip("8.8.8.8"), 443);
    assert!(!check_via(&s, UPLINKS, &web, h1("eth0"), Peer::External).allowed);
}

#[test]
fn untracked_policy_of_the_all_interfaces_host_endpoint_is_ignored() {
    let dnt = host_policy(
        "dnt-deny",
        json!({"doNotTrack": true, "applyOnForward": true, "ingress": [{"action": "Deny"}]}),
    );
    let web = host_policy("host-web", json!({"ingress": [allow_tcp(80)]}));
    let s = snapshot(with(base(), vec![host_endpoint("h1-all", "*"), dnt, web]));
    assert!(check_via(&s, UPLINKS, &from_outside(80), Peer::External, h1("eth3")).allowed);
    let hp = resolve(&s, "h1");
    assert!(
        hp.problems
            .iter()
            .any(|p| p.kind == Kind::HostEndpoint && p.message.contains("doNotTrack")),
        "{:?}",
        hp.problems
    );
    assert!(hp.host_endpoints["*"].untracked_ingress.is_empty());
}

#[test]
fn pre_dnat_deny_blocks_traffic_to_the_host_and_forwarded_through_it() {
    let pre = host_policy(
        "pre-deny-web",
        json!({"preDNAT": true, "applyOnForward": true, "ingress": [deny_tcp(80)]}),
    );
    let all_in = host_policy("host-all", json!({"ingress": [{"action": "Allow"}]}));
    let s = cluster(vec![pre, all_in]);
    let v = check_via(&s, UPLINKS, &from_outside(80), Peer::External, h1("eth0"));
    assert!(!v.allowed);
    assert!(traced(&v, "pre-DNAT ingress"), "{:#?}", v.trace);
    assert!(check_via(&s, UPLINKS, &from_outside(8080), Peer::External, h1("eth0")).allowed);
    let to_db = |port| Packet::tcp(ip("192.168.7.7"), 40000, ip("10.0.0.2"), port);
    assert!(!check_via(&s, UPLINKS, &to_db(80), Peer::External, db()).allowed);
    assert!(check_via(&s, UPLINKS, &to_db(8080), Peer::External, db()).allowed);
    // Workloads of the host talking to each other do not cross the host endpoint.
    assert!(check_via(&s, UPLINKS, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
}

#[test]
fn pre_dnat_policy_sees_the_destination_before_nat() {
    // A node port: 10.1.0.1:30080 is translated to db's 10.0.0.2:80.
    let original = Packet::tcp(ip("192.168.7.7"), 40000, ip("10.1.0.1"), 30080);
    let translated = Packet::tcp(ip("192.168.7.7"), 40000, ip("10.0.0.2"), 80);
    let answer = |s: &Snapshot| {
        let mut e = Evaluator::new(s);
        for (node, iface) in UPLINKS {
            e = e.with_uplink(node, iface);
        }
        let v = e.allowed_dnat(&original, &translated, &Peer::External, &db());
        let m = model_answer_via(s, UPLINKS, &original, &translated, &Peer::External, &db());
        assert_eq!(v.allowed, m, "evaluator and model disagree: {:#?}", v.trace);
        v.allowed
    };
    let pre = |port: u16| {
        host_policy(
            "pre-deny",
            json!({"preDNAT": true, "applyOnForward": true, "ingress": [
                {"action": "Deny", "protocol": "TCP",
                 "destination": {"nets": ["10.1.0.1/32"], "ports": [port]}}
            ]}),
        )
    };
    assert!(answer(&cluster(vec![])));
    assert!(!answer(&cluster(vec![pre(30080)])));
    assert!(answer(&cluster(vec![pre(80)])));
    // Forward policy sees the translated packet.
    let fwd_deny = host_policy(
        "fwd-deny",
        json!({"applyOnForward": true, "ingress": [
            {"action": "Deny", "protocol": "TCP", "destination": {"ports": [80]}},
            {"action": "Allow"}
        ]}),
    );
    assert!(!answer(&cluster(vec![fwd_deny])));
}

#[test]
fn pre_dnat_allow_ends_host_endpoint_policy_but_not_workload_policy() {
    let pre = host_policy(
        "pre-allow-web",
        json!({"preDNAT": true, "applyOnForward": true, "ingress": [allow_tcp(80)]}),
    );
    let fwd_deny = host_policy(
        "fwd-deny-all",
        json!({"applyOnForward": true, "ingress": [{"action": "Deny"}]}),
    );
    // No normal policy: the host endpoint denies, but pre-DNAT allowed the packet first.
    let s = cluster(vec![pre.clone(), fwd_deny.clone()]);
    let v = check_via(&s, UPLINKS, &from_outside(80), Peer::External, h1("eth0"));
    assert!(v.allowed, "{:#?}", v.trace);
    assert!(!check_via(&s, UPLINKS, &from_outside(8080), Peer::External, h1("eth0")).allowed);
    let to_db = |port| Packet::tcp(ip("192.168.7.7"), 40000, ip("10.0.0.2"), port);
    assert!(check_via(&s, UPLINKS, &to_db(80), Peer::External, db()).allowed);
    assert!(!check_via(&s, UPLINKS, &to_db(8080), Peer::External, db()).allowed);
    let db_closed = gnp(
        "db-closed",
        json!({"selector": "role == 'db'", "ingress": [{"action": "Deny"}]}),
    );
    let s = cluster(vec![pre, fwd_deny, db_closed]);
    assert!(!check_via(&s, UPLINKS, &to_db(80), Peer::External, db()).allowed);
}

#[test]
fn pre_dnat_and_untracked_tiers_have_no_end_of_tier_drop() {
    // t1 denies at its end, but pre-DNAT and untracked policy go on to normal policy.
    let in_t1 = |name: &str, flag: &str| {
        host_policy(
            name,
            json!({"tier": "t1", flag: true, "applyOnForward": true, "ingress": [deny_tcp(9999)]}),
        )
    };
    let web = host_policy("host-web", json!({"ingress": [allow_tcp(80)]}));
    for flag in ["preDNAT", "doNotTrack"] {
        let s = cluster(vec![
            tier("t1", 10.0, "Deny"),
            in_t1("p", flag),
            web.clone(),
        ]);
        assert!(check_via(&s, UPLINKS, &from_outside(80), Peer::External, h1("eth0")).allowed);
        assert!(!check_via(&s, UPLINKS, &from_outside(9999), Peer::External, h1("eth0")).allowed);
    }
}

#[test]
fn apply_on_forward_policy_polices_forwarded_traffic_both_ways() {
    let fwd = host_policy(
        "fwd-web",
        json!({"applyOnForward": true, "types": ["Ingress", "Egress"],
               "ingress": [allow_tcp(80)],
               "egress": [{"action": "Deny", "destination": {"nets": ["8.8.8.0/24"]}},
                          {"action": "Allow"}]}),
    );
    let s = cluster(vec![fwd]);
    let to_db = |port| Packet::tcp(ip("192.168.7.7"), 40000, ip("10.0.0.2"), port);
    assert!(check_via(&s, UPLINKS, &to_db(80), Peer::External, db()).allowed);
    let v = check_via(&s, UPLINKS, &to_db(8080), Peer::External, db());
    assert!(!v.allowed);
    assert!(
        traced(&v, "forward ingress: end of tier default"),
        "{:#?}",
        v.trace
    );
    assert!(
        !check_via(
            &s,
            UPLINKS,
            &tcp("10.0.0.1", "8.8.8.8", 443),
            fe(),
            Peer::External
        )
        .allowed
    );
    assert!(
        check_via(
            &s,
            UPLINKS,
            &tcp("10.0.0.1", "9.9.9.9", 443),
            fe(),
            Peer::External
        )
        .allowed
    );
    // Between two workloads of h1 nothing crosses the host endpoint.
    assert!(check_via(&s, UPLINKS, &tcp("10.0.0.1", "10.0.0.2", 8080), fe(), db()).allowed);
    // To a workload of h2: out through h1's uplink (egress allowed), into h2 (no endpoint).
    assert!(check_via(&s, UPLINKS, &tcp("10.0.0.1", "10.0.1.1", 8080), fe(), fe2()).allowed);
    // From h2's workload into h1: forward ingress of h1's uplink.
    assert!(!check_via(&s, UPLINKS, &tcp("10.0.1.1", "10.0.0.2", 8080), fe2(), db()).allowed);
}

#[test]
fn forwarded_traffic_is_allowed_without_apply_on_forward_policy() {
    // Normal policy that denies everything to the host, without applyOnForward.
    let closed = host_policy("host-closed", json!({"ingress": [{"action": "Deny"}]}));
    let s = cluster(vec![closed]);
    assert!(!check_via(&s, UPLINKS, &from_outside(80), Peer::External, h1("eth0")).allowed);
    let to_db = Packet::tcp(ip("192.168.7.7"), 40000, ip("10.0.0.2"), 80);
    let v = check_via(&s, UPLINKS, &to_db, Peer::External, db());
    assert!(v.allowed);
    assert!(traced(&v, "no applyOnForward policy"), "{:#?}", v.trace);
    // The same policy with applyOnForward denies forwarded traffic too.
    let closed = host_policy(
        "host-closed",
        json!({"applyOnForward": true, "ingress": [{"action": "Deny"}]}),
    );
    let s = cluster(vec![closed]);
    assert!(!check_via(&s, UPLINKS, &to_db, Peer::External, db()).allowed);
}

#[test]
fn a_forward_tier_that_passes_allows() {
    let pass = host_policy(
        "fwd-pass",
        json!({"tier": "t1", "applyOnForward": true, "ingress": [{"action": "Pass"}]}),
    );
    let s = cluster(vec![tier("t1", 10.0, "Deny"), pass]);
    let to_db = Packet::tcp(ip("192.168.7.7"), 40000, ip("10.0.0.2"), 80);
    assert!(check_via(&s, UPLINKS, &to_db, Peer::External, db()).allowed);
}

#[test]
fn the_all_interfaces_host_endpoint_polices_unnamed_interfaces_not_workloads() {
    let fwd = host_policy(
        "fwd-deny-web",
        json!({"applyOnForward": true, "ingress": [deny_tcp(80), {"action": "Allow"}]}),
    );
    let s = snapshot(with(base(), vec![host_endpoint("h1-all", "*"), fwd]));
    let to_db = Packet::tcp(ip("192.168.7.7"), 40000, ip("10.0.0.2"), 80);
    // No uplink named: the packet arrives through an interface without its own endpoint.
    assert!(!check(&s, &to_db, Peer::External, db()).allowed);
    assert!(check(&s, &tcp("10.0.0.1", "10.0.0.2", 80), fe(), db()).allowed);
}

#[test]
fn packets_routed_between_two_host_endpoints_meet_both_forward_policies() {
    let eth1_out = res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "eth1-out"},
        "spec": {"selector": "iface == 'eth1'", "applyOnForward": true, "types": ["Egress"],
                 "egress": [deny_tcp(80), {"action": "Allow"}]}
    }));
    let s = cluster(vec![host_endpoint("h1-eth1", "eth1"), eth1_out]);
    let pkt = Packet::tcp(ip("192.168.7.7"), 40000, ip("172.16.0.9"), 80);
    let e = Evaluator::new(&s);
    for (iif, oif, want) in [("eth0", "eth1", false), ("eth1", "eth0", true)] {
        let v = e.routed(&pkt, "h1", iif, oif);
        assert_eq!(v.allowed, want, "{iif} -> {oif}: {:#?}", v.trace);
        assert_eq!(
            model_routed(&s, &pkt, "h1", iif, oif),
            want,
            "{iif} -> {oif}"
        );
    }
}
