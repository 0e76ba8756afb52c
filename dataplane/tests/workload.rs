//! Workload plumbing on a real kernel: two workloads in their own namespaces, joined to a
//! host namespace by Calico-style veths, configured by the interface reconciler, with the
//! host routes added by hand; they ping each other through the host (IPv4 and IPv6) and
//! the host, and removal leaves nothing behind. The plumbing is blocking: it runs outside
//! any async runtime, and inside one on a blocking thread.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Instant;

use dataplane::links::names::{k8s_veth_name, plain_veth_name};
use dataplane::links::{
    InterfaceConfig, KernelLinks, LinkReconciler, Mac, PlumbedWorkload, PlumbingError,
    WorkloadSpec, add_workload, remove_workload,
};
use dataplane::netns::{Netns, NetnsRef};
use testkit::require_root;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn path_of(ns: &Netns) -> PathBuf {
    PathBuf::from(format!("/run/netns/{}", ns.name()))
}

/// A host namespace with forwarding on and an uplink carrying the default route: proxy ARP
/// answers for 169.254.1.1 only if the host routes it through another device (proxy_arp in
/// the kernel's `Documentation/networking/ip-sysctl.rst`).
fn host_namespace() -> Netns {
    let host = Netns::create("dp-wl-host").unwrap();
    for args in [
        &["link", "add", "up0", "type", "veth", "peer", "name", "up1"][..],
        &["addr", "add", "192.0.2.1/24", "dev", "up0"],
        &["link", "set", "up0", "up"],
        &["link", "set", "up1", "up"],
        &["route", "add", "default", "dev", "up0"],
    ] {
        host.ip(args).unwrap();
    }
    for (path, v) in [
        ("/proc/sys/net/ipv4/ip_forward", "1"),
        ("/proc/sys/net/ipv6/conf/all/forwarding", "1"),
    ] {
        host.as_ref().write_file(path, v).unwrap();
    }
    host
}

fn ping(ns: &Netns, target: &str) -> Result<String, std::io::Error> {
    ns.exec("ping", &["-c", "3", "-i", "0.2", "-W", "2", target])
}

#[test]
fn two_workloads_ping_each_other_through_the_host() {
    if !require_root("two_workloads_ping_each_other_through_the_host") {
        return;
    }
    let host = host_namespace();
    let (wl_a, wl_b) = (
        Netns::create("dp-wl-a").unwrap(),
        Netns::create("dp-wl-b").unwrap(),
    );
    let name_a = k8s_veth_name("default", "pod-a");
    let name_b = plain_veth_name("0123456789abcdef0123").unwrap();
    assert_eq!(name_b, "cali0123456789a");
    assert_eq!(name_a.len(), 15);

    let spec_a = WorkloadSpec::new(&name_a, vec![ip("10.65.0.1"), ip("fd00:65::1")]);
    let spec_b = WorkloadSpec::new(&name_b, vec![ip("10.65.0.2"), ip("fd00:65::2")]).with_mtu(1400);
    let a = add_workload(&host.as_ref(), &path_of(&wl_a), &spec_a).unwrap();
    let b = add_workload(&host.as_ref(), &path_of(&wl_b), &spec_b).unwrap();
    assert_eq!(a.host_ifname, name_a);

    // Host side: the name and MAC Calico uses.
    for (p, mtu) in [(&a, "1500"), (&b, "1400")] {
        let link = host.ip(&["link", "show", "dev", &p.host_ifname]).unwrap();
        assert!(link.contains("link/ether ee:ee:ee:ee:ee:ee"), "{link}");
        assert!(link.contains(&format!("mtu {mtu}")), "{link}");
    }
    // Workload side: eth0 with its MAC, addresses and the 169.254.1.1 routes.
    for (ns, p, addr4, addr6) in [
        (&wl_a, &a, "10.65.0.1/32", "fd00:65::1/128"),
        (&wl_b, &b, "10.65.0.2/32", "fd00:65::2/128"),
    ] {
        let link = ns.ip(&["link", "show", "dev", "eth0"]).unwrap();
        assert!(
            link.contains(&format!("link/ether {}", p.workload_mac)),
            "{link}"
        );
        let addrs = ns.ip(&["addr", "show", "dev", "eth0"]).unwrap();
        assert!(addrs.contains(addr4) && addrs.contains(addr6), "{addrs}");
        let routes = ns.ip(&["-4", "route", "show"]).unwrap();
        assert!(
            routes
                .lines()
                .any(|l| l.trim() == "default via 169.254.1.1 dev eth0"),
            "{routes}"
        );
        assert!(
            routes
                .lines()
                .any(|l| l.trim() == "169.254.1.1 dev eth0 scope link"),
            "{routes}"
        );
        let routes6 = ns.ip(&["-6", "route", "show", "default"]).unwrap();
        let ll = Mac::HOST_SIDE.ipv6_link_local();
        assert!(
            routes6.contains(&format!("default via {ll} dev eth0")),
            "{routes6}"
        );
    }

    // The host side, configured as Felix does.
    let mut kernel = KernelLinks::new(host.as_ref());
    let rp = kernel.default_rp_filter().unwrap();
    let mut rec = LinkReconciler::default();
    for (p, spec) in [(&a, &spec_a), (&b, &spec_b)] {
        rec.upsert(
            InterfaceConfig::new(&p.host_ifname)
                .with_addresses(spec.addresses.iter().copied())
                .with_mac(p.workload_mac)
                .with_rp_filter(rp),
        )
        .unwrap();
    }
    rec.set_complete();
    let r = rec.sync(&mut kernel, Instant::now()).unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);

    // Host routes, by hand (the route reconciler's job).
    for (p, spec) in [(&a, &spec_a), (&b, &spec_b)] {
        for addr in &spec.addresses {
            let dst = if addr.is_ipv4() {
                format!("{addr}/32")
            } else {
                format!("{addr}/128")
            };
            host.ip(&["route", "add", &dst, "dev", &p.host_ifname, "scope", "link"])
                .unwrap();
        }
    }

    for (from, to) in [
        (&wl_a, "10.65.0.2"),
        (&wl_b, "10.65.0.1"),
        (&wl_a, "192.0.2.1"),
        (&wl_a, "fd00:65::2"),
        (&wl_b, "fd00:65::1"),
    ] {
        if let Err(e) = ping(from, to) {
            panic!("{} → {to}: {e}", from.name());
        }
    }
    // The workload resolved its gateway to the host side's MAC by proxy ARP.
    let gw = wl_a.ip(&["neigh", "show", "169.254.1.1"]).unwrap();
    assert!(gw.contains("lladdr ee:ee:ee:ee:ee:ee"), "{gw}");

    // Removal: the pair goes, both sides; a second removal is a no-op.
    for p in [&a, &b] {
        assert!(remove_workload(&host.as_ref(), &p.host_ifname).unwrap());
        assert!(!remove_workload(&host.as_ref(), &p.host_ifname).unwrap());
    }
    let links = host.ip(&["-o", "link", "show"]).unwrap();
    assert!(!links.contains("cali"), "{links}");
    for ns in [&wl_a, &wl_b] {
        let links = ns.ip(&["-o", "link", "show"]).unwrap();
        assert_eq!(links.lines().count(), 1, "only lo is left:\n{links}");
    }
}

