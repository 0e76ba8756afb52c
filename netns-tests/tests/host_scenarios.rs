//! Host-side policy on a real kernel: workload-to-host traffic and DefaultEndpointToHostAction,
//! a host endpoint with its failsafe ports, and NAT outgoing. Kernel traffic, the policy twin
//! and (where Calico's semantics cover it) the reference evaluator must agree.

use std::net::IpAddr;

use model::policy::{Evaluator, Packet, Peer};
use netns_tests::policy::program;
use netns_tests::probe::{self, PeerEcho, Servers};
use netns_tests::topology::{EXTERNAL_IP, HOST_IP, Host, UPLINK};
use testkit::require_root;

const WORKLOADS: [(&str, &str, &str, &str); 2] = [
    ("ns1", "a", "calia0000000001", "10.65.0.1"),
    ("ns1", "b", "calib0000000002", "10.65.0.2"),
];

fn base(nat_outgoing: bool) -> String {
    format!(
        r#"
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {{name: pool1}}
spec: {{cidr: 10.65.0.0/16, natOutgoing: {nat_outgoing}}}
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
kind: WorkloadEndpoint
metadata: {{name: h1-k8s-b-eth0, namespace: ns1, labels: {{role: db}}}}
spec: {{node: h1, orchestrator: k8s, pod: b, endpoint: eth0, interfaceName: calib0000000002, ipNetworks: [10.65.0.2/32], profiles: [kns.ns1]}}
"#
    )
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Workload `a` or `b` to the host's own address, TCP 80: kernel, twin and reference.
fn workload_to_host(extra: &str, pod: &str) -> (bool, bool, bool) {
    let host = Host::with_workloads("pol-host", &WORKLOADS).expect("topology");
    host.ns
        .ip(&["addr", "add", "192.168.98.1/32", "dev", "lo"])
        .unwrap();
    let p = program(
        &host.ns.as_ref(),
        "h1",
        &format!("{}\n---\n{extra}", base(false)),
    );
    let _server = Servers::start(&host.ns.as_ref(), &[80], &[]).unwrap();
    let w = host.workloads.iter().find(|w| w.name == pod).unwrap();
    let packet = Packet::tcp(w.ip, 40000, ip("192.168.98.1"), 80);
    let kernel = probe::tcp(&w.ns.as_ref(), ip("192.168.98.1"), 80);
    let twin = p.twin.to_host(&w.iface, &packet).accepted;
    let reference = Evaluator::new(&p.snapshot)
        .allowed(
            &packet,
            &Peer::workload("ns1", &format!("h1-k8s-{pod}-eth0")),
            &Peer::host("h1", None),
        )
        .allowed;
    (kernel, twin, reference)
}

#[test]
fn workload_to_host_is_dropped_by_default() {
    if !require_root("workload_to_host_is_dropped_by_default") {
        return;
    }
    assert_eq!(workload_to_host("", "a"), (false, false, false));
}

#[test]
fn workload_to_host_follows_default_endpoint_to_host_action_after_egress_policy() {
    if !require_root("workload_to_host_follows_default_endpoint_to_host_action_after_egress_policy")
    {
        return;
    }
    let extra = r#"
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {defaultEndpointToHostAction: Accept}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db-egress-none}
spec: {selector: role == 'db', types: [Egress]}
"#;
    assert_eq!(workload_to_host(extra, "a"), (true, true, true));
    // Egress policy runs first: b may send nothing, not even to its host.
    assert_eq!(workload_to_host(extra, "b"), (false, false, false));
}

#[test]
fn a_host_endpoint_without_policy_lets_only_failsafe_ports_in() {
    if !require_root("a_host_endpoint_without_policy_lets_only_failsafe_ports_in") {
        return;
    }
    let hep = format!(
        r#"
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {{name: h1-uplink, labels: {{host: h1}}}}
spec: {{node: h1, interfaceName: {UPLINK}, expectedIPs: [{HOST_IP}]}}
"#
    );
    let allow_80 = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-web}
spec:
  selector: has(host)
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]
"#;
    for (extra, want_80) in [
        (hep.clone(), false),
        (format!("{hep}\n---\n{allow_80}"), true),
    ] {
        let host = Host::with_external("pol-hep", &WORKLOADS).expect("topology");
        let ext = host.external.as_ref().unwrap().as_ref();
        let p = program(
            &host.ns.as_ref(),
            "h1",
            &format!("{}\n---\n{extra}", base(false)),
        );
        let _servers = Servers::start(&host.ns.as_ref(), &[22, 80, 8081], &[]).unwrap();
        let evaluator = Evaluator::new(&p.snapshot);
        for (port, want) in [(22, true), (80, want_80), (8081, false)] {
            let packet = Packet::tcp(ip(EXTERNAL_IP), 40000, ip(HOST_IP), port);
            let kernel = probe::tcp(&ext, ip(HOST_IP), port);
            let twin = p.twin.to_host(UPLINK, &packet).accepted;
            let reference = evaluator
                .allowed(&packet, &Peer::External, &Peer::host("h1", Some(UPLINK)))
                .allowed;
            assert_eq!(
                (kernel, twin, reference),
                (want, want, want),
                "outside -> host tcp/{port} (kernel, twin, reference)"
            );
        }
    }
}

#[test]
fn nat_outgoing_masquerades_traffic_leaving_the_pools() {
    if !require_root("nat_outgoing_masquerades_traffic_leaving_the_pools") {
        return;
    }
    for nat in [true, false] {
        let host = Host::with_external("pol-nat", &WORKLOADS).expect("topology");
        let ext = host.external.as_ref().unwrap().as_ref();
        let p = program(&host.ns.as_ref(), "h1", &base(nat));
        let _echo = PeerEcho::start(&ext, 8080).unwrap();
        let a = &host.workloads[0];
        let seen = probe::tcp_seen_as(&a.ns.as_ref(), ip(EXTERNAL_IP), 8080);
        let packet = Packet::tcp(a.ip, 40000, ip(EXTERNAL_IP), 8080);
        let twin = p.twin.postrouting(Some(&a.iface), UPLINK, &packet);
        // To another workload: never masqueraded.
        let inside = Packet::tcp(a.ip, 40000, host.workloads[1].ip, 80);
        let twin_inside = p
            .twin
            .postrouting(Some(&a.iface), &host.workloads[1].iface, &inside);
        assert!(!twin_inside.masquerade);
        if nat {
            assert_eq!(
                seen.as_deref(),
                Some(HOST_IP),
                "natOutgoing: seen as the host"
            );
            assert!(twin.masquerade);
        } else {
            // The outside has no route back to the pool.
            assert_eq!(seen, None, "without natOutgoing the reply cannot come back");
            assert!(!twin.masquerade);
        }
    }
}
