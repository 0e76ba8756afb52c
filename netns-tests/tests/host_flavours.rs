//! Host endpoint policy beyond the filter table, on a real kernel: untracked (`doNotTrack`)
//! policy before connection tracking, pre-DNAT policy before a destination NAT, and
//! `applyOnForward` policy for traffic forwarded between the outside and a workload. Real
//! traffic, the policy twin and the reference evaluator must agree probe by probe.

use std::net::IpAddr;

use model::policy::{Evaluator, Packet, Peer};
use netns_tests::policy::{Programmed, program};
use netns_tests::probe::{self, Servers};
use netns_tests::topology::{EXTERNAL_IP, HOST_IP, Host, UPLINK, Workload};
use testkit::require_root;

const WORKLOADS: [(&str, &str, &str, &str); 1] =
    [("ns1", "h1-k8s-a-eth0", "calia0000000001", "10.65.0.1")];

/// The pool, the namespace profile (open both ways), workload `a`, and a host endpoint on the
/// uplink (labels `host: h1`): without normal policy it lets only failsafe ports in.
fn base() -> String {
    format!(
        r#"
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {{name: pool1}}
spec: {{cidr: 10.65.0.0/16}}
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {{name: kns.ns1}}
spec: {{ingress: [{{action: Allow}}], egress: [{{action: Allow}}]}}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {{name: h1-k8s-a-eth0, namespace: ns1, labels: {{role: fe}}}}
spec: {{node: h1, orchestrator: k8s, pod: a, endpoint: eth0, interfaceName: calia0000000001, ipNetworks: [10.65.0.1/32], profiles: [kns.ns1]}}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {{name: h1-uplink, labels: {{host: h1}}}}
spec: {{node: h1, interfaceName: {UPLINK}, expectedIPs: [{HOST_IP}]}}
"#
    )
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A host with workload `a` and the outside on its uplink, programmed with `base()` plus
/// `extra`. `routed`: the outside routes the pool through the host.
fn setup(prefix: &str, extra: &str, routed: bool) -> (Host, Programmed) {
    let host = Host::with_external(prefix, &WORKLOADS).expect("topology");
    if routed {
        let ext = host.external.as_ref().expect("outside namespace");
        ext.ip(&["route", "add", "10.65.0.0/16", "via", HOST_IP])
            .expect("route to the pool");
    }
    let p = program(
        &host.ns.as_ref(),
        "h1",
        &format!("{}\n---\n{extra}", base()),
    );
    (host, p)
}

fn evaluator(p: &Programmed) -> Evaluator<'_> {
    Evaluator::new(&p.snapshot).with_uplink("h1", UPLINK)
}

fn workload(host: &Host) -> &Workload {
    &host.workloads[0]
}

fn workload_peer() -> Peer {
    Peer::workload("ns1", "h1-k8s-a-eth0")
}

/// The outside connecting to the host's own address on `port`: (kernel, twin, reference).
fn outside_to_host(host: &Host, p: &Programmed, port: u16) -> (bool, bool, bool) {
    let ext = host.external.as_ref().unwrap().as_ref();
    let packet = Packet::tcp(ip(EXTERNAL_IP), 40000, ip(HOST_IP), port);
    (
        probe::tcp(&ext, ip(HOST_IP), port),
        p.twin.to_host(UPLINK, &packet).accepted,
        evaluator(p)
            .allowed(&packet, &Peer::External, &Peer::host("h1", Some(UPLINK)))
            .allowed,
    )
}

/// The outside connecting to workload `a` on `port`, forwarded by the host.
fn outside_to_workload(host: &Host, p: &Programmed, port: u16) -> (bool, bool, bool) {
    let ext = host.external.as_ref().unwrap().as_ref();
    let a = workload(host);
    let packet = Packet::tcp(ip(EXTERNAL_IP), 40000, a.ip, port);
    (
        probe::tcp(&ext, a.ip, port),
        p.twin.forward(UPLINK, &a.iface, &packet).accepted,
        evaluator(p)
            .allowed(&packet, &Peer::External, &workload_peer())
            .allowed,
    )
}

/// Workload `a` connecting to the outside on `port`, forwarded by the host.
fn workload_to_outside(host: &Host, p: &Programmed, port: u16) -> (bool, bool, bool) {
    let a = workload(host);
    let packet = Packet::tcp(a.ip, 40000, ip(EXTERNAL_IP), port);
    (
        probe::tcp(&a.ns.as_ref(), ip(EXTERNAL_IP), port),
        p.twin.forward(&a.iface, UPLINK, &packet).accepted,
        evaluator(p)
            .allowed(&packet, &workload_peer(), &Peer::External)
            .allowed,
    )
}

