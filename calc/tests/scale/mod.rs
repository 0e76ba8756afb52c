//! A cluster of a given size for the work-counting test and the benchmark: `endpoints`
//! workload endpoints in 10 namespaces, `local` of them on this host, and `policies` global
//! policies selecting by `app`, each allowing ingress from one `role` and egress to one
//! `app` (so 250 address sets at most: 200 roles, 50 apps).
#![allow(dead_code)]

use calc::{CalcConfig, Calculator, Update};
use model::resources::Resource;
use serde_json::json;

pub const HOST: &str = "h1";
const ROLES: usize = 200;
const APPS: usize = 50;

#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub endpoints: usize,
    pub local: usize,
    pub policies: usize,
}

fn res(v: serde_json::Value) -> Resource {
    match Resource::from_value(v.clone()) {
        Ok(r) => r,
        Err(e) => panic!("generated {v} does not decode: {e}"),
    }
}

/// Workload endpoint `i`, with its `role` and `app` labels given.
pub fn workload(i: usize, s: Scale, role: usize, app: usize) -> Resource {
    let ns = format!("ns{}", i % 10);
    let node = if i < s.local {
        HOST.to_owned()
    } else {
        format!("node{}", i % 100)
    };
    let ip = format!("10.{}.{}.{}/32", i >> 16 & 0xff, i >> 8 & 0xff, i & 0xff);
    res(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "WorkloadEndpoint",
        "metadata": {"namespace": ns, "name": format!("w{i}"),
                     "labels": {"role": format!("r{role}"), "app": format!("a{app}")}},
        "spec": {"node": node, "orchestrator": "k8s", "pod": format!("w{i}"), "endpoint": "eth0",
                 "interfaceName": format!("cali{i}"), "ipNetworks": [ip],
                 "profiles": [format!("kns.{ns}")],
                 "mac": "ee:00:00:00:00:01"}
    }))
}

/// The role and app endpoint `i` starts with.
pub fn labels_of(i: usize) -> (usize, usize) {
    (i % ROLES, i % APPS)
}

fn policy(j: usize) -> Resource {
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

/// Every resource of the cluster, as updates.
pub fn updates(s: Scale) -> Vec<Update> {
    let mut out = Vec::new();
    for n in 0..10 {
        out.push(Update::put(res(json!({
            "apiVersion": "projectcalico.org/v3", "kind": "Profile",
            "metadata": {"name": format!("kns.ns{n}")},
            "spec": {"labelsToApply": {"pcns.team": format!("t{}", n % 3)},
                     "ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}
        }))));
    }
    for j in 0..s.policies {
        out.push(Update::put(policy(j)));
    }
    for i in 0..s.endpoints {
        let (role, app) = labels_of(i);
        out.push(Update::put(workload(i, s, role, app)));
    }
    out
}

/// A calculator holding the whole cluster, in sync, its first output drained.
pub fn loaded(s: Scale) -> Calculator {
    let mut c = Calculator::new(CalcConfig::new(HOST));
    for u in updates(s) {
        c.apply(&u);
    }
    c.in_sync();
    c.flush();
    c
}
