//! Resources applied with calicoctl read back unchanged: every kind calicoctl writes, Calico's
//! own confd test manifests, YAML and JSON output, tables, directories, stdin and Lists.

mod common;

use common::{Cluster, contains_all, fail, ok};
use model::resources::Resource;
use serde_json::{Value, json};

/// One document of every kind calicoctl can write.
const EVERY_KIND: &str = r#"
apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: node1
  labels:
    rack: a
spec:
  bgp:
    ipv4Address: 10.0.0.1/24
    asNumber: 64513
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: node1-k8s-pod1-eth0
  namespace: ns1
  labels:
    app: web
spec:
  node: node1
  orchestrator: k8s
  pod: pod1
  endpoint: eth0
  interfaceName: cali0123456789a
  ipNetworks:
  - 10.65.0.2/32
  profiles:
  - prof1
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels:
    role: host
spec:
  node: node1
  interfaceName: eth0
  expectedIPs:
  - 10.0.0.1
  profiles:
  - prof1
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata:
  name: prof1
spec:
  labelsToApply:
    role: web
  ingress:
  - action: Allow
    source:
      selector: role == 'web'
  egress:
  - action: Allow
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: np1
  namespace: ns1
spec:
  order: 10
  selector: app == 'web'
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      ports:
      - 80
      - "8000:8080"
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: gnp1
spec:
  order: 100
  selector: all()
  egress:
  - action: Deny
    protocol: ICMP
    icmp:
      type: 8
      code: 0
  - action: Allow
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: security
spec:
  order: 100
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata:
  name: netset1
  namespace: ns1
  labels:
    external: "true"
spec:
  nets:
  - 10.1.0.0/16
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: gns1
spec:
  nets:
  - 192.0.2.0/24
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool1
spec:
  cidr: 10.65.0.0/16
  ipipMode: Always
  natOutgoing: true
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: peer1
spec:
  peerIP: 10.0.0.254
  asNumber: 64600
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  nodeToNodeMeshEnabled: false
  asNumber: 64512
  logSeverityScreen: Info
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
"#;

/// What calicoctl should store for a document: decoded, with Calico's defaults.
fn expected(doc: &Value) -> Resource {
    let mut r = Resource::from_value(doc.clone()).expect("test document decodes");
    r.set_defaults();
    r
}

fn documents(text: &str) -> Vec<Value> {
    model::yaml::parse_documents(text).expect("test YAML parses")
}

/// Checks that every document of `text` reads back with the same spec and labels.
fn assert_reads_back(c: &Cluster, text: &str) {
    for doc in documents(text) {
        let want = expected(&doc);
        let kind = want.kind().name();
        let mut extra = Vec::new();
        let ns;
        if let Some(n) = want.namespace() {
            ns = n.to_string();
            extra = vec!["-n", ns.as_str()];
        }
        let got = c.get_json(kind, want.name(), &extra);
        assert_eq!(got["kind"], json!(kind));
        assert_eq!(got["apiVersion"], json!("projectcalico.org/v3"));
        assert_eq!(
            got["spec"],
            want.spec_value(),
            "{kind} {} spec",
            want.name()
        );
        let labels = got["metadata"].get("labels").cloned().unwrap_or(json!({}));
        assert_eq!(labels, json!(want.metadata().labels), "{kind} labels");
        for field in ["resourceVersion", "uid", "creationTimestamp"] {
            assert!(got["metadata"][field].is_string(), "{kind} {field}: {got}");
        }
    }
}

#[test]
fn every_kind_applies_and_reads_back_with_the_same_spec() {
    let Some(c) = Cluster::start("every_kind_applies_and_reads_back_with_the_same_spec") else {
        return;
    };
    let out = c.apply(EVERY_KIND);
    assert_eq!(out.trim(), "Successfully applied 13 resource(s)");
    assert_reads_back(&c, EVERY_KIND);
    // Applying the same file again replaces in place, keeping uid and creationTimestamp.
    let before = c.get_json("ippool", "pool1", &[]);
    let out = c.apply(EVERY_KIND);
    assert_eq!(out.trim(), "Successfully applied 13 resource(s)");
    let after = c.get_json("ippool", "pool1", &[]);
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_ne!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    // The first write created ClusterInformation.
    let ci = c.get_json("clusterinformation", "default", &[]);
    assert_eq!(ci["spec"]["datastoreReady"], json!(true));
}

