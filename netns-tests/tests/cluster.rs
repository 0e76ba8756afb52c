//! The demo's cluster without etcd: `examples/netns-cluster.yaml` built as two host
//! namespaces on a fabric; traffic between workloads on different hosts follows the policy.

use model::policy::{Evaluator, Packet, Peer, Snapshot};
use netns_tests::cluster::{Cluster, nodes_and_workloads};
use netns_tests::policy::program_snapshot;
use netns_tests::probe::{self, Servers};
use testkit::require_root;

#[test]
fn workloads_on_two_hosts_reach_each_other_as_the_policy_says() {
    if !require_root("workloads_on_two_hosts_reach_each_other_as_the_policy_says") {
        return;
    }
    let text = include_str!("../../examples/netns-cluster.yaml");
    let resources = model::document::resources_from_text(text, "netns-cluster.yaml").unwrap();
    let (nodes, weps) = nodes_and_workloads(&resources);
    let snapshot = Snapshot::from_resources(resources);
    let cluster = Cluster::build("clu", &nodes, &weps).unwrap();
    assert_eq!(cluster.hosts.len(), 2);
    for h in &cluster.hosts {
        program_snapshot(&h.host.ns.as_ref(), &h.node, snapshot.clone());
    }
    let find = |pod: &str| {
        cluster
            .hosts
            .iter()
            .flat_map(|h| h.host.workloads.iter())
            .find(|w| w.name.contains(&format!("-{pod}-")))
            .unwrap()
    };
    let (frontend, db, lb) = (find("frontend"), find("db"), find("lb"));
    let _servers: Vec<Servers> = [frontend, db, lb]
        .iter()
        .map(|w| Servers::start(&w.ns.as_ref(), &[80, 5432], &[]).unwrap())
        .collect();
    let evaluator = Evaluator::new(&snapshot);
    for (from, to, port, want) in [
        (frontend, db, 5432, true),
        (lb, db, 5432, false),
        (lb, frontend, 80, true),
        (db, frontend, 80, false),
    ] {
        let real = probe::tcp(&from.ns.as_ref(), to.ip, port);
        let reference = evaluator
            .allowed(
                &Packet::tcp(from.ip, 40000, to.ip, port),
                &Peer::workload(&from.namespace, &from.name),
                &Peer::workload(&to.namespace, &to.name),
            )
            .allowed;
        assert_eq!(
            (real, reference),
            (want, want),
            "{} -> {} tcp/{port}",
            from.name,
            to.name
        );
    }
}
