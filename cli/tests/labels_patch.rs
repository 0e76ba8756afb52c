//! `get -l`, `label` and `patch`.

mod common;

use common::{Cluster, contains_all, ok};
use serde_json::json;

const RESOURCES: &str = "apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool-a
  labels:
    env: prod
    zone: a
spec:
  cidr: 10.1.0.0/16
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool-b
  labels:
    env: dev
spec:
  cidr: 10.2.0.0/16
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: np-a
  namespace: ns1
  labels:
    env: prod
spec:
  selector: all()
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: np-b
  namespace: ns2
spec:
  selector: all()
";

#[test]
fn get_filters_any_kind_by_a_label_selector() {
    let Some(c) = Cluster::start("get_filters_any_kind_by_a_label_selector") else {
        return;
    };
    c.apply(RESOURCES);
    let names = |args: &[&str]| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(&ok(&c.ctl(args))).expect("JSON");
        v["items"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        names(&["get", "ippools", "-l", "env == 'prod'", "-o", "json"]),
        ["pool-a"]
    );
    assert_eq!(
        names(&["get", "ippools", "-l", "has(env)", "-o", "json"]),
        ["pool-a", "pool-b"]
    );
    assert_eq!(
        names(&["get", "ippools", "-l", "!has(zone)", "-o", "json"]),
        ["pool-b"]
    );
    assert_eq!(
        names(&["get", "np", "-A", "-l", "env == 'prod'", "-o", "json"]),
        ["np-a"]
    );
    assert_eq!(names(&["get", "np", "-A", "-o", "json"]), ["np-a", "np-b"]);
    assert_eq!(names(&["get", "np", "-n", "ns2", "-o", "json"]), ["np-b"]);
    let table = ok(&c.ctl(&["get", "ippools", "-l", "env in {'dev'}"]));
    assert!(
        table.contains("pool-b") && !table.contains("pool-a"),
        "{table}"
    );
    let err = c.fails_writing_nothing(&["get", "ippools", "-l", "env ==="]);
    contains_all(&err, &["invalid selector \"env ===\" given with -l"]);
}

#[test]
fn label_sets_overwrites_and_removes_like_calicoctl() {
    let Some(c) = Cluster::start("label_sets_overwrites_and_removes_like_calicoctl") else {
        return;
    };
    c.apply(RESOURCES);
    let labels = |kind: &str, name: &str, extra: &[&str]| {
        c.get_json(kind, name, extra)["metadata"]["labels"].clone()
    };

    let out = ok(&c.ctl(&["label", "ippool", "pool-b", "tier=web"]));
    assert_eq!(out.trim(), "Successfully set label tier on ippool pool-b");
    assert_eq!(
        labels("ippool", "pool-b", &[]),
        json!({"env": "dev", "tier": "web"})
    );

    let err = c.fails_writing_nothing(&["label", "ippool", "pool-b", "tier=db"]);
    contains_all(
        &err,
        &["key tier is already present. please use '--overwrite'"],
    );
    let out = ok(&c.ctl(&["label", "ippool", "pool-b", "tier=db", "--overwrite"]));
    assert_eq!(
        out.trim(),
        "Successfully updated label tier on ippool pool-b"
    );
    assert_eq!(labels("ippool", "pool-b", &[])["tier"], json!("db"));

    let out = ok(&c.ctl(&["label", "ippool", "pool-b", "tier", "--remove"]));
    assert_eq!(
        out.trim(),
        "Successfully removed label tier from ippool pool-b"
    );
    assert_eq!(labels("ippool", "pool-b", &[]), json!({"env": "dev"}));
    let err = c.fails_writing_nothing(&["label", "ippool", "pool-b", "tier", "--remove"]);
    contains_all(&err, &["key tier does not exist"]);

    ok(&c.ctl(&["label", "networkpolicy", "np-a", "-n", "ns1", "owner=me"]));
    assert_eq!(labels("np", "np-a", &["-n", "ns1"])["owner"], json!("me"));

    let err = c.fails_writing_nothing(&["label", "ippool", "pool-b", "bad key=x"]);
    contains_all(&err, &["IPPool(pool-b) is invalid", "metadata.labels"]);
    let err = c.fails_writing_nothing(&["label", "ippool", "nope", "a=b"]);
    contains_all(&err, &["ippool nope not found", "IPPool(nope)"]);
}

#[test]
fn patch_merges_validates_and_writes_nothing_on_error() {
    let Some(c) = Cluster::start("patch_merges_validates_and_writes_nothing_on_error") else {
        return;
    };
    c.apply(RESOURCES);
    let before = c.get_json("ippool", "pool-a", &[]);
    let out = ok(&c.ctl(&[
        "patch", "ippool", "pool-a", "-p",
        r#"{"spec": {"natOutgoing": true, "nodeSelector": "zone == 'a'"}, "metadata": {"labels": {"zone": null}}}"#,
    ]));
    assert_eq!(out.trim(), "Successfully patched 1 'IPPool' resource");
    let after = c.get_json("ippool", "pool-a", &[]);
    assert_eq!(after["spec"]["natOutgoing"], json!(true));
    assert_eq!(after["spec"]["nodeSelector"], json!("zone == 'a'"));
    assert_eq!(after["spec"]["cidr"], before["spec"]["cidr"]);
    assert_eq!(after["metadata"]["labels"], json!({"env": "prod"}));
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);

    let err = c.fails_writing_nothing(&[
        "patch",
        "ippool",
        "pool-a",
        "-p",
        r#"{"spec": {"cidr": "10.1.0.0/40"}}"#,
    ]);
    contains_all(&err, &["IPPool(pool-a) is invalid", "spec.cidr"]);
    let err = c.fails_writing_nothing(&[
        "patch",
        "ippool",
        "pool-a",
        "-p",
        r#"{"spec": {"colour": "red"}}"#,
    ]);
    contains_all(&err, &["spec.colour: unknown field"]);
    let err = c.fails_writing_nothing(&[
        "patch",
        "ippool",
        "pool-a",
        "-p",
        r#"{"metadata": {"name": "other"}}"#,
    ]);
    contains_all(&err, &["cannot change the kind, name or namespace"]);
    let err = c.fails_writing_nothing(&["patch", "ippool", "pool-a", "-p", "{not json"]);
    contains_all(&err, &["the patch is not valid JSON"]);
    let err = c.fails_writing_nothing(&["patch", "ippool", "missing", "-p", "{}"]);
    contains_all(&err, &["resource does not exist: IPPool(missing)"]);
}
