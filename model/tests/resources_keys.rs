//! The etcd key layout, `calicoctl`'s kind names, and names derived from other values.

use model::keys::{self, RESOURCES_PREFIX};
use model::names::{WorkloadEndpointIdentifiers, cidr_to_name, parse_workload_endpoint_name};
use model::resources::{Kind, Resource};
use serde_json::json;

#[test]
fn cluster_scoped_keys() {
    assert_eq!(RESOURCES_PREFIX, "/calico/resources/v3/projectcalico.org/");
    assert_eq!(
        keys::key(Kind::IPPool, None, "pool1"),
        "/calico/resources/v3/projectcalico.org/ippools/pool1"
    );
    assert_eq!(
        keys::key(Kind::GlobalNetworkPolicy, None, "default.allow"),
        "/calico/resources/v3/projectcalico.org/globalnetworkpolicies/default.allow"
    );
    assert_eq!(
        keys::key(Kind::Node, None, "node1"),
        "/calico/resources/v3/projectcalico.org/nodes/node1"
    );
    assert_eq!(
        keys::prefix(Kind::BGPPeer, None),
        "/calico/resources/v3/projectcalico.org/bgppeers/"
    );
}

#[test]
fn namespaced_keys() {
    assert_eq!(
        keys::key(Kind::NetworkPolicy, Some("prod"), "allow-web"),
        "/calico/resources/v3/projectcalico.org/networkpolicies/prod/allow-web"
    );
    assert_eq!(
        keys::key(
            Kind::WorkloadEndpoint,
            Some("default"),
            "node1-k8s-pod-eth0"
        ),
        "/calico/resources/v3/projectcalico.org/workloadendpoints/default/node1-k8s-pod-eth0"
    );
    assert_eq!(
        keys::prefix(Kind::NetworkSet, Some("ns1")),
        "/calico/resources/v3/projectcalico.org/networksets/ns1/"
    );
    assert_eq!(
        keys::prefix(Kind::NetworkSet, None),
        "/calico/resources/v3/projectcalico.org/networksets/"
    );
}

#[test]
fn keys_parse_back() {
    for kind in Kind::ALL.iter().copied() {
        let ns = kind.namespaced().then_some("ns1");
        let key = keys::key(kind, ns, "name1");
        assert_eq!(
            keys::parse_key(&key),
            Some((kind, ns.map(str::to_owned), "name1".to_owned())),
            "{key}"
        );
    }
    assert_eq!(
        keys::parse_key("/calico/resources/v3/projectcalico.org/networkpolicies/onlyname"),
        None
    );
    assert_eq!(
        keys::parse_key("/calico/resources/v3/projectcalico.org/ippools/a/b"),
        None
    );
    assert_eq!(
        keys::parse_key("/calico/resources/v3/projectcalico.org/widgets/a"),
        None
    );
    assert_eq!(keys::parse_key("/calico/v1/host/h/metadata"), None);
    assert_eq!(
        keys::parse_key("/calico/resources/v3/projectcalico.org/ippools/"),
        None
    );
}

#[test]
fn every_plural_is_calicos_spelling() {
    let plurals: Vec<&str> = Kind::ALL.iter().map(|k| k.plural()).collect();
    for p in [
        "nodes",
        "workloadendpoints",
        "hostendpoints",
        "profiles",
        "networkpolicies",
        "globalnetworkpolicies",
        "tiers",
        "networksets",
        "globalnetworksets",
        "ippools",
        "bgppeers",
        "bgpconfigurations",
        "felixconfigurations",
        "clusterinformations",
        "blockaffinities",
        "ipamconfigs",
    ] {
        assert!(plurals.contains(&p), "missing plural {p}");
    }
    let namespaced: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| k.namespaced())
        .collect();
    assert_eq!(
        namespaced,
        [
            Kind::WorkloadEndpoint,
            Kind::NetworkPolicy,
            Kind::NetworkSet
        ]
    );
}

#[test]
fn resource_key_uses_metadata() {
    let r = Resource::from_value(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
        "metadata": {"name": "p1", "namespace": "ns"}, "spec": {}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.key(),
        "/calico/resources/v3/projectcalico.org/networkpolicies/ns/p1"
    );
}

#[test]
fn ipam_keys_use_calicos_v1_layout() {
    let block = Resource::from_value(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "IPAMBlock",
        "metadata": {"name": "10-0-0-0-26"}, "spec": {"cidr": "10.0.0.0/26"}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        block.key(),
        "/calico/ipam/v2/assignment/ipv4/block/10.0.0.0-26"
    );
    let aff = Resource::from_value(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "BlockAffinity",
        "metadata": {"name": "node1-fd00--122"}, "spec": {"node": "node1", "cidr": "fd00::/122", "state": "pending", "deleted": "false"}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        aff.key(),
        "/calico/ipam/v2/host/node1/ipv6/block/fd00::-122"
    );
    assert_eq!(
        keys::ipam_handle_key("k8s-pod-network.abc"),
        "/calico/ipam/v2/handle/k8s-pod-network.abc"
    );
    assert_eq!(keys::IPAM_CONFIG_KEY, "/calico/ipam/v2/config");
}

