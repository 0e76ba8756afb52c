//! A Calico cluster on this kernel, run as an operator runs one: a fabric namespace with a
//! bridge and a real etcd on it, host namespaces on the bridge each running the real
//! `calico-node` (started with `calicoctl node run`, as a user would), and workloads in
//! namespaces of their own, plumbed as Calico's CNI plugin does and recorded as
//! WorkloadEndpoints through calicoctl. Everything is removed on drop: the nodes are stopped,
//! etcd is killed, the namespaces deleted.
//!
//! - [`host`]: one host and its calico-node;
//! - [`container`]: the calico/node image and calico-node run from it with podman;
//! - [`workload`]: one workload (namespace, veth, WorkloadEndpoint).

pub mod container;
pub mod host;
pub mod workload;

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dataplane::netns::Netns;
use testkit::etcd::EtcdServer;

pub use container::{NodeContainer, NodeImage};
pub use host::{CalicoHost, HostOptions};
pub use workload::{Workload, WorkloadOptions};

/// The fabric's subnet: the bridge has `.1`, host `i` has `.(10 + i)`.
pub const FABRIC: &str = "172.31.0";

/// The fabric, etcd, and the hosts added to them.
pub struct CalicoCluster {
    pub hosts: Vec<CalicoHost>,
    pub etcd: EtcdServer,
    /// Each test's scratch files (logs, run directories, manifests).
    pub dir: tempfile::TempDir,
    prefix: String,
    // Dropped last: deleting it removes every host's uplink.
    pub fabric: Netns,
}

impl CalicoCluster {
    /// The fabric and etcd, no host yet. `prefix` names the namespaces.
    pub fn new(prefix: &str) -> io::Result<CalicoCluster> {
        let fabric = Netns::create(&format!("{prefix}-fab"))?;
        fabric.ip(&["link", "add", "br0", "type", "bridge"])?;
        fabric.ip(&["addr", "add", &format!("{FABRIC}.1/24"), "dev", "br0"])?;
        fabric.ip(&["link", "set", "br0", "up"])?;
        let etcd = EtcdServer::start_in_netns(fabric.name(), &format!("{FABRIC}.1"))
            .map_err(|e| io::Error::other(format!("etcd in the fabric: {e}")))?;
        Ok(CalicoCluster {
            hosts: Vec::new(),
            etcd,
            dir: tempfile::tempdir()?,
            prefix: prefix.to_owned(),
            fabric,
        })
    }

    /// etcd's client URL, reachable from every host.
    pub fn endpoint(&self) -> String {
        self.etcd.endpoint(0)
    }

    /// Adds host `name` (address `FABRIC.(10 + index)`), not started.
    pub fn add_host(&mut self, name: &str) -> io::Result<&mut CalicoHost> {
        let index = self.hosts.len();
        let host = CalicoHost::new(
            &format!("{}-h{index}", self.prefix),
            name,
            index,
            &self.fabric,
            self.dir.path(),
        )?;
        self.hosts.push(host);
        Ok(self.hosts.last_mut().expect("just pushed"))
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> &CalicoHost {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name} in the cluster"))
    }

    /// Runs calicoctl with `args` against the cluster's etcd (from the fabric namespace).
    pub fn calicoctl(&self, args: &[&str]) -> io::Result<Output> {
        calicoctl_in(&self.fabric, &self.endpoint(), args)
    }

    /// `calicoctl apply -f` of `yaml`; an error carries calicoctl's message.
    pub fn apply(&self, yaml: &str) -> io::Result<()> {
        let file = self.scratch_file("apply.yaml", yaml)?;
        checked(
            self.calicoctl(&["apply", "-f", &file.display().to_string()])?,
            "apply",
        )
    }

    /// `calicoctl delete -f` of `yaml`.
    pub fn delete(&self, yaml: &str) -> io::Result<()> {
        let file = self.scratch_file("delete.yaml", yaml)?;
        checked(
            self.calicoctl(&["delete", "-f", &file.display().to_string()])?,
            "delete",
        )
    }

    fn scratch_file(&self, name: &str, content: &str) -> io::Result<PathBuf> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content)?;
        Ok(path)
    }

    /// Where this cluster's files are.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for CalicoCluster {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            h.stop_quietly();
        }
    }
}

/// Runs calicoctl inside `ns` against `endpoint`.
pub fn calicoctl_in(ns: &Netns, endpoint: &str, args: &[&str]) -> io::Result<Output> {
    Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(testkit::workspace_bin("calicoctl"))
        .args(args)
        .env("ETCD_ENDPOINTS", endpoint)
        .env("CALICO_NODE_BINARY", testkit::workspace_bin("calico-node"))
        .output()
}

/// `out`'s stdout, or an error with everything it printed.
pub fn checked(out: Output, what: &str) -> io::Result<()> {
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "calicoctl {what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )))
}
