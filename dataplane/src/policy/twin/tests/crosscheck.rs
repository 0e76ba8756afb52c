//! The rendered tables against the model's direct evaluator: for random small clusters of two
//! hosts, resolving each host, rendering it and running packets through the twins gives the
//! verdict `model::policy::allowed` gives from the resources.

use std::collections::BTreeMap;

use model::policy::{Evaluator, Packet, Peer, Snapshot, resolve};
use model::resources::Resource;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use super::{ip, twin};
use crate::policy::render::render;
use crate::policy::twin::PolicyTwin;

fn res(v: Value) -> Resource {
    Resource::from_value(v.clone()).unwrap_or_else(|e| panic!("fixture {v}: {e}"))
}

const SELECTORS: &[&str] = &[
    "all()",
    "role == 'fe'",
    "role == 'db'",
    "!has(role)",
    "env != 'prod'",
];
const NETS: &[&[&str]] = &[
    &["10.0.0.0/30"],
    &["10.0.0.4/31", "192.168.0.0/24"],
    &["fd00::/8"],
    &["10.0.0.2", "fd00::/8"],
];
const PORTS: &[&str] = &[
    "[80]",
    "[\"http\"]",
    "[\"8000:9000\"]",
    "[\"http\", 53]",
    "[\"dns\"]",
];

fn entity() -> impl Strategy<Value = Value> {
    (select(SELECTORS), select(NETS), 0..8u8).prop_map(|(sel, nets, which)| match which {
        1 => json!({"selector": sel}),
        2 => json!({"notSelector": sel}),
        3 => json!({"nets": nets}),
        4 => json!({"notNets": nets}),
        _ => json!({}),
    })
}

fn rule() -> impl Strategy<Value = Value> {
    let actions = vec!["Allow", "Allow", "Allow", "Deny", "Deny", "Pass", "Log"];
    let protocols = vec!["", "", "", "TCP", "TCP", "UDP", "ICMP", "ICMPv6"];
    (
        select(actions),
        select(protocols),
        entity(),
        entity(),
        select(PORTS),
        0..10u8,
    )
        .prop_map(|(action, protocol, src, mut dst, ports, extra)| {
            let mut r = json!({"action": action, "source": src});
            if !protocol.is_empty() {
                r["protocol"] = json!(protocol);
            }
            let ports: Value = serde_json::from_str(ports).unwrap_or(Value::Null);
            match (protocol, extra) {
                ("TCP" | "UDP", 0..=3) => dst["ports"] = ports,
                ("TCP" | "UDP", 4) => dst["notPorts"] = ports,
                ("ICMP" | "ICMPv6", 0) => r["icmp"] = json!({"type": 8}),
                ("ICMP" | "ICMPv6", 1) => r["icmp"] = json!({"type": 8, "code": 0}),
                ("ICMP" | "ICMPv6", 2) => r["notICMP"] = json!({"type": 8}),
                ("ICMP" | "ICMPv6", 3) => r["notICMP"] = json!({"type": 8, "code": 0}),
                ("", 5) => r["notProtocol"] = json!("UDP"),
                (_, 6) => r["ipVersion"] = json!(4),
                _ => {}
            }
            r["destination"] = dst;
            r
        })
}

fn policy(i: usize) -> impl Strategy<Value = Resource> {
    let tiers = vec!["default", "default", "default", "t1", "t2"];
    let selectors = vec!["all()", "has(role)", "role == 'fe'", "role == 'db'"];
    (
        any::<bool>(),
        select(tiers),
        select(selectors),
        proptest::collection::vec(rule(), 0..4),
        proptest::collection::vec(rule(), 0..3),
        0..7u8,
    )
        .prop_map(move |(global, tier, sel, ingress, mut egress, flavour)| {
            // Host endpoint flavours (global policies only): applyOnForward, preDNAT
            // (ingress only, as validation requires), doNotTrack.
            let flags = match (global, flavour) {
                (true, 1 | 2) => json!({"applyOnForward": true}),
                (true, 3) => {
                    egress.clear();
                    json!({"applyOnForward": true, "preDNAT": true})
                }
                (true, 4) => json!({"applyOnForward": true, "doNotTrack": true}),
                _ => json!({}),
            };
            let mut spec = json!({"tier": tier, "selector": sel, "order": i,
                "ingress": ingress, "egress": egress});
            if let (Some(spec), Value::Object(flags)) = (spec.as_object_mut(), flags) {
                spec.extend(flags);
            }
            let (kind, ns) = if global {
                ("GlobalNetworkPolicy", None)
            } else {
                ("NetworkPolicy", Some("ns1"))
            };
            let mut meta = json!({"name": format!("p{i}")});
            if let Some(ns) = ns {
                meta["namespace"] = json!(ns);
            }
            res(json!({"apiVersion": "projectcalico.org/v3", "kind": kind,
                "metadata": meta, "spec": spec}))
        })
}

