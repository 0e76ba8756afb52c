//! Calico's own selector tests (libcalico-go `parser_test.go`, transcribed to
//! `testdata/calico/selector_vectors.json`): every match vector, every selector Calico
//! rejects, and every canonicalisation case with its unique ID.

use std::collections::BTreeMap;

use model::selector::Selector;
use serde_json::Value;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/calico/selector_vectors.json"
);

fn vectors() -> Value {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|error| {
        panic!("cannot read Calico's selector vectors at {VECTORS}: {error}; they live in the shared checkout next to the repository")
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{VECTORS} is not valid JSON: {error}"))
}

fn array<'a>(vectors: &'a Value, field: &str) -> &'a [Value] {
    vectors[field]
        .as_array()
        .unwrap_or_else(|| panic!("{VECTORS}: field {field:?} is not an array"))
}

fn str_field<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: field {field:?} is not a string"))
}

fn expected_count(vectors: &Value, field: &str) -> usize {
    vectors["counts"][field]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or_else(|| panic!("{VECTORS}: counts.{field} missing"))
}

#[test]
fn every_match_vector_evaluates_as_calico_does() {
    let vectors = vectors();
    let cases = array(&vectors, "match_vectors");
    assert_eq!(cases.len(), 98);
    assert_eq!(cases.len(), expected_count(&vectors, "match_vectors"));

    let mut failures = Vec::new();
    for case in cases {
        let text = str_field(case, "selector");
        let labels: BTreeMap<String, String> = case["labels"]
            .as_object()
            .unwrap_or_else(|| panic!("{case}: labels is not an object"))
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().unwrap_or_else(|| panic!("{case}")).to_owned(),
                )
            })
            .collect();
        let expected = case["expected"]
            .as_bool()
            .unwrap_or_else(|| panic!("{case}"));

        let selector = match Selector::parse(text) {
            Ok(selector) => selector,
            Err(error) => {
                failures.push(format!("{text:?} did not parse: {error}"));
                continue;
            }
        };
        if selector.matches(&labels) != expected {
            failures.push(format!("{text:?} on {labels:?}: expected {expected}"));
        }
        // Calico also checks that the canonical form selects the same endpoints.
        match Selector::parse(&selector.canonical()) {
            Ok(reparsed) if reparsed.matches(&labels) == expected => {}
            Ok(_) => failures.push(format!("canonical {selector} of {text:?} on {labels:?}")),
            Err(error) => failures.push(format!("canonical of {text:?} did not parse: {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_invalid_selector_is_rejected() {
    let vectors = vectors();
    let cases = array(&vectors, "invalid_selectors");
    assert_eq!(cases.len(), 26);
    assert_eq!(cases.len(), expected_count(&vectors, "invalid_selectors"));

    let accepted: Vec<String> = cases
        .iter()
        .map(|case| {
            case.as_str()
                .unwrap_or_else(|| panic!("{case} is not a string"))
        })
        .filter_map(|text| {
            Selector::parse(text)
                .ok()
                .map(|s| format!("{text:?} parsed as {s}"))
        })
        .collect();
    assert!(
        accepted.is_empty(),
        "accepted invalid selectors:\n{}",
        accepted.join("\n")
    );
}

#[test]
fn every_canonicalisation_case_gives_calicos_text_and_unique_id() {
    let vectors = vectors();
    let cases = array(&vectors, "canonicalisation");
    assert_eq!(cases.len(), 17);
    assert_eq!(cases.len(), expected_count(&vectors, "canonicalisation"));

    let mut failures = Vec::new();
    let mut ids_checked = 0;
    for case in cases {
        let input = str_field(case, "input");
        let expected = str_field(case, "canonical");
        let selector = match Selector::parse(input) {
            Ok(selector) => selector,
            Err(error) => {
                failures.push(format!("{input:?} did not parse: {error}"));
                continue;
            }
        };
        let canonical = selector.canonical();
        if canonical != expected {
            failures.push(format!(
                "{input:?}: canonical {canonical:?}, expected {expected:?}"
            ));
        }
        // Round trip: the canonical text parses to the same selector, text and ID.
        match Selector::parse(&canonical) {
            Ok(reparsed) => {
                if reparsed != selector || reparsed.canonical() != canonical {
                    failures.push(format!(
                        "{input:?}: canonical {canonical:?} does not round-trip"
                    ));
                }
                if reparsed.unique_id() != selector.unique_id() {
                    failures.push(format!("{input:?}: unique ID changes on round trip"));
                }
            }
            Err(error) => failures.push(format!("{input:?}: canonical does not parse: {error}")),
        }
        if let Some(expected_id) = case["unique_id"].as_str() {
            ids_checked += 1;
            let id = selector.unique_id();
            if id != expected_id {
                failures.push(format!("{input:?}: unique ID {id}, expected {expected_id}"));
            }
        }
    }
    assert_eq!(ids_checked, 5, "the vectors carry five unique IDs");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
