//! The rendered tables against the model's direct evaluator: for random small clusters of two
//! hosts, resolving each host, rendering it and running packets through the twins gives the
//! verdict `model::policy::allowed` gives from the resources.

use std::collections::BTreeMap;

use model::policy::{Packet, Peer, Snapshot, resolve};
use model::resources::Resource;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use super::{ip, twin};
use crate::policy::render::render;
use crate::policy::twin::Twin;

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
    )
        .prop_map(move |(global, tier, sel, ingress, egress)| {
            let spec = json!({"tier": tier, "selector": sel, "order": i,
                "ingress": ingress, "egress": egress});
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
    res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
        "metadata": {"name": "h1-hep", "labels": labels},
        "spec": {"node": "h1", "interfaceName": iface, "expectedIPs": ["10.9.0.1"],
                 "profiles": PROFILES[profiles % PROFILES.len()]}
    }))
}

struct Case {
    snapshot: Snapshot,
    weps: Vec<Wep>,
    twins: BTreeMap<&'static str, Twin>,
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
        (select(vec!["", "eth0", "*"]), 0..4usize, 0..4usize),
    )
        .prop_map(|(weps, rp, pols, npol, t1, to_host, hep)| {
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
            (weps, rs)
        })
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
    fn twin(&self, host: &str) -> &Twin {
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

fn packet(src: &str, dst: &str, kind: u8, port: u16, (icmp, code): (u8, u8)) -> Packet {
    match kind {
        0..=9 => Packet::tcp(ip(src), 40000, ip(dst), port),
        10..=14 => Packet::udp(ip(src), 40000, ip(dst), port),
        15..=18 => Packet::icmp(ip(src), ip(dst), icmp, code),
        _ => Packet::other(ip(src), ip(dst), 4),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn rendered_tables_agree_with_the_evaluator(
        (weps, rs) in case(),
        a in 0..5usize,
        b in 0..5usize,
        kind in 0..20u8,
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
        for (src, dst, from, to) in flows {
            let p = packet(&src, &dst, kind, port, icmp);
            let want = model::policy::allowed(&c.snapshot, &p, from.clone(), to.clone());
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
    }
}
