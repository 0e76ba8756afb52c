//! Cross-check of the two implementations: for random small snapshots and packets, walking
//! the resolved model (`policy_fixtures.rs`) gives the verdict the direct evaluator gives.
//! Resolution must also not depend on the order of its input.

#[path = "policy_fixtures.rs"]
mod fixtures;

use fixtures::*;
use model::policy::{Evaluator, Packet, Peer, Snapshot, resolve};
use model::resources::Resource;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

const SELECTORS: &[&str] = &[
    "",
    "all()",
    "role == 'fe'",
    "role == 'db'",
    "has(role)",
    "!has(role)",
    "role in {'fe', 'db'}",
    "env != 'prod'",
    "has(env) && role == 'fe'",
    "role == 'db' || env == 'dev'",
    "kind == 'net'",
];

const POLICY_SELECTORS: &[&str] = &[
    "",
    "",
    "all()",
    "has(role)",
    "role == 'fe'",
    "role == 'db'",
    "env != 'prod'",
    "role in {'fe', 'db'}",
];

const NS_SELECTORS: &[&str] = &[
    "",
    "",
    "",
    "all()",
    "global()",
    "team == 'a'",
    "!has(team)",
    "projectcalico.org/name == 'ns2'",
];

const NETS: &[&[&str]] = &[
    &[],
    &[],
    &["10.0.0.0/30"],
    &["10.0.0.4/31", "192.168.0.0/24"],
    &["fd00::/8"],
    &["10.0.0.2", "fd00::/8"],
];

fn entity() -> impl Strategy<Value = Value> {
    (
        select(SELECTORS),
        select(SELECTORS),
        select(NS_SELECTORS),
        select(NETS),
        select(NETS),
        0..14usize,
    )
        .prop_map(|(sel, not_sel, ns_sel, nets, not_nets, which)| {
            // Usually no criterion, else one or two, so that rules often match.
            let mut m = serde_json::Map::new();
            if matches!(which, 1 | 2 | 8) && !sel.is_empty() {
                m.insert("selector".into(), json!(sel));
            }
            if matches!(which, 3 | 8) && !not_sel.is_empty() {
                m.insert("notSelector".into(), json!(not_sel));
            }
            if matches!(which, 4 | 2) && !ns_sel.is_empty() {
                m.insert("namespaceSelector".into(), json!(ns_sel));
            }
            if which == 5 && !nets.is_empty() {
                m.insert("nets".into(), json!(nets));
            }
            if which == 6 && !not_nets.is_empty() {
                m.insert("notNets".into(), json!(not_nets));
            }
            Value::Object(m)
        })
}

fn ports() -> impl Strategy<Value = Value> {
    select(vec![
        json!([80]),
        json!(["http"]),
        json!(["8000:9000"]),
        json!(["http", 53]),
        json!(["dns"]),
    ])
}

fn rule() -> impl Strategy<Value = Value> {
    (
        select(vec![
            "Allow", "Allow", "Allow", "Deny", "Deny", "Pass", "Pass", "Log",
        ]),
        select(vec![
            "", "", "", "", "TCP", "TCP", "UDP", "ICMP", "ICMP", "ICMPv6",
        ]),
        entity(),
        entity(),
        proptest::option::of(ports()),
        proptest::option::of(ports()),
        0..8u8,
    )
        .prop_map(|(action, protocol, mut src, mut dst, p, np, extra)| {
            let mut r = serde_json::Map::new();
            r.insert("action".into(), json!(action));
            if !protocol.is_empty() {
                r.insert("protocol".into(), json!(protocol));
            }
            if matches!(protocol, "TCP" | "UDP") {
                if let Some(p) = p {
                    dst["ports"] = p;
                }
                if let (Some(np), true) = (np, extra == 1) {
                    src["notPorts"] = np;
                }
            }
            if protocol == "ICMP" || protocol == "ICMPv6" {
                match extra {
                    0..=2 => {
                        r.insert(
                            "icmp".into(),
                            json!({"type": if extra == 0 { 0 } else { 8 }}),
                        );
                    }
                    3 => {
                        r.insert("icmp".into(), json!({"type": 8, "code": 0}));
                    }
                    4 => {
                        r.insert("notICMP".into(), json!({"type": 8}));
                    }
                    _ => {}
                }
            }
            if protocol.is_empty() && extra == 7 {
                r.insert("notProtocol".into(), json!("UDP"));
            }
            if extra == 6 {
                r.insert("ipVersion".into(), json!(4));
            }
            if src.as_object().is_some_and(|o| !o.is_empty()) {
                r.insert("source".into(), src);
            }
            if dst.as_object().is_some_and(|o| !o.is_empty()) {
                r.insert("destination".into(), dst);
            }
            Value::Object(r)
        })
}

