//! Manifest text to resources: documents, Lists, YAML 1.1 label values, and messages that say
//! where the problem is.

use model::document::{load, resources_from_text};
use model::resources::{Kind, Resource};

const POOL: &str = "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p1\nspec:\n  cidr: 10.0.0.0/16\n";

#[test]
fn reads_every_document_and_skips_empty_ones() {
    let text = format!(
        "---\n{POOL}---\n---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: t1\nspec:\n  order: 10\n"
    );
    let loaded = load(&text, "pools.yaml").expect("valid manifest");
    let kinds: Vec<Kind> = loaded.iter().map(|l| l.resource.kind()).collect();
    assert_eq!(kinds, vec![Kind::IPPool, Kind::Tier]);
    assert_eq!(loaded[1].origin.document, 3);
    assert_eq!(
        loaded[1].origin.to_string(),
        "pools.yaml: document 3 (line 10)"
    );
}

#[test]
fn expands_lists_of_any_spelling() {
    for list_kind in ["List", "IPPoolList"] {
        let text = format!(
            "apiVersion: projectcalico.org/v3\nkind: {list_kind}\nitems:\n- apiVersion: projectcalico.org/v3\n  kind: IPPool\n  metadata: {{name: a}}\n  spec: {{cidr: 10.1.0.0/16}}\n- apiVersion: projectcalico.org/v3\n  kind: IPPool\n  metadata: {{name: b}}\n  spec: {{cidr: 10.2.0.0/16}}\n"
        );
        let loaded = load(&text, "-").expect("valid list");
        let names: Vec<&str> = loaded
            .iter()
            .map(|l| l.resource.metadata().name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"], "{list_kind}");
        assert_eq!(loaded[1].origin.item, Some(1));
    }
}

#[test]
fn unquoted_yaml_1_1_label_values_are_stored_as_strings() {
    let text = "apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: n1\n  labels:\n    rr: yes\n    rack: 1\nspec: {}\n";
    let resources = resources_from_text(text, "node.yaml").expect("valid node");
    let Resource::Node(node) = &resources[0] else {
        panic!("expected a Node, got {:?}", resources[0])
    };
    assert_eq!(
        node.metadata.labels.get("rr").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        node.metadata.labels.get("rack").map(String::as_str),
        Some("1")
    );
}

#[test]
fn reports_every_bad_document_with_its_position() {
    let text = format!(
        "{POOL}---\napiVersion: projectcalico.org/v3\nkind: Bogus\nmetadata: {{name: x}}\n---\n{POOL}---\n- just\n- a list\n"
    );
    let err = load(&text, "bad.yaml").unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.problems[0].starts_with("bad.yaml: document 2 (line 8): "),
        "{err}"
    );
    assert!(err.problems[0].contains("Bogus"), "{err}");
    assert!(err.problems[1].starts_with("bad.yaml: document 4"), "{err}");
}

#[test]
fn malformed_yaml_names_line_and_column() {
    let err = load(
        "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: [\n",
        "broken.yaml",
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(
        err.problems[0].starts_with("broken.yaml: invalid YAML at line "),
        "{err}"
    );
}

#[test]
fn unknown_fields_name_their_path() {
    let text = "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p\nspec:\n  cidr: 10.0.0.0/16\n  bogus: 1\n";
    let err = load(text, "f.yaml").unwrap_err();
    assert!(err.problems[0].contains("spec.bogus"), "{err}");
}
