//! `model::bgp` beyond confd's vectors: deduplication, passive sides, route reflectors,
//! passwords, families, listen addresses, and the export policy.

use std::net::IpAddr;

use model::bgp::{
    self, BgpInputs, ExportAction, NextHop, PeeringError, PeeringOptions, Peerings, Session,
    SessionKind,
};
use model::resources::{Resource, SecretKeySelector};

fn load(yaml: &str) -> Vec<Resource> {
    model::document::resources_from_text(yaml, "test").unwrap_or_else(|e| panic!("{e}"))
}

fn peerings_of(resources: &[Resource], node: &str) -> Peerings {
    bgp::peerings(
        node,
        &BgpInputs::from_resources(resources),
        PeeringOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn node(name: &str, v4: &str, extra: &str) -> String {
    format!(
        "---\nkind: Node\napiVersion: projectcalico.org/v3\nmetadata:\n  name: {name}\n{extra}spec:\n  bgp:\n    ipv4Address: {v4}/24\n"
    )
}

fn session<'a>(p: &'a Peerings, name: &str) -> &'a Session {
    p.sessions()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no session {name} in {:?}", names(p)))
}

fn names(p: &Peerings) -> Vec<&str> {
    p.sessions().map(|s| s.name.as_str()).collect()
}

const NO_MESH: &str = "kind: BGPConfiguration\napiVersion: projectcalico.org/v3\nmetadata:\n  name: default\nspec:\n  nodeToNodeMeshEnabled: false\n";

#[test]
fn unknown_node_is_an_error_naming_it() {
    let r = load(&node("a", "10.0.0.1", ""));
    let err = bgp::peerings(
        "ghost",
        &BgpInputs::from_resources(&r),
        PeeringOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err, PeeringError::UnknownNode("ghost".into()));
    assert!(err.to_string().contains("\"ghost\""), "{err}");
}

#[test]
fn mesh_has_exactly_one_passive_side_per_pair_compared_as_text() {
    // As text "10.0.0.10" < "10.0.0.2" although numerically greater.
    let addrs = ["10.0.0.2", "10.0.0.10", "10.0.0.9", "10.0.0.100"];
    let yaml: String = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| node(&format!("n{i}"), a, ""))
        .collect();
    let r = load(&yaml);
    let all: Vec<Peerings> = (0..addrs.len())
        .map(|i| peerings_of(&r, &format!("n{i}")))
        .collect();
    for (i, a) in addrs.iter().enumerate() {
        assert_eq!(all[i].v4.len(), addrs.len() - 1);
        for (j, b) in addrs.iter().enumerate().filter(|(j, _)| *j != i) {
            let ab = all[i].v4.iter().find(|s| s.ip.to_string() == *b).unwrap();
            let ba = all[j].v4.iter().find(|s| s.ip.to_string() == *a).unwrap();
            assert!(ab.passive != ba.passive, "{a} <-> {b}: one side passive");
            assert_eq!(ab.passive, b > a, "{a} -> {b}");
            assert_eq!(ab.kind, SessionKind::Mesh);
        }
    }
    let to_10 = session(&all[0], "Mesh_10_0_0_10");
    assert!(!to_10.passive, "10.0.0.2 connects to 10.0.0.10");
}

#[test]
fn mesh_uses_the_peers_own_as_and_listen_port() {
    let yaml = format!(
        "{}{}{}---\nkind: BGPConfiguration\napiVersion: projectcalico.org/v3\nmetadata:\n  name: node.b\nspec:\n  listenPort: 1790\n",
        node("a", "10.0.0.1", ""),
        node("b", "10.0.0.2", ""),
        "---\nkind: Node\napiVersion: projectcalico.org/v3\nmetadata:\n  name: c\nspec:\n  bgp:\n    ipv4Address: 10.0.0.3/24\n    asNumber: 65003\n"
    );
    let p = peerings_of(&load(&yaml), "a");
    assert_eq!(p.as_number, 64512);
    assert_eq!(session(&p, "Mesh_10_0_0_2").port, Some(1790));
    assert_eq!(session(&p, "Mesh_10_0_0_3").as_number, 65003);
    assert_eq!(session(&p, "Mesh_10_0_0_3").port, None);
    assert_eq!(peerings_of(&load(&yaml), "b").listen_port, Some(1790));
}

