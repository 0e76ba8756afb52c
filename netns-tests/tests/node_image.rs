//! calico-node from the calico/node image (`image/Containerfile`) on one host of a real-kernel
//! cluster, the other two running it as a process (`calicoctl node run`): the image is built
//! from this build's calico-node on the shared base (`image/base.sh`, made once per machine),
//! the container runs with podman in the host's namespace as calico/node runs on a host
//! (`--network ns:… --privileged`, configured by `ETCD_ENDPOINTS`, `NODENAME`, `IP`). Its
//! `nft` programs the host's policy table, the three hosts form the BGP mesh, every workload
//! reaches every other across hosts, and SIGTERM (`podman stop`) ends the container promptly,
//! after which it is removed (the cluster's drop removes it on failure too).

use std::time::{Duration, Instant};

use netns_tests::calico_cluster::{
    CalicoCluster, HostOptions, NodeImage, Workload, WorkloadOptions,
};
use netns_tests::probe;
use testkit::{require_etcd, require_root, require_tool};

const BASE: &str = "apiVersion: projectcalico.org/v3
kind: Profile
metadata:
  name: kns.default
spec:
  ingress: [{action: Allow}]
  egress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool1
spec:
  cidr: 10.66.0.0/16
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  asNumber: 64512
  nodeToNodeMeshEnabled: true
";

const HOSTS: [&str; 3] = ["host-img", "host-b", "host-c"];

fn until(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if check() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn calico_node_from_the_image_meshes_with_process_nodes_and_carries_traffic() {
    let test = "calico_node_from_the_image_meshes_with_process_nodes_and_carries_traffic";
    if !require_root(test)
        || !require_etcd(test)
        || !require_tool(test, "podman", "podman")
        || !require_tool(test, "runc", "runc")
        || !require_tool(test, "debootstrap", "debootstrap")
        || !require_tool(test, "strip", "binutils")
    {
        return;
    }
    let t0 = Instant::now();
    // Built first, so dropped after the cluster has removed the container.
    let image = NodeImage::build().expect("the calico/node image builds");
    let size = image.size().expect("image size");
    eprintln!(
        "image {} ({:.1} MB) built in {:.1?}",
        image.name,
        size as f64 / 1e6,
        t0.elapsed()
    );

    let mut cluster = CalicoCluster::new("cn-img").expect("cluster");
    cluster.apply(BASE).expect("base resources");
    let endpoint = cluster.endpoint();
    let started = Instant::now();
    cluster
        .add_host(HOSTS[0])
        .expect("host")
        .start_container(&endpoint, &image, &HostOptions::default())
        .expect("calico-node starts in its container");
    let container = cluster.hosts[0]
        .container
        .as_ref()
        .expect("host-img runs a container")
        .name
        .clone();
    for name in &HOSTS[1..] {
        cluster
            .add_host(name)
            .expect("host")
            .start(&endpoint, &HostOptions::default())
            .expect("calico-node starts");
    }
    let mut workloads = Vec::new();
    for (h, host) in HOSTS.iter().enumerate() {
        let o = WorkloadOptions {
            namespace: "default".into(),
            pod: format!("w{h}"),
            ip: format!("10.66.{h}.10").parse().unwrap(),
            labels: vec![],
        };
        workloads.push(Workload::add(&cluster, cluster.host(host), &o).expect("workload"));
    }

    // The container's nft programmed the policy table of the host's namespace.
    let img = &cluster.hosts[0];
    let table = until(Duration::from_secs(10), || {
        img.ns
            .exec("nft", &["list", "tables"])
            .is_ok_and(|t| t.contains("table inet calico"))
    });
    assert!(
        table.is_some(),
        "no calico table on {}\n{}",
        img.name,
        img.log_tail(30)
    );

    // The mesh: every host, the container's included, has two established sessions.
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
    eprintln!("mesh up {:.1?} after the first start", started.elapsed());

    // Every workload reaches every other.
    for from in &workloads {
        for to in &workloads {
            if from.ip == to.ip {
                continue;
            }
            let ok = until(Duration::from_secs(10), || {
                probe::ping(&from.ns.as_ref(), to.ip)
            });
            assert!(
                ok.is_some(),
                "{} on {} cannot reach {} on {}\n{}\n{}",
                from.pod,
                from.host,
                to.pod,
                to.host,
                cluster.host(&from.host).routes().unwrap_or_default(),
                cluster.host(&from.host).log_tail(20)
            );
        }
    }

    // SIGTERM ends calico-node, the container's PID 1, at once (podman would kill it after
    // 10 s), and the container is removed.
    let node = cluster.hosts[0].container.take().expect("still running");
    let t = Instant::now();
    node.stop_and_remove(10).expect("podman stop and rm");
    let took = t.elapsed();
    assert!(took < Duration::from_secs(5), "podman stop took {took:?}");
    assert!(!node.exists(), "container {container} was not removed");
    eprintln!(
        "container stopped and removed in {took:.1?}; test {:.1?}",
        t0.elapsed()
    );
}
