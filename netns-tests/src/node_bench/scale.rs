//! The resources of the node benchmarks' clusters, as calicoctl would write them (defaults
//! filled, validated by the writer): the shape of the calculator's scale benchmark
//! (`calc/tests/scale`) — endpoints in 10 namespaces with a `role` (200 values) and an `app`
//! (50 values), global policies selecting by `app`, each allowing ingress from one `role` on
//! TCP 80 and egress to one `app` — with addresses from [`POOL`], which no learned BGP route
//! of the benchmarks overlaps.

use std::net::Ipv4Addr;

use dataplane::links::names::k8s_veth_name;
use model::resources::Resource;
use serde_json::{Value, json};

pub const ROLES: usize = 200;
pub const APPS: usize = 50;
pub const NAMESPACES: usize = 10;
/// The IP pool the endpoints' addresses come from.
pub const POOL: &str = "10.64.0.0/16";
/// The AS of the Calico nodes.
pub const CLUSTER_AS: u32 = 64512;

fn res(v: Value) -> Resource {
    match Resource::from_value(v.clone()) {
        Ok(mut r) => {
            r.set_defaults();
            r
        }
        // The generators below are fixed text: a decode failure is a bug in them.
        Err(e) => panic!("generated {v} does not decode: {e}"),
    }
}

/// Endpoint `i`'s address: the `i`-th of [`POOL`].
pub fn endpoint_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x0a40_0000u32 + i as u32)
}

/// Endpoint `i`'s namespace.
pub fn namespace_of(i: usize) -> String {
    format!("ns{}", i % NAMESPACES)
}

/// Endpoint `i`'s pod name.
pub fn pod_of(i: usize) -> String {
    format!("w{i}")
}

/// Endpoint `i`'s host-side interface, named as the CNI plugin names it.
pub fn iface_of(i: usize) -> String {
    k8s_veth_name(&namespace_of(i), &pod_of(i))
}

/// The role and app endpoint `i` starts with.
pub fn labels_of(i: usize) -> (usize, usize) {
    (i % ROLES, i % APPS)
}

/// Workload endpoint `i` on `node`, with its `role` and `app` labels given.
pub fn workload(i: usize, node: &str, role: usize, app: usize) -> Resource {
    let ns = namespace_of(i);
    let pod = pod_of(i);
    let name = model::names::WorkloadEndpointIdentifiers {
        node: node.to_owned(),
        orchestrator: "k8s".into(),
        pod: pod.clone(),
        endpoint: "eth0".into(),
        ..Default::default()
    }
    .name()
    .unwrap_or_else(|e| panic!("endpoint name of {node}/{pod}: {e}"));
    res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "WorkloadEndpoint",
        "metadata": {"namespace": ns, "name": name,
                     "labels": {"projectcalico.org/namespace": ns,
                                "projectcalico.org/orchestrator": "k8s",
                                "role": format!("r{role}"), "app": format!("a{app}")}},
        "spec": {"node": node, "orchestrator": "k8s", "pod": pod, "endpoint": "eth0",
                 "interfaceName": iface_of(i), "ipNetworks": [format!("{}/32", endpoint_ip(i))],
                 "profiles": [format!("kns.{ns}")],
                 "mac": format!("ee:ee:00:00:{:02x}:{:02x}", (i >> 8) & 0xff, i & 0xff)}
    }))
}

/// Global policy `j`.
pub fn policy(j: usize) -> Resource {
    res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
        "metadata": {"name": format!("p{j}")},
        "spec": {
            "order": j, "selector": format!("app == 'a{}'", j % APPS),
            "types": ["Ingress", "Egress"],
            "ingress": [{"action": "Allow", "protocol": "TCP",
                         "source": {"selector": format!("role == 'r{}'", j % ROLES)},
                         "destination": {"ports": [80]}}],
            "egress": [{"action": "Allow",
                        "destination": {"selector": format!("app == 'a{}'", (j + 1) % APPS)}}],
        }
    }))
}

/// The namespaces' profiles (allow all, as Calico's `kns.*` profiles for namespaces without
/// policy), the IP pool, and the BGP configuration: AS [`CLUSTER_AS`], node-to-node mesh on.
pub fn base() -> Vec<Resource> {
    let mut out: Vec<Resource> = (0..NAMESPACES)
        .map(|n| {
            res(json!({
                "apiVersion": "projectcalico.org/v3", "kind": "Profile",
                "metadata": {"name": format!("kns.ns{n}")},
                "spec": {"labelsToApply": {"pcns.projectcalico.org/name": format!("ns{n}")},
                         "ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}
            }))
        })
        .collect();
    out.push(res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "IPPool",
        "metadata": {"name": "bench-pool"},
        "spec": {"cidr": POOL}
    })));
    out.push(res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "BGPConfiguration",
        "metadata": {"name": "default"},
        "spec": {"asNumber": CLUSTER_AS, "nodeToNodeMeshEnabled": true}
    })));
    out
}

/// A global BGPPeer (every node peers with it).
pub fn global_peer(name: &str, ip: &str, asn: u32) -> Resource {
    res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "BGPPeer",
        "metadata": {"name": name},
        "spec": {"peerIP": ip, "asNumber": asn}
    }))
}

/// Policies `0..n`.
pub fn policies(n: usize) -> Vec<Resource> {
    (0..n).map(policy).collect()
}

/// Endpoints `range`, endpoint `i` on `node_of(i)` with its starting labels.
pub fn workloads(
    range: std::ops::Range<usize>,
    node_of: impl Fn(usize) -> String,
) -> Vec<Resource> {
    range
        .map(|i| {
            let (role, app) = labels_of(i);
            workload(i, &node_of(i), role, app)
        })
        .collect()
}