#[test]
fn global_peering_beats_a_node_peering_to_the_same_address_and_port() {
    let yaml = format!(
        "{NO_MESH}{}---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: a-node\nspec:\n  node: a\n  peerIP: 192.0.2.1\n  asNumber: 65001\n---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: z-global\nspec:\n  peerIP: 192.0.2.1\n  asNumber: 65000\n---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: other-port\nspec:\n  node: a\n  peerIP: 192.0.2.1:1179\n  asNumber: 65002\n",
        node("a", "10.0.0.1", "")
    );
    let p = peerings_of(&load(&yaml), "a");
    assert_eq!(names(&p), ["Global_192_0_2_1", "Node_192_0_2_1_port_1179"]);
    assert_eq!(session(&p, "Global_192_0_2_1").as_number, 65000);
    assert_eq!(session(&p, "Node_192_0_2_1_port_1179").as_number, 65002);
}

#[test]
fn of_two_bgppeers_to_one_address_the_first_by_name_wins() {
    let yaml = format!(
        "{NO_MESH}{}---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: peer-b\nspec:\n  peerIP: 192.0.2.1\n  asNumber: 65002\n---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: peer-a\nspec:\n  peerIP: 192.0.2.1\n  asNumber: 65001\n",
        node("a", "10.0.0.1", "")
    );
    let p = peerings_of(&load(&yaml), "a");
    assert_eq!(p.v4.len(), 1);
    assert_eq!(p.v4[0].as_number, 65001);
}

#[test]
fn a_forward_peering_beats_the_reverse_of_another() {
    // "a-reverse" gives b a reverse session to a (ttl 1); "z-forward" gives b its own (ttl 3).
    let yaml = format!(
        "{NO_MESH}{}{}---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: a-reverse\nspec:\n  node: a\n  peerSelector: name == 'b'\n  ttlSecurity: 1\n---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: z-forward\nspec:\n  node: b\n  peerSelector: name == 'a'\n  ttlSecurity: 3\n",
        node("a", "10.0.0.1", "  labels:\n    name: a\n"),
        node("b", "10.0.0.2", "  labels:\n    name: b\n")
    );
    let r = load(&yaml);
    assert_eq!(
        session(&peerings_of(&r, "b"), "Node_10_0_0_1").ttl_security,
        Some(3)
    );
    assert_eq!(
        session(&peerings_of(&r, "a"), "Node_10_0_0_2").ttl_security,
        Some(1)
    );
}

#[test]
fn route_reflectors_of_one_cluster_are_not_meshed_nor_clients_of_each_other() {
    let rr = |name: &str, ip: &str, id: &str| {
        format!(
            "---\nkind: Node\napiVersion: projectcalico.org/v3\nmetadata:\n  name: {name}\n  labels:\n    rr: \"yes\"\nspec:\n  bgp:\n    ipv4Address: {ip}/24\n    routeReflectorClusterID: {id}\n"
        )
    };
    let yaml = format!(
        "{}{}{}{}---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: rr-mesh\nspec:\n  nodeSelector: has(rr)\n  peerSelector: has(rr)\n",
        rr("rr1", "10.0.0.1", "1.1.1.1"),
        rr("rr2", "10.0.0.2", "1.1.1.1"),
        rr("rr3", "10.0.0.3", "2.2.2.2"),
        node("client", "10.0.0.9", ""),
    );
    let r = load(&yaml);
    let p = peerings_of(&r, "rr1");
    assert_eq!(
        p.route_reflector_cluster_id,
        Some("1.1.1.1".parse().unwrap())
    );
    // No mesh on a reflector; the selector peering reaches the other two reflectors.
    assert_eq!(names(&p), ["Node_10_0_0_2", "Node_10_0_0_3"]);
    assert!(!session(&p, "Node_10_0_0_2").rr_client);
    assert_eq!(session(&p, "Node_10_0_0_2").rr_cluster_id, None);
    let other_cluster = session(&p, "Node_10_0_0_3");
    assert!(other_cluster.rr_client);
    assert_eq!(
        other_cluster.rr_cluster_id,
        Some("1.1.1.1".parse().unwrap())
    );
    // The mesh of a plain node leaves the reflectors out.
    let c = peerings_of(&r, "client");
    assert!(c.v4.is_empty(), "{:?}", names(&c));
}

