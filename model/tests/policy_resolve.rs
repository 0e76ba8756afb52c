//! The resolved model's shape: set IDs (Felix's scheme), members, ordering, host endpoint
//! programs, NAT pools and problems.

#[path = "policy_fixtures.rs"]
mod fixtures;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fixtures::*;
use model::policy::{IpSetKind, PolicyId, resolve};
use model::resources::{Resource, TierDefaultAction};
use model::selector::Selector;
use serde_json::json;
use sha2::{Digest, Sha224};

fn uid(text: &str) -> String {
    match Selector::parse(text) {
        Ok(s) => s.unique_id(),
        Err(e) => panic!("test selector {text:?}: {e}"),
    }
}

fn gid(name: &str) -> PolicyId {
    PolicyId::Global { name: name.into() }
}

fn base() -> Vec<Resource> {
    vec![
        allow_all("allow-all"),
        profile("kns.ns2", json!({"labelsToApply": {"pcns.team": "a"}})),
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

#[test]
fn selector_sets_use_felix_ids() {
    let mut rs = base();
    rs.push(gnp("g", json!({"selector": "role == 'db'", "ingress": [
        {"action": "Allow", "source": {"selector": "all()"}},
        {"action": "Allow", "source": {"selector": "role == 'fe'", "notSelector": "env == 'x'"}},
        {"action": "Allow", "source": {"notSelector": "env == 'x'"}},
        {"action": "Allow", "source": {"namespaceSelector": "all()"}},
        {"action": "Allow", "source": {"namespaceSelector": "global()", "selector": "has(kind)"}},
    ]})));
    rs.push(np("ns1", "n", json!({"selector": "role == 'db'", "ingress": [
        {"action": "Allow", "source": {"selector": "role == 'fe'"}},
        {"action": "Allow", "source": {"notSelector": "env == 'x'"}},
        {"action": "Allow", "source": {"namespaceSelector": "team == 'a'", "selector": "role == 'fe'"}},
        {"action": "Allow", "source": {"serviceAccounts": {"names": ["sa1", "sa2"], "selector": "app == 'x'"}}},
    ]})));
    let hp = resolve(&snapshot(rs), "h1");
    let g = &hp.policies[&gid("g")].ingress;
    assert_eq!(
        g[0].source.ip_set.as_deref(),
        Some("s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug")
    );
    assert_eq!(
        g[1].source.ip_set,
        Some(uid("(role == 'fe') && (!(env == 'x'))"))
    );
    assert_eq!(g[1].source.not_ip_set, None);
    assert_eq!(g[2].source.ip_set, None);
    assert_eq!(g[2].source.not_ip_set, Some(uid("env == 'x'")));
    assert_eq!(
        g[3].source.ip_set,
        Some(uid("has(projectcalico.org/namespace)"))
    );
    assert_eq!(
        g[4].source.ip_set,
        Some(uid("(!has(projectcalico.org/namespace)) && (has(kind))"))
    );

    let n = &hp.policies[&PolicyId::Namespaced {
        namespace: "ns1".into(),
        name: "n".into(),
    }]
        .ingress;
    let own = "projectcalico.org/namespace == 'ns1'";
    assert_eq!(
        n[0].source.ip_set,
        Some(uid(&format!("({own}) && (role == 'fe')")))
    );
    assert_eq!(
        n[1].source.ip_set,
        Some(uid(&format!("({own}) && (!(env == 'x'))")))
    );
    assert_eq!(n[1].source.not_ip_set, None);
    assert_eq!(
        n[2].source.ip_set,
        Some(uid("(pcns.team == 'a') && (role == 'fe')"))
    );
    assert_eq!(
        n[3].source.ip_set,
        Some(uid(&format!(
            "({own}) && ((pcsa.app == 'x') && (projectcalico.org/serviceaccount in {{'sa1', 'sa2'}}))"
        )))
    );
    // Every referenced set is in the model, with the selector it was built from.
    for r in g.iter().chain(n.iter()) {
        for id in r.source.ip_set.iter().chain(r.source.not_ip_set.iter()) {
            let set = &hp.ip_sets[id];
            assert_eq!(&uid(&set.selector), id);
        }
    }
}

#[test]
fn set_members_span_the_cluster_and_network_sets() {
    let mut rs = base();
    rs.push(res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
        "metadata": {"namespace": "ns2", "name": "office", "labels": {"role": "fe"}},
        "spec": {"nets": ["172.16.0.0/16", "10.9.9.9"]}
    })));
    rs.push(gnp(
        "g",
        json!({"selector": "role == 'db'", "ingress": [
            {"action": "Allow", "source": {"selector": "role == 'fe'"}},
            {"action": "Allow", "source": {"namespaceSelector": "team == 'a'"}},
        ]}),
    ));
    let hp = resolve(&snapshot(rs), "h1");
    let rules = &hp.policies[&gid("g")].ingress;
    let members = |id: &Option<String>| -> Vec<String> {
        let Some(id) = id else {
            panic!("rule has no set")
        };
        match &hp.ip_sets[id].kind {
            IpSetKind::Nets(n) => n.iter().map(|n| n.to_string()).collect(),
            other => panic!("expected nets, got {other:?}"),
        }
    };
    assert_eq!(
        members(&rules[0].source.ip_set),
        ["10.0.0.1/32", "10.0.1.1/32", "10.9.9.9/32", "172.16.0.0/16"]
    );
    // team == 'a' is ns2's label (from kns.ns2): its workload and its network set.
    assert_eq!(
        members(&rules[1].source.ip_set),
        ["10.0.1.1/32", "10.9.9.9/32", "172.16.0.0/16"]
    );
}

