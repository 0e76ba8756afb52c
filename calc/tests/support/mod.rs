//! The oracle's small universe: a few nodes, endpoints with random labels, addresses,
//! profiles and named ports, policies and global policies with random selectors in a few
//! tiers, network sets, profiles, pools and FelixConfiguration, nodes, BGP peers and BGP
//! configurations — each a slot (a key) with a few random values — and what a final
//! snapshot implies for routes, interfaces and originated prefixes, written from the
//! resources directly, and for the BGP speaker's configuration, from `model::bgp`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use bgp::codec::Prefix;
use bgp::rib::Policy;
use calc::{BgpIdentity, BgpIntent, Intents, InterfaceIntent, PeerIntent, PeerKey, RouteIntent};
use dataplane::links::{InterfaceConfig, Mac};
use dataplane::routes::Route;
use ipnet::IpNet;
use model::policy::{HostPolicy, IpSetKind, ResolvedEntity};
use model::resources::Resource;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

pub const HOST: &str = "h1";

/// Decodes a generated document (valid by construction).
pub fn res(v: Value) -> Resource {
    match Resource::from_value(v.clone()) {
        Ok(r) => r,
        Err(e) => panic!("generated {v} does not decode: {e}"),
    }
}

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
    "hep == 'yes'",
];

const POLICY_SELECTORS: &[&str] = &[
    "",
    "all()",
    "has(role)",
    "role == 'fe'",
    "role == 'db'",
    "env != 'prod'",
    "role in {'fe', 'db'}",
    "hep == 'yes'",
    "pcns.team == 'a'",
    "has(pcsa.app)",
    "bad ==",
];

const NS_SELECTORS: &[&str] = &[
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
    &["10.0.0.0/30"],
    &["10.0.0.4/31", "192.168.0.0/24"],
    &["fd00::/8"],
    &["10.0.0.2", "fd00::/8"],
    &["not-a-net"],
];

const LABELS: &[&[(&str, &str)]] = &[
    &[],
    &[("role", "fe")],
    &[("role", "db")],
    &[("role", "fe"), ("env", "prod")],
    &[("role", "db"), ("env", "dev")],
    &[("env", "prod")],
    &[("pcns.team", "z"), ("role", "fe")],
];

const PROFILE_LISTS: &[&[&str]] = &[
    &[],
    &["allow-all"],
    &["allow-all"],
    &["kns.ns1", "allow-all"],
    &["ghost", "allow-all"],
    &["rp", "allow-all"],
    &["lab", "rp"],
    &["ksa.ns1.app"],
];

fn labels(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect(),
    )
}