#[test]
fn an_ebgp_peer_of_a_route_reflector_is_not_its_client() {
    let yaml = format!(
        "{NO_MESH}---\nkind: Node\napiVersion: projectcalico.org/v3\nmetadata:\n  name: rr\nspec:\n  bgp:\n    ipv4Address: 10.0.0.1/24\n    routeReflectorClusterID: 1.1.1.1\n---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: tor\nspec:\n  peerIP: 192.0.2.1\n  asNumber: 65000\n---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: tor-local-as\nspec:\n  peerIP: 192.0.2.2\n  asNumber: 65000\n  localASNumber: 65000\n"
    );
    let p = peerings_of(&load(&yaml), "rr");
    assert!(!session(&p, "Global_192_0_2_1").rr_client);
    // Presenting the peer's AS makes it iBGP, so a client.
    let ibgp = session(&p, "Global_192_0_2_2");
    assert!(ibgp.rr_client);
    assert_eq!(ibgp.effective_local_as, 65000);
}

#[test]
fn passwords_stay_secret_references_and_resolve_only_on_request() {
    let yaml = format!(
        "---\nkind: BGPConfiguration\napiVersion: projectcalico.org/v3\nmetadata:\n  name: default\nspec:\n  nodeMeshPassword:\n    secretKeyRef:\n      name: mesh-secret\n      key: pw\n{}{}---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: tor\nspec:\n  peerIP: 192.0.2.1\n  asNumber: 65000\n  password:\n    secretKeyRef:\n      name: tor-secret\n      key: md5\n",
        node("a", "10.0.0.1", ""),
        node("b", "10.0.0.2", "")
    );
    let p = peerings_of(&load(&yaml), "a");
    let mesh = session(&p, "Mesh_10_0_0_2");
    let tor = session(&p, "Global_192_0_2_1");
    let reference = |name: &str, key: &str| SecretKeySelector {
        name: name.into(),
        key: key.into(),
        optional: None,
    };
    assert_eq!(mesh.password, Some(reference("mesh-secret", "pw")));
    assert_eq!(tor.password, Some(reference("tor-secret", "md5")));
    let lookup = |r: &SecretKeySelector| (r.name == "tor-secret").then(|| "hunter2".to_owned());
    let resolved = tor.resolve_password(lookup).expect("tor password resolves");
    assert_eq!(resolved.expose(), "hunter2");
    assert!(!format!("{resolved:?}").contains("hunter2"));
    // A secret that cannot be read leaves the session without a password, as in confd.
    assert_eq!(mesh.resolve_password(lookup), None);
}

#[test]
fn selector_peerings_take_next_hop_mode_but_not_local_as() {
    let yaml = format!(
        "{NO_MESH}{}{}---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: p\nspec:\n  node: a\n  peerSelector: name == 'b'\n  nextHopMode: Self\n  maxRestartTime: 1m30s\n  keepaliveTime: 20s\n  sourceAddress: None\n  filters:\n  - f1\n",
        node("a", "10.0.0.1", "  labels:\n    name: a\n"),
        node("b", "10.0.0.2", "  labels:\n    name: b\n")
    );
    let s = peerings_of(&load(&yaml), "a");
    let s = session(&s, "Node_10_0_0_2");
    assert_eq!(s.next_hop, Some(NextHop::SelfHop));
    assert_eq!(s.local_as, None);
    assert_eq!(s.graceful_restart_time, Some(90));
    assert_eq!(s.keepalive_time, Some(20));
    assert_eq!(s.source_address, None);
    assert_eq!(s.filters, ["f1"]);
}

