use std::collections::BTreeMap;

use super::*;

fn config(pairs: &[(&str, &str)]) -> Result<NodeConfig, ConfigError> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([(
            "ETCD_ENDPOINTS".to_owned(),
            "http://127.0.0.1:2379".to_owned(),
        )])
        .collect();
    NodeConfig::from_lookup(|name| map.get(name).cloned(), Some("Host-A".into()))
}

#[test]
fn defaults_are_calico_nodes() {
    let c = config(&[]).unwrap();
    assert_eq!(c.node_name, "host-a");
    assert_eq!(c.ipv4, AddressSetting::KeepOrAutodetect(Method::FirstFound));
    assert_eq!(c.ipv6, AddressSetting::None);
    assert_eq!(c.as_number, None);
    assert_eq!(c.networking, Networking::Bgp);
    assert_eq!(
        c.default_pools,
        vec![DefaultPool {
            cidr: "192.168.0.0/16".parse().unwrap(),
            nat_outgoing: true,
            block_size: 26,
            node_selector: "all()".into(),
        }]
    );
    assert_eq!(c.log_filter, "info");
    assert_eq!((c.health, c.metrics), (None, None));
    assert!(c.felix.is_empty());
}

#[test]
fn node_name_comes_from_nodename_then_hostname_variable() {
    assert_eq!(config(&[("NODENAME", "n1")]).unwrap().node_name, "n1");
    assert_eq!(config(&[("HOSTNAME", "h2")]).unwrap().node_name, "h2");
}

#[test]
fn addresses_explicit_autodetect_or_none() {
    let c = config(&[
        ("IP", "10.0.0.5/24"),
        ("IP6", "autodetect"),
        ("IP6_AUTODETECTION_METHOD", "interface=eth.*"),
    ])
    .unwrap();
    assert_eq!(
        c.ipv4,
        AddressSetting::Explicit("10.0.0.5/24".parse().unwrap())
    );
    assert!(matches!(
        c.ipv6,
        AddressSetting::Autodetect(Method::Interface(_))
    ));
    let c = config(&[("IP", "10.0.0.5"), ("IP6", "2001:db8::1")]).unwrap();
    assert_eq!(
        c.ipv4,
        AddressSetting::Explicit("10.0.0.5/32".parse().unwrap())
    );
    assert_eq!(
        c.ipv6,
        AddressSetting::Explicit("2001:db8::1/128".parse().unwrap())
    );
    assert_eq!(
        config(&[("IP", "none")]).unwrap().ipv4,
        AddressSetting::None
    );
    let c = config(&[
        ("IP", "autodetect"),
        ("IP_AUTODETECTION_METHOD", "can-reach=8.8.8.8"),
    ])
    .unwrap();
    assert_eq!(
        c.ipv4,
        AddressSetting::Autodetect(Method::CanReach("8.8.8.8".into()))
    );
}

#[test]
fn as_numbers_plain_or_dotted() {
    assert_eq!(config(&[("AS", "64512")]).unwrap().as_number, Some(64512));
    assert_eq!(config(&[("AS", "1.10")]).unwrap().as_number, Some(65546));
}

#[test]
fn router_id_from_calico_router_id() {
    assert_eq!(config(&[]).unwrap().router_id, RouterIdSource::NodeAddress);
    assert_eq!(
        config(&[("CALICO_ROUTER_ID", "hash")]).unwrap().router_id,
        RouterIdSource::Hash
    );
    assert_eq!(
        config(&[("CALICO_ROUTER_ID", "10.0.0.9")])
            .unwrap()
            .router_id,
        RouterIdSource::Fixed("10.0.0.9".parse().unwrap())
    );
    let e = config(&[("CALICO_ROUTER_ID", "nine")]).unwrap_err();
    assert!(e.to_string().contains("CALICO_ROUTER_ID"), "{e}");
}

#[test]
fn pools_from_the_environment_or_none() {
    let c = config(&[
        ("CALICO_IPV4POOL_CIDR", "10.65.0.0/16"),
        ("CALICO_IPV4POOL_BLOCK_SIZE", "24"),
        ("CALICO_IPV4POOL_NAT_OUTGOING", "false"),
        ("CALICO_IPV6POOL_CIDR", "fd00:65::/48"),
    ])
    .unwrap();
    assert_eq!(c.default_pools.len(), 2);
    assert_eq!(c.default_pools[0].block_size, 24);
    assert!(!c.default_pools[0].nat_outgoing);
    assert_eq!(c.default_pools[1].block_size, 122);
    assert!(!c.default_pools[1].nat_outgoing);
    assert!(
        config(&[("NO_DEFAULT_POOLS", "true")])
            .unwrap()
            .default_pools
            .is_empty()
    );
}

#[test]
fn health_metrics_and_log_level_as_felix_reads_them() {
    let c = config(&[
        ("FELIX_HEALTHENABLED", "true"),
        ("FELIX_PROMETHEUSMETRICSENABLED", "true"),
        ("FELIX_PROMETHEUSMETRICSPORT", "9100"),
        ("FELIX_LOGSEVERITYSCREEN", "Warning"),
    ])
    .unwrap();
    assert_eq!(c.health, Some("127.0.0.1:9099".parse().unwrap()));
    assert_eq!(c.metrics, Some("0.0.0.0:9100".parse().unwrap()));
    assert_eq!(c.log_filter, "warn");
    let c = config(&[
        ("RUST_LOG", "actors=debug"),
        ("FELIX_LOGSEVERITYSCREEN", "Error"),
    ])
    .unwrap();
    assert_eq!(c.log_filter, "actors=debug");
}

#[test]
fn every_bad_setting_names_its_variable_and_value() {
    for (pairs, start) in [
        (vec![("IP", "10.0.0.300")], "IP=\"10.0.0.300\""),
        (
            vec![("IP", "2001:db8::1")],
            "IP=\"2001:db8::1\": not an IPv4",
        ),
        (vec![("IP6", "10.0.0.1")], "IP6=\"10.0.0.1\": not an IPv6"),
        (vec![("AS", "65536.1")], "AS=\"65536.1\""),
        (
            vec![("CALICO_NETWORKING_BACKEND", "vxlan")],
            "CALICO_NETWORKING_BACKEND=\"vxlan\"",
        ),
        (
            vec![("CALICO_IPV4POOL_CIDR", "10.65.0.1/16")],
            "CALICO_IPV4POOL_CIDR=\"10.65.0.1/16\"",
        ),
        (
            vec![("CALICO_IPV4POOL_BLOCK_SIZE", "8")],
            "CALICO_IPV4POOL_BLOCK_SIZE=\"8\"",
        ),
        (
            vec![("NO_DEFAULT_POOLS", "maybe")],
            "NO_DEFAULT_POOLS=\"maybe\"",
        ),
        (
            vec![("FELIX_LOGSEVERITYSCREEN", "Loud")],
            "FELIX_LOGSEVERITYSCREEN=\"Loud\"",
        ),
        (
            vec![("FELIX_HEALTHENABLED", "true"), ("FELIX_HEALTHPORT", "x")],
            "FELIX_HEALTHPORT=\"x\"",
        ),
        (
            vec![("IP_AUTODETECTION_METHOD", "nearest")],
            "IP_AUTODETECTION_METHOD=\"nearest\"",
        ),
    ] {
        let e = config(&pairs).unwrap_err().to_string();
        assert!(e.starts_with(start), "{pairs:?}: {e}");
    }
}
