//! Node address autodetection on a real kernel: a namespace with Docker's bridge, a Calico
//! workload interface and two uplinks; each method picks what calico/node would.

use actors::config::autodetect::{Family, Method};
use actors::config::host::{interfaces, source_towards};
use dataplane::netns::Netns;
use testkit::require_root;

fn host() -> Netns {
    let ns = Netns::create("autodetect").expect("namespace");
    // Veth pairs (the dummy driver is not in every kernel); the peers have no address.
    for (i, (name, addr)) in [
        ("docker0", "172.17.0.1/16"),
        ("cali0123456789a", "169.254.1.1/32"),
        ("eth0", "192.0.2.10/24"),
        ("eth1", "198.51.100.7/24"),
    ]
    .into_iter()
    .enumerate()
    {
        let peer = format!("peer{i}");
        ns.ip(&["link", "add", name, "type", "veth", "peer", "name", &peer])
            .expect("veth pair");
        ns.ip(&["addr", "add", addr, "dev", name]).expect("address");
        ns.ip(&["link", "set", name, "up"]).expect("link up");
    }
    ns.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::10/64",
        "dev",
        "eth1",
        "nodad",
    ])
    .expect("IPv6 address");
    ns
}

fn pick(ns: &Netns, method: &str, family: Family) -> Option<String> {
    let ifaces = interfaces(&ns.as_ref()).expect("interfaces");
    let netns = ns.as_ref();
    let reach = move |dest: &str| {
        let dest = dest.to_owned();
        netns.run(move || Ok(source_towards(&dest))).ok().flatten()
    };
    Method::parse("IP_AUTODETECTION_METHOD", method)
        .expect("method")
        .select(family, &ifaces, &reach)
        .map(|n| n.to_string())
}

#[test]
fn every_method_picks_what_calico_node_would_on_a_real_host() {
    if !require_root("every_method_picks_what_calico_node_would_on_a_real_host") {
        return;
    }
    let ns = host();
    assert_eq!(
        pick(&ns, "first-found", Family::V4).as_deref(),
        Some("192.0.2.10/24")
    );
    assert_eq!(
        pick(&ns, "first-found", Family::V6).as_deref(),
        Some("2001:db8::10/64")
    );
    assert_eq!(
        pick(&ns, "interface=eth1", Family::V4).as_deref(),
        Some("198.51.100.7/24")
    );
    assert_eq!(
        pick(&ns, "skip-interface=eth0", Family::V4).as_deref(),
        Some("198.51.100.7/24")
    );
    assert_eq!(
        pick(&ns, "cidr=198.51.100.0/24", Family::V4).as_deref(),
        Some("198.51.100.7/24")
    );
    assert_eq!(
        pick(&ns, "can-reach=198.51.100.99", Family::V4).as_deref(),
        Some("198.51.100.7/24")
    );
    assert_eq!(
        pick(&ns, "can-reach=203.0.113.1", Family::V4),
        None,
        "no route, no address"
    );
}