#[test]
fn reachable_by_is_carried_and_a_family_without_a_node_address_has_no_sessions() {
    let yaml = format!(
        "{NO_MESH}{}---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: tor4\nspec:\n  peerIP: 192.0.2.1\n  asNumber: 65000\n  reachableBy: 10.0.0.254\n---\nkind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: tor6\nspec:\n  peerIP: 2001:db8::1\n  asNumber: 65000\n",
        node("a", "10.0.0.1", "")
    );
    let p = peerings_of(&load(&yaml), "a");
    assert_eq!(names(&p), ["Global_192_0_2_1"]);
    assert_eq!(
        p.v4[0].reachable_by,
        Some("10.0.0.254".parse::<IpAddr>().unwrap())
    );
}

#[test]
fn bind_mode_node_ip_listens_on_the_node_addresses() {
    let yaml = format!(
        "---\nkind: BGPConfiguration\napiVersion: projectcalico.org/v3\nmetadata:\n  name: default\nspec:\n  bindMode: NodeIP\n  listenPort: 1790\n{}",
        node("a", "10.0.0.1", "")
    );
    let p = peerings_of(&load(&yaml), "a");
    assert_eq!(p.listen_addresses, ["10.0.0.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(p.listen_port, Some(1790));
    assert!(
        peerings_of(&load(&node("a", "10.0.0.1", "")), "a")
            .listen_addresses
            .is_empty()
    );
}

const POOLS: &str = "---\nkind: IPPool\napiVersion: projectcalico.org/v3\nmetadata:\n  name: big\nspec:\n  cidr: 10.65.0.0/16\n---\nkind: IPPool\napiVersion: projectcalico.org/v3\nmetadata:\n  name: quiet\nspec:\n  cidr: 10.65.8.0/24\n  disableBGPExport: true\n---\nkind: IPPool\napiVersion: projectcalico.org/v3\nmetadata:\n  name: v6\nspec:\n  cidr: fd00:10::/64\n";

#[test]
fn export_accepts_inside_enabled_pools_only_and_rejects_disabled_ones_first() {
    let r = load(POOLS);
    let policy = bgp::export_policy(&BgpInputs::from_resources(&r));
    let exports = |p: &str| policy.exports(p.parse().unwrap());
    assert!(exports("10.65.0.0/16"));
    assert!(exports("10.65.3.0/26"));
    assert!(exports("10.65.3.7/32"));
    assert!(!exports("10.65.8.7/32"), "inside the disabled pool");
    assert!(!exports("10.65.8.0/24"));
    assert!(!exports("10.64.0.0/15"), "wider than the pool");
    assert!(!exports("192.0.2.0/24"), "outside every pool");
    assert!(exports("fd00:10::5/128"));
    assert!(!exports("fd00:11::/64"));
    assert_eq!(policy.v4.rules[0].action, ExportAction::Reject);
    assert_eq!(policy.v4.rules[1].action, ExportAction::Accept);
}

#[test]
fn workload_routes_are_the_nodes_workload_addresses_inside_pools() {
    let weps = "---\nkind: WorkloadEndpoint\napiVersion: projectcalico.org/v3\nmetadata:\n  name: a-k8s-p1-eth0\n  namespace: ns\nspec:\n  node: a\n  orchestrator: k8s\n  pod: p1\n  endpoint: eth0\n  interfaceName: cali1\n  ipNetworks:\n  - 10.65.3.7/32\n  - fd00:10::7/128\n  - 192.0.2.7/32\n---\nkind: WorkloadEndpoint\napiVersion: projectcalico.org/v3\nmetadata:\n  name: b-k8s-p2-eth0\n  namespace: ns\nspec:\n  node: b\n  orchestrator: k8s\n  pod: p2\n  endpoint: eth0\n  interfaceName: cali2\n  ipNetworks:\n  - 10.65.4.1/32\n";
    let r = load(&format!("{POOLS}{weps}"));
    let inputs = BgpInputs::from_resources(&r);
    let endpoints = r.iter().filter_map(|r| match r {
        Resource::WorkloadEndpoint(w) => Some(w),
        _ => None,
    });
    let routes: Vec<String> = bgp::workload_routes("a", endpoints, &inputs)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(routes, ["10.65.3.7/32", "fd00:10::7/128"]);
}
