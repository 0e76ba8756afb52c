//! Shared helpers for the policy tests: resource builders and a small interpreter of the
//! resolved model (written independently of `model::policy`'s evaluator), used by
//! `policy_scenarios.rs` and `policy_crosscheck.rs` through `#[path]`.
#![allow(dead_code)]

use std::net::IpAddr;

use model::policy::{
    DirectionPolicy, FailsafePort, HostEndpointPolicy, HostPolicy, IpSetKind, IpVersion,
    NamedPortMember, Packet, Peer, ResolvedEntity, ResolvedRule, Snapshot, TierPolicies,
};
use model::resources::{Action, EndpointToHostAction, Resource, TierDefaultAction};
use serde_json::{Value, json};

/// Decodes a resource document (fixtures are valid by construction).
pub fn res(v: Value) -> Resource {
    match Resource::from_value(v.clone()) {
        Ok(r) => r,
        Err(e) => panic!("fixture {v} does not decode: {e}"),
    }
}

pub fn ip(s: &str) -> IpAddr {
    match s.parse() {
        Ok(a) => a,
        Err(e) => panic!("fixture address {s:?}: {e}"),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in pairs {
        m.insert((*k).to_owned(), Value::String((*v).to_owned()));
    }
    Value::Object(m)
}

/// A workload endpoint.
pub fn wep(
    ns: &str,
    name: &str,
    node: &str,
    iface: &str,
    addr: &str,
    label_pairs: &[(&str, &str)],
    profiles: &[&str],
) -> Resource {
    res(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "WorkloadEndpoint",
        "metadata": {"namespace": ns, "name": name, "labels": labels(label_pairs)},
        "spec": {
            "node": node,
            "orchestrator": "k8s",
            "pod": name,
            "endpoint": "eth0",
            "interfaceName": iface,
            "ipNetworks": [format!("{addr}/{}", if addr.contains(':') { 128 } else { 32 })],
            "profiles": profiles,
        }
    }))
}

/// A workload endpoint with extra spec fields merged in.
pub fn wep_with(base: Resource, extra: Value) -> Resource {
    let mut v = base.to_value();
    if let (Some(spec), Value::Object(extra)) =
        (v.get_mut("spec").and_then(Value::as_object_mut), extra)
    {
        for (k, x) in extra {
            spec.insert(k, x);
        }
    }
    res(v)
}

pub fn gnp(name: &str, spec: Value) -> Resource {
    res(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }))
}

pub fn np(ns: &str, name: &str, spec: Value) -> Resource {
    res(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "NetworkPolicy",
        "metadata": {"namespace": ns, "name": name},
        "spec": spec,
    }))
}

pub fn profile(name: &str, spec: Value) -> Resource {
    res(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "Profile",
        "metadata": {"name": name},
        "spec": spec,
    }))
}

/// A profile that allows everything both ways.
pub fn allow_all(name: &str) -> Resource {
    profile(
        name,
        json!({"ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}),
    )
}

pub fn tier(name: &str, order: f64, default_action: &str) -> Resource {
    res(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "Tier",
        "metadata": {"name": name},
        "spec": {"order": order, "defaultAction": default_action},
    }))
}

pub fn snapshot(resources: Vec<Resource>) -> Snapshot {
    Snapshot::from_resources(resources)
}

// ---------------------------------------------------------------------------------------
// The scenarios' cluster: fe, db, other in ns1 on h1, fe2 in ns2 on h2, all with an
// allow-all profile.
// ---------------------------------------------------------------------------------------

pub fn base() -> Vec<Resource> {
    vec![
        allow_all("allow-all"),
        wep(
            "ns1",
            "fe",
            "h1",
            "calife",
            "10.0.0.1",
            &[("role", "fe")],
            &["allow-all"],
        ),
        wep(
            "ns1",
            "db",
            "h1",
            "calidb",
            "10.0.0.2",
            &[("role", "db")],
            &["allow-all"],
        ),
        wep(
            "ns1",
            "other",
            "h1",
            "caliother",
            "10.0.0.3",
            &[("role", "other")],
            &["allow-all"],
        ),
        wep(
            "ns2",
            "fe2",
            "h2",
            "calife2",
            "10.0.1.1",
            &[("role", "fe")],
            &["allow-all"],
        ),
    ]
}

pub fn with(mut rs: Vec<Resource>, more: Vec<Resource>) -> Vec<Resource> {
    rs.extend(more);
    rs
}

pub fn tcp(src: &str, dst: &str, dport: u16) -> Packet {
    Packet::tcp(ip(src), 40000, ip(dst), dport)
}

