//! `calicoctl node peers NODE [-o json]` against a real etcd holding one of Calico's confd test
//! inputs: the sessions printed are the ones confd's expected BIRD configuration holds.

mod common;

use common::{Cluster, contains_all, fail, ok};
use serde_json::{Value, json};

/// The confd case: a route reflector with an eBGP peer per family (one with a port) and
/// route-reflector clients selected by label.
const CASE: &str = "explicit_peering/route_reflector";

fn confd_case(name: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/calico/confd_peerings.json"
    );
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("confd test data"))
            .expect("confd test data is JSON");
    cases
        .into_iter()
        .find(|c| c["case"] == name)
        .unwrap_or_else(|| panic!("no confd case {name}"))
}

/// A vector's session in `node peers -o json`'s form.
fn expected_json(record: &Value) -> Value {
    json!({
        "ip": record["ip"],
        "port": record["port"],
        "as": record["as"],
        "local_as": record["local_as"],
        "type": record["type"],
        "passive": record["passive"],
        "rr_client": record["rr_client"],
        "rr_cluster_id": record["rr_cluster_id"],
        "password_set": !record["password"].is_null(),
        "source_address": record["source_address"],
        "restart_time": record["graceful_restart_time"],
        "next_hop": record["next_hop"],
        "ttl_security": record["ttl_security"],
    })
}

#[test]
fn node_peers_prints_confds_sessions_as_json_and_table() {
    let Some(c) = Cluster::start("node_peers_prints_confds_sessions_as_json_and_table") else {
        return;
    };
    let case = confd_case(CASE);
    c.apply(case["input_yaml"].as_str().expect("input_yaml"));
    let node = case["node"].as_str().expect("node");

    let out = ok(&c.ctl(&["node", "peers", node, "-o", "json"]));
    let got: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON: {e}\n{out}"));
    let expected: Vec<Value> = ["peers_v4", "peers_v6"]
        .iter()
        .flat_map(|f| case[*f].as_array().cloned().unwrap_or_default())
        .map(|r| expected_json(&r))
        .collect();
    assert_eq!(expected.len(), 6, "the case has six sessions");
    assert_eq!(got, Value::Array(expected), "calicoctl output:\n{out}");
    let keys: Vec<&str> = got[0]
        .as_object()
        .expect("sessions are objects")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "ip",
            "port",
            "as",
            "local_as",
            "type",
            "passive",
            "rr_client",
            "rr_cluster_id",
            "password_set",
            "source_address",
            "restart_time",
            "next_hop",
            "ttl_security"
        ]
    );

    let table = ok(&c.ctl(&["node", "peers", node]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 7, "a heading and six sessions:\n{table}");
    contains_all(
        lines[0],
        &["PEER ADDRESS", "PORT", "AS", "TYPE", "RR CLIENT", "NAME"],
    );
    contains_all(
        &table,
        &["Node_10_192_0_3", "Node_ac13__57_port_50", "fe0a::4"],
    );
    let rr_row = lines
        .iter()
        .find(|l| l.starts_with("10.192.0.3 "))
        .expect("a row for 10.192.0.3");
    contains_all(rr_row, &["64532", "node", "yes", "10.192.0.2"]);

    // A client node: the reverse of the reflector's selector peering, in both families.
    let leaf = ok(&c.ctl(&["node", "peers", "kube-node-1", "-o", "json"]));
    let leaf: Value = serde_json::from_str(&leaf).expect("JSON");
    assert_eq!(
        leaf.as_array().map(Vec::len),
        Some(2),
        "its sessions to the reflector: {leaf}"
    );
}

#[test]
fn node_peers_of_a_missing_node_is_an_error_naming_it() {
    let Some(c) = Cluster::start("node_peers_of_a_missing_node_is_an_error_naming_it") else {
        return;
    };
    let case = confd_case(CASE);
    c.apply(case["input_yaml"].as_str().expect("input_yaml"));
    let err = fail(&c.ctl(&["node", "peers", "no-such-node"]));
    contains_all(&err, &["\"no-such-node\"", "does not exist"]);
}
