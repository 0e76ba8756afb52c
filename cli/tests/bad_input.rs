//! Bad input is refused with a precise message (file, document, resource, field, value), exit
//! code 1, and nothing at all is written, even when other documents in the same input are good.

mod common;

use common::{Cluster, contains_all};

const GOOD_POOL: &str = "apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: good-pool
spec:
  cidr: 10.10.0.0/16
";

/// Starts a cluster holding one resource (so that etcd is not empty), writes `good` then `bad`
/// as one two-document file, applies it and returns the error after checking that nothing
/// changed.
fn refused(test: &str, bad: &str) -> Option<(Cluster, String)> {
    let c = Cluster::start(test)?;
    c.apply(
        "apiVersion: projectcalico.org/v3\nkind: Profile\nmetadata:\n  name: existing\nspec: {}\n",
    );
    let f = c.file("input.yaml", &format!("{GOOD_POOL}---\n{bad}"));
    let err = c.fails_writing_nothing(&["apply", "-f", &f]);
    assert!(err.contains("nothing was written"), "{err}");
    Some((c, err))
}

#[test]
fn malformed_yaml_names_file_line_and_column() {
    let Some((_, err)) = refused(
        "malformed_yaml_names_file_line_and_column",
        "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: a: b\nspec: {}\n",
    ) else {
        return;
    };
    contains_all(&err, &["input.yaml: invalid YAML at line 11, column"]);
}

#[test]
fn unknown_kind_is_refused() {
    let Some((_, err)) = refused(
        "unknown_kind_is_refused",
        "apiVersion: projectcalico.org/v3\nkind: Widget\nmetadata:\n  name: w\n",
    ) else {
        return;
    };
    contains_all(&err, &["input.yaml: document 2", "unknown kind \"Widget\""]);
}

#[test]
fn unknown_field_is_refused_with_its_path() {
    let Some((_, err)) = refused(
        "unknown_field_is_refused_with_its_path",
        "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: p\nspec:\n  peerIP: 10.0.0.1\n  asNumber: 65000\n  colour: blue\n",
    ) else {
        return;
    };
    contains_all(
        &err,
        &[
            "input.yaml: document 2",
            "spec.colour: unknown field \"colour\"",
        ],
    );
}

#[test]
fn invalid_cidr_is_refused() {
    let Some((_, err)) = refused(
        "invalid_cidr_is_refused",
        "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: bad-pool\nspec:\n  cidr: 10.0.0.0/33\n",
    ) else {
        return;
    };
    contains_all(
        &err,
        &[
            "input.yaml: document 2",
            "IPPool(bad-pool) is invalid",
            "spec.cidr",
            "10.0.0.0/33",
        ],
    );
}

#[test]
fn invalid_ip_is_refused() {
    let Some((_, err)) = refused(
        "invalid_ip_is_refused",
        "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: p\nspec:\n  peerIP: 10.0.0.300\n  asNumber: 65000\n",
    ) else {
        return;
    };
    contains_all(
        &err,
        &[
            "input.yaml: document 2",
            "BGPPeer(p) is invalid",
            "spec.peerIP",
            "10.0.0.300",
        ],
    );
}