/// Per workload: host, labels, profiles, named ports.
type Wep = (&'static str, usize, usize, u8);

const LABELS: &[&[(&str, &str)]] = &[
    &[],
    &[("role", "fe")],
    &[("role", "db")],
    &[("role", "fe"), ("env", "prod")],
];
const PROFILES: &[&[&str]] = &[&["allow-all"], &["rp", "allow-all"], &["rp"], &["ghost"]];

fn wep(i: usize, (node, labels, profiles, ports): Wep) -> Resource {
    let labels: serde_json::Map<String, Value> = LABELS[labels % LABELS.len()]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let ports = match ports {
        1 => json!([{"name": "http", "protocol": "TCP", "port": 80}]),
        2 => json!([{"name": "http", "protocol": "TCP", "port": 8080},
                    {"name": "dns", "protocol": "UDP", "port": 53}]),
        _ => json!([]),
    };
    res(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "WorkloadEndpoint",
        "metadata": {"namespace": "ns1", "name": format!("w{i}"), "labels": labels},
        "spec": {
            "node": node, "orchestrator": "k8s", "pod": format!("w{i}"), "endpoint": "eth0",
            "interfaceName": format!("cali{i}"),
            "ipNetworks": [format!("10.0.0.{}/32", i + 1)],
            "profiles": PROFILES[profiles % PROFILES.len()],
            "ports": ports,
        }
    }))
}

/// A host endpoint of h1, address 10.9.0.1.
fn host_endpoint(iface: &str, labels: usize, profiles: usize) -> Resource {
    let labels: serde_json::Map<String, Value> = LABELS[labels % LABELS.len()]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let mut labels = labels;
    labels.insert("hep".to_owned(), json!("yes"));
    res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
        "metadata": {"name": "h1-hep", "labels": labels},
        "spec": {"node": "h1", "interfaceName": iface, "expectedIPs": ["10.9.0.1"],
                 "profiles": PROFILES[profiles % PROFILES.len()]}
    }))
}

/// A rule with few criteria, so that it often matches the packets of the flows.
fn simple_rule() -> impl Strategy<Value = Value> {
    (
        select(vec!["Allow", "Allow", "Deny", "Deny", "Pass"]),
        select(vec!["", "TCP", "UDP"]),
        select(vec![None, Some(80u16), Some(22), Some(53), Some(8080)]),
        any::<bool>(),
    )
        .prop_map(|(action, protocol, port, source_port)| {
            let mut r = json!({"action": action});
            if !protocol.is_empty() {
                r["protocol"] = json!(protocol);
                if let Some(p) = port {
                    let side = if source_port { "source" } else { "destination" };
                    r[side] = json!({"ports": [p]});
                }
            }
            r
        })
}

/// A policy for the host endpoint (label `hep`) of one flavour: normal, applyOnForward,
/// preDNAT or doNotTrack.
fn host_endpoint_policy(i: usize) -> impl Strategy<Value = Resource> {
    (
        0..4u8,
        select(vec!["default", "default", "t1"]),
        proptest::collection::vec(simple_rule(), 0..3),
        proptest::collection::vec(simple_rule(), 0..3),
    )
        .prop_map(move |(flavour, tier, ingress, egress)| {
            let mut spec = json!({"tier": tier, "order": 50 + i, "selector": "has(hep)",
                "types": ["Ingress", "Egress"], "ingress": ingress, "egress": egress});
            match flavour {
                1 => spec["applyOnForward"] = json!(true),
                2 => {
                    spec["applyOnForward"] = json!(true);
                    spec["preDNAT"] = json!(true);
                    spec["types"] = json!(["Ingress"]);
                    spec["egress"] = json!([]);
                }
                3 => {
                    spec["applyOnForward"] = json!(true);
                    spec["doNotTrack"] = json!(true);
                }
                _ => {}
            }
            res(
                json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                "metadata": {"name": format!("hep{i}")}, "spec": spec}),
            )
        })
}

struct Case {
    snapshot: Snapshot,
    weps: Vec<Wep>,
    twins: BTreeMap<&'static str, PolicyTwin>,
}

