//! The workload interface reconciler on a real kernel, in a network namespace: sysctls and
//! permanent neighbours read back as desired (checked with `ip` and `/proc/sys`, not with the
//! backend itself), a restart plans nothing, hand-made drift is repaired at the refresh, an
//! interface that vanishes mid-batch fails alone and is configured when it returns, only
//! our permanent neighbours are ever removed, and the twin reports what the kernel reports
//! after the same ops.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dataplane::ReadScope;
use dataplane::links::{
    InterfaceConfig, KernelLinks, LinkBackend, LinkReconciler, LinkTwin, Mac, Observation, Op,
    OpFailure, Sysctl,
};
use dataplane::netns::Netns;
use testkit::require_root;

fn mac(b: u8) -> Mac {
    Mac([0x0a, 0x58, 0, 0, 0, b])
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A namespace with veths `names[i]` ↔ `p<i>` (both ends in the namespace).
fn namespace_with(names: &[&str]) -> Netns {
    let ns = Netns::create("dp-links").unwrap();
    for (i, n) in names.iter().enumerate() {
        add_veth(&ns, n, i);
    }
    ns
}

fn add_veth(ns: &Netns, name: &str, i: usize) {
    ns.ip(&[
        "link",
        "add",
        name,
        "type",
        "veth",
        "peer",
        "name",
        &format!("p{i}"),
    ])
    .unwrap();
}

fn workload(name: &str, n: u8) -> InterfaceConfig {
    InterfaceConfig::new(name)
        .with_addresses([ip(&format!("10.65.0.{n}")), ip(&format!("fd00:65::{n}"))])
        .with_mac(mac(n))
}

fn sysctl(ns: &Netns, s: Sysctl, iface: &str) -> i32 {
    ns.as_ref()
        .read_file(&s.path(iface))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Whether the kernel holds `cfg`, read with `ip` and `/proc/sys`.
fn assert_configured(ns: &Netns, cfg: &InterfaceConfig) {
    let name = &cfg.name;
    for (s, v) in cfg.sysctls(true) {
        assert_eq!(sysctl(ns, s, name), v, "{}", s.name(name));
    }
    let link = ns.ip(&["link", "show", "dev", name]).unwrap();
    let flags = link
        .split('<')
        .nth(1)
        .and_then(|s| s.split('>').next())
        .unwrap_or("");
    assert!(flags.split(',').any(|f| f == "UP"), "{link}");
    let neigh = ns
        .ip(&["-4", "neigh", "show", "dev", name, "nud", "permanent"])
        .unwrap();
    let neigh6 = ns
        .ip(&["-6", "neigh", "show", "dev", name, "nud", "permanent"])
        .unwrap();
    let all = format!("{neigh}{neigh6}");
    let mac = cfg.mac.unwrap();
    for a in &cfg.addresses {
        assert!(
            all.lines()
                .any(|l| l.starts_with(&format!("{a} lladdr {mac} PERMANENT"))),
            "{name}: no permanent {a} → {mac} in:\n{all}"
        );
    }
    assert_eq!(all.lines().count(), cfg.addresses.len(), "{all}");
}

fn started(configs: &[InterfaceConfig]) -> LinkReconciler {
    let mut rec = LinkReconciler::default();
    for c in configs {
        rec.upsert(c.clone()).unwrap();
    }
    rec.set_complete();
    rec
}

#[test]
fn configures_sysctls_link_and_permanent_neighbours() {
    if !require_root("configures_sysctls_link_and_permanent_neighbours") {
        return;
    }
    let ns = namespace_with(&["cali1", "cali2"]);
    let mut kernel = KernelLinks::new(ns.as_ref());
    let rp = kernel.default_rp_filter().unwrap();
    let configs = [
        workload("cali1", 1).with_rp_filter(rp),
        workload("cali2", 2).with_rp_filter(0),
    ];
    let mut rec = started(&configs);
    let report = rec.sync(&mut kernel, Instant::now()).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    for c in &configs {
        assert_configured(&ns, c);
    }
    assert!(rec.in_sync());
}

#[test]
fn restart_over_a_configured_namespace_plans_nothing() {
    if !require_root("restart_over_a_configured_namespace_plans_nothing") {
        return;
    }
    let ns = namespace_with(&["cali1", "cali2"]);
    let configs = [workload("cali1", 1), workload("cali2", 2)];
    let t0 = Instant::now();
    started(&configs)
        .sync(&mut KernelLinks::new(ns.as_ref()), t0)
        .unwrap();

    let mut kernel = KernelLinks::new(ns.as_ref());
    let mut rec = started(&configs);
    let read = rec.wants_read(t0).unwrap();
    let observed = kernel.read(&read.names).unwrap();
    let plan = rec.plan(&read, &observed, t0);
    assert_eq!(plan, Vec::<Op>::new());
    rec.applied(&plan, &[], t0);
    assert!(rec.in_sync());
}

#[test]
fn drift_made_by_hand_is_repaired_at_the_refresh() {
    if !require_root("drift_made_by_hand_is_repaired_at_the_refresh") {
        return;
    }
    let ns = namespace_with(&["cali1"]);
    let cfg = workload("cali1", 1);
    let mut kernel = KernelLinks::new(ns.as_ref());
    let mut rec = started(std::slice::from_ref(&cfg));
    let t0 = Instant::now();
    rec.sync(&mut kernel, t0).unwrap();

    ns.ip(&["neigh", "del", "10.65.0.1", "dev", "cali1"])
        .unwrap();
    ns.ip(&["-6", "neigh", "del", "fd00:65::1", "dev", "cali1"])
        .unwrap();
    ns.as_ref()
        .write_file(&Sysctl::ProxyArp.path("cali1"), "0")
        .unwrap();
    ns.ip(&["link", "set", "cali1", "down"]).unwrap();
    assert_eq!(sysctl(&ns, Sysctl::ProxyArp, "cali1"), 0);

    assert!(
        rec.sync(&mut kernel, t0 + Duration::from_secs(1))
            .unwrap()
            .nothing_done()
    );
    let report = rec.sync(&mut kernel, t0 + Duration::from_secs(90)).unwrap();
    assert_eq!(report.ops, 4, "proxy_arp, link up, two neighbours");
    assert_configured(&ns, &cfg);
}

#[test]
fn interface_vanishing_mid_batch_fails_alone_and_is_configured_when_recreated() {
    if !require_root("interface_vanishing_mid_batch_fails_alone_and_is_configured_when_recreated") {
        return;
    }
    let ns = namespace_with(&["caliA", "caliB", "caliC"]);
    let configs = [
        workload("caliA", 1),
        workload("caliB", 2),
        workload("caliC", 3),
    ];
    let mut kernel = KernelLinks::new(ns.as_ref());
    let mut rec = started(&configs);
    let t0 = Instant::now();

    let read = rec.wants_read(t0).unwrap();
    let observed = kernel.read(&read.names).unwrap();
    let plan = rec.plan(&read, &observed, t0);
    assert!(plan.iter().any(|op| op.interface() == "caliB"));
    ns.ip(&["link", "del", "caliB"]).unwrap();
    let failures = kernel.apply(&plan);
    rec.applied(&plan, &failures, t0);

    assert!(!failures.is_empty());
    for f in &failures {
        assert_eq!(f.interface(), "caliB", "{f}");
        assert_eq!(f.cause, OpFailure::NoSuchInterface("caliB".into()), "{f}");
        assert!(f.to_string().contains("caliB"), "{f}");
    }
    // Every op on caliB failed; the others all applied.
    let on_b = plan.iter().filter(|op| op.interface() == "caliB").count();
    assert_eq!(failures.len(), on_b);
    assert_configured(&ns, &configs[0]);
    assert_configured(&ns, &configs[2]);
    let retry_at = rec.pending()["caliB"].unwrap();
    assert!(!rec.in_sync());

    // Still gone at the retry: still pending, retried later.
    let r = rec.sync(&mut kernel, retry_at).unwrap();
    assert_eq!(
        (r.read, r.objects_read, r.ops),
        (Some(ReadScope::Partial), 1, 0)
    );
    let retry_again = rec.pending()["caliB"].unwrap();
    assert!(retry_again > retry_at);

    // Recreated: configured at the next retry.
    add_veth(&ns, "caliB", 1);
    let r = rec.sync(&mut kernel, retry_again).unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_configured(&ns, &configs[1]);
    assert!(rec.in_sync());
}

#[test]
fn only_our_permanent_neighbours_are_removed() {
    if !require_root("only_our_permanent_neighbours_are_removed") {
        return;
    }
    let ns = namespace_with(&["cali1", "caliz"]);
    // On the workload interface: a stale permanent entry and a learnt one.
    ns.ip(&[
        "neigh",
        "add",
        "10.65.0.99",
        "lladdr",
        "0a:58:00:00:00:63",
        "dev",
        "cali1",
        "nud",
        "permanent",
    ])
    .unwrap();
    ns.ip(&[
        "neigh",
        "add",
        "10.65.0.98",
        "lladdr",
        "0a:58:00:00:00:62",
        "dev",
        "cali1",
        "nud",
        "stale",
    ])
    .unwrap();
    // On a workload-named interface we were not told about: left alone.
    ns.ip(&[
        "neigh",
        "add",
        "10.65.0.97",
        "lladdr",
        "0a:58:00:00:00:61",
        "dev",
        "caliz",
        "nud",
        "permanent",
    ])
    .unwrap();
    let cfg = workload("cali1", 1);
    let mut rec = started(std::slice::from_ref(&cfg));
    let mut kernel = KernelLinks::new(ns.as_ref());
    let r = rec.sync(&mut kernel, Instant::now()).unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);

    assert_configured(&ns, &cfg);
    let learnt = ns.ip(&["neigh", "show", "dev", "cali1"]).unwrap();
    assert!(
        learnt.contains("10.65.0.98 lladdr 0a:58:00:00:00:62"),
        "{learnt}"
    );
    assert!(!learnt.contains("10.65.0.99"), "{learnt}");
    let other = ns.ip(&["neigh", "show", "dev", "caliz"]).unwrap();
    assert!(
        other.contains("10.65.0.97 lladdr 0a:58:00:00:00:61 PERMANENT"),
        "{other}"
    );

    // Removing the workload deletes its permanent entries, not the learnt one.
    rec.remove("cali1");
    let r = rec.sync(&mut kernel, Instant::now()).unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let left = ns
        .ip(&["-4", "neigh", "show", "dev", "cali1", "nud", "permanent"])
        .unwrap();
    let left6 = ns
        .ip(&["-6", "neigh", "show", "dev", "cali1", "nud", "permanent"])
        .unwrap();
    assert_eq!(format!("{left}{left6}").trim(), "");
    assert!(
        ns.ip(&["neigh", "show", "dev", "cali1"])
            .unwrap()
            .contains("10.65.0.98")
    );
}

/// The observation with learnt neighbours dropped (the kernel adds its own, e.g. IPv6
/// multicast entries, which the twin does not model).
fn permanent_only(mut o: Observation) -> Observation {
    for i in o.values_mut().flatten() {
        i.neighbours.retain(|_, n| n.permanent);
    }
    o
}

#[test]
fn twin_and_kernel_report_the_same_state_after_the_same_ops() {
    if !require_root("twin_and_kernel_report_the_same_state_after_the_same_ops") {
        return;
    }
    let ns = namespace_with(&["cali1", "cali2"]);
    let mut kernel = KernelLinks::new(ns.as_ref());
    let mut twin = LinkTwin::new();
    twin.add_interface("cali1");
    twin.add_interface("cali2");
    let names: BTreeSet<String> = ["cali1", "cali2", "cali3"].map(String::from).into();

    let k0 = permanent_only(kernel.read(&names).unwrap());
    assert_eq!(k0, twin.read(&names).unwrap(), "fresh interfaces");

    let set = |i: &str, s, v| Op::SetSysctl {
        interface: i.into(),
        sysctl: s,
        value: v,
    };
    let neigh = |i: &str, a: &str, m| Op::SetNeighbour {
        interface: i.into(),
        ip: ip(a),
        mac: mac(m),
    };
    let del = |i: &str, a: &str| Op::DeleteNeighbour {
        interface: i.into(),
        ip: ip(a),
    };
    let batches = [
        vec![
            set("cali1", Sysctl::ProxyArp, 1),
            set("cali1", Sysctl::RpFilter, 2),
            set("cali1", Sysctl::AcceptRa, 0),
            set("cali2", Sysctl::ProxyDelay, 0),
            Op::SetUp {
                interface: "cali1".into(),
            },
            neigh("cali1", "10.65.0.1", 1),
            neigh("cali1", "fd00:65::1", 1),
            neigh("cali2", "10.65.0.2", 2),
            // Missing interface: both refuse it, the rest of the batch applies.
            set("cali3", Sysctl::ProxyArp, 1),
            neigh("cali3", "10.65.0.3", 3),
            Op::SetUp {
                interface: "cali3".into(),
            },
        ],
        vec![
            neigh("cali1", "10.65.0.1", 7),
            del("cali2", "10.65.0.2"),
            del("cali2", "10.65.0.2"),
            set("cali2", Sysctl::Ipv6Forwarding, 1),
            set("cali1", Sysctl::ProxyArp, 0),
        ],
    ];
    for ops in &batches {
        let kf = kernel.apply(ops);
        let tf = twin.apply(ops);
        assert_eq!(kf, tf, "failures");
        assert_eq!(
            permanent_only(kernel.read(&names).unwrap()),
            twin.read(&names).unwrap()
        );
    }
}
