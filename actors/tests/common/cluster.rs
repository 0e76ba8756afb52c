//! A small cluster's resources for the calculation and programming tests: two nodes, an IP
//! pool, a namespace profile, three workloads (two on this node) and a policy letting `fe`
//! reach `db` on 5432; and what `resolve` makes of them.

use std::net::IpAddr;

use dataplane::links::Mac;
use dataplane::policy::ir::Table;
use model::policy::{Snapshot, resolve};
use model::resources::Resource;
use serde_json::{Value, json};

use super::NODE;

pub const OTHER_NODE: &str = "node-2";

/// Decodes and validates a resource written in the test (valid by construction).
pub fn res(v: Value) -> Resource {
    let r = match Resource::from_value(v.clone()) {
        Ok(r) => r,
        Err(e) => panic!("{v} does not decode: {e}"),
    };
    if let Err(e) = r.validate() {
        panic!("{v} is not valid: {e}");
    }
    r
}

/// A Kubernetes workload in namespace `ns1` (its name follows from its identifiers).
pub fn workload(pod: &str, node: &str, iface: &str, ip: &str, role: &str) -> Resource {
    let last = ip.rsplit('.').next().unwrap_or("0");
    let spec = json!({
        "node": node, "orchestrator": "k8s", "pod": pod, "endpoint": "eth0",
        "interfaceName": iface, "ipNetworks": [format!("{ip}/32")],
        "mac": format!("ee:ee:ee:00:00:{:02x}", last.parse::<u8>().unwrap_or(0)),
        "profiles": ["kns.ns1"],
    });
    let mut r = match Resource::from_value(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "WorkloadEndpoint",
        "metadata": {"namespace": "ns1", "name": "placeholder", "labels": {
            "role": role,
            "projectcalico.org/namespace": "ns1",
            "projectcalico.org/orchestrator": "k8s",
        }},
        "spec": spec,
    })) {
        Ok(r) => r,
        Err(e) => panic!("workload {pod} does not decode: {e}"),
    };
    let name = match &r {
        Resource::WorkloadEndpoint(w) => match w.identifiers().name() {
            Ok(n) => n,
            Err(e) => panic!("workload {pod}: {e}"),
        },
        _ => unreachable!("decoded as a WorkloadEndpoint"),
    };
    r.metadata_mut().name = name;
    res(r.to_value())
}

/// The workload's MAC as [`workload`] sets it.
pub fn mac_of(ip: &str) -> Mac {
    let last: u8 = ip
        .rsplit('.')
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    Mac([0xee, 0xee, 0xee, 0, 0, last])
}

pub fn ip(s: &str) -> IpAddr {
    match s.parse() {
        Ok(a) => a,
        Err(e) => panic!("{s}: {e}"),
    }
}

/// w1 (fe) and w2 (db) on this node, w3 (fe) on the other.
pub fn w1(role: &str) -> Resource {
    workload("w1", NODE, "cali1", "10.65.0.2", role)
}

pub fn w2() -> Resource {
    workload("w2", NODE, "cali2", "10.65.0.3", "db")
}

pub fn w3() -> Resource {
    workload("w3", OTHER_NODE, "cali3", "10.65.1.2", "fe")
}

/// Everything but the workloads.
pub fn base() -> Vec<Resource> {
    vec![
        res(json!({"apiVersion": "projectcalico.org/v3", "kind": "Node",
            "metadata": {"name": NODE}, "spec": {"bgp": {"ipv4Address": "192.168.0.1/24"}}})),
        res(json!({"apiVersion": "projectcalico.org/v3", "kind": "Node",
            "metadata": {"name": OTHER_NODE}, "spec": {"bgp": {"ipv4Address": "192.168.0.2/24"}}})),
        res(
            json!({"apiVersion": "projectcalico.org/v3", "kind": "IPPool",
            "metadata": {"name": "pool1"},
            "spec": {"cidr": "10.65.0.0/16", "natOutgoing": true}}),
        ),
        res(
            json!({"apiVersion": "projectcalico.org/v3", "kind": "Profile",
            "metadata": {"name": "kns.ns1"},
            "spec": {"labelsToApply": {"pcns.projectcalico.org/name": "ns1"},
                     "ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}}),
        ),
        res(
            json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
            "metadata": {"name": "db-ingress"},
            "spec": {"selector": "role == 'db'", "types": ["Ingress"],
                     "ingress": [{"action": "Allow", "protocol": "TCP",
                                  "source": {"selector": "role == 'fe'"},
                                  "destination": {"ports": [5432]}}]}}),
        ),
    ]
}

/// The whole cluster.
pub fn cluster() -> Vec<Resource> {
    let mut all = base();
    all.extend([w1("fe"), w2(), w3()]);
    all
}

/// The `calico` table `resolve` and the renderer give for `resources` on this node.
pub fn expected_table(resources: &[Resource]) -> Table {
    let snapshot = Snapshot::from_resources(resources.iter().cloned());
    dataplane::policy::render::render(&resolve(&snapshot, NODE))
}
