//! `calicoctl node status` against a status socket answering as calico-node does (one line of
//! JSON per connection), and without one.

mod common;

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_calicoctl");

#[test]
fn prints_calicos_table_from_the_nodes_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calico-node.ctl");
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let report = r#"{"node":"a","version":"v0.1.0","ready":true,"components":[],"bgp":{"routerId":"10.0.0.1","asNumber":64512,"peers":[{"address":"10.0.0.2","peerType":"nodeMesh","state":"Established","since":null,"lastError":null},{"address":"fd00::2","peerType":"nodeSpecific","state":"Connect","since":null,"lastError":null}]}}"#;
        s.write_all(report.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
    });
    let out = Command::new(BIN)
        .args(["node", "status", "--socket"])
        .arg(&path)
        .output()
        .unwrap();
    server.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("Calico process is running.\n\nIPv4 BGP status\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| 10.0.0.2     | node-to-node mesh | up    |       | Established |"),
        "{stdout}"
    );
    assert!(stdout.contains("IPv6 BGP status\n"), "{stdout}");
    assert!(
        stdout.contains("| fd00::2      | node specific | start |       | Connect |"),
        "{stdout}"
    );
}

#[test]
fn says_calico_is_not_running_when_nothing_answers() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["node", "status", "--socket"])
        .arg(dir.path().join("absent.ctl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Calico process is not running.\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent.ctl"));
}

#[test]
fn another_nodes_status_comes_from_what_it_published_in_the_datastore() {
    let Some(c) = common::Cluster::start(
        "another_nodes_status_comes_from_what_it_published_in_the_datastore",
    ) else {
        return;
    };
    c.put_raw(
        "/calico/status/v1/node/node-b",
        r#"{"node":"node-b","version":"v0.1.0","ready":false,"components":["bgp: live, not ready"],"bgp":{"routerId":null,"asNumber":64512,"peers":[{"address":"10.0.0.1","peerType":"global","state":"Active","since":null,"lastError":"Connection refused"}]}}"#,
    );
    let out = c.ctl(&["node", "status", "--node", "node-b"]);
    let stdout = common::ok(&out);
    assert!(
        stdout.contains("Calico process is not ready:\n  bgp: live, not ready\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| 10.0.0.1     | global    | start |       | Active Connection refused |"),
        "{stdout}"
    );
    let out = c.ctl(&["node", "status", "--node", "node-c"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no status of node \"node-c\""));
}