fn policy(i: usize) -> impl Strategy<Value = Resource> {
    (
        any::<bool>(),
        select(vec!["ns1", "ns2"]),
        select(vec![
            "default", "default", "default", "default", "default", "t1", "t1", "t2", "missing",
        ]),
        select(vec![None, Some(1.0), Some(2.0)]),
        select(POLICY_SELECTORS),
        select(NS_SELECTORS),
        select(vec![
            json!(null),
            json!(["Ingress"]),
            json!(["Egress"]),
            json!(["Ingress", "Egress"]),
        ]),
        proptest::collection::vec(rule(), 1..4),
        proptest::collection::vec(rule(), 0..3),
        0..8u8,
    )
        .prop_map(
            move |(
                global,
                ns,
                tier,
                order,
                sel,
                ns_sel,
                mut types,
                ingress,
                mut egress,
                flavour,
            )| {
                // Host endpoint flavours (global policies only): applyOnForward, preDNAT
                // (ingress only, as validation requires), doNotTrack.
                let flags = match (global, flavour) {
                    (true, 1 | 2) => json!({"applyOnForward": true}),
                    (true, 3) => {
                        egress.clear();
                        types = json!(null);
                        json!({"applyOnForward": true, "preDNAT": true})
                    }
                    (true, 4) => json!({"applyOnForward": true, "doNotTrack": true}),
                    _ => json!({}),
                };
                let mut spec =
                    json!({"tier": tier, "selector": sel, "ingress": ingress, "egress": egress});
                if let (Some(spec), Value::Object(flags)) = (spec.as_object_mut(), flags) {
                    spec.extend(flags);
                }
                if let Some(o) = order {
                    spec["order"] = json!(o);
                }
                if !types.is_null() {
                    spec["types"] = types;
                }
                // Names chosen so that equal orders are broken by name across kinds too.
                let name = format!("p{}", i % 3);
                if global {
                    spec["namespaceSelector"] = json!(ns_sel);
                    gnp(&format!("{name}-g{i}"), spec)
                } else {
                    np(ns, &format!("{name}-n{i}"), spec)
                }
            },
        )
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

/// The spec of a policy for the host endpoint (label `hep`) of one flavour: normal,
/// applyOnForward, preDNAT or doNotTrack.
fn host_endpoint_policy() -> impl Strategy<Value = Value> {
    (
        0..4u8,
        select(vec!["default", "default", "t1"]),
        select(vec![None, Some(5.0), Some(50.0)]),
        proptest::collection::vec(simple_rule(), 0..3),
        proptest::collection::vec(simple_rule(), 0..3),
    )
        .prop_map(|(flavour, tier, order, ingress, egress)| {
            let mut spec = json!({"tier": tier, "selector": "has(hep)",
                "types": ["Ingress", "Egress"], "ingress": ingress, "egress": egress});
            if let Some(o) = order {
                spec["order"] = json!(o);
            }
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
            spec
        })
}

const LABELS: &[&[(&str, &str)]] = &[
    &[],
    &[("role", "fe")],
    &[("role", "db")],
    &[("role", "fe"), ("env", "prod")],
    &[("role", "db"), ("env", "dev")],
    &[("env", "prod")],
];

const PROFILE_LISTS: &[&[&str]] = &[
    &["allow-all"],
    &["allow-all"],
    &["allow-all"],
    &["kns.ns1", "allow-all"],
    &["ghost", "allow-all"],
    &["rp", "allow-all"],
    &["rp", "allow-all"],
    &["rp", "allow-all"],
    &["rp"],
];

#[derive(Clone, Debug)]
struct Wep {
    ns: &'static str,
    node: &'static str,
    labels: &'static [(&'static str, &'static str)],
    profiles: &'static [&'static str],
    ports: u8,
}

