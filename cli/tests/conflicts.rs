//! What already exists, what does not, stale resourceVersions and an unreachable etcd: each is
//! an error naming the resource, exit code 1, and nothing written.

mod common;

use std::time::Duration;

use common::{Cluster, contains_all, fail, ok, timed};

const POOL: &str = "apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool-a
spec:
  cidr: 10.1.0.0/16
";

const OTHER_POOL: &str = "apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool-b
spec:
  cidr: 10.2.0.0/16
";

#[test]
fn create_of_an_existing_resource_writes_nothing() {
    let Some(c) = Cluster::start("create_of_an_existing_resource_writes_nothing") else {
        return;
    };
    let f = c.file("a.yaml", POOL);
    let out = ok(&c.ctl(&["create", "-f", &f]));
    assert_eq!(out.trim(), "Successfully created 1 'IPPool' resource(s)");
    let both = c.file("both.yaml", &format!("{OTHER_POOL}---\n{POOL}"));
    let err = c.fails_writing_nothing(&["create", "-f", &both]);
    contains_all(
        &err,
        &[
            "Failed to create any 'IPPool' resources",
            "both.yaml: document 2 (line 8): resource already exists: IPPool(pool-a)",
            "nothing was written",
        ],
    );
    fail(&c.ctl(&["get", "ippool", "pool-b"]));
}

#[test]
fn replace_and_delete_of_a_missing_resource_write_nothing() {
    let Some(c) = Cluster::start("replace_and_delete_of_a_missing_resource_write_nothing") else {
        return;
    };
    c.apply(POOL);
    let both = c.file("both.yaml", &format!("{POOL}---\n{OTHER_POOL}"));
    let err = c.fails_writing_nothing(&["replace", "-f", &both]);
    contains_all(
        &err,
        &[
            "resource does not exist: IPPool(pool-b)",
            "nothing was written",
        ],
    );

    let err = c.fails_writing_nothing(&["delete", "ippool", "pool-a", "pool-b"]);
    contains_all(&err, &["resource does not exist: IPPool(pool-b)"]);
    assert!(c.get_json("ippool", "pool-a", &[])["spec"].is_object());

    let out = ok(&c.ctl(&["delete", "ippool", "pool-a", "pool-b", "--skip-not-exists"]));
    assert_eq!(out.trim(), "Successfully deleted 2 'IPPool' resource(s)");
    fail(&c.ctl(&["get", "ippool", "pool-a"]));

    c.apply(POOL);
    let f = c.file("a.yaml", POOL);
    let out = ok(&c.ctl(&["delete", "-f", &f]));
    assert_eq!(out.trim(), "Successfully deleted 1 'IPPool' resource(s)");
    let err = c.fails_writing_nothing(&["delete", "-f", &f]);
    contains_all(
        &err,
        &["a.yaml: document 1 (line 1): resource does not exist: IPPool(pool-a)"],
    );
}

#[test]
fn stale_resource_version_is_a_conflict() {
    let Some(c) = Cluster::start("stale_resource_version_is_a_conflict") else {
        return;
    };
    c.apply(POOL);
    let read = ok(&c.ctl(&["get", "ippool", "pool-a", "-o", "yaml"]));
    let old_rv = c.get_json("ippool", "pool-a", &[])["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string();
    // Someone else changes it.
    ok(&c.ctl(&["label", "ippool", "pool-a", "team=x"]));
    // Replacing with what was read (it carries the old resourceVersion) must fail.
    let edited = read.replace(
        "cidr: 10.1.0.0/16",
        "cidr: 10.1.0.0/16\n  natOutgoing: true",
    );
    assert_ne!(edited, read);
    let f = c.file("edited.yaml", &edited);
    for verb in ["replace", "apply"] {
        let err = c.fails_writing_nothing(&[verb, "-f", &f]);
        contains_all(
            &err,
            &[
                "update conflict: IPPool(pool-a)",
                &format!("resourceVersion {old_rv} is out of date"),
                "nothing was written",
            ],
        );
    }
    let err = c.fails_writing_nothing(&["delete", "-f", &f]);
    contains_all(&err, &["update conflict: IPPool(pool-a)"]);
    // With the current resourceVersion it goes through.
    let current = ok(&c.ctl(&["get", "ippool", "pool-a", "-o", "yaml"]));
    let f = c.file("current.yaml", &current);
    ok(&c.ctl(&["replace", "-f", &f]));
}

#[test]
fn unreachable_etcd_fails_within_the_timeout() {
    let Some(c) = Cluster::start("unreachable_etcd_fails_within_the_timeout") else {
        return;
    };
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let f = c.file("a.yaml", POOL);
    let endpoint = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["apply", "-f", f.as_str()],
        vec!["get", "ippools"],
        vec!["pool", "add", "10.9.0.0/16"],
    ] {
        let (out, took) = timed(|| {
            std::process::Command::new(common::BIN)
                .args(&args)
                .env("ETCD_ENDPOINTS", &endpoint)
                .output()
                .expect("runs")
        });
        let err = fail(&out);
        assert!(took < Duration::from_secs(30), "{args:?} took {took:?}");
        assert!(
            err.contains(&format!("127.0.0.1:{port}")),
            "{args:?}: {err}"
        );
    }
    // The real etcd saw nothing.
    assert!(c.snapshot().is_empty());
}