fn all(want: bool) -> (bool, bool, bool) {
    (want, want, want)
}

/// The host's conntrack table (`ip netns exec` gives `cat` the namespace's `/proc/net`).
fn conntrack(host: &Host) -> String {
    host.ns
        .exec("cat", &["/proc/net/nf_conntrack"])
        .unwrap_or_default()
}

const HOST_WEB: &str = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-web}
spec:
  selector: has(host)
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]
"#;

#[test]
fn a_do_not_track_deny_drops_what_normal_policy_allows_but_not_failsafe_ports() {
    if !require_root("a_do_not_track_deny_drops_what_normal_policy_allows_but_not_failsafe_ports") {
        return;
    }
    let deny = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: untracked-deny}
spec:
  selector: has(host)
  doNotTrack: true
  applyOnForward: true
  ingress: [{action: Deny, protocol: TCP}]
"#;
    for (extra, want_80) in [
        (HOST_WEB.to_owned(), true),
        (format!("{HOST_WEB}\n---\n{deny}"), false),
    ] {
        let (host, p) = setup("pol-dnt", &extra, false);
        let _servers = Servers::start(&host.ns.as_ref(), &[22, 80, 8081], &[]).unwrap();
        for (port, want) in [(22, true), (80, want_80), (8081, false)] {
            assert_eq!(
                outside_to_host(&host, &p, port),
                all(want),
                "outside -> host tcp/{port} (kernel, twin, reference)"
            );
        }
    }
}

#[test]
fn do_not_track_allows_both_ways_make_an_untracked_connection_past_normal_policy() {
    if !require_root(
        "do_not_track_allows_both_ways_make_an_untracked_connection_past_normal_policy",
    ) {
        return;
    }
    let inbound = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: untracked-in}
spec:
  selector: has(host)
  doNotTrack: true
  applyOnForward: true
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [8081]}}]
"#;
    let replies = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: untracked-replies}
spec:
  selector: has(host)
  doNotTrack: true
  applyOnForward: true
  types: [Egress]
  egress: [{action: Allow, protocol: TCP, source: {ports: [8081]}}]
"#;
    let syn = Packet::tcp(ip(EXTERNAL_IP), 40000, ip(HOST_IP), 8081);
    let reply = Packet::tcp(ip(HOST_IP), 8081, ip(EXTERNAL_IP), 40000);
    for (extra, want) in [
        (inbound.to_owned(), false),
        (format!("{inbound}\n---\n{replies}"), true),
    ] {
        let (host, p) = setup("pol-dnt2", &extra, false);
        let _servers = Servers::start(&host.ns.as_ref(), &[22, 8081], &[]).unwrap();
        // The first packet is allowed untracked either way (normal policy would deny it).
        let arriving = p.twin.to_host(UPLINK, &syn);
        assert!(arriving.accepted && arriving.untracked, "{arriving}");
        let host_peer = Peer::host("h1", Some(UPLINK));
        assert!(
            evaluator(&p)
                .allowed(&syn, &Peer::External, &host_peer)
                .allowed
        );
        // The reply is untracked too, so it needs its own allow.
        let leaving = p.twin.from_host(UPLINK, &reply);
        assert_eq!(
            (leaving.accepted, leaving.untracked),
            (want, want),
            "{leaving}"
        );
        assert_eq!(
            evaluator(&p)
                .allowed(&reply, &host_peer, &Peer::External)
                .allowed,
            want
        );
        let ext = host.external.as_ref().unwrap().as_ref();
        assert_eq!(
            probe::tcp(&ext, ip(HOST_IP), 8081),
            want,
            "kernel: tcp/8081"
        );
        if want {
            // A tracked connection to a failsafe port shows up in conntrack, the untracked
            // one does not.
            assert!(probe::tcp(&ext, ip(HOST_IP), 22));
            let table = conntrack(&host);
            assert!(table.contains("dport=22 "), "{table}");
            assert!(!table.contains("dport=8081 "), "{table}");
        }
    }
}

#[test]
fn a_pre_dnat_deny_blocks_a_node_port_before_its_destination_nat() {
    if !require_root("a_pre_dnat_deny_blocks_a_node_port_before_its_destination_nat") {
        return;
    }
    // Node port 30080 of the host goes to workload a's port 80, as kube-proxy would do it.
    let pre_deny = |port: u16| {
        format!(
            r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {{name: pre-dnat-deny}}
spec:
  selector: has(host)
  preDNAT: true
  applyOnForward: true
  ingress: [{{action: Deny, protocol: TCP, destination: {{ports: [{port}]}}}}]
"#
        )
    };
    let forward_deny = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: forward-deny}
