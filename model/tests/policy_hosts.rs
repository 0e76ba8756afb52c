//! Policy scenarios at the host: workload-to-host traffic, host endpoints and failsafe
//! ports, encapsulated packets from workloads, unknown workloads. Each verdict comes from the
//! direct evaluator and is checked against an interpreter of the resolved model
//! (`policy_fixtures.rs`).

#[path = "policy_fixtures.rs"]
mod fixtures;

use fixtures::*;
use model::policy::{Packet, Peer};
use model::resources::Resource;
use serde_json::json;

#[test]
fn workload_to_host_follows_default_endpoint_to_host_action() {
    let to_host = |node: &str| Peer::host(node, None);
    let pkt = tcp("10.0.0.1", "10.1.0.1", 22);
    let s = snapshot(base());
    let v = check(&s, &pkt, fe(), to_host("h1"));
    assert!(!v.allowed);
    assert!(
        v.trace
            .iter()
            .any(|l| l.contains("DefaultEndpointToHostAction Drop"))
    );
    // To another host it is ordinary egress.
    assert!(check(&s, &pkt, fe(), to_host("h2")).allowed);
    let felix = |name: &str, action: &str| {
        res(
            json!({"apiVersion": "projectcalico.org/v3", "kind": "FelixConfiguration",
            "metadata": {"name": name}, "spec": {"defaultEndpointToHostAction": action}}),
        )
    };
    let s = snapshot(with(base(), vec![felix("default", "Accept")]));
    assert!(check(&s, &pkt, fe(), to_host("h1")).allowed);
    let s = snapshot(with(
        base(),
        vec![felix("default", "Accept"), felix("node.h1", "Drop")],
    ));
    assert!(!check(&s, &pkt, fe(), to_host("h1")).allowed);
    // Router and neighbour discovery always reach the host.
    let s = snapshot(vec![wep("ns1", "v6", "h1", "caliv6", "fd00::1", &[], &[])]);
    let ns = Packet::icmp(ip("fd00::1"), ip("fe80::1"), 135, 0);
    assert!(check(&s, &ns, Peer::workload("ns1", "v6"), to_host("h1")).allowed);
}

#[test]
fn host_endpoint_without_policy_denies_except_failsafe_ports() {
    let mut rs = base();
    rs.push(res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
        "metadata": {"name": "h1-eth0", "labels": {"host": "h1"}},
        "spec": {"node": "h1", "interfaceName": "eth0", "expectedIPs": ["10.1.0.1"]}
    })));
    let s = snapshot(rs);
    let h1 = |iface: Option<&str>| Peer::host("h1", iface);
    let from_out = |port| Packet::tcp(ip("192.168.7.7"), 40000, ip("10.1.0.1"), port);
    let v = check(&s, &from_out(22), Peer::External, h1(Some("eth0")));
    assert!(v.allowed);
    assert!(v.trace.iter().any(|l| l.contains("failsafe")));
    assert!(!check(&s, &from_out(80), Peer::External, h1(Some("eth0"))).allowed);
    // Other interfaces have no host endpoint.
    assert!(check(&s, &from_out(80), Peer::External, h1(Some("eth1"))).allowed);
    // Outbound: DNS is failsafe, HTTP is not.
    let dns = Packet::udp(ip("10.1.0.1"), 5353, ip("8.8.8.8"), 53);
    assert!(check(&s, &dns, h1(Some("eth0")), Peer::External).allowed);
    let web = Packet::tcp(ip("10.1.0.1"), 40000, ip("8.8.8.8"), 443);
    assert!(!check(&s, &web, h1(Some("eth0")), Peer::External).allowed);
    // The host reaching its own workloads is not policed.
    assert!(check(&s, &tcp("10.1.0.1", "10.0.0.2", 80), h1(Some("eth0")), db()).allowed);
    // A host endpoint's expected IPs are members of selector sets.
    let s = snapshot(with(
        s_resources(&s),
        vec![gnp(
            "db-from-hosts",
            json!({"selector": "role == 'db'", "ingress": [
                {"action": "Allow", "source": {"selector": "has(host)"}}
            ]}),
        )],
    ));
    assert!(check(&s, &tcp("10.1.0.1", "10.0.0.2", 80), Peer::External, db()).allowed);
}

fn s_resources(s: &model::policy::Snapshot) -> Vec<Resource> {
    let mut out: Vec<Resource> = Vec::new();
    out.extend(s.profiles.iter().cloned().map(Resource::from));
    out.extend(s.workload_endpoints.iter().cloned().map(Resource::from));
    out.extend(s.host_endpoints.iter().cloned().map(Resource::from));
    out
}

#[test]
fn encapsulated_packets_from_workloads_are_dropped() {
    let s = snapshot(base());
    let vxlan = Packet::udp(ip("10.0.0.1"), 1, ip("10.0.0.2"), 4789);
    let v = check(&s, &vxlan, fe(), db());
    assert!(!v.allowed);
    assert!(v.trace.iter().any(|l| l.contains("VXLAN")));
    let ipip = Packet::other(ip("10.0.0.1"), ip("10.0.0.2"), 4);
    assert!(!check(&s, &ipip, fe(), db()).allowed);
    // The same packets from outside are ordinary traffic.
    let ext = Packet::udp(ip("192.168.7.7"), 1, ip("10.0.0.2"), 4789);
    assert!(check(&s, &ext, Peer::External, db()).allowed);
}

#[test]
fn unknown_workloads_are_dropped() {
    let s = snapshot(base());
    let v = check(
        &s,
        &tcp("10.0.0.9", "10.0.0.2", 80),
        Peer::workload("ns1", "ghost"),
        db(),
    );
    assert!(!v.allowed);
    let mixed = Packet::tcp(ip("10.0.0.1"), 1, ip("fd00::2"), 80);
    assert!(!check(&s, &mixed, fe(), db()).allowed);
}