pub fn fe() -> Peer {
    Peer::workload("ns1", "fe")
}
pub fn db() -> Peer {
    Peer::workload("ns1", "db")
}
pub fn other() -> Peer {
    Peer::workload("ns1", "other")
}
pub fn fe2() -> Peer {
    Peer::workload("ns2", "fe2")
}

// ---------------------------------------------------------------------------------------
// An interpreter of the resolved model.
// ---------------------------------------------------------------------------------------

fn in_nets_set(hp: &HostPolicy, id: &str, addr: IpAddr) -> bool {
    match hp.ip_sets.get(id).map(|s| &s.kind) {
        Some(IpSetKind::Nets(nets)) => nets.iter().any(|n| n.contains(&addr)),
        _ => panic!("rule refers to {id}, which is not a nets set of the model"),
    }
}

fn in_port_set(hp: &HostPolicy, id: &str, member: NamedPortMember) -> bool {
    match hp.ip_sets.get(id).map(|s| &s.kind) {
        Some(IpSetKind::NamedPort { members, .. }) => members.contains(&member),
        _ => panic!("rule refers to {id}, which is not a named-port set of the model"),
    }
}

/// `nets` / `notNets` with Felix's per-version rendering.
fn nets_ok(list: &[ipnet::IpNet], addr: IpAddr, negated: bool) -> bool {
    if list.is_empty() {
        return true;
    }
    let v6 = addr.is_ipv6();
    let same: Vec<_> = list
        .iter()
        .filter(|n| matches!(n, ipnet::IpNet::V6(_)) == v6)
        .collect();
    if same.is_empty() {
        return false;
    }
    let inside = same.iter().any(|n| n.contains(&addr));
    inside != negated
}

fn entity_ok(
    hp: &HostPolicy,
    e: &ResolvedEntity,
    addr: IpAddr,
    port: Option<u16>,
    proto: u8,
) -> bool {
    if !nets_ok(&e.nets, addr, false) || !nets_ok(&e.not_nets, addr, true) {
        return false;
    }
    if let Some(id) = &e.ip_set
        && !in_nets_set(hp, id, addr)
    {
        return false;
    }
    if let Some(id) = &e.not_ip_set
        && in_nets_set(hp, id, addr)
    {
        return false;
    }
    let port_hit = |ranges: &[model::policy::PortRange], sets: &[String], p: u16| {
        ranges.iter().any(|r| r.first <= p && p <= r.last)
            || sets.iter().any(|id| {
                in_port_set(
                    hp,
                    id,
                    NamedPortMember {
                        addr,
                        protocol: proto,
                        port: p,
                    },
                )
            })
    };
    if !e.ports.is_empty() || !e.named_port_sets.is_empty() {
        match port {
            Some(p) if port_hit(&e.ports, &e.named_port_sets, p) => {}
            _ => return false,
        }
    }
    if !e.not_ports.is_empty() || !e.not_named_port_sets.is_empty() {
        match port {
            Some(p) if !port_hit(&e.not_ports, &e.not_named_port_sets, p) => {}
            _ => return false,
        }
    }
    true
}

pub fn rule_ok(hp: &HostPolicy, r: &ResolvedRule, pkt: &Packet) -> bool {
    let Some(family) = pkt.ip_version() else {
        return false;
    };
    if r.ip_version.is_some_and(|v| v != family) {
        return false;
    }
    let proto = pkt.protocol();
    if r.protocol.is_some_and(|p| p != proto) || r.not_protocol == Some(proto) {
        return false;
    }
    let icmp = pkt.icmp_type_code();
    let icmp_hit = |m: &model::policy::IcmpMatch| {
        icmp.is_some_and(|(t, c)| t == m.icmp_type && m.code.is_none_or(|x| x == c))
    };
    if let Some(m) = &r.icmp
        && !icmp_hit(m)
    {
        return false;
    }
    if let Some(m) = &r.not_icmp
        && (icmp.is_none() || icmp_hit(m))
    {
        return false;
    }
    let ports = pkt.ports();
    entity_ok(hp, &r.source, pkt.src, ports.map(|p| p.0), proto)
        && entity_ok(hp, &r.destination, pkt.dst, ports.map(|p| p.1), proto)
}

enum End {
    Allow,
    Deny,
    Pass,
    None,
}

fn run(hp: &HostPolicy, rules: &[ResolvedRule], pkt: &Packet) -> End {
    for r in rules {
        if rule_ok(hp, r, pkt) {
            match r.action {
                Action::Allow => return End::Allow,
                Action::Deny => return End::Deny,
                Action::Pass => return End::Pass,
                Action::Log => {}
            }
        }
    }
    End::None
}

