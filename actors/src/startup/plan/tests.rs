use std::collections::BTreeMap;

use super::*;

fn config(pairs: &[(&str, &str)]) -> NodeConfig {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("ETCD_ENDPOINTS".into(), "http://127.0.0.1:2379".into())])
        .collect();
    NodeConfig::from_lookup(|n| map.get(n).cloned(), Some("node-a".into())).unwrap()
}

fn host() -> Vec<Interface> {
    vec![Interface {
        name: "eth0".into(),
        addresses: vec!["192.0.2.10/24".parse().unwrap()],
    }]
}

fn node(name: &str, v4: &str) -> Node {
    let mut n = Node::default();
    n.metadata.name = name.into();
    n.spec.bgp = Some(NodeBGPSpec {
        ipv4_address: v4.into(),
        ..NodeBGPSpec::default()
    });
    n
}

fn no_route(_: &str) -> Option<IpAddr> {
    None
}

#[test]
fn a_new_node_gets_its_autodetected_address_and_the_default_pool() {
    let p = plan(&config(&[]), &[], &[], &host(), &no_route).unwrap();
    assert!(!p.exists);
    let bgp = p.node.spec.bgp.unwrap();
    assert_eq!(bgp.ipv4_address, "192.0.2.10/24");
    assert_eq!(bgp.ipv6_address, "");
    assert_eq!(bgp.as_number, None);
    assert_eq!(p.pools.len(), 1);
    assert_eq!(p.pools[0].metadata.name, "default-ipv4-ippool");
    assert_eq!(p.pools[0].spec.cidr, "192.168.0.0/16");
    assert!(p.pools[0].spec.nat_outgoing);
}

#[test]
fn an_existing_node_keeps_its_address_and_fields_unless_told_otherwise() {
    let mut existing = node("node-a", "198.51.100.7/24");
    existing
        .spec
        .bgp
        .as_mut()
        .unwrap()
        .route_reflector_cluster_id = "1.0.0.1".into();
    let p = plan(
        &config(&[("AS", "64513")]),
        &[existing.clone()],
        &[],
        &host(),
        &no_route,
    )
    .unwrap();
    assert!(p.exists);
    let bgp = p.node.spec.bgp.unwrap();
    assert_eq!(
        bgp.ipv4_address, "198.51.100.7/24",
        "IP unset keeps the stored address"
    );
    assert_eq!(bgp.route_reflector_cluster_id, "1.0.0.1");
    assert_eq!(bgp.as_number, Some(ASNumber(64513)));
    let p = plan(
        &config(&[("IP", "autodetect")]),
        &[existing],
        &[],
        &host(),
        &no_route,
    )
    .unwrap();
    assert_eq!(p.node.spec.bgp.unwrap().ipv4_address, "192.0.2.10/24");
}

#[test]
fn no_default_pool_when_one_of_the_family_exists_or_they_are_off() {
    let mut pool = IPPool::default();
    pool.metadata.name = "mine".into();
    pool.spec.cidr = "10.65.0.0/16".into();
    let p = plan(&config(&[]), &[], &[pool], &host(), &no_route).unwrap();
    assert!(p.pools.is_empty());
    let p = plan(
        &config(&[("NO_DEFAULT_POOLS", "true")]),
        &[],
        &[],
        &host(),
        &no_route,
    )
    .unwrap();
    assert!(p.pools.is_empty());
}

#[test]
fn an_address_another_node_uses_is_refused_naming_both() {
    let e = plan(
        &config(&[]),
        &[node("node-b", "192.0.2.10/24")],
        &[],
        &host(),
        &no_route,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "IPv4 address 192.0.2.10 of node node-a is already used by node node-b"
    );
}

#[test]
fn an_address_that_cannot_be_detected_says_which_setting_to_give() {
    let e = plan(
        &config(&[("IP6", "autodetect")]),
        &[],
        &[],
        &host(),
        &no_route,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no IPv6 address found for node node-a by first-found (set IP6 to an address, or \
         IP6_AUTODETECTION_METHOD)"
    );
}

#[test]
fn ip_none_leaves_no_address() {
    let p = plan(
        &config(&[("IP", "none")]),
        &[node("node-a", "192.0.2.10/24")],
        &[],
        &host(),
        &no_route,
    )
    .unwrap();
    assert_eq!(p.node.spec.bgp, None);
}
