//! `calicoctl node run`, `node status`, `node diags` and `node stop` with the real binaries
//! and a real etcd: the node is started as a daemon, answers on its status socket, publishes
//! its status for other hosts, and stops on request; a second `node run` is refused while the
//! first runs.

use std::process::Command;

use testkit::etcd::EtcdServer;
use testkit::{require_etcd, workspace_bin};

fn ctl(etcd: &EtcdServer, args: &[&str]) -> std::process::Output {
    Command::new(workspace_bin("calicoctl"))
        .args(args)
        .env("ETCD_ENDPOINTS", etcd.endpoint(0))
        .env("CALICO_NODE_BINARY", workspace_bin("calico-node"))
        .output()
        .expect("calicoctl runs")
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn node_run_status_diags_and_stop_manage_a_calico_node_daemon() {
    if !require_etcd("node_run_status_diags_and_stop_manage_a_calico_node_daemon") {
        return;
    }
    let etcd = EtcdServer::start().expect("etcd starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let run = dir.path().join("run");
    let log = dir.path().join("log");
    let (run_s, log_s) = (run.to_str().unwrap(), log.to_str().unwrap());
    let common = ["--run-dir", run_s, "--log-dir", log_s];

    let mut start = vec!["node", "run", "--name", "daemon-a", "--ip", "10.9.9.9/24"];
    start.extend(["--backend", "none"]);
    start.extend(common);
    let o = ctl(&etcd, &start);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Calico node started."), "{}", text(&o));

    let again = ctl(&etcd, &start);
    assert!(!again.status.success());
    assert!(text(&again).contains("already running"), "{}", text(&again));

    let socket = run.join("calico-node.ctl");
    let o = ctl(
        &etcd,
        &["node", "status", "--socket", socket.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).starts_with("Calico process is running."),
        "{}",
        text(&o)
    );

    // Other hosts see its status in the datastore, and its Node is registered.
    let mut published = String::new();
    for _ in 0..50 {
        let o = ctl(&etcd, &["node", "status", "--node", "daemon-a"]);
        published = text(&o);
        if o.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        published.starts_with("Calico process is running."),
        "{published}"
    );
    let o = ctl(&etcd, &["get", "node", "daemon-a", "-o", "wide"]);
    assert!(text(&o).contains("10.9.9.9/24"), "{}", text(&o));

    let archive = dir.path().join("diags.tar.gz");
    let mut diags = vec!["node", "diags", "-o", archive.to_str().unwrap()];
    diags.extend(common);
    let o = ctl(&etcd, &diags);
    assert!(o.status.success(), "{}", text(&o));
    let listing = Command::new("tar")
        .arg("tzf")
        .arg(&archive)
        .output()
        .expect("tar runs");
    let listing = String::from_utf8_lossy(&listing.stdout);
    for part in [
        "status.json",
        "calico-node.log",
        "ip-route.txt",
        "resources/nodes.json",
    ] {
        assert!(listing.contains(part), "{part} missing from\n{listing}");
    }

    let o = ctl(&etcd, &["node", "stop", "--run-dir", run_s]);
    assert!(text(&o).contains("Node stopped."), "{}", text(&o));
    assert!(!run.join("calico-node.pid").exists());
    let o = ctl(
        &etcd,
        &["node", "status", "--socket", socket.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).starts_with("Calico process is not running."));
}