/// Walks a list of tiers: `Some(true)` allowed, `Some(false)` denied, `None` no verdict.
/// `end_of_tier`: whether a tier no policy passed out of applies its default action.
fn tiers_decide(
    hp: &HostPolicy,
    tiers: &[TierPolicies],
    ingress: bool,
    pkt: &Packet,
    end_of_tier: bool,
) -> Option<bool> {
    for tier in tiers {
        let mut passed = false;
        for id in &tier.policies {
            let Some(p) = hp.policies.get(id) else {
                panic!(
                    "tier {} refers to {id}, which the model does not have",
                    tier.tier
                )
            };
            let rules = if ingress { &p.ingress } else { &p.egress };
            match run(hp, rules, pkt) {
                End::Allow => return Some(true),
                End::Deny => return Some(false),
                End::Pass => {
                    passed = true;
                    break;
                }
                End::None => {}
            }
        }
        if end_of_tier && !passed && tier.default_action == TierDefaultAction::Deny {
            return Some(false);
        }
    }
    None
}

/// Walks one endpoint's program for one direction.
pub fn direction_allows(
    hp: &HostPolicy,
    dp: &DirectionPolicy,
    ingress: bool,
    pkt: &Packet,
) -> bool {
    if let Some(v) = tiers_decide(hp, &dp.tiers, ingress, pkt, true) {
        return v;
    }
    for name in &dp.profiles {
        let Some(p) = hp.profiles.get(name) else {
            panic!("endpoint refers to profile {name}, which the model does not have")
        };
        let rules = if ingress { &p.ingress } else { &p.egress };
        match run(hp, rules, pkt) {
            End::Allow => return true,
            End::Deny => return false,
            End::Pass | End::None => {}
        }
    }
    false
}

/// Egress of the local workload on `iface` (with the encapsulation checks).
pub fn workload_egress_allows(hp: &HostPolicy, iface: &str, pkt: &Packet) -> bool {
    let Some(w) = hp.workload_endpoints.get(iface) else {
        return false;
    };
    let s = &hp.settings;
    if !s.allow_ipip_packets_from_workloads && pkt.protocol() == 4 {
        return false;
    }
    if !s.allow_vxlan_packets_from_workloads
        && pkt.protocol() == 17
        && pkt.ports().is_some_and(|(_, d)| d == s.vxlan_port)
    {
        return false;
    }
    direction_allows(hp, &w.egress, false, pkt)
}

/// Ingress of the local workload on `iface`.
pub fn workload_ingress_allows(hp: &HostPolicy, iface: &str, pkt: &Packet) -> bool {
    hp.workload_endpoints
        .get(iface)
        .is_some_and(|w| direction_allows(hp, &w.ingress, true, pkt))
}

/// Workload to its own host: egress, then the endpoint-to-host action.
pub fn workload_to_host_allows(hp: &HostPolicy, iface: &str, pkt: &Packet) -> bool {
    if let model::policy::L4::IcmpV6 { icmp_type, .. } = pkt.l4
        && [130, 131, 132, 133, 135, 136].contains(&icmp_type)
        && hp.workload_endpoints.contains_key(iface)
    {
        return true;
    }
    workload_egress_allows(hp, iface, pkt)
        && hp.settings.endpoint_to_host_action != EndpointToHostAction::Drop
}

/// Whether `family` is the packet's.
pub fn is_family(pkt: &Packet, family: IpVersion) -> bool {
    pkt.ip_version() == Some(family)
}

fn find_wep<'s>(
    snap: &'s Snapshot,
    ns: &str,
    name: &str,
) -> Option<&'s model::resources::WorkloadEndpoint> {
    snap.workload_endpoints
        .iter()
        .rev()
        .find(|w| w.metadata.namespace().unwrap_or("default") == ns && w.metadata.name == name)
}

/// A failsafe entry for the packet: `by_dst` matches its destination port, else its source
/// port; the entry's network restricts `remote`.
fn failsafe_hit(ports: &[FailsafePort], pkt: &Packet, by_dst: bool, remote: IpAddr) -> bool {
    let Some((sport, dport)) = pkt.ports() else {
        return false;
    };
    let port = if by_dst { dport } else { sport };
    ports.iter().any(|f| {
        f.protocol == pkt.protocol() && f.port == port && f.net.is_none_or(|n| n.contains(&remote))
    })
}