#[test]
fn stale_host_interface_is_replaced() {
    if !require_root("stale_host_interface_is_replaced") {
        return;
    }
    let host = host_namespace();
    let wl = Netns::create("dp-wl-s").unwrap();
    let name = k8s_veth_name("default", "stale");
    host.ip(&["link", "add", &name, "type", "veth", "peer", "name", "old0"])
        .unwrap();
    let spec = WorkloadSpec::new(&name, vec![ip("10.65.0.5")]);
    let p: PlumbedWorkload = add_workload(&host.as_ref(), &path_of(&wl), &spec).unwrap();
    let link = host.ip(&["link", "show", "dev", &name]).unwrap();
    assert!(link.contains("ee:ee:ee:ee:ee:ee"), "{link}");
    assert!(
        host.ip(&["link", "show", "dev", "old0"]).is_err(),
        "old peer gone"
    );
    assert!(
        wl.ip(&["link", "show", "dev", "eth0"])
            .unwrap()
            .contains(&p.workload_mac.to_string())
    );
}

#[test]
fn plumbing_errors_name_the_interface_and_namespace() {
    if !require_root("plumbing_errors_name_the_interface_and_namespace") {
        return;
    }
    let host = host_namespace();
    let missing = PathBuf::from("/run/netns/dp-wl-does-not-exist");
    let spec = WorkloadSpec::new("cali0000000000e", vec![ip("10.65.0.9")]);
    let err = add_workload(&host.as_ref(), &missing, &spec).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cali0000000000e") && text.contains("dp-wl-does-not-exist"),
        "{text}"
    );
    // Nothing was left behind in the host.
    assert!(
        host.ip(&["link", "show", "dev", "cali0000000000e"])
            .is_err()
    );

    let bad = WorkloadSpec::new("cali/../../x", vec![]);
    let wl = Netns::create("dp-wl-e").unwrap();
    assert!(matches!(
        add_workload(&host.as_ref(), &path_of(&wl), &bad),
        Err(PlumbingError::InvalidName(_))
    ));
    assert!(!remove_workload(&NetnsRef::named(host.name()), "calinothere").unwrap());
}

#[test]
fn plumbing_needs_no_async_runtime() {
    if !require_root("plumbing_needs_no_async_runtime") {
        return;
    }
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "this test runs outside any runtime"
    );
    let host = host_namespace();
    let wl = Netns::create("dp-wl-nort").unwrap();
    let name = k8s_veth_name("default", "no-runtime");
    let spec = WorkloadSpec::new(&name, vec![ip("10.65.0.7"), ip("fd00:65::7")]);
    let p = add_workload(&host.as_ref(), &path_of(&wl), &spec).unwrap();
    assert_eq!(p.host_ifname, name);
    assert!(host.ip(&["link", "show", "dev", &name]).is_ok());
    assert!(remove_workload(&host.as_ref(), &name).unwrap());
    assert!(host.ip(&["link", "show", "dev", &name]).is_err());
    // A missing namespace is an error, not a panic.
    let missing = PathBuf::from("/run/netns/dp-wl-nort-missing");
    assert!(add_workload(&host.as_ref(), &missing, &spec).is_err());
    assert!(remove_workload(&NetnsRef::named("dp-wl-nort-missing"), &name).is_err());
}

#[tokio::test]
async fn plumbing_runs_on_a_blocking_thread_of_a_runtime() {
    if !require_root("plumbing_runs_on_a_blocking_thread_of_a_runtime") {
        return;
    }
    let host = host_namespace();
    let wl = Netns::create("dp-wl-rt").unwrap();
    let name = k8s_veth_name("default", "in-runtime");
    let spec = WorkloadSpec::new(&name, vec![ip("10.65.0.8")]);
    let (host_ref, path) = (host.as_ref(), path_of(&wl));
    let plumbed = tokio::task::spawn_blocking(move || add_workload(&host_ref, &path, &spec))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plumbed.host_ifname, name);
    let host_ref = host.as_ref();
    let removed = tokio::task::spawn_blocking(move || remove_workload(&host_ref, &name))
        .await
        .unwrap()
        .unwrap();
    assert!(removed);
}