#[test]
fn invalid_selector_is_refused() {
    let Some((_, err)) = refused(
        "invalid_selector_is_refused",
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: g\nspec:\n  selector: has(\n",
    ) else {
        return;
    };
    contains_all(
        &err,
        &[
            "input.yaml: document 2",
            "GlobalNetworkPolicy(g) is invalid",
            "spec.selector",
            "has(",
        ],
    );
}

#[test]
fn port_70000_is_refused() {
    let Some((_, err)) = refused(
        "port_70000_is_refused",
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: np\n  namespace: ns\nspec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [80, 70000]\n",
    ) else {
        return;
    };
    contains_all(
        &err,
        &[
            "input.yaml: document 2",
            "spec.ingress[0].destination.ports[1]",
            "70000",
        ],
    );
}

#[test]
fn icmp_code_without_type_is_refused() {
    let Some((_, err)) = refused(
        "icmp_code_without_type_is_refused",
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: g\nspec:\n  egress:\n  - action: Allow\n    protocol: ICMP\n    icmp:\n      code: 3\n",
    ) else {
        return;
    };
    contains_all(
        &err,
        &[
            "input.yaml: document 2",
            "GlobalNetworkPolicy(g) is invalid",
            "spec.egress[0].icmp.code",
        ],
    );
}

#[test]
fn as_number_zero_is_refused() {
    let Some((_, err)) = refused(
        "as_number_zero_is_refused",
        "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: p\nspec:\n  peerIP: 10.0.0.1\n  asNumber: 0\n",
    ) else {
        return;
    };
    contains_all(
        &err,
        &["input.yaml: document 2", "spec.asNumber", "AS number 0"],
    );
}

#[test]
fn as_number_above_32_bits_is_refused() {
    let Some((_, err)) = refused(
        "as_number_above_32_bits_is_refused",
        "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n  asNumber: 4294967296\n",
    ) else {
        return;
    };
    contains_all(
        &err,
        &["input.yaml: document 2", "spec.asNumber", "4294967296"],
    );
}

#[test]
fn duplicate_names_in_one_input_are_refused() {
    let Some((_, err)) = refused(
        "duplicate_names_in_one_input_are_refused",
        "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: good-pool\nspec:\n  cidr: 10.20.0.0/16\n",
    ) else {
        return;
    };
    contains_all(
        &err,
        &[
            "IPPool(good-pool) is given more than once (first in",
            "input.yaml: document 1",
        ],
    );
}

#[test]
fn every_problem_of_every_document_is_reported_at_once() {
    let Some(c) = Cluster::start("every_problem_of_every_document_is_reported_at_once") else {
        return;
    };
    let f = c.file(
        "many.yaml",
        "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: a}\nspec: {cidr: 10.0.0.0/99}\n---\n\
         apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: b}\nspec: {peerIP: 1.2.3.4, asNumber: 0}\n",
    );
    let err = c.fails_writing_nothing(&["apply", "-f", &f]);
    contains_all(
        &err,
        &[
            "many.yaml: document 1",
            "IPPool(a) is invalid",
            "many.yaml: document 2",
            "BGPPeer(b) is invalid",
        ],
    );
    // Nothing at all exists afterwards: not even ClusterInformation.
    assert!(c.snapshot().is_empty());
}

#[test]
fn cluster_information_is_read_only_and_ipam_kinds_are_not_resources() {
    let Some(c) =
        Cluster::start("cluster_information_is_read_only_and_ipam_kinds_are_not_resources")
    else {
        return;
    };
    let f = c.file(
        "ci.yaml",
        &format!("{GOOD_POOL}---\napiVersion: projectcalico.org/v3\nkind: ClusterInformation\nmetadata: {{name: default}}\nspec: {{datastoreReady: false}}\n"),
    );
    let err = c.fails_writing_nothing(&["apply", "-f", &f]);
    contains_all(&err, &["ClusterInformation(default) is read-only"]);
    let err = c.fails_writing_nothing(&["get", "ipamblocks"]);
    contains_all(
        &err,
        &["IPAMBlock resources are not stored as v3 resources"],
    );
    let err = c.fails_writing_nothing(&["delete", "clusterinformation", "default"]);
    contains_all(&err, &["read-only"]);
}

#[test]
fn namespace_conflicts_and_bad_files_are_refused() {
    let Some(c) = Cluster::start("namespace_conflicts_and_bad_files_are_refused") else {
        return;
    };
    let f = c.file(
        "np.yaml",
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {}\n---\n\
         apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: q, namespace: a}\nspec: {cidr: 10.0.0.0/16}\n",
    );
    let err = c.fails_writing_nothing(&["apply", "-f", &f, "-n", "b"]);
    contains_all(
        &err,
        &[
            "does not match the namespace given with -n (\"b\")",
            "IPPool is not namespaced",
        ],
    );
    let err = c.fails_writing_nothing(&["apply", "-f", "/nonexistent/x.yaml"]);
    contains_all(&err, &["/nonexistent/x.yaml: cannot read"]);
    let empty = c.file("empty.yaml", "---\n");
    let err = c.fails_writing_nothing(&["create", "-f", &empty]);
    contains_all(&err, &["no resources found"]);
    let out = common::ok(&c.ctl(&["create", "-f", &empty, "--skip-empty"]));
    assert_eq!(out.trim(), "No resources specified");
}