/// The host endpoint of a host interface: its own, else `*`.
fn hep_of<'h>(hp: &'h HostPolicy, iface: Option<&str>) -> Option<&'h HostEndpointPolicy> {
    iface
        .and_then(|i| hp.host_endpoints.get(i))
        .or_else(|| hp.host_endpoints.get("*"))
}

/// Untracked, then pre-DNAT ingress for a packet arriving through `iface`.
fn arrive(hp: &HostPolicy, iface: Option<&str>, pkt: &Packet) -> Option<bool> {
    let s = &hp.settings;
    if let Some(hep) = iface.and_then(|i| hp.host_endpoints.get(i))
        && !failsafe_hit(&s.failsafe_inbound, pkt, true, pkt.src)
        && !failsafe_hit(&s.failsafe_outbound, pkt, false, pkt.src)
        && let Some(v) = tiers_decide(hp, &hep.untracked_ingress, true, pkt, false)
    {
        return Some(v);
    }
    let hep = hep_of(hp, iface)?;
    if failsafe_hit(&s.failsafe_inbound, pkt, true, pkt.src) {
        return None;
    }
    tiers_decide(hp, &hep.pre_dnat_ingress, true, pkt, false)
}

/// Forward policy of the interface's host endpoint (`ingress`: arriving through it).
fn forward_allows(hp: &HostPolicy, iface: Option<&str>, ingress: bool, pkt: &Packet) -> bool {
    let Some(hep) = hep_of(hp, iface) else {
        return true;
    };
    let tiers = if ingress {
        &hep.forward_ingress
    } else {
        &hep.forward_egress
    };
    tiers_decide(hp, tiers, ingress, pkt, true).unwrap_or(true)
}

/// Arrival, then (unless that allowed the packet) forward ingress.
fn arrive_forwarded(hp: &HostPolicy, iface: Option<&str>, original: &Packet, pkt: &Packet) -> bool {
    match arrive(hp, iface, original) {
        Some(v) => v,
        None => forward_allows(hp, iface, true, pkt),
    }
}

/// The host sends through `iface`: untracked egress, then normal egress.
fn host_sends(hp: &HostPolicy, iface: Option<&str>, pkt: &Packet) -> bool {
    let s = &hp.settings;
    if let Some(hep) = iface.and_then(|i| hp.host_endpoints.get(i))
        && !failsafe_hit(&s.failsafe_outbound, pkt, true, pkt.dst)
        && !failsafe_hit(&s.failsafe_inbound, pkt, false, pkt.dst)
        && let Some(v) = tiers_decide(hp, &hep.untracked_egress, false, pkt, false)
    {
        return v;
    }
    hep_allows(hp, iface, false, pkt)
}

fn hep_allows(hp: &HostPolicy, iface: Option<&str>, ingress: bool, pkt: &Packet) -> bool {
    let hep = iface
        .and_then(|i| hp.host_endpoints.get(i))
        .or_else(|| hp.host_endpoints.get("*"));
    let Some(hep) = hep else { return true };
    let (failsafes, remote) = if ingress {
        (&hp.settings.failsafe_inbound, pkt.src)
    } else {
        (&hp.settings.failsafe_outbound, pkt.dst)
    };
    if let Some((_, dport)) = pkt.ports()
        && failsafes.iter().any(|f| {
            f.protocol == pkt.protocol()
                && f.port == dport
                && f.net.is_none_or(|n| n.contains(&remote))
        })
    {
        return true;
    }
    let dp = if ingress { &hep.ingress } else { &hep.egress };
    direction_allows(hp, dp, ingress, pkt)
}

/// The answer the resolved models of the hosts involved give (the interpreter above plus the
/// flow rules Felix's chains implement), with no uplinks named.
pub fn model_answer(
    snap: &Snapshot,
    pkt: &Packet,
    from: &model::policy::Peer,
    to: &model::policy::Peer,
) -> bool {
    model_answer_via(snap, &[], pkt, pkt, from, to)
}