fn weps() -> impl Strategy<Value = Vec<Wep>> {
    proptest::collection::vec(
        (
            select(vec!["ns1", "ns2"]),
            select(vec!["h1", "h1", "h2"]),
            select(LABELS),
            select(PROFILE_LISTS),
            0..3u8,
        )
            .prop_map(|(ns, node, labels, profiles, ports)| Wep {
                ns,
                node,
                labels,
                profiles,
                ports,
            }),
        2..6,
    )
}

#[derive(Clone, Debug)]
struct Case {
    snapshot: Snapshot,
    resources: Vec<Resource>,
    weps: Vec<Wep>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        weps(),
        proptest::collection::vec(rule(), 0..3),
        proptest::collection::vec(rule(), 0..3),
        (policy(0), policy(1), policy(2), policy(3), policy(4)),
        1..6usize,
        select(vec!["Deny", "Pass"]),
        0..3u8,
        (select(vec!["", "eth0", "eth0", "*"]), select(LABELS), select(PROFILE_LISTS)),
        proptest::collection::vec(host_endpoint_policy(), 0..4),
    )
        .prop_map(|(weps, rp_in, rp_out, pols, npol, t1_action, sets, hep, hep_pols)| {
            let mut rs = vec![
                allow_all("allow-all"),
                profile("rp", json!({"ingress": rp_in, "egress": rp_out})),
                profile("kns.ns2", json!({"labelsToApply": {"pcns.team": "a"}})),
                profile("kns.ns1", json!({"labelsToApply": {"pcns.team": "b"}, "ingress": [{"action": "Pass"}]})),
                tier("t1", 10.0, t1_action),
                tier("t2", 20.0, "Deny"),
            ];
            for (i, w) in weps.iter().enumerate() {
                let addr = format!("10.0.0.{}", i + 1);
                let mut r = wep(w.ns, &format!("w{i}"), w.node, &format!("cali{i}"), &addr, w.labels, w.profiles);
                let ports = match w.ports {
                    1 => json!([{"name": "http", "protocol": "TCP", "port": 80}]),
                    2 => json!([{"name": "http", "protocol": "TCP", "port": 8080},
                                {"name": "dns", "protocol": "UDP", "port": 53}]),
                    _ => json!([]),
                };
                r = wep_with(r, json!({"ports": ports}));
                rs.push(r);
            }
            if sets >= 1 {
                rs.push(res(json!({"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
                    "metadata": {"namespace": "ns2", "name": "ns-set", "labels": {"kind": "net", "role": "db"}},
                    "spec": {"nets": ["10.0.0.0/30", "192.168.0.0/24"]}})));
            }
            if sets >= 2 {
                rs.push(res(json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                    "metadata": {"name": "g-set", "labels": {"kind": "net"}},
                    "spec": {"nets": ["10.0.0.4/30", "8.8.8.0/24"]}})));
            }
            if let (iface @ ("eth0" | "*"), labels, profiles) = hep {
                let mut labels: serde_json::Map<String, Value> = labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), json!(v)))
                    .collect();
                labels.insert("hep".to_owned(), json!("yes"));
                rs.push(res(json!({
                    "apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
                    "metadata": {"name": "h1-hep", "labels": labels},
                    "spec": {"node": "h1", "interfaceName": iface, "expectedIPs": ["10.1.0.1"],
                             "profiles": profiles}
                })));
            }
            let pols = [pols.0, pols.1, pols.2, pols.3, pols.4];
            rs.extend(pols.into_iter().take(npol));
            for (i, spec) in hep_pols.into_iter().enumerate() {
                rs.push(gnp(&format!("hep{i}"), spec));
            }
            Case {
                snapshot: snapshot(rs.clone()),
                resources: rs,
                weps,
            }
        })
}

