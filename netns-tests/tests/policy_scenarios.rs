//! Policy scenarios on a real kernel: one host namespace, four workload namespaces, the
//! host's policy resolved from Calico YAML and programmed into nftables by the dataplane's
//! policy reconciler. For every scenario the same matrix (each ordered pair of workloads x
//! TCP 80, TCP 5432, UDP 53, ping) is computed three ways and must agree:
//!
//! - real traffic between the namespaces;
//! - the policy twin (the same transaction applied to the in-memory table);
//! - the direct evaluator of Calico's semantics (`model::policy::Evaluator`), the reference.
//!
//! Each scenario also states the cells it is about, so a wrong reference fails too.
//!
//! Workloads: `a` (ns1, role=fe, 10.65.0.1), `b` (ns1, role=db, 10.65.0.2), `c` (ns2,
//! role=fe, 10.65.0.3), `d` (ns2, role=web, 10.65.0.4). Profiles `kns.ns1`/`kns.ns2` (namespace
//! labels `team=one`/`team=two`, as Calico stores them: `pcns.team`) allow
//! everything (Kubernetes namespaces), so "no policy" means allowed.

use std::fmt;

use dataplane::policy::twin::PolicyTwin;
use model::policy::{Evaluator, Packet, Peer, Snapshot, resolve};
use netns_tests::policy::program;
use netns_tests::probe::{self, Servers};
use netns_tests::topology::Host;
use testkit::require_root;

const BASE: &str = r#"
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool1}
spec: {cidr: 10.65.0.0/16}
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: kns.ns1}
spec: {ingress: [{action: Allow}], egress: [{action: Allow}], labelsToApply: {pcns.team: one}}
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: kns.ns2}
spec: {ingress: [{action: Allow}], egress: [{action: Allow}], labelsToApply: {pcns.team: two}}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: h1-k8s-a-eth0, namespace: ns1, labels: {role: fe, projectcalico.org/namespace: ns1}}
spec: {node: h1, orchestrator: k8s, pod: a, endpoint: eth0, interfaceName: calia0000000001, ipNetworks: [10.65.0.1/32], profiles: [kns.ns1]}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: h1-k8s-b-eth0, namespace: ns1, labels: {role: db, projectcalico.org/namespace: ns1}}
spec: {node: h1, orchestrator: k8s, pod: b, endpoint: eth0, interfaceName: calib0000000002, ipNetworks: [10.65.0.2/32], profiles: [kns.ns1]}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: h1-k8s-c-eth0, namespace: ns2, labels: {role: fe, projectcalico.org/namespace: ns2}}
spec: {node: h1, orchestrator: k8s, pod: c, endpoint: eth0, interfaceName: calic0000000003, ipNetworks: [10.65.0.3/32], profiles: [kns.ns2]}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: h1-k8s-d-eth0, namespace: ns2, labels: {role: web, projectcalico.org/namespace: ns2}}
spec: {node: h1, orchestrator: k8s, pod: d, endpoint: eth0, interfaceName: calid0000000004, ipNetworks: [10.65.0.4/32], profiles: [kns.ns2]}
"#;

const WORKLOADS: [(&str, &str, &str, &str); 4] = [
    ("ns1", "a", "calia0000000001", "10.65.0.1"),
    ("ns1", "b", "calib0000000002", "10.65.0.2"),
    ("ns2", "c", "calic0000000003", "10.65.0.3"),
    ("ns2", "d", "calid0000000004", "10.65.0.4"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tcp80,
    Tcp5432,
    Udp53,
    Ping,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Tcp80 => "tcp/80",
            Kind::Tcp5432 => "tcp/5432",
            Kind::Udp53 => "udp/53",
            Kind::Ping => "ping",
        })
    }
}

const KINDS: [Kind; 4] = [Kind::Tcp80, Kind::Tcp5432, Kind::Udp53, Kind::Ping];

fn packet(kind: Kind, src: &str, dst: &str) -> Packet {
    let (s, d) = (src.parse().unwrap(), dst.parse().unwrap());
    match kind {
        Kind::Tcp80 => Packet::tcp(s, 40000, d, 80),
        Kind::Tcp5432 => Packet::tcp(s, 40000, d, 5432),
        Kind::Udp53 => Packet::udp(s, 40000, d, 53),
        Kind::Ping => Packet::icmp(s, d, 8, 0),
    }
}