/// As [`model_answer`], with each node's uplink named in `uplinks` (`(node, interface)`),
/// for a packet that is `original` on arrival at the receiver's host and `pkt` after
/// destination NAT there.
pub fn model_answer_via(
    snap: &Snapshot,
    uplinks: &[(&str, &str)],
    original: &Packet,
    pkt: &Packet,
    from: &model::policy::Peer,
    to: &model::policy::Peer,
) -> bool {
    use model::policy::{Peer, resolve};
    if pkt.ip_version().is_none() || original.ip_version().is_none() {
        return false;
    }
    let uplink = |node: &str| uplinks.iter().find(|(n, _)| *n == node).map(|(_, i)| *i);
    let node_of = |peer: &Peer| match peer {
        Peer::Workload { namespace, name } => {
            find_wep(snap, namespace, name).map(|w| w.spec.node.clone())
        }
        Peer::Host { node, .. } => Some(node.clone()),
        Peer::External => None,
    };
    let mut sender_node = None;
    match from {
        Peer::Workload { namespace, name } => {
            let Some(a) = find_wep(snap, namespace, name) else {
                return false;
            };
            let hp = resolve(snap, &a.spec.node);
            let iface = a.spec.interface_name.as_str();
            if !hp
                .workload_endpoints
                .get(iface)
                .is_some_and(|w| &w.namespace == namespace && &w.name == name)
            {
                return false;
            }
            if let Peer::Host { node, .. } = to
                && *node == a.spec.node
            {
                return workload_to_host_allows(&hp, iface, pkt);
            }
            if !workload_egress_allows(&hp, iface, pkt) {
                return false;
            }
            if node_of(to).as_deref() != Some(a.spec.node.as_str())
                && !forward_allows(&hp, uplink(&a.spec.node), false, pkt)
            {
                return false;
            }
            sender_node = Some(a.spec.node.clone());
        }
        Peer::Host { node, interface } => {
            let local = match to {
                Peer::Workload { namespace, name } => {
                    find_wep(snap, namespace, name).is_some_and(|b| &b.spec.node == node)
                }
                Peer::Host { node: n, .. } => n == node,
                Peer::External => false,
            };
            if local {
                return true;
            }
            if !host_sends(&resolve(snap, node), interface.as_deref(), pkt) {
                return false;
            }
        }
        Peer::External => {}
    }
    match to {
        Peer::Workload { namespace, name } => {
            let Some(b) = find_wep(snap, namespace, name) else {
                return false;
            };
            let hp = resolve(snap, &b.spec.node);
            if !hp
                .workload_endpoints
                .get(&b.spec.interface_name)
                .is_some_and(|w| &w.namespace == namespace && &w.name == name)
            {
                return false;
            }
            if sender_node.as_deref() != Some(b.spec.node.as_str())
                && !arrive_forwarded(&hp, uplink(&b.spec.node), original, pkt)
            {
                return false;
            }
            workload_ingress_allows(&hp, &b.spec.interface_name, pkt)
        }
        Peer::Host { node, interface } => {
            let hp = resolve(snap, node);
            match arrive(&hp, interface.as_deref(), original) {
                Some(v) => v,
                None => hep_allows(&hp, interface.as_deref(), true, pkt),
            }
        }
        Peer::External => true,
    }
}

/// A packet routed through `node` from host interface `iif` to `oif`.
pub fn model_routed(snap: &Snapshot, pkt: &Packet, node: &str, iif: &str, oif: &str) -> bool {
    let hp = model::policy::resolve(snap, node);
    pkt.ip_version().is_some()
        && arrive_forwarded(&hp, Some(iif), pkt, pkt)
        && forward_allows(&hp, Some(oif), false, pkt)
}

/// Evaluates with `model::policy::allowed`, checks that the resolved models agree, and
/// returns the verdict.
pub fn check(
    snap: &Snapshot,
    pkt: &Packet,
    from: model::policy::Peer,
    to: model::policy::Peer,
) -> model::policy::Verdict {
    let v = model::policy::allowed(snap, pkt, from.clone(), to.clone());
    let m = model_answer(snap, pkt, &from, &to);
    assert_eq!(
        v.allowed, m,
        "evaluator and resolved model disagree on {pkt} from {from:?} to {to:?}; evaluator trace: {:#?}",
        v.trace
    );
    v
}

/// As [`check`], with each node's uplink named (`(node, interface)`).
pub fn check_via(
    snap: &Snapshot,
    uplinks: &[(&str, &str)],
    pkt: &Packet,
    from: model::policy::Peer,
    to: model::policy::Peer,
) -> model::policy::Verdict {
    let mut e = model::policy::Evaluator::new(snap);
    for (node, iface) in uplinks {
        e = e.with_uplink(node, iface);
    }
    let v = e.allowed(pkt, &from, &to);
    let m = model_answer_via(snap, uplinks, pkt, pkt, &from, &to);
    assert_eq!(
        v.allowed, m,
        "evaluator and resolved model disagree on {pkt} from {from:?} to {to:?} (uplinks {uplinks:?}); evaluator trace: {:#?}",
        v.trace
    );
    v
}
