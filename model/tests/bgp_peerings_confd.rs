//! Calico's confd test vectors (`testdata/calico/confd_peerings.json`): for each of the 36
//! cases, the input resources (a step case on top of the case it follows), the sessions
//! `model::bgp::peerings` computes for the case's node, compared field by field with the
//! sessions confd's expected BIRD configuration holds; and the pools the export policy accepts
//! compared with the pools confd's export filter accepts.

use std::collections::BTreeMap;

use model::bgp::{self, BgpInputs, PeeringOptions, Peerings, RouterIdSource, Session};
use model::resources::Resource;
use serde_json::{Value, json};

const PEERINGS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/calico/confd_peerings.json"
);

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(PEERINGS)
        .unwrap_or_else(|error| panic!("cannot read {PEERINGS}: {error}"));
    match serde_json::from_str(&text) {
        Ok(Value::Array(a)) => a,
        Ok(other) => panic!("{PEERINGS}: expected an array, got {other}"),
        Err(e) => panic!("{PEERINGS} is not valid JSON: {e}"),
    }
}

fn text<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field]
        .as_str()
        .unwrap_or_else(|| panic!("case {}: no string {field}", case["case"]))
}

fn decode(case: &Value) -> Vec<Resource> {
    let name = text(case, "case");
    let mut resources = model::document::resources_from_text(text(case, "input_yaml"), name)
        .unwrap_or_else(|e| panic!("case {name}: input does not decode: {e}"));
    resources.iter_mut().for_each(Resource::set_defaults);
    resources
}

/// The case's resources; a step case is applied over the case named in `applied_after`, each of
/// its resources replacing the one of the same kind and name.
fn resources(case: &Value, all: &[Value]) -> Vec<Resource> {
    let own = decode(case);
    let Some(base_name) = case["applied_after"].as_str() else {
        return own;
    };
    let base = all
        .iter()
        .find(|c| c["case"] == base_name)
        .unwrap_or_else(|| panic!("case {}: no case {base_name} to apply after", case["case"]));
    let mut merged: BTreeMap<(String, String), Resource> = resources(base, all)
        .into_iter()
        .map(|r| ((r.kind().to_string(), r.name().to_owned()), r))
        .collect();
    for r in own {
        merged.insert((r.kind().to_string(), r.name().to_owned()), r);
    }
    merged.into_values().collect()
}

/// A session in the vectors' form.
fn as_record(s: &Session) -> Value {
    json!({
        "name": s.name,
        "ip": bgp::go_ip_string(s.ip),
        "port": s.port,
        "as": s.as_number,
        "local_as": s.local_as,
        "effective_local_as": s.effective_local_as,
        "type": s.kind.as_str(),
        "passive": s.passive,
        "rr_client": s.rr_client,
        "rr_cluster_id": s.rr_cluster_id.map(|id| id.to_string()),
        // The vectors hold the resolved password (always none: no Secrets in confd's tests).
        "password": s.password.as_ref().map(|r| format!("secret {}/{}", r.name, r.key)),
        "source_address": s.source_address.map(bgp::go_ip_string),
        "graceful_restart_time": s.graceful_restart_time,
        "next_hop": s.next_hop.map(|n| n.as_str()),
        "ttl_security": s.ttl_security,
        "allow_local_as": s.allow_local_as,
    })
}

/// Every difference between the expected and computed sessions of one family.
fn family_mismatches(family: &str, expected: &Value, actual: &[Session]) -> Vec<String> {
    let expected = expected.as_array().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    let names = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|r| r["name"].as_str().unwrap_or("?").to_owned())
            .collect()
    };
    let actual: Vec<Value> = actual.iter().map(as_record).collect();
    if names(&expected) != names(&actual) {
        problems.push(format!(
            "{family}: sessions {:?}, expected {:?}",
            names(&actual),
            names(&expected)
        ));
    }
    for want in &expected {
        let name = want["name"].as_str().unwrap_or("?");
        let Some(got) = actual.iter().find(|a| a["name"] == name) else {
            continue;
        };
        let Some(fields) = want.as_object() else {
            problems.push(format!("{family} {name}: expected record is not an object"));
            continue;
        };
        for (field, value) in fields {
            match got.get(field) {
                None => problems.push(format!("{family} {name}: field {field} not computed")),
                Some(v) if v != value => {
                    problems.push(format!("{family} {name}: {field} is {v}, expected {value}"))
                }
                Some(_) => {}
            }
        }
    }
    problems
}

fn options(case: &Value) -> PeeringOptions {
    let router_id = case["env"]["CALICO_ROUTER_ID"].as_str().unwrap_or("");
    PeeringOptions {
        router_id: RouterIdSource::from_env_value(router_id)
            .unwrap_or_else(|e| panic!("case {}: {e}", case["case"])),
    }
}

fn compute(case: &Value, all: &[Value]) -> (Peerings, bgp::ExportPolicy) {
    let resources = resources(case, all);
    let inputs = BgpInputs::from_resources(&resources);
    let node = text(case, "node");
    let peerings = bgp::peerings(node, &inputs, options(case))
        .unwrap_or_else(|e| panic!("case {}: {e}", case["case"]));
    (peerings, bgp::export_policy(&inputs))
}

#[test]
fn every_confd_case_gives_confds_sessions_field_by_field() {
    let all = cases();
    assert_eq!(all.len(), 36, "expected Calico's 36 confd cases");
    let mut failures = Vec::new();
    let mut sessions_checked = 0;
    for case in &all {
        let name = text(case, "case");
        let (peerings, _) = compute(case, &all);
        let mut problems = Vec::new();
        let router_id = peerings.router_id.map(|id| id.to_string());
        if router_id.as_deref() != case["router_id"].as_str() {
            problems.push(format!(
                "router_id is {router_id:?}, expected {}",
                case["router_id"]
            ));
        }
        if Some(u64::from(peerings.as_number)) != case["as_number"].as_u64() {
            problems.push(format!(
                "as_number is {}, expected {}",
                peerings.as_number, case["as_number"]
            ));
        }
        problems.extend(family_mismatches("v4", &case["peers_v4"], &peerings.v4));
        problems.extend(family_mismatches("v6", &case["peers_v6"], &peerings.v6));
        sessions_checked += peerings.v4.len() + peerings.v6.len();
        if !problems.is_empty() {
            failures.push(format!("case {name}:\n  {}", problems.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 36 cases differ from confd:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        sessions_checked >= 90,
        "only {sessions_checked} sessions seen"
    );
}

#[test]
fn every_confd_case_exports_confds_pools() {
    let all = cases();
    let mut failures = Vec::new();
    for case in &all {
        let (_, export) = compute(case, &all);
        for (family, rules, field) in [
            ("v4", &export.v4, "exported_pools_v4"),
            ("v6", &export.v6, "exported_pools_v6"),
        ] {
            let got: Vec<String> = rules.accepted().map(|n| n.to_string()).collect();
            let want: Vec<String> = case[field]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if got != want {
                failures.push(format!(
                    "case {}: {family} exports {got:?}, expected {want:?}",
                    case["case"]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