/// The WorkloadEndpoint of a pod (Kubernetes naming: node, orchestrator, pod, endpoint).
fn wep_name(pod: &str) -> String {
    format!("h1-k8s-{pod}-eth0")
}

/// Cells a scenario is about: `(from, to, kind, allowed)` with workloads by pod name.
type Expect = &'static [(&'static str, &'static str, Kind, bool)];

fn run(scenario: &str, extra: &str, expect: Expect) {
    if !require_root(scenario) {
        return;
    }
    let host = Host::with_workloads("pol-scn", &WORKLOADS).expect("topology");
    let programmed = program(&host.ns.as_ref(), "h1", &format!("{BASE}\n---\n{extra}"));
    let twin = &programmed.twin;
    let _servers: Vec<Servers> = host
        .workloads
        .iter()
        .map(|w| Servers::start(&w.ns.as_ref(), &[80, 5432], &[53]).expect("servers"))
        .collect();
    let evaluator = Evaluator::new(&programmed.snapshot);

    let mut mismatches = Vec::new();
    let mut table = String::new();
    for from in &host.workloads {
        for to in &host.workloads {
            if from.name == to.name {
                continue;
            }
            for kind in KINDS {
                let p = packet(kind, &from.ip.to_string(), &to.ip.to_string());
                let reference = evaluator
                    .allowed(
                        &p,
                        &Peer::workload(&from.namespace, &wep_name(&from.name)),
                        &Peer::workload(&to.namespace, &wep_name(&to.name)),
                    )
                    .allowed;
                let twin_says = twin.forward(&from.iface, &to.iface, &p).accepted;
                let ns = from.ns.as_ref();
                let real = match kind {
                    Kind::Tcp80 => probe::tcp(&ns, to.ip, 80),
                    Kind::Tcp5432 => probe::tcp(&ns, to.ip, 5432),
                    Kind::Udp53 => probe::udp(&ns, to.ip, 53),
                    Kind::Ping => probe::ping(&ns, to.ip),
                };
                table.push_str(&format!(
                    "{} -> {} {kind}: kernel {real} twin {twin_says} reference {reference}\n",
                    from.name, to.name
                ));
                if real != reference || twin_says != reference {
                    mismatches.push(format!(
                        "{} -> {} {kind}: kernel {real}, twin {twin_says}, reference {reference}",
                        from.name, to.name
                    ));
                }
                if let Some((_, _, _, want)) = expect
                    .iter()
                    .find(|(f, t, k, _)| *f == from.name && *t == to.name && *k == kind)
                    && *want != reference
                {
                    mismatches.push(format!(
                        "{} -> {} {kind}: scenario expects {want}, reference says {reference}",
                        from.name, to.name
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{scenario}: {} mismatches:\n{}\nfull matrix:\n{table}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

use Kind::*;

#[test]
fn no_policy_allows_everything_through_the_namespace_profiles() {
    run(
        "no_policy",
        "",
        &[
            ("a", "b", Tcp5432, true),
            ("c", "a", Ping, true),
            ("d", "b", Udp53, true),
        ],
    );
}

#[test]
fn a_policy_selecting_an_endpoint_isolates_it() {
    run(
        "isolation",
        r#"
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: isolate-db, namespace: ns1}
spec: {selector: role == 'db', types: [Ingress]}
"#,
        &[
            ("a", "b", Tcp80, false),
            ("c", "b", Ping, false),
            ("b", "a", Tcp80, true),
            ("a", "c", Tcp5432, true),
        ],
    );
}

#[test]
fn allow_by_selector_stays_in_the_policy_namespace() {
    run(
        "allow_by_selector",
        r#"
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-from-fe, namespace: ns1}
spec:
  selector: role == 'db'
  ingress: [{action: Allow, protocol: TCP, source: {selector: role == 'fe'}, destination: {ports: [5432]}}]
"#,
        &[
            ("a", "b", Tcp5432, true),
            ("a", "b", Tcp80, false),
            ("c", "b", Tcp5432, false),
            ("d", "b", Tcp5432, false),
        ],
    );
}

#[test]
fn deny_by_port_then_allow_the_rest() {
    run(
        "deny_by_port",
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: no-postgres}
spec:
  selector: all()
  ingress:
  - {action: Deny, protocol: TCP, destination: {ports: [5432]}}
  - {action: Allow}
"#,
        &[
            ("a", "b", Tcp5432, false),
            ("a", "b", Tcp80, true),
            ("d", "c", Udp53, true),
        ],
    );
}

#[test]
fn pass_skips_to_the_next_tier() {
    run(
        "pass_to_next_tier",
        r#"
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.gate}
spec:
  tier: security
  selector: all()
  ingress:
  - {action: Pass, source: {selector: role == 'fe'}}
  - {action: Deny}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: web-only}
spec:
  selector: all()
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]
"#,
        &[
            ("a", "b", Tcp80, true),
            ("a", "b", Tcp5432, false),
            ("b", "a", Tcp80, false),
            ("d", "c", Tcp80, false),
        ],
    );
}

#[test]
fn profiles_decide_when_every_tier_passes() {
    run(
        "profile_fallback",
        r#"
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.pass-all}
spec: {tier: security, selector: all(), ingress: [{action: Pass}]}
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: kns.ns2}
spec:
  ingress: [{action: Allow, source: {nets: [10.65.0.1/32]}}]
  egress: [{action: Allow}]
  labelsToApply: {pcns.team: two}
"#,
        &[
            ("a", "c", Tcp80, true),
            ("b", "c", Tcp80, false),
            ("d", "c", Ping, false),
            ("c", "a", Tcp80, true),
        ],
    );
}

