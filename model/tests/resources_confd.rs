//! Every input document of Calico's confd tests (`testdata/calico/confd_peerings.json`,
//! field `input_yaml`) decodes, validates, and survives an encode/decode round trip.

use model::resources::{Kind, Resource};
use serde_json::Value;

const PEERINGS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/calico/confd_peerings.json"
);

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(PEERINGS).unwrap_or_else(|error| {
        panic!("cannot read {PEERINGS}: {error}; it lives in the shared checkout next to the repository")
    });
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{PEERINGS} is not valid JSON: {error}"));
    match v {
        Value::Array(a) => a,
        other => panic!("{PEERINGS}: expected an array, got {other}"),
    }
}

fn documents(case: &Value) -> (String, Vec<Value>) {
    let name = case["case"].as_str().unwrap_or("?").to_owned();
    let yaml = case["input_yaml"]
        .as_str()
        .unwrap_or_else(|| panic!("case {name}: no input_yaml"));
    let docs = model::yaml::parse_documents(yaml)
        .unwrap_or_else(|e| panic!("case {name}: YAML does not parse: {e}"));
    (name, docs.into_iter().filter(|d| !d.is_null()).collect())
}

#[test]
fn every_confd_input_document_decodes_and_validates() {
    let cases = cases();
    assert_eq!(cases.len(), 36, "expected Calico's 36 confd cases");
    let mut total = 0;
    for case in &cases {
        let (name, docs) = documents(case);
        assert!(!docs.is_empty(), "case {name}: no documents");
        for (i, doc) in docs.into_iter().enumerate() {
            let mut r = Resource::from_value(doc)
                .unwrap_or_else(|e| panic!("case {name}, document {i}: does not decode: {e}"));
            r.validate().unwrap_or_else(|e| {
                panic!("case {name}, document {i} ({}): invalid:\n{e}", r.kind())
            });
            r.set_defaults();
            r.validate().unwrap_or_else(|e| {
                panic!(
                    "case {name}, document {i} ({}): invalid after defaults:\n{e}",
                    r.kind()
                )
            });
            total += 1;
        }
    }
    assert!(total > 200, "only {total} documents seen");
}

#[test]
fn confd_documents_round_trip_through_json() {
    for case in &cases() {
        let (name, docs) = documents(case);
        for doc in docs {
            let r = Resource::from_value(doc)
                .unwrap_or_else(|e| panic!("case {name}: does not decode: {e}"));
            let again = Resource::from_json(&r.to_json()).unwrap_or_else(|e| {
                panic!("case {name}: re-encoded {} does not decode: {e}", r.kind())
            });
            assert_eq!(
                again,
                r,
                "case {name}: {} changed in a JSON round trip",
                r.kind()
            );
        }
    }
}

#[test]
fn yaml_1_1_yes_label_value_is_stored_as_the_string_true() {
    // Some confd inputs label nodes `route-reflector: yes` and select `== 'true'`.
    let mut found = false;
    for case in &cases() {
        let (_, docs) = documents(case);
        for doc in docs {
            let bool_label = doc["metadata"]["labels"]
                .as_object()
                .is_some_and(|m| m.values().any(Value::is_boolean));
            if !bool_label {
                continue;
            }
            let r = Resource::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.kind(), Kind::Node);
            for (k, v) in doc["metadata"]["labels"].as_object().into_iter().flatten() {
                if let Value::Bool(b) = v {
                    assert_eq!(r.metadata().labels.get(k), Some(&b.to_string()));
                    found = true;
                }
            }
        }
    }
    assert!(
        found,
        "expected at least one unquoted yes/true label value in the confd inputs"
    );
}
