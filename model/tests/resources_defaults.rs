//! Defaults: what Calico's client fills in on write, and the semantic accessors' defaults.

use model::resources::{Action, EndpointToHostAction};
use model::resources::{
    AssignmentMode, BGPConfigurationSpec, EncapsulationMode, FelixConfigurationSpec,
    IPPoolAllowedUse, NetworkPolicySpec, PolicyType, Resource, Rule, TierDefaultAction,
    infer_policy_types,
};
use serde_json::{Value, json};

fn decode(kind: &str, metadata: Value, spec: Value) -> Resource {
    Resource::from_value(json!({"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": metadata, "spec": spec}))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn defaulted_spec(kind: &str, metadata: Value, spec: Value) -> Value {
    let mut r = decode(kind, metadata, spec);
    r.set_defaults();
    r.validate()
        .unwrap_or_else(|e| panic!("invalid after defaults:\n{e}"));
    r.spec_value()
}

#[test]
fn ippool_v4_defaults_match_calicos_client() {
    let spec = defaulted_spec(
        "IPPool",
        json!({"name": "p"}),
        json!({"cidr": "192.168.0.0/16"}),
    );
    assert_eq!(
        spec,
        json!({
            "cidr": "192.168.0.0/16",
            "vxlanMode": "Never",
            "ipipMode": "Never",
            "blockSize": 26,
            "nodeSelector": "all()",
            "allowedUses": ["Workload", "Tunnel"],
            "assignmentMode": "Automatic"
        })
    );
}

#[test]
fn ippool_v6_defaults_to_block_size_122_and_canonical_cidr() {
    let spec = defaulted_spec(
        "IPPool",
        json!({"name": "p"}),
        json!({"cidr": "FD00:0::/48", "ipipMode": "Never"}),
    );
    assert_eq!(spec["cidr"], "fd00::/48");
    assert_eq!(spec["blockSize"], 122);
}

#[test]
fn ippool_defaults_keep_explicit_values() {
    let mut r = decode(
        "IPPool",
        json!({"name": "p"}),
        json!({"cidr": "10.0.0.0/8", "blockSize": 24, "vxlanMode": "Always", "nodeSelector": "zone == 'a'", "allowedUses": ["Tunnel"], "assignmentMode": "Manual"}),
    );
    r.set_defaults();
    let Resource::IPPool(p) = r else {
        panic!("expected an IPPool")
    };
    assert_eq!(p.spec.block_size(), 24);
    assert_eq!(p.spec.vxlan(), EncapsulationMode::Always);
    assert_eq!(p.spec.ipip(), EncapsulationMode::Never);
    assert_eq!(p.spec.node_selector, "zone == 'a'");
    assert_eq!(p.spec.allowed_uses, [IPPoolAllowedUse::Tunnel]);
    assert_eq!(p.spec.assignment_mode, Some(AssignmentMode::Manual));
}

#[test]
fn ippool_with_host_bits_is_not_silently_masked() {
    let mut r = decode(
        "IPPool",
        json!({"name": "p"}),
        json!({"cidr": "10.0.0.1/16"}),
    );
    r.set_defaults();
    assert_eq!(r.spec_value()["cidr"], "10.0.0.1/16");
    assert!(r.validate().is_err());
}

#[test]
fn block_size_accessor_defaults_by_family() {
    let v4 = decode(
        "IPPool",
        json!({"name": "a"}),
        json!({"cidr": "10.0.0.0/16"}),
    );
    let v6 = decode("IPPool", json!({"name": "b"}), json!({"cidr": "fd00::/64"}));
    for (r, want) in [(v4, 26), (v6, 122)] {
        let Resource::IPPool(p) = r else {
            panic!("expected an IPPool")
        };
        assert_eq!(p.spec.block_size(), want);
    }
}

#[test]
fn policy_types_are_inferred_from_rules() {
    let allow = || Rule::new(Action::Allow);
    assert_eq!(infer_policy_types(&[], &[]), [PolicyType::Ingress]);
    assert_eq!(infer_policy_types(&[allow()], &[]), [PolicyType::Ingress]);
    assert_eq!(infer_policy_types(&[], &[allow()]), [PolicyType::Egress]);
    assert_eq!(
        infer_policy_types(&[allow()], &[allow()]),
        [PolicyType::Ingress, PolicyType::Egress]
    );
    let spec = NetworkPolicySpec {
        egress: vec![allow()],
        ..Default::default()
    };
    assert_eq!(spec.effective_types(), [PolicyType::Egress]);
    assert!(!spec.applies_to_ingress());
    let explicit = NetworkPolicySpec {
        types: vec![PolicyType::Ingress],
        egress: vec![allow()],
        ..Default::default()
    };
    assert_eq!(explicit.effective_types(), [PolicyType::Ingress]);
}

#[test]
fn policy_defaults_fill_tier_types_and_namespace() {
    let mut r = decode(
        "NetworkPolicy",
        json!({"name": "p"}),
        json!({"egress": [{"action": "Allow"}]}),
    );
    r.set_defaults();
    assert_eq!(r.namespace(), Some("default"));
    assert_eq!(
        r.spec_value(),
        json!({"tier": "default", "egress": [{"action": "Allow"}], "types": ["Egress"]})
    );
    let spec = defaulted_spec(
        "GlobalNetworkPolicy",
        json!({"name": "g"}),
        json!({"ingress": [{"action": "Deny"}], "egress": [{"action": "Allow"}]}),
    );
    assert_eq!(spec["types"], json!(["Ingress", "Egress"]));
    assert_eq!(spec["tier"], "default");
    let spec = defaulted_spec("GlobalNetworkPolicy", json!({"name": "h"}), json!({}));
    assert_eq!(spec["types"], json!(["Ingress"]));
}

#[test]
fn builtin_tiers_get_their_orders() {
    for (name, order, action) in [
        ("default", 1_000_000, "Deny"),
        ("kube-admin", 1_000, "Pass"),
        ("kube-baseline", 10_000_000, "Pass"),
    ] {
        let spec = defaulted_spec("Tier", json!({"name": name}), json!({}));
        assert_eq!(
            spec,
            json!({"order": order, "defaultAction": action}),
            "tier {name}"
        );
    }
    let spec = defaulted_spec("Tier", json!({"name": "mine"}), json!({"order": 50}));
    assert_eq!(spec, json!({"order": 50, "defaultAction": "Deny"}));
    let t = model::resources::Tier::default_tier();
    assert_eq!(t.spec.order, Some(1_000_000.0));
    assert_eq!(t.spec.default_action_or_deny(), TierDefaultAction::Deny);
}

#[test]
fn bgp_configuration_accessors_default_like_calico() {
    let empty = BGPConfigurationSpec::default();
    assert!(empty.node_to_node_mesh_enabled());
    assert_eq!(empty.as_number(), 64512);
    assert_eq!(empty.listen_port(), 179);
    assert_eq!(empty.log_severity_screen(), "Info");
    let Resource::BGPConfiguration(c) = decode(
        "BGPConfiguration",
        json!({"name": "default"}),
        json!({"nodeToNodeMeshEnabled": false, "asNumber": 64567, "listenPort": 150}),
    ) else {
        panic!("expected a BGPConfiguration")
    };
    assert!(!c.spec.node_to_node_mesh_enabled());
    assert_eq!(c.spec.as_number(), 64567);
    assert_eq!(c.spec.listen_port(), 150);
}

#[test]
fn felix_accessors_default_like_felix() {
    let f = FelixConfigurationSpec::default();
    assert_eq!(f.interface_prefixes(), ["cali"]);
    assert_eq!(
        f.default_endpoint_to_host_action(),
        EndpointToHostAction::Drop
    );
    assert_eq!(f.health_port(), 9099);
    assert_eq!(f.vxlan_vni(), 4096);
    assert_eq!(f.mark_mask(), 0xffff_0000);
    assert_eq!(f.log_prefix(), "calico-packet");
    assert_eq!(f.route_refresh_interval().to_string(), "1m30s");
    let inbound: Vec<String> = f
        .failsafe_inbound_host_ports()
        .iter()
        .map(|p| format!("{}:{}", p.protocol.to_lowercase(), p.port))
        .collect();
    assert_eq!(
        inbound,
        [
            "tcp:22", "udp:68", "tcp:179", "tcp:2379", "tcp:2380", "tcp:5473", "tcp:6443",
            "tcp:6666", "tcp:6667"
        ]
    );
    let outbound: Vec<String> = f
        .failsafe_outbound_host_ports()
        .iter()
        .map(|p| format!("{}:{}", p.protocol.to_lowercase(), p.port))
        .collect();
    assert_eq!(
        outbound,
        [
            "udp:53", "udp:67", "tcp:179", "tcp:2379", "tcp:2380", "tcp:5473", "tcp:6443",
            "tcp:6666", "tcp:6667"
        ]
    );
    let Resource::FelixConfiguration(c) = decode(
        "FelixConfiguration",
        json!({"name": "default"}),
        json!({"interfacePrefix": "tap,cali", "defaultEndpointToHostAction": "ACCEPT", "failsafeInboundHostPorts": [], "routeRefreshInterval": "10s"}),
    ) else {
        panic!("expected a FelixConfiguration")
    };
    assert_eq!(c.spec.interface_prefixes(), ["tap", "cali"]);
    assert_eq!(
        c.spec.default_endpoint_to_host_action(),
        EndpointToHostAction::Accept
    );
    assert!(c.spec.failsafe_inbound_host_ports().is_empty());
    assert_eq!(
        c.spec.route_refresh_interval().as_std(),
        Some(std::time::Duration::from_secs(10))
    );
}

#[test]
fn workload_endpoint_defaults_name_and_labels() {
    let mut r = decode(
        "WorkloadEndpoint",
        json!({"namespace": "prod", "labels": {"app": "web"}}),
        json!({"node": "node1", "orchestrator": "k8s", "pod": "web-7d4f", "endpoint": "eth0", "serviceAccountName": "api", "interfaceName": "cali1234"}),
    );
    r.set_defaults();
    assert_eq!(r.name(), "node1-k8s-web--7d4f-eth0");
    let labels = &r.metadata().labels;
    assert_eq!(
        labels
            .get("projectcalico.org/namespace")
            .map(String::as_str),
        Some("prod")
    );
    assert_eq!(
        labels
            .get("projectcalico.org/orchestrator")
            .map(String::as_str),
        Some("k8s")
    );
    assert_eq!(
        labels
            .get("projectcalico.org/serviceaccount")
            .map(String::as_str),
        Some("api")
    );
    assert_eq!(labels.get("app").map(String::as_str), Some("web"));
    r.validate().unwrap_or_else(|e| panic!("{e}"));
}