fn case() -> impl Strategy<Value = (Vec<Wep>, Vec<Resource>)> {
    let weps = proptest::collection::vec(
        (select(vec!["h1", "h1", "h2"]), 0..4usize, 0..4usize, 0..3u8),
        2..5,
    );
    (
        weps,
        proptest::collection::vec(rule(), 0..3),
        (policy(0), policy(1), policy(2), policy(3)),
        0..5usize,
        select(vec!["Deny", "Pass"]),
        select(vec!["Drop", "Accept", "Return"]),
        (select(vec!["", "eth0", "eth0", "*"]), 0..4usize, 0..4usize),
        (
            host_endpoint_policy(0),
            host_endpoint_policy(1),
            host_endpoint_policy(2),
            host_endpoint_policy(3),
        ),
        0..5usize,
    )
        .prop_map(
            |(weps, rp, pols, npol, t1, to_host, hep, hep_pols, n_hep_pols)| {
                let tier = |name: &str, order: f64, action: &str| {
                    res(json!({"apiVersion": "projectcalico.org/v3", "kind": "Tier",
                    "metadata": {"name": name},
                    "spec": {"order": order, "defaultAction": action}}))
                };
                let profile = |name: &str, rules: Value| {
                    res(
                        json!({"apiVersion": "projectcalico.org/v3", "kind": "Profile",
                    "metadata": {"name": name}, "spec": {"ingress": rules, "egress": rules}}),
                    )
                };
                let mut rs = vec![
                    profile("allow-all", json!([{"action": "Allow"}])),
                    profile("rp", json!(rp)),
                    tier("t1", 10.0, t1),
                    tier("t2", 20.0, "Deny"),
                    res(
                        json!({"apiVersion": "projectcalico.org/v3", "kind": "FelixConfiguration",
                    "metadata": {"name": "default"},
                    "spec": {"defaultEndpointToHostAction": to_host}}),
                    ),
                ];
                rs.extend(weps.iter().enumerate().map(|(i, w)| wep(i, *w)));
                if let (iface @ ("eth0" | "*"), labels, profiles) = hep {
                    rs.push(host_endpoint(iface, labels, profiles));
                }
                rs.extend([pols.0, pols.1, pols.2, pols.3].into_iter().take(npol));
                let hep_pols = [hep_pols.0, hep_pols.1, hep_pols.2, hep_pols.3];
                rs.extend(hep_pols.into_iter().take(n_hep_pols));
                (weps, rs)
            },
        )
}

fn make_case(weps: Vec<Wep>, rs: Vec<Resource>) -> Case {
    let snapshot = Snapshot::from_resources(rs);
    let twins = ["h1", "h2"]
        .into_iter()
        .map(|h| (h, twin(render(&resolve(&snapshot, h)))))
        .collect();
    Case {
        snapshot,
        weps,
        twins,
    }
}

impl Case {
    fn twin(&self, host: &str) -> &PolicyTwin {
        self.twins
            .get(host)
            .unwrap_or_else(|| panic!("no twin for {host}"))
    }

    /// Workload `i`'s host, interface and peer.
    fn wl(&self, i: usize) -> (&'static str, String, Peer) {
        let node = self.weps.get(i).map_or("h1", |w| w.0);
        (
            node,
            format!("cali{i}"),
            Peer::workload("ns1", &format!("w{i}")),
        )
    }
}