fn packet() -> impl Strategy<Value = (u8, u16, (u8, u8), u16)> {
    // (kind, port, icmp type, source port: failsafe ones are replies)
    (
        0..20u8,
        select(vec![80u16, 80, 8080, 53, 53, 22, 8500, 4789]),
        select(vec![(0u8, 0u8), (8, 0), (8, 1), (3, 1)]),
        select(vec![40000u16, 40000, 40000, 22, 53, 179]),
    )
}

fn make_packet(
    src: &str,
    dst: &str,
    (kind, port, (icmp, code), sport): (u8, u16, (u8, u8), u16),
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
    fn resolved_model_agrees_with_the_evaluator(
        c in case(),
        a in 0..6usize,
        b in 0..6usize,
        p in packet(),
        named_uplinks in any::<bool>(),
    ) {
        let a = a % c.weps.len();
        let b = b % c.weps.len();
        let addr = |i: usize| format!("10.0.0.{}", i + 1);
        let peer = |i: usize| Peer::workload(c.weps[i].ns, &format!("w{i}"));
        let h1 = |iface: &str| Peer::host("h1", Some(iface));
        let flows = [
            (addr(a), addr(b), peer(a), peer(b)),
            ("192.168.0.9".to_owned(), addr(b), Peer::External, peer(b)),
            ("8.8.8.8".to_owned(), addr(b), Peer::External, peer(b)),
            (addr(a), "8.8.8.8".to_owned(), peer(a), Peer::External),
            (addr(a), "10.1.0.1".to_owned(), peer(a), Peer::host(c.weps[a].node, None)),
            ("192.168.0.9".to_owned(), "10.1.0.1".to_owned(), Peer::External, h1("eth0")),
            ("10.1.0.1".to_owned(), "8.8.8.8".to_owned(), h1("eth0"), Peer::External),
            ("10.1.0.1".to_owned(), addr(b), h1("eth0"), peer(b)),
        ];
        // Each node reaches the outside through eth0, or (no uplink named) through an
        // interface without a host endpoint of its own.
        let uplinks: &[(&str, &str)] = if named_uplinks {
            &[("h1", "eth0"), ("h2", "eth0")]
        } else {
            &[]
        };
        let mut evaluator = Evaluator::new(&c.snapshot);
        for (node, iface) in uplinks {
            evaluator = evaluator.with_uplink(node, iface);
        }
        for (src, dst, from, to) in flows {
            let pkt = make_packet(&src, &dst, p);
            let v = evaluator.allowed(&pkt, &from, &to);
            let m = model_answer_via(&c.snapshot, uplinks, &pkt, &pkt, &from, &to);
            prop_assert_eq!(
                v.allowed, m,
                "{} from {:?} to {:?}\ntrace: {:#?}\nresources: {:#?}\nmodel: {:#?}",
                pkt, from, to, v.trace,
                c.resources.iter().map(Resource::to_value).collect::<Vec<_>>(),
                resolve(&c.snapshot, "h1")
            );
        }
    }

    #[test]
    fn resolution_is_independent_of_input_order(c in case()) {
        let mut reversed = c.resources.clone();
        reversed.reverse();
        let r = snapshot(reversed);
        for host in ["h1", "h2"] {
            prop_assert_eq!(resolve(&c.snapshot, host), resolve(&r, host));
        }
    }
}
