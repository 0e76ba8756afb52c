//! Three hosts running the real calico-node with its own BGP speaker in a full mesh, as a
//! user starts them (`calicoctl node run`): the mesh is established as `calicoctl node status`
//! reports it, every workload reaches every other across hosts, a GlobalNetworkPolicy
//! denying one pair takes effect within 1 s and its removal restores traffic, and deleting a
//! workload removes its route on every host.

use std::time::{Duration, Instant};

use netns_tests::calico_cluster::{CalicoCluster, HostOptions, Workload, WorkloadOptions};
use netns_tests::probe;
use testkit::require_root;

const BASE: &str = "apiVersion: projectcalico.org/v3
kind: Profile
metadata:
  name: kns.default
spec:
  ingress: [{action: Allow}]
  egress: [{action: Allow}]
  labelsToApply:
    pcns.projectcalico.org/name: default
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool1
spec:
  cidr: 10.65.0.0/16
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  asNumber: 64512
  nodeToNodeMeshEnabled: true
";

const DENY: &str = "apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-a0-to-c1
spec:
  order: 10
  selector: pod == 'c1'
  types: [Ingress]
  ingress:
  - action: Deny
    source:
      selector: pod == 'a0'
  - action: Pass
";

fn until(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if check() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn ping(from: &Workload, to: &Workload) -> bool {
    probe::ping(&from.ns.as_ref(), to.ip)
}

#[test]
fn a_three_host_mesh_carries_workload_traffic_and_follows_policy() {
    if !require_root("a_three_host_mesh_carries_workload_traffic_and_follows_policy") {
        return;
    }
    let mut cluster = CalicoCluster::new("cn-mesh").expect("cluster");
    cluster.apply(BASE).expect("base resources");
    let endpoint = cluster.endpoint();
    for name in ["host-a", "host-b", "host-c"] {
        cluster
            .add_host(name)
            .expect("host")
            .start(&endpoint, &HostOptions::default())
            .expect("calico-node starts");
    }
    let mut workloads = Vec::new();
    for (h, host) in ["host-a", "host-b", "host-c"].iter().enumerate() {
        for i in 0..2 {
            let pod = format!("{}{i}", ["a", "b", "c"][h]);
            let o = WorkloadOptions {
                namespace: "default".into(),
                pod: pod.clone(),
                ip: format!("10.65.{h}.{}", 10 + i).parse().unwrap(),
                labels: vec![("pod".into(), pod)],
            };
            workloads.push(Workload::add(&cluster, cluster.host(host), &o).expect("workload"));
        }
    }

    // The mesh: every host has two established sessions.
    for h in &cluster.hosts {
        let up = until(Duration::from_secs(30), || {
            h.status().unwrap_or_default().matches("| up ").count() == 2
        });
        assert!(
            up.is_some(),
            "{}: mesh not established\n{}\n{}",
            h.name,
            h.status().unwrap_or_default(),
            h.log_tail(30)
        );
    }
    let status = cluster.hosts[0].status().unwrap();
    assert!(status.contains("node-to-node mesh"), "{status}");

    // Every workload reaches every other.
    for from in &workloads {
        for to in &workloads {
            if from.ip == to.ip {
                continue;
            }
            let ok = until(Duration::from_secs(10), || ping(from, to));
            assert!(
                ok.is_some(),
                "{} cannot reach {}\n{}",
                from.pod,
                to.pod,
                cluster.host(&from.host).routes().unwrap_or_default()
            );
        }
    }

    // A policy denying a0 → c1 takes effect within 1 s; c1 → a0 and a1 → c1 still work.
    let (a0, a1, c1) = (&workloads[0], &workloads[1], &workloads[5]);
    cluster.apply(DENY).expect("policy");
    let took = until(Duration::from_secs(5), || !ping(a0, c1))
        .unwrap_or_else(|| panic!("the deny never took effect"));
    assert!(took < Duration::from_secs(1), "the deny took {took:?}");
    assert!(ping(a1, c1) && ping(c1, a0), "only a0 → c1 is denied");
    cluster.delete(DENY).expect("policy removed");
    assert!(
        until(Duration::from_secs(1), || ping(a0, c1)).is_some(),
        "removing the deny did not restore a0 → c1 within 1 s"
    );

    // Deleting c1 removes its route on every host.
    let c1 = workloads.remove(5);
    let ip = c1.ip.to_string();
    c1.remove(&cluster).expect("c1 removed");
    for h in &cluster.hosts {
        let gone = until(Duration::from_secs(5), || {
            !h.routes().unwrap_or_default().contains(&ip)
        });
        assert!(gone.is_some(), "{}: route to {ip} stayed", h.name);
    }
}