#[test]
fn calico_confd_test_manifests_apply_unchanged() {
    let Some(c) = Cluster::start("calico_confd_test_manifests_apply_unchanged") else {
        return;
    };
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/calico/confd_peerings.json"
    );
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("confd test data"))
            .expect("confd test data is JSON");
    assert!(cases.len() >= 30);
    for case in &cases {
        let name = case["case"].as_str().unwrap_or("?");
        let text = case["input_yaml"].as_str().expect("input_yaml");
        let f = c.file("case.yaml", text);
        let out = c.ctl(&["apply", "-f", &f]);
        assert!(
            out.status.success(),
            "case {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_reads_back(&c, text);
    }
}

#[test]
fn yaml_output_is_calicoctl_shaped_and_reads_back() {
    let Some(c) = Cluster::start("yaml_output_is_calicoctl_shaped_and_reads_back") else {
        return;
    };
    c.apply(EVERY_KIND);
    let one = ok(&c.ctl(&["get", "ippool", "pool1", "-o", "yaml"]));
    assert!(
        one.starts_with("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n"),
        "{one}"
    );
    contains_all(
        &one,
        &[
            "  name: pool1\n",
            "  resourceVersion: \"",
            "  cidr: 10.65.0.0/16\n",
        ],
    );
    let parsed = &model::yaml::parse_documents(&one).expect("output is YAML")[0];
    assert_eq!(parsed, &c.get_json("ippool", "pool1", &[]));

    let list = ok(&c.ctl(&["get", "networkpolicies", "-A", "-o", "yaml"]));
    let parsed = &model::yaml::parse_documents(&list).expect("list is YAML")[0];
    assert_eq!(parsed["kind"], json!("NetworkPolicyList"));
    assert!(parsed["metadata"]["resourceVersion"].is_string());
    assert_eq!(parsed["items"][0]["metadata"]["name"], json!("np1"));
    // A list reads back as input: apply it as it is.
    let f = c.file("list.yaml", &list);
    ok(&c.ctl(&["apply", "-f", &f]));

    // Several names: a list in the order given; a missing one is an error naming it.
    let two: Value =
        serde_json::from_str(&ok(&c.ctl(&["get", "gnp", "gnp1", "gnp1", "-o", "json"])))
            .expect("JSON");
    assert_eq!(two["kind"], json!("GlobalNetworkPolicyList"));
    assert_eq!(two["items"].as_array().map(Vec::len), Some(2));
    let e = fail(&c.ctl(&["get", "bgppeer", "peer1", "nope", "-o", "json"]));
    assert!(e.contains("resource does not exist: BGPPeer(nope)"), "{e}");
}

#[test]
fn tables_use_calicoctl_headings() {
    let Some(c) = Cluster::start("tables_use_calicoctl_headings") else {
        return;
    };
    c.apply(EVERY_KIND);
    let t = ok(&c.ctl(&["get", "ippools"]));
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0], "NAME    CIDR           SELECTOR");
    assert_eq!(lines[1], "pool1   10.65.0.0/16   all()");
    let wide = ok(&c.ctl(&["get", "ipp", "-o", "wide"]));
    contains_all(
        &wide,
        &[
            "NAME    CIDR           NAT    IPIPMODE   VXLANMODE   DISABLED   DISABLEBGPEXPORT   SELECTOR",
            "pool1   10.65.0.0/16   true   Always     Never       false      false              all()",
        ],
    );
    let peers = ok(&c.ctl(&["get", "bgppeers"]));
    contains_all(
        &peers,
        &[
            "NAME    PEERIP       NODE       ASN",
            "peer1   10.0.0.254   (global)   64600",
        ],
    );
    let weps = ok(&c.ctl(&["get", "wep", "-A"]));
    contains_all(
        &weps,
        &[
            "NAMESPACE   WORKLOAD   NODE    NETWORKS       INTERFACE",
            "ns1         pod1       node1   10.65.0.2/32   cali0123456789a",
        ],
    );
    let nodes = ok(&c.ctl(&["get", "nodes", "-o", "wide"]));
    contains_all(
        &nodes,
        &[
            "NAME    ASN     IPV4          IPV6",
            "node1   64513   10.0.0.1/24",
        ],
    );
    // Namespaced kinds default to the "default" namespace.
    let none = ok(&c.ctl(&["get", "networkpolicy"]));
    assert_eq!(none.trim(), "NAME   TIER");
    let e = fail(&c.ctl(&["get", "widgets"]));
    assert!(
        e.contains("resource type 'widgets' is not supported"),
        "{e}"
    );
}