#[test]
fn kind_parse_accepts_calicoctls_names() {
    let cases: &[(&str, Kind)] = &[
        ("NetworkPolicy", Kind::NetworkPolicy),
        ("networkpolicies", Kind::NetworkPolicy),
        ("np", Kind::NetworkPolicy),
        ("policy", Kind::NetworkPolicy),
        ("pols", Kind::NetworkPolicy),
        ("gnp", Kind::GlobalNetworkPolicy),
        ("GNPS", Kind::GlobalNetworkPolicy),
        ("globalnetworkpolicies", Kind::GlobalNetworkPolicy),
        ("wep", Kind::WorkloadEndpoint),
        ("weps", Kind::WorkloadEndpoint),
        ("workloadEndpoint", Kind::WorkloadEndpoint),
        ("hep", Kind::HostEndpoint),
        ("hostendpoints", Kind::HostEndpoint),
        ("ippool", Kind::IPPool),
        ("ippools", Kind::IPPool),
        ("ipp", Kind::IPPool),
        ("pool", Kind::IPPool),
        ("bgppeer", Kind::BGPPeer),
        ("bgpp", Kind::BGPPeer),
        ("bp", Kind::BGPPeer),
        ("bgpconfig", Kind::BGPConfiguration),
        ("bgpconfigurations", Kind::BGPConfiguration),
        ("felixconfig", Kind::FelixConfiguration),
        ("FelixConfigurations", Kind::FelixConfiguration),
        ("clusterinfo", Kind::ClusterInformation),
        ("clusterinformations", Kind::ClusterInformation),
        ("profile", Kind::Profile),
        ("pro", Kind::Profile),
        ("node", Kind::Node),
        ("no", Kind::Node),
        ("nos", Kind::Node),
        ("tier", Kind::Tier),
        ("tiers", Kind::Tier),
        ("networkset", Kind::NetworkSet),
        ("netsets", Kind::NetworkSet),
        ("globalnetworkset", Kind::GlobalNetworkSet),
        ("globalnetworksets", Kind::GlobalNetworkSet),
        ("ipamconfig", Kind::IPAMConfiguration),
    ];
    for (name, kind) in cases {
        assert_eq!(Kind::parse(name), Some(*kind), "{name}");
    }
    for bad in ["ns", "namespace", "gns", "pods", "", "networkpolicyy"] {
        assert_eq!(Kind::parse(bad), None, "{bad}");
    }
    for kind in Kind::ALL {
        assert_eq!(Kind::parse(kind.name()), Some(*kind));
        assert_eq!(Kind::parse(kind.plural()), Some(*kind));
        assert_eq!(Kind::from_name(kind.name()), Some(*kind));
    }
}

#[test]
fn cidr_to_name_matches_libcalico() {
    let n = |s: &str| s.parse::<ipnet::IpNet>().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cidr_to_name(&n("10.0.0.0/26")), "10-0-0-0-26");
    assert_eq!(cidr_to_name(&n("fd00:1::/122")), "fd00-1---122");
}

#[test]
fn workload_endpoint_names_escape_dashes() {
    let ids = WorkloadEndpointIdentifiers {
        node: "node1".into(),
        orchestrator: "k8s".into(),
        pod: "my-nginx-b1337a".into(),
        endpoint: "eth0".into(),
        ..Default::default()
    };
    assert_eq!(
        ids.name().as_deref(),
        Ok("node1-k8s-my--nginx--b1337a-eth0")
    );
    assert_eq!(
        parse_workload_endpoint_name("node1-k8s-my--nginx--b1337a-eth0"),
        Some(ids.clone())
    );
    let cni = WorkloadEndpointIdentifiers {
        node: "host-a".into(),
        orchestrator: "cni".into(),
        container_id: "abc123".into(),
        endpoint: "eth0".into(),
        ..Default::default()
    };
    assert_eq!(cni.name().as_deref(), Ok("host--a-cni-abc123-eth0"));
    let libnetwork = WorkloadEndpointIdentifiers {
        node: "h".into(),
        orchestrator: "libnetwork".into(),
        endpoint: "ep1".into(),
        ..Default::default()
    };
    assert_eq!(
        libnetwork.name().as_deref(),
        Ok("h-libnetwork-libnetwork-ep1")
    );
    let prefix = WorkloadEndpointIdentifiers {
        node: "n".into(),
        orchestrator: "k8s".into(),
        ..Default::default()
    };
    assert_eq!(prefix.name_prefix().as_deref(), Ok("n-k8s-"));
    assert!(prefix.name().is_err());
    let bad = WorkloadEndpointIdentifiers {
        node: "-n".into(),
        ..cni
    };
    assert!(bad.name().is_err());
}