spec:
  selector: has(host)
  applyOnForward: true
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [80]}}, {action: Allow}]
"#;
    let cases = [
        ("no pre-DNAT policy", String::new(), true),
        ("pre-DNAT deny of the node port", pre_deny(30080), false),
        ("pre-DNAT deny of the translated port", pre_deny(80), true),
        (
            "forward deny of the translated port",
            forward_deny.to_owned(),
            false,
        ),
    ];
    for (what, extra, want) in cases {
        let (host, p) = setup("pol-pdnat", &extra, false);
        for cmd in [
            "add table ip nodeports",
            "add chain ip nodeports prerouting { type nat hook prerouting priority dstnat; }",
            "add rule ip nodeports prerouting tcp dport 30080 dnat to 10.65.0.1:80",
        ] {
            host.ns.exec("nft", &[cmd]).expect("node port DNAT");
        }
        let a = workload(&host);
        let _server = Servers::start(&a.ns.as_ref(), &[80], &[]).unwrap();
        let ext = host.external.as_ref().unwrap().as_ref();
        let original = Packet::tcp(ip(EXTERNAL_IP), 40000, ip(HOST_IP), 30080);
        let translated = Packet::tcp(ip(EXTERNAL_IP), 40000, a.ip, 80);
        let got = (
            probe::tcp(&ext, ip(HOST_IP), 30080),
            p.twin
                .forward_dnat(UPLINK, &a.iface, &original, &translated)
                .accepted,
            evaluator(&p)
                .allowed_dnat(&original, &translated, &Peer::External, &workload_peer())
                .allowed,
        );
        assert_eq!(got, all(want), "{what} (kernel, twin, reference)");
    }
}

#[test]
fn apply_on_forward_policy_polices_traffic_forwarded_between_the_outside_and_a_workload() {
    if !require_root(
        "apply_on_forward_policy_polices_traffic_forwarded_between_the_outside_and_a_workload",
    ) {
        return;
    }
    // Normal policy that closes the host; without applyOnForward it does not touch
    // forwarded traffic.
    let host_closed = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-closed}
spec:
  order: 100
  selector: has(host)
  ingress: [{action: Deny}]
"#;
    let forward_web = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: forward-web}
spec:
  order: 10
  selector: has(host)
  applyOnForward: true
  types: [Ingress, Egress]
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]
  egress:
  - {action: Deny, protocol: TCP, destination: {ports: [9090]}}
  - {action: Allow}
"#;
    let forward_deny_web = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: forward-deny-web}
spec:
  order: 10
  selector: has(host)
  applyOnForward: true
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [80]}}, {action: Allow}]
"#;
    // (case, policies, outside -> a on 80 and 8080, a -> outside on 9090 and 9091)
    let cases = [
        (
            "no forward policy",
            host_closed.to_owned(),
            [true, true],
            [true, true],
        ),
        (
            "forward allow of port 80, egress deny of 9090",
            format!("{host_closed}\n---\n{forward_web}"),
            [true, false],
            [false, true],
        ),
        (
            "forward deny of port 80",
            format!("{host_closed}\n---\n{forward_deny_web}"),
            [false, true],
            [true, true],
        ),
    ];
    for (what, extra, inbound, outbound) in cases {
        let (host, p) = setup("pol-fwd", &extra, true);
        let a = workload(&host);
        let _in = Servers::start(&a.ns.as_ref(), &[80, 8080], &[]).unwrap();
        let ext = host.external.as_ref().unwrap().as_ref();
        let _out = Servers::start(&ext, &[9090, 9091], &[]).unwrap();
        let _host = Servers::start(&host.ns.as_ref(), &[80], &[]).unwrap();
        for (port, want) in [80, 8080].into_iter().zip(inbound) {
            assert_eq!(
                outside_to_workload(&host, &p, port),
                all(want),
                "{what}: outside -> a tcp/{port} (kernel, twin, reference)"
            );
        }
        for (port, want) in [9090, 9091].into_iter().zip(outbound) {
            assert_eq!(
                workload_to_outside(&host, &p, port),
                all(want),
                "{what}: a -> outside tcp/{port} (kernel, twin, reference)"
            );
        }
        if what == "no forward policy" {
            // The same host endpoint's normal policy closes the host itself.
            assert_eq!(outside_to_host(&host, &p, 80), all(false), "{what}: host");
        }
    }
}