#[test]
fn named_port_set_id_hashes_selector_id_protocol_and_name() {
    let mut rs = base();
    rs.push(gnp(
        "g",
        json!({"selector": "role == 'db'", "ingress": [
            {"action": "Allow", "protocol": "UDP", "destination": {"ports": ["dns", 53]}},
        ]}),
    ));
    let hp = resolve(&snapshot(rs), "h1");
    let dst = &hp.policies[&gid("g")].ingress[0].destination;
    let mut h = Sha224::new();
    h.update(format!("n:{},udp,dns", uid("all()")).as_bytes());
    let expected = format!("n:{}", URL_SAFE_NO_PAD.encode(h.finalize()));
    assert_eq!(dst.named_port_sets, [expected]);
    assert_eq!(dst.ports.len(), 1);
}

#[test]
fn tiers_are_ordered_and_unknown_tiers_come_last() {
    let mut rs = base();
    rs.push(tier("early", 10.0, "Pass"));
    rs.push(tier("late", 2_000_000.0, "Deny"));
    for (name, t) in [
        ("p-late", "late"),
        ("p-ghost", "ghost"),
        ("p-default", "default"),
        ("p-early", "early"),
    ] {
        rs.push(gnp(
            name,
            json!({"tier": t, "selector": "role == 'db'", "ingress": [{"action": "Pass"}]}),
        ));
    }
    let hp = resolve(&snapshot(rs), "h1");
    let tiers: Vec<(&str, TierDefaultAction)> = hp.workload_endpoints["calidb"]
        .ingress
        .tiers
        .iter()
        .map(|t| (t.tier.as_str(), t.default_action))
        .collect();
    assert_eq!(
        tiers,
        [
            ("early", TierDefaultAction::Pass),
            ("default", TierDefaultAction::Deny),
            ("late", TierDefaultAction::Deny),
            ("ghost", TierDefaultAction::Deny),
        ]
    );
    assert!(
        hp.problems
            .iter()
            .any(|p| p.name == "p-ghost" && p.message.contains("ghost"))
    );
    assert_eq!(
        hp.workload_endpoints["calidb"].ingress.profiles,
        ["allow-all"]
    );
    assert!(hp.workload_endpoints["calife"].ingress.tiers.is_empty());
    // Remote endpoints are not programmed here.
    assert!(!hp.workload_endpoints.contains_key("calife2"));
}