fn entity_rule() -> impl Strategy<Value = Value> {
    (
        select(SELECTORS),
        select(SELECTORS),
        select(NS_SELECTORS),
        select(NETS),
        0..12usize,
    )
        .prop_map(|(sel, not_sel, ns_sel, nets, which)| {
            let mut m = serde_json::Map::new();
            if matches!(which, 1 | 2 | 8 | 9) && !sel.is_empty() {
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
            if which == 9 {
                m.insert("serviceAccounts".into(), json!({"names": ["app", "web"]}));
            }
            Value::Object(m)
        })
}

fn rule() -> impl Strategy<Value = Value> {
    (
        select(vec!["Allow", "Allow", "Deny", "Pass", "Log"]),
        select(vec!["", "", "TCP", "TCP", "UDP", "ICMP"]),
        entity_rule(),
        entity_rule(),
        select(vec![
            json!(null),
            json!([80]),
            json!(["http"]),
            json!(["http", 53]),
            json!(["dns"]),
        ]),
        0..8u8,
    )
        .prop_map(|(action, protocol, src, mut dst, ports, extra)| {
            let mut r = serde_json::Map::new();
            r.insert("action".into(), json!(action));
            if !protocol.is_empty() {
                r.insert("protocol".into(), json!(protocol));
            }
            if matches!(protocol, "TCP" | "UDP") && !ports.is_null() {
                dst["ports"] = ports;
            }
            if protocol == "ICMP" && extra < 3 {
                r.insert("icmp".into(), json!({"type": 8}));
            }
            if extra == 7 {
                // Unusable: ports without a protocol that has ports.
                r.remove("protocol");
                dst["ports"] = json!([80]);
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

/// A policy of slot `i`: global for even slots, namespaced (ns1 or ns2) for odd ones.
fn policy(i: usize) -> impl Strategy<Value = Resource> {
    (
        select(vec![
            "default", "default", "default", "t1", "t1", "t2", "missing",
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
        proptest::collection::vec(rule(), 0..3),
        proptest::collection::vec(rule(), 0..3),
        0..7u8,
    )
        .prop_map(
            move |(tier, order, sel, ns_sel, types, ingress, mut egress, flavour)| {
                let global = i.is_multiple_of(2);
                let mut spec =
                    json!({"tier": tier, "selector": sel, "ingress": ingress, "egress": egress});
                if global {
                    match flavour {
                        1 => spec["applyOnForward"] = json!(true),
                        2 => {
                            egress.clear();
                            spec["egress"] = json!([]);
                            spec["applyOnForward"] = json!(true);
                            spec["preDNAT"] = json!(true);
                            spec["types"] = json!(["Ingress"]);
                        }
                        3 => {
                            spec["applyOnForward"] = json!(true);
                            spec["doNotTrack"] = json!(true);
                        }
                        _ => {}
                    }
                    spec["namespaceSelector"] = json!(ns_sel);
                }
                if let Some(o) = order {
                    spec["order"] = json!(o);
                }
                if !types.is_null() && spec.get("types").is_none() {
                    spec["types"] = types;
                }
                // Policies of equal order are broken by name across kinds too.
                let name = format!("p{}-{i}", i % 3);
                if global {
                    res(
                        json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                        "metadata": {"name": name}, "spec": spec}),
                    )
                } else {
                    let ns = if i % 4 == 1 { "ns1" } else { "ns2" };
                    res(
                        json!({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
                        "metadata": {"namespace": ns, "name": name}, "spec": spec}),
                    )
                }
            },
        )
}

fn workload(i: usize) -> impl Strategy<Value = Resource> {
    (
        select(vec![HOST, HOST, HOST, "h2"]),
        select(vec!["cali0", "cali1", "cali2", "cali3", "cali0", ""]),
        select(LABELS),
        select(PROFILE_LISTS),
        0..8u8,
        0..3u8,
        0..6u8,
    )
        .prop_map(move |(node, iface, label_pairs, profiles, addrs, ports, misc)| {
            let ns = if i.is_multiple_of(2) { "ns1" } else { "ns2" };
            let n = i + 1;
            let ips: Vec<String> = match addrs {
                0 | 1 => vec![format!("10.0.0.{n}/32")],
                2 => vec![format!("10.0.0.{n}/32"), format!("fd00::{n}/128")],
                3 => vec!["10.0.0.100/32".to_owned()],
                4 => vec![format!("fd00::{n}/128")],
                5 => vec![],
                6 => vec!["nonsense".to_owned()],
                _ => vec![format!("10.0.1.{n}/24")],
            };
            let ports = match ports {
                1 => json!([{"name": "http", "protocol": "TCP", "port": 80}]),
                2 => json!([{"name": "http", "protocol": "TCP", "port": 8080},
                            {"name": "dns", "protocol": "UDP", "port": 53}]),
                _ => json!([]),
            };
            let mac = match misc {
                0 | 1 => format!("ee:00:00:00:00:{n:02x}"),
                2 => "zz".to_owned(),
                _ => String::new(),
            };
            let mut spec = json!({
                "node": node, "orchestrator": "k8s", "pod": format!("w{i}"), "endpoint": "eth0",
                "interfaceName": iface, "ipNetworks": ips, "profiles": profiles, "ports": ports,
                "mac": mac,
            });
            if misc == 3 {
                spec["allowSpoofedSourcePrefixes"] = json!(["10.9.0.0/16"]);
            }
            if misc == 4 {
                spec["serviceAccountName"] = json!("app");
            }
            res(json!({"apiVersion": "projectcalico.org/v3", "kind": "WorkloadEndpoint",
                "metadata": {"namespace": ns, "name": format!("w{i}"), "labels": labels(label_pairs)},
                "spec": spec}))
        })
}

fn host_endpoint(i: usize) -> impl Strategy<Value = Resource> {
    (
        select(vec![HOST, HOST, "h2"]),
        select(vec!["eth0", "eth0", "*", "eth1", ""]),
        select(LABELS),
        select(PROFILE_LISTS),
        select(vec![
            json!(["10.1.0.1"]),
            json!(["10.1.0.2", "fd01::2"]),
            json!(["bad-ip"]),
            json!([]),
        ]),
        any::<bool>(),
    )
        .prop_map(move |(node, iface, label_pairs, profiles, ips, ports)| {
            let mut l = labels(label_pairs);
            l["hep"] = json!("yes");
            let ports = if ports {
                json!([{"name": "http", "protocol": "TCP", "port": 8081}])
            } else {
                json!([])
            };
            res(
                json!({"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
                "metadata": {"name": format!("hep{i}"), "labels": l},
                "spec": {"node": node, "interfaceName": iface, "expectedIPs": ips,
                         "profiles": profiles, "ports": ports}}),
            )
        })
}

fn network_set(i: usize) -> impl Strategy<Value = Resource> {
    (select(LABELS), select(NETS), any::<bool>()).prop_map(move |(label_pairs, nets, net)| {
        let mut l = labels(label_pairs);
        if net {
            l["kind"] = json!("net");
        }
        if i == 2 {
            res(
                json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                "metadata": {"name": "gset", "labels": l}, "spec": {"nets": nets}}),
            )
        } else {
            let ns = if i == 0 { "ns1" } else { "ns2" };
            res(
                json!({"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
                "metadata": {"namespace": ns, "name": format!("nset{i}"), "labels": l},
                "spec": {"nets": nets}}),
            )
        }
    })
}

fn profile(i: usize) -> impl Strategy<Value = Resource> {
    (
        proptest::collection::vec(rule(), 0..3),
        proptest::collection::vec(rule(), 0..2),
        select(vec![
            json!({}),
            json!({"pcns.team": "a"}),
            json!({"pcns.team": "b", "pcns.env": "x"}),
            json!({"role": "db"}),
            json!({"env": "dev", "pcsa.app": "1"}),
        ]),
    )
        .prop_map(move |(ingress, egress, lta)| {
            let (name, spec) = match i {
                0 => (
                    "allow-all",
                    json!({"ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}),
                ),
                1 => ("rp", json!({"ingress": ingress, "egress": egress})),
                2 => ("kns.ns1", json!({"labelsToApply": lta})),
                3 => ("kns.ns2", json!({"labelsToApply": lta, "ingress": ingress})),
                4 => ("lab", json!({"labelsToApply": lta})),
                _ => ("ksa.ns1.app", json!({"labelsToApply": lta})),
            };
            res(
                json!({"apiVersion": "projectcalico.org/v3", "kind": "Profile",
                "metadata": {"name": name}, "spec": spec}),
            )
        })
}

fn tier(i: usize) -> impl Strategy<Value = Resource> {
    (
        select(vec![None, Some(5.0), Some(50.0), Some(2_000_000.0)]),
        select(vec!["Deny", "Pass"]),
    )
        .prop_map(move |(order, action)| {
            let mut spec = json!({"defaultAction": action});
            if let Some(o) = order {
                spec["order"] = json!(o);
            }
            let name = if i == 0 { "t1" } else { "t2" };
            res(json!({"apiVersion": "projectcalico.org/v3", "kind": "Tier",
                "metadata": {"name": name}, "spec": spec}))
        })
}

fn pool(i: usize) -> impl Strategy<Value = Resource> {
    (
        select(vec!["10.0.0.0/16", "10.65.0.0/16", "fd00::/64", "nonsense"]),
        any::<bool>(),
        proptest::bool::weighted(0.25),
    )
        .prop_map(move |(cidr, nat, no_export)| {
            let mut spec = json!({"cidr": cidr, "natOutgoing": nat});
            if no_export {
                spec["disableBGPExport"] = json!(true);
            }
            res(
                json!({"apiVersion": "projectcalico.org/v3", "kind": "IPPool",
                "metadata": {"name": format!("pool{i}")}, "spec": spec}),
            )
        })
}

/// Nodes `h1` (this host), `h2`, `h3`: addresses of either family or none (two may share
/// one), their own AS or the cluster's, route reflectors.
fn node(i: usize) -> impl Strategy<Value = Resource> {
    let n = i + 1;
    (
        select(vec![
            Some(format!("10.1.0.{n}/24")),
            Some(format!("10.1.0.{n}/24")),
            Some("10.1.0.9/24".to_owned()),
            None,
        ]),
        select(vec![None, None, Some(format!("fd10::{n}/64"))]),
        select(vec![None, None, Some(65001), Some(65002)]),
        proptest::bool::weighted(0.3),
        select(vec!["a", "b"]),
    )
        .prop_map(move |(v4, v6, asn, rr, rack)| {
            let mut bgp = serde_json::Map::new();
            if let Some(a) = v4 {
                bgp.insert("ipv4Address".into(), json!(a));
            }
            if let Some(a) = v6 {
                bgp.insert("ipv6Address".into(), json!(a));
            }
            if let Some(a) = asn {
                bgp.insert("asNumber".into(), json!(a));
            }
            if rr {
                bgp.insert("routeReflectorClusterID".into(), json!("10.0.0.1"));
            }
            let mut labels = json!({"rack": rack});
            if rr {
                labels["rr"] = json!("yes");
            }
            let spec = if bgp.is_empty() {
                json!({})
            } else {
                json!({"bgp": bgp})
            };
            res(json!({"apiVersion": "projectcalico.org/v3", "kind": "Node",
                "metadata": {"name": format!("h{n}"), "labels": labels}, "spec": spec}))
        })
}

/// BGPPeers: global or for some nodes, to an address (a node's, or outside) or to selected
/// nodes, with the session options.
fn bgp_peer(i: usize) -> impl Strategy<Value = Resource> {
    (
        select(vec![
            json!({}),
            json!({"node": HOST}),
            json!({"nodeSelector": "rack == 'a'"}),
            json!({"nodeSelector": "has(rr)"}),
        ]),
        select(vec![
            json!({"peerIP": "192.0.2.1", "asNumber": 65000}),
            json!({"peerIP": "192.0.2.1:1790", "asNumber": 65000}),
            json!({"peerIP": "10.1.0.2", "asNumber": 64512}),
            json!({"peerIP": "[fd10::2]:179", "asNumber": 65002}),
            json!({"peerSelector": "rack == 'b'"}),
            json!({"peerSelector": "!has(rr)"}),
        ]),
        proptest::collection::vec(0..10u8, 0..4),
    )
        .prop_map(move |(applies, to, options)| {
            let mut spec = serde_json::Map::new();
            for v in [applies, to] {
                if let Value::Object(m) = v {
                    spec.extend(m);
                }
            }
            let by_ip = spec.contains_key("peerIP");
            for o in options {
                let (k, v) = match o {
                    0 => (
                        "password",
                        json!({"secretKeyRef": {"name": "bgp", "key": "pw"}}),
                    ),
                    1 => ("keepaliveTime", json!("10s")),
                    2 => ("maxRestartTime", json!("300s")),
                    3 => ("ttlSecurity", json!(1)),
                    4 => ("nextHopMode", json!("Self")),
                    5 => ("nextHopMode", json!("Keep")),
                    6 if by_ip => ("localASNumber", json!(65100)),
                    7 => ("sourceAddress", json!("None")),
                    8 => ("reversePeering", json!("Manual")),
                    _ if by_ip => ("keepOriginalNextHop", json!(true)),
                    _ => continue,
                };
                spec.insert(k.into(), v);
            }
            res(
                json!({"apiVersion": "projectcalico.org/v3", "kind": "BGPPeer",
                "metadata": {"name": format!("peer{i}")}, "spec": Value::Object(spec)}),
            )
        })
}

/// BGPConfigurations `default` (mesh, AS, port, bind mode, mesh password and restart time)
/// and `node.h1` (its own port).
fn bgp_configuration(i: usize) -> impl Strategy<Value = Resource> {
    (
        proptest::option::of(any::<bool>()),
        select(vec![None, Some(64512), Some(65010)]),
        select(vec![None, Some(179), Some(1790)]),
        any::<bool>(),
        proptest::collection::vec(0..3u8, 0..2),
    )
        .prop_map(move |(mesh, asn, port, bind, options)| {
            let mut spec = serde_json::Map::new();
            if let Some(p) = port {
                spec.insert("listenPort".into(), json!(p));
            }
            if i == 0 {
                if let Some(m) = mesh {
                    spec.insert("nodeToNodeMeshEnabled".into(), json!(m));
                }
                if let Some(a) = asn {
                    spec.insert("asNumber".into(), json!(a));
                }
                if bind {
                    spec.insert("bindMode".into(), json!("NodeIP"));
                }
                for o in options {
                    match o {
                        0 => spec.insert(
                            "nodeMeshPassword".into(),
                            json!({"secretKeyRef": {"name": "mesh", "key": "pw"}}),
                        ),
                        _ => spec.insert("nodeMeshMaxRestartTime".into(), json!("90s")),
                    };
                }
            }
            let name = if i == 0 { "default" } else { "node.h1" };
            res(
                json!({"apiVersion": "projectcalico.org/v3", "kind": "BGPConfiguration",
                "metadata": {"name": name}, "spec": Value::Object(spec)}),
            )
        })
}

fn felix(i: usize) -> impl Strategy<Value = Resource> {
    (
        select(vec!["", "Drop", "Accept", "Return"]),
        select(vec![
            json!(null),
            json!([]),
            json!([{"protocol": "TCP", "port": 22}]),
        ]),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(move |(action, failsafe, ipip)| {
            let mut spec = serde_json::Map::new();
            if !action.is_empty() {
                spec.insert("defaultEndpointToHostAction".into(), json!(action));
            }
            if !failsafe.is_null() {
                spec.insert("failsafeInboundHostPorts".into(), failsafe);
            }
            if let Some(b) = ipip {
                spec.insert("allowIPIPPacketsFromWorkloads".into(), json!(b));
            }
            let name = ["default", "node.h1", "node.h2"][i % 3];
            res(
                json!({"apiVersion": "projectcalico.org/v3", "kind": "FelixConfiguration",
                "metadata": {"name": name}, "spec": Value::Object(spec)}),
            )
        })
}

/// The number of slots of [`universe`].
pub const SLOTS: usize = 38;

/// Every slot of the universe, each with its few possible values (all at one key).
pub fn universe() -> impl Strategy<Value = Vec<Vec<Resource>>> {
    let vals = |s: BoxedStrategy<Resource>| proptest::collection::vec(s, 1..3);
    let mut slots: Vec<BoxedStrategy<Vec<Resource>>> = Vec::new();
    for i in 0..6 {
        slots.push(vals(workload(i).boxed()).boxed());
    }
    for i in 0..2 {
        slots.push(vals(host_endpoint(i).boxed()).boxed());
    }
    for i in 0..3 {
        slots.push(vals(network_set(i).boxed()).boxed());
    }
    for i in 0..6 {
        slots.push(vals(profile(i).boxed()).boxed());
    }
    for i in 0..6 {
        slots.push(vals(policy(i).boxed()).boxed());
    }
    for i in 0..2 {
        slots.push(vals(tier(i).boxed()).boxed());
    }
    for i in 0..2 {
        slots.push(vals(pool(i).boxed()).boxed());
    }
    for i in 0..3 {
        slots.push(vals(felix(i).boxed()).boxed());
    }
    for i in 0..3 {
        slots.push(vals(node(i).boxed()).boxed());
    }
    for i in 0..3 {
        slots.push(vals(bgp_peer(i).boxed()).boxed());
    }
    for i in 0..2 {
        slots.push(vals(bgp_configuration(i).boxed()).boxed());
    }
    slots
}

/// One step of a sequence: slot, and the value index (`None`: delete).
pub type Op = (usize, Option<usize>);

pub fn ops(slots: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        (0..slots, proptest::option::weighted(0.85, 0..3usize)),
        1..80,
    )
}

/// The value an op puts (`None`: a delete). Indices wrap over the slot's values.
pub fn value(u: &[Vec<Resource>], (slot, v): Op) -> Option<&Resource> {
    let vals = &u[slot];
    v.map(|i| &vals[i % vals.len()])
}

/// The key of a slot (all its values share it).
pub fn key(u: &[Vec<Resource>], slot: usize) -> String {
    u[slot][0].key()
}

/// The final value of every key after `ops`.
pub fn final_state(u: &[Vec<Resource>], ops: &[Op]) -> BTreeMap<String, Resource> {
    let mut out = BTreeMap::new();
    for op in ops {
        let k = key(u, op.0);
        match value(u, *op) {
            Some(r) => out.insert(k, r.clone()),
            None => out.remove(&k),
        };
    }
    out
}

/// What the consumers hold after applying every batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Held {
    pub policy: HostPolicy,
    pub routes: BTreeMap<IpNet, Route>,
    pub interfaces: BTreeMap<String, InterfaceConfig>,
    pub prefixes: BTreeSet<Prefix>,
    pub bgp: HeldBgp,
}

/// What the BGP speaker holds of its configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeldBgp {
    pub identity: Option<BgpIdentity>,
    pub policy: Option<Policy>,
    pub peers: BTreeMap<PeerKey, PeerIntent>,
}

impl HeldBgp {
    /// What a snapshot implies: `model::bgp::peerings` and `export_policy` of it, in the
    /// speaker's terms.
    pub fn expected(state: &BTreeMap<String, Resource>) -> HeldBgp {
        let inputs = model::bgp::BgpInputs::from_resources(state.values());
        let peerings = model::bgp::peerings(HOST, &inputs, Default::default()).ok();
        HeldBgp {
            identity: peerings.as_ref().map(calc::bgp_identity),
            policy: Some(calc::speaker_policy(&model::bgp::export_policy(&inputs))),
            peers: peerings
                .as_ref()
                .map(calc::peer_intents)
                .unwrap_or_default(),
        }
    }
}

impl Held {
    pub fn new() -> Held {
        Held {
            policy: HostPolicy::new(HOST),
            routes: BTreeMap::new(),
            interfaces: BTreeMap::new(),
            prefixes: BTreeSet::new(),
            bgp: HeldBgp::default(),
        }
    }

    /// Applies one batch; every policy delta must leave the model without dangling
    /// references (the deltas come in dependency order).
    pub fn apply(&mut self, i: &Intents) -> Result<(), String> {
        for d in &i.policy {
            self.policy.apply(d);
            dangling(&self.policy).map_err(|e| format!("after {d:?}: {e}"))?;
        }
        for r in &i.routes {
            match r {
                RouteIntent::Upsert(route) => {
                    self.routes.insert(route.dst, route.clone());
                }
                RouteIntent::Remove(dst) => {
                    self.routes.remove(dst);
                }
            }
        }
        for r in &i.interfaces {
            match r {
                InterfaceIntent::Upsert(c) => {
                    self.interfaces.insert(c.name.clone(), c.clone());
                }
                InterfaceIntent::Remove(n) => {
                    self.interfaces.remove(n);
                }
            }
        }
        for b in &i.bgp {
            match b {
                BgpIntent::Originate(p) => {
                    if !self.prefixes.insert(*p) {
                        return Err(format!("{p} originated twice"));
                    }
                }
                BgpIntent::Withdraw(p) => {
                    if !self.prefixes.remove(p) {
                        return Err(format!("{p} withdrawn but not originated"));
                    }
                }
                BgpIntent::Identity(id) => {
                    if *id == self.bgp.identity {
                        return Err(format!("identity {id:?} sent again"));
                    }
                    self.bgp.identity.clone_from(id);
                }
                BgpIntent::Policy(p) => {
                    if self.bgp.policy.as_ref() == Some(p) {
                        return Err(format!("policy {p:?} sent again"));
                    }
                    self.bgp.policy = Some(p.clone());
                }
                BgpIntent::PeerUpserted(p) => {
                    if self.bgp.peers.get(&p.key) == Some(p) {
                        return Err(format!("peer {} sent again unchanged", p.name));
                    }
                    self.bgp.peers.insert(p.key, (**p).clone());
                }
                BgpIntent::PeerRemoved(k) => {
                    if self.bgp.peers.remove(k).is_none() {
                        return Err(format!("peer {k:?} removed but not held"));
                    }
                }
                _ => return Err(format!("unexpected {b:?}")),
            }
        }
        Ok(())
    }
}

/// A reference from an endpoint to a policy or profile, or from rules to a set, that the
/// model does not hold. Policies whose rules do not compile are referred to without rules
/// (as `resolve` does); the universe has none.
fn dangling(hp: &HostPolicy) -> Result<(), String> {
    let tiers = hp.workload_endpoints.values().flat_map(|w| {
        [&w.ingress, &w.egress]
            .into_iter()
            .flat_map(|d| d.tiers.iter())
    });
    let host_tiers = hp.host_endpoints.values().flat_map(|h| {
        [
            &h.ingress.tiers,
            &h.egress.tiers,
            &h.forward_ingress,
            &h.forward_egress,
            &h.pre_dnat_ingress,
            &h.untracked_ingress,
            &h.untracked_egress,
        ]
        .into_iter()
        .flatten()
    });
    for t in tiers.chain(host_tiers) {
        for p in &t.policies {
            if !hp.policies.contains_key(p) {
                return Err(format!("endpoint refers to absent policy {p}"));
            }
        }
    }
    let profiles = hp
        .workload_endpoints
        .values()
        .flat_map(|w| w.ingress.profiles.iter().chain(&w.egress.profiles))
        .chain(
            hp.host_endpoints
                .values()
                .flat_map(|h| h.ingress.profiles.iter().chain(&h.egress.profiles)),
        );
    for p in profiles {
        if !hp.profiles.contains_key(p) {
            return Err(format!("endpoint refers to absent profile {p}"));
        }
    }
    let rules = hp
        .policies
        .values()
        .flat_map(|p| p.ingress.iter().chain(&p.egress))
        .chain(
            hp.profiles
                .values()
                .flat_map(|p| p.ingress.iter().chain(&p.egress)),
        );
    for r in rules {
        for side in [&r.source, &r.destination] {
            for id in set_refs(side) {
                if !hp.ip_sets.contains_key(id) {
                    return Err(format!("rule refers to absent set {id}"));
                }
            }
        }
    }
    Ok(())
}

fn set_refs(e: &ResolvedEntity) -> impl Iterator<Item = &String> {
    e.ip_set
        .iter()
        .chain(&e.not_ip_set)
        .chain(&e.named_port_sets)
        .chain(&e.not_named_port_sets)
}

/// The local workloads of the final state that get their interface: on this host, every
/// address parses and there is one, an interface name, the first by namespace and name.
fn local_workloads(
    state: &BTreeMap<String, Resource>,
) -> BTreeMap<String, (Vec<IpNet>, &Resource)> {
    let mut weps: Vec<(&str, &str, &Resource)> = state
        .values()
        .filter_map(|r| match r {
            Resource::WorkloadEndpoint(w) if w.spec.node == HOST => Some((
                w.metadata.namespace.as_deref().unwrap_or_default(),
                w.metadata.name.as_str(),
                r,
            )),
            _ => None,
        })
        .collect();
    weps.sort_by_key(|(ns, name, _)| (*ns, *name));
    let mut out = BTreeMap::new();
    for (_, _, r) in weps {
        let Resource::WorkloadEndpoint(w) = r else {
            continue;
        };
        let nets: Option<Vec<IpNet>> = w
            .spec
            .ip_networks
            .iter()
            .map(|n| {
                let net: IpNet = n.parse().ok()?;
                Some(IpNet::from(net.network()))
            })
            .collect();
        let Some(nets) = nets.filter(|n| !n.is_empty()) else {
            continue;
        };
        if w.spec.interface_name.is_empty() {
            continue;
        }
        out.entry(w.spec.interface_name.clone())
            .or_insert((nets, r));
    }
    out
}

/// What the final state implies for the routes, interfaces and prefixes of this host.
pub fn expected_local(state: &BTreeMap<String, Resource>, rp_filter: u8) -> Held {
    let mut held = Held::new();
    let locals = local_workloads(state);
    // By owner ID: the first workload (namespace, name) with an address gets its route.
    let mut owners: BTreeMap<IpNet, (String, String, String)> = BTreeMap::new();
    for (iface, (nets, r)) in &locals {
        let Resource::WorkloadEndpoint(w) = r else {
            continue;
        };
        let id = (
            w.metadata.namespace.clone().unwrap_or_default(),
            w.metadata.name.clone(),
        );
        for n in nets {
            let cand = (id.0.clone(), id.1.clone(), iface.clone());
            let e = owners.entry(*n).or_insert(cand.clone());
            if (&cand.0, &cand.1) < (&e.0, &e.1) {
                *e = cand;
            }
        }
        let addrs: BTreeSet<IpAddr> = nets.iter().map(IpNet::addr).collect();
        let mut config = InterfaceConfig::new(iface.clone())
            .with_addresses(addrs)
            .with_rp_filter(if w.spec.allow_spoofed_source_prefixes.is_empty() {
                rp_filter
            } else {
                0
            });
        config.mac = w.spec.mac.parse::<Mac>().ok();
        held.interfaces.insert(iface.clone(), config);
    }
    for (dst, (_, _, iface)) in owners {
        held.routes.insert(dst, Route::workload(dst.addr(), iface));
        let p: Prefix = dst.to_string().parse().expect("a prefix");
        held.prefixes.insert(p);
    }
    held
}

/// Sanity: the universe does give sets with members, so the comparison is not vacuous.
pub fn has_members(hp: &HostPolicy) -> bool {
    hp.ip_sets.values().any(|s| match &s.kind {
        IpSetKind::Nets(n) => !n.is_empty(),
        IpSetKind::NamedPort { members, .. } => !members.is_empty(),
    })
}