fn packet(
    src: &str,
    dst: &str,
    (kind, sport): (u8, u16),
    port: u16,
    (icmp, code): (u8, u8),
) -> Packet {
    match kind {
        0..=9 => Packet::tcp(ip(src), sport, ip(dst), port),
        10..=14 => Packet::udp(ip(src), sport, ip(dst), port),
        15..=18 => Packet::icmp(ip(src), ip(dst), icmp, code),
        _ => Packet::other(ip(src), ip(dst), 4),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn rendered_tables_agree_with_the_evaluator(
        (weps, rs) in case(),
        a in 0..5usize,
        b in 0..5usize,
        kind in 0..20u8,
        sport in select(vec![40000u16, 40000, 40000, 22, 53, 179]),
        port in select(vec![80u16, 8080, 53, 22, 8500, 4789]),
        icmp in select(vec![(0u8, 0u8), (8, 0), (8, 1), (3, 1)]),
        v6 in 0..6u8,
        host_if in select(vec!["eth0".to_owned(), "eth1".to_owned()]),
    ) {
        let c = make_case(weps, rs);
        let (a, b) = (a % c.weps.len(), b % c.weps.len());
        let (na, ia, pa) = c.wl(a);
        let (nb, ib, pb) = c.wl(b);
        let addr = |i: usize| format!("10.0.0.{}", i + 1);
        let h1 = |iface: &str| Peer::host("h1", Some(iface));
        // Every host reaches the outside and the other host through eth0.
        let evaluator = Evaluator::new(&c.snapshot)
            .with_uplink("h1", "eth0")
            .with_uplink("h2", "eth0");
        let mut flows = vec![
            (addr(a), addr(b), pa.clone(), pb.clone()),
            ("192.168.0.9".to_owned(), addr(b), Peer::External, pb.clone()),
            (addr(a), "8.8.8.8".to_owned(), pa.clone(), Peer::External),
            (addr(a), "10.9.0.1".to_owned(), pa.clone(), Peer::host(na, None)),
            ("192.168.0.9".to_owned(), "10.9.0.1".to_owned(), Peer::External, h1(&host_if)),
            ("10.9.0.1".to_owned(), "8.8.8.8".to_owned(), h1(&host_if), Peer::External),
            ("10.9.0.1".to_owned(), addr(b), h1(&host_if), pb.clone()),
        ];
        if v6 == 0 {
            flows.push(("fd00::9".to_owned(), "fd00::1".to_owned(), Peer::External, pb.clone()));
        }
        let pkt = |src: &str, dst: &str| packet(src, dst, (kind, sport), port, icmp);
        for (src, dst, from, to) in flows {
            let p = pkt(&src, &dst);
            let want = evaluator.allowed(&p, &from, &to);
            let got = match (&from, &to) {
                (Peer::Workload { .. }, Peer::Workload { .. }) if na == nb => {
                    c.twin(na).forward(&ia, &ib, &p).accepted
                }
                (Peer::Workload { .. }, Peer::Workload { .. }) => {
                    c.twin(na).forward(&ia, "eth0", &p).accepted
                        && c.twin(nb).forward("eth0", &ib, &p).accepted
                }
                (Peer::External, Peer::Workload { .. }) => {
                    c.twin(nb).forward("eth0", &ib, &p).accepted
                }
                (Peer::Workload { .. }, Peer::External) => {
                    c.twin(na).forward(&ia, "eth0", &p).accepted
                }
                (Peer::Workload { .. }, Peer::Host { .. }) => c.twin(na).to_host(&ia, &p).accepted,
                (_, Peer::Host { node, interface }) => {
                    c.twin(node).to_host(interface.as_deref().unwrap_or("eth9"), &p).accepted
                }
                (Peer::Host { node, interface }, Peer::External) => {
                    c.twin(node).from_host(interface.as_deref().unwrap_or("eth9"), &p).accepted
                }
                (Peer::Host { node, .. }, Peer::Workload { .. }) if node.as_str() == nb => {
                    c.twin(node).from_host(&ib, &p).accepted
                }
                (Peer::Host { node, interface }, Peer::Workload { .. }) => {
                    c.twin(node).from_host(interface.as_deref().unwrap_or("eth9"), &p).accepted
                        && c.twin(nb).forward("eth0", &ib, &p).accepted
                }
                (Peer::External, Peer::External) => true,
            };
            prop_assert_eq!(
                got, want.allowed,
                "{} from {:?} to {:?}\nevaluator: {:#?}\nmodel h1: {:#?}\nmodel h2: {:#?}",
                p, from, to, want.trace,
                resolve(&c.snapshot, "h1"), resolve(&c.snapshot, "h2")
            );
        }
        // Routed through h1 between two host interfaces, both ways.
        let routed = pkt("192.168.0.9", "172.16.0.9");
        for (iif, oif) in [(host_if.as_str(), "eth2"), ("eth2", host_if.as_str())] {
            let want = evaluator.routed(&routed, "h1", iif, oif);
            let got = c.twin("h1").forward(iif, oif, &routed);
            prop_assert_eq!(
                got.accepted, want.allowed,
                "{} routed {} -> {}\nevaluator: {:#?}\ntwin: {}\nmodel h1: {:#?}",
                routed, iif, oif, want.trace, got, resolve(&c.snapshot, "h1")
            );
        }
        // A node port of b's host translated to b (pre-DNAT policy sees the node port).
        let original = pkt("192.168.0.9", "10.9.0.1");
        let translated = pkt("192.168.0.9", &addr(b));
        let want = evaluator.allowed_dnat(&original, &translated, &Peer::External, &pb);
        let got = c.twin(nb).forward_dnat("eth0", &ib, &original, &translated);
        prop_assert_eq!(
            got.accepted, want.allowed,
            "{} translated to {}\nevaluator: {:#?}\ntwin: {}\nmodel: {:#?}",
            original, translated, want.trace, got, resolve(&c.snapshot, nb)
        );
    }
}