#[test]
fn not_nets_excludes_a_destination() {
    run(
        "not_nets",
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: not-to-d}
spec:
  selector: all()
  types: [Egress]
  egress: [{action: Allow, destination: {notNets: [10.65.0.4/32]}}]
"#,
        &[
            ("a", "d", Tcp80, false),
            ("c", "d", Ping, false),
            ("a", "b", Tcp80, true),
            ("d", "a", Udp53, true),
        ],
    );
}

#[test]
fn icmp_type_match_blocks_ping_only() {
    run(
        "icmp_type",
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: no-echo}
spec:
  selector: role == 'db'
  ingress:
  - {action: Deny, protocol: ICMP, icmp: {type: 8}}
  - {action: Allow}
"#,
        &[
            ("a", "b", Ping, false),
            ("a", "b", Tcp80, true),
            ("b", "a", Ping, true),
        ],
    );
}

#[test]
fn egress_and_ingress_are_both_enforced_on_one_host() {
    run(
        "egress_vs_ingress",
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: fe-egress-web-only}
spec:
  selector: role == 'fe'
  types: [Egress]
  egress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: web-ingress-from-db}
spec:
  selector: role == 'web'
  ingress: [{action: Allow, source: {selector: role == 'db'}}]
"#,
        &[
            ("a", "b", Tcp80, true),
            ("a", "b", Tcp5432, false),
            ("b", "a", Tcp5432, true),
            ("a", "d", Tcp80, false),
            ("b", "d", Tcp80, true),
            ("b", "d", Tcp5432, true),
        ],
    );
}

#[test]
fn namespace_selector_picks_sources_by_namespace() {
    run(
        "namespace_selector",
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db-from-team-two}
spec:
  selector: role == 'db'
  ingress: [{action: Allow, source: {namespaceSelector: team == 'two'}}]
"#,
        &[
            ("c", "b", Tcp80, true),
            ("d", "b", Ping, true),
            ("a", "b", Tcp80, false),
        ],
    );
}

#[test]
fn log_rules_log_and_go_on() {
    if !require_root("log_rules_log_and_go_on") {
        return;
    }
    let extra = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: log-fe}
spec:
  selector: all()
  ingress:
  - {action: Log, source: {selector: role == 'fe'}}
  - {action: Allow, protocol: TCP}
"#;
    run(
        "log",
        extra,
        &[
            ("a", "b", Tcp80, true),
            ("b", "a", Tcp80, true),
            ("a", "b", Ping, false),
        ],
    );
    // The twin shows which flows were logged.
    let text = format!("{BASE}\n---\n{extra}");
    let snapshot =
        Snapshot::from_resources(model::document::resources_from_text(&text, "log").unwrap());
    let twin = PolicyTwin::with_table(dataplane::policy::render::render(&resolve(&snapshot, "h1")))
        .unwrap();
    let p = packet(Tcp80, "10.65.0.1", "10.65.0.2");
    let out = twin.forward("calia0000000001", "calib0000000002", &p);
    assert!(out.accepted);
    assert_eq!(out.logs().count(), 1, "{:?}", out.trace);
    let p = packet(Tcp80, "10.65.0.2", "10.65.0.1");
    let out = twin.forward("calib0000000002", "calia0000000001", &p);
    assert_eq!(out.logs().count(), 0, "{:?}", out.trace);
}