#[test]
fn host_endpoints_get_normal_forward_pre_dnat_and_untracked_programs() {
    let mut rs = base();
    rs.push(res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
        "metadata": {"name": "h1-eth0", "labels": {"host": "h1"}},
        "spec": {"node": "h1", "interfaceName": "eth0", "expectedIPs": ["10.1.0.1"], "profiles": ["allow-all"]}
    })));
    rs.push(gnp(
        "normal",
        json!({"selector": "has(host)", "ingress": [{"action": "Allow"}]}),
    ));
    rs.push(gnp(
        "fwd",
        json!({"selector": "has(host)", "applyOnForward": true, "ingress": [{"action": "Allow"}]}),
    ));
    rs.push(gnp("dnat", json!({"selector": "has(host)", "applyOnForward": true, "preDNAT": true, "ingress": [{"action": "Deny"}]})));
    rs.push(gnp(
        "raw",
        json!({"selector": "has(host)", "applyOnForward": true, "doNotTrack": true,
        "ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}),
    ));
    let hp = resolve(&snapshot(rs), "h1");
    let hep = &hp.host_endpoints["eth0"];
    let ids = |t: &[model::policy::TierPolicies]| -> Vec<String> {
        t.iter()
            .flat_map(|t| t.policies.iter().map(|p| p.felix_name()))
            .collect()
    };
    assert_eq!(ids(&hep.ingress.tiers), ["fwd", "normal"]);
    assert_eq!(ids(&hep.forward_ingress), ["fwd"]);
    assert_eq!(ids(&hep.pre_dnat_ingress), ["dnat"]);
    assert_eq!(ids(&hep.untracked_ingress), ["raw"]);
    assert_eq!(ids(&hep.untracked_egress), ["raw"]);
    assert!(hep.egress.tiers.is_empty());
    assert_eq!(hep.egress.profiles, ["allow-all"]);
    // preDNAT and doNotTrack policy never reaches workloads.
    assert!(hp.workload_endpoints["calidb"].ingress.tiers.is_empty());
    // Default failsafe ports.
    assert!(
        hp.settings
            .failsafe_inbound
            .iter()
            .any(|f| f.protocol == 6 && f.port == 22)
    );
}

#[test]
fn nat_outgoing_pools() {
    let pool = |name: &str, cidr: &str, nat: bool| {
        res(
            json!({"apiVersion": "projectcalico.org/v3", "kind": "IPPool",
            "metadata": {"name": name}, "spec": {"cidr": cidr, "natOutgoing": nat}}),
        )
    };
    let mut rs = base();
    rs.push(pool("a", "10.0.0.0/16", true));
    rs.push(pool("b", "10.1.0.0/16", false));
    rs.push(pool("c", "fd00::/48", true));
    let hp = resolve(&snapshot(rs), "h1");
    let all: Vec<String> = hp.ip_pools.all.iter().map(|n| n.to_string()).collect();
    let nat: Vec<String> = hp
        .ip_pools
        .nat_outgoing
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(all, ["10.0.0.0/16", "10.1.0.0/16", "fd00::/48"]);
    assert_eq!(nat, ["10.0.0.0/16", "fd00::/48"]);
}

#[test]
fn bad_resources_are_reported_not_fatal() {
    let mut rs = base();
    rs.push(gnp(
        "bad-selector",
        json!({"selector": "role ==", "ingress": [{"action": "Allow"}]}),
    ));
    rs.push(gnp(
        "bad-rule",
        json!({"selector": "role == 'db'", "ingress": [
        {"action": "Allow", "source": {"selector": "((("}}]}),
    ));
    rs.push(gnp(
        "bad-net",
        json!({"selector": "role == 'db'", "ingress": [
        {"action": "Allow", "source": {"nets": ["10.0.0.300/8"]}}]}),
    ));
    rs.push(gnp(
        "http",
        json!({"selector": "role == 'db'", "ingress": [
        {"action": "Allow", "http": {"methods": ["GET"]}}]}),
    ));
    rs.push(profile(
        "bad-profile",
        json!({"ingress": [{"action": "Allow", "protocol": "TCP", "icmp": {"type": 8}}]}),
    ));
    rs.push(wep(
        "ns1",
        "uses-bad",
        "h1",
        "calibad",
        "10.0.0.7",
        &[],
        &["bad-profile"],
    ));
    rs.push(wep_with(
        wep("ns1", "bad-ip", "h1", "calibadip", "10.0.0.8", &[], &[]),
        json!({"ipNetworks": ["10.0.0.8/33"]}),
    ));
    let s = snapshot(rs);
    let hp = resolve(&s, "h1");
    for name in [
        "bad-selector",
        "bad-rule",
        "bad-net",
        "http",
        "bad-profile",
        "bad-ip",
    ] {
        assert!(
            hp.problems.iter().any(|p| p.name == name),
            "no problem for {name}: {:#?}",
            hp.problems
        );
    }
    assert!(hp.policies.is_empty(), "{:?}", hp.policies.keys());
    assert!(hp.profiles["bad-profile"].missing);
    assert!(!hp.workload_endpoints.contains_key("calibadip"));
    let v = check(
        &s,
        &model::policy::Packet::tcp(ip("10.0.0.1"), 1, ip("10.0.0.7"), 80),
        model::policy::Peer::workload("ns1", "fe"),
        model::policy::Peer::workload("ns1", "uses-bad"),
    );
    assert!(!v.allowed);
}

#[test]
fn resolution_does_not_depend_on_input_order() {
    let mut rs = base();
    rs.push(gnp("g", json!({"selector": "all()", "ingress": [
        {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'fe'"}, "destination": {"ports": ["http", 80]}}
    ]})));
    rs.push(tier("t", 5.0, "Pass"));
    let a = resolve(&snapshot(rs.clone()), "h1");
    rs.reverse();
    let b = resolve(&snapshot(rs), "h1");
    assert_eq!(a, b);
}