#[test]
fn directories_stdin_and_lists_are_read_like_calicoctl() {
    let Some(c) = Cluster::start("directories_stdin_and_lists_are_read_like_calicoctl") else {
        return;
    };
    c.file("dir/b.yml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: b}\nspec: {cidr: 10.2.0.0/16}\n");
    c.file("dir/a.json", r#"{"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "a"}, "spec": {"cidr": "10.1.0.0/16"}}"#);
    c.file("dir/ignored.txt", "not a manifest");
    let dir = c.dir.path().join("dir").display().to_string();
    let out = ok(&c.ctl(&["create", "-f", &dir]));
    assert_eq!(out.trim(), "Successfully created 2 'IPPool' resource(s)");

    let list = r#"
apiVersion: projectcalico.org/v3
kind: List
items:
- apiVersion: projectcalico.org/v3
  kind: GlobalNetworkSet
  metadata: {name: s1}
  spec: {nets: [198.51.100.0/24]}
- apiVersion: projectcalico.org/v3
  kind: GlobalNetworkSet
  metadata: {name: s2}
  spec: {nets: [203.0.113.0/24]}
"#;
    let out = ok(&c.ctl_stdin(&["apply", "-f", "-"], list));
    assert_eq!(
        out.trim(),
        "Successfully applied 2 'GlobalNetworkSet' resource(s)"
    );
    let s2 = c.get_json("globalnetworkset", "s2", &[]);
    assert_eq!(s2["spec"]["nets"], json!(["203.0.113.0/24"]));

    let out = ok(&c.ctl_stdin(
        &["replace", "-f", "-"],
        "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: a}\nspec: {cidr: 10.1.0.0/16, natOutgoing: true}\n",
    ));
    assert_eq!(out.trim(), "Successfully replaced 1 'IPPool' resource(s)");
    assert_eq!(
        c.get_json("ippool", "a", &[])["spec"]["natOutgoing"],
        json!(true)
    );

    // -n places namespaced documents that name no namespace.
    let f = c.file("np.yaml", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {selector: all()}\n");
    ok(&c.ctl(&["apply", "-f", &f, "-n", "team"]));
    assert_eq!(
        c.get_json("np", "p", &["-n", "team"])["metadata"]["namespace"],
        json!("team")
    );

    let out = ok(&c.ctl(&["delete", "ippool", "a", "b"]));
    assert_eq!(out.trim(), "Successfully deleted 2 'IPPool' resource(s)");
}

#[test]
fn config_file_names_the_datastore() {
    let Some(c) = Cluster::start("config_file_names_the_datastore") else {
        return;
    };
    let cfg = c.file(
        "calicoctl.cfg",
        &format!(
            "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {{}}\nspec:\n  datastoreType: etcdv3\n  etcdEndpoints: {}\n",
            c.etcd.endpoint(0)
        ),
    );
    let f = c.file("p.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.9.0.0/16}\n");
    let out = std::process::Command::new(common::BIN)
        .args(["apply", "-c", &cfg, "-f", &f])
        .env("ETCD_ENDPOINTS", "http://127.0.0.1:1")
        .output()
        .expect("runs");
    assert_eq!(
        ok(&out).trim(),
        "Successfully applied 1 'IPPool' resource(s)"
    );
    let e = fail(&c.ctl(&["get", "ippools", "-c", "/nonexistent/calicoctl.cfg"]));
    assert!(
        e.contains("/nonexistent/calicoctl.cfg does not exist"),
        "{e}"
    );
    let v = ok(&c.ctl(&["version"]));
    contains_all(
        &v,
        &[
            "Client Version:    v",
            "Cluster Version:   v",
            "Cluster Type:      bgp",
        ],
    );
}
