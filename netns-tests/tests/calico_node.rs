//! The real calico-node on a real kernel, started by `calicoctl node run` on a host namespace,
//! programming what etcd says: workloads reach each other through their profiles, a
//! GlobalNetworkPolicy takes effect quickly and its removal restores traffic, a deleted
//! workload loses its route.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netns_tests::calico_cluster::{CalicoCluster, HostOptions, Workload, WorkloadOptions};
use netns_tests::probe;
use testkit::require_root;

const PROFILE: &str = "apiVersion: projectcalico.org/v3
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
";

const DENY_DB: &str = "apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-to-db
spec:
  order: 10
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - action: Deny
";

fn workload(ip: &str, pod: &str, app: &str) -> WorkloadOptions {
    WorkloadOptions {
        namespace: "default".into(),
        pod: pod.into(),
        ip: ip.parse().unwrap(),
        labels: vec![("app".into(), app.into())],
    }
}

/// Polls `check` every 10 ms for up to `limit`; the time it took, or `None`.
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

fn reaches(from: &Workload, to: IpAddr) -> bool {
    probe::ping(&from.ns.as_ref(), to)
}

#[test]
fn one_host_programs_workloads_and_follows_policy_changes() {
    if !require_root("one_host_programs_workloads_and_follows_policy_changes") {
        return;
    }
    let mut cluster = CalicoCluster::new("cn-one").expect("cluster");
    cluster.apply(PROFILE).expect("profile and pool");
    let endpoint = cluster.endpoint();
    cluster
        .add_host("host-a")
        .expect("host")
        .start(
            &endpoint,
            &HostOptions {
                no_bgp: true,
                ..HostOptions::default()
            },
        )
        .expect("calico-node starts");
    let host = cluster.host("host-a");
    let web = Workload::add(&cluster, host, &workload("10.65.0.10", "web", "web")).expect("web");
    let db = Workload::add(&cluster, host, &workload("10.65.0.11", "db", "db")).expect("db");

    let took = until(Duration::from_secs(10), || {
        reaches(&web, db.ip) && reaches(&db, web.ip)
    });
    if took.is_none() {
        let nft = host
            .ns
            .exec("nft", &["list", "table", "inet", "calico"])
            .unwrap_or_default();
        let wroutes = web.ns.ip(&["route"]).unwrap_or_default();
        let neigh = host.ns.ip(&["neigh"]).unwrap_or_default();
        panic!(
            "workloads never reached each other\nhost routes:\n{}\nweb routes:\n{wroutes}\nneigh:\n{neigh}\nnft:\n{nft}\n{}",
            host.routes().unwrap_or_default(),
            host.log_tail(30)
        );
    }
    let status = host.status().expect("node status");
    assert!(status.starts_with("Calico process is running."), "{status}");

    cluster.apply(DENY_DB).expect("policy");
    let took = until(Duration::from_secs(5), || !reaches(&web, db.ip));
    let took = took.unwrap_or_else(|| panic!("the deny never took effect\n{}", host.log_tail(40)));
    assert!(took < Duration::from_secs(1), "the deny took {took:?}");
    assert!(reaches(&db, web.ip), "only traffic to db is denied");

    cluster.delete(DENY_DB).expect("policy removed");
    assert!(
        until(Duration::from_secs(1), || reaches(&web, db.ip)).is_some(),
        "removing the deny did not restore traffic within 1 s"
    );

    let route = format!("{} dev {}", db.ip, db.iface);
    assert!(host.routes().unwrap().contains(&route));
    db.remove(&cluster).expect("db removed");
    assert!(
        until(Duration::from_secs(5), || !host
            .routes()
            .unwrap()
            .contains("10.65.0.11"))
        .is_some(),
        "the deleted workload's route stayed:\n{}",
        host.routes().unwrap()
    );
}
