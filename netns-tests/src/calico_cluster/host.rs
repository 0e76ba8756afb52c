//! One host of a [`super::CalicoCluster`]: a namespace on the fabric bridge (uplink `eth0`,
//! address `FABRIC.(10 + index)/24`) whose calico-node is started and stopped with
//! `calicoctl node run` / `node stop` from inside the namespace, its run and log directories
//! its own; or run from the calico/node image with podman in that namespace
//! ([`CalicoHost::start_container`]).

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Output;

use dataplane::netns::Netns;

use super::container::{NodeContainer, NodeImage};
use super::{FABRIC, calicoctl_in, checked};

/// How a host's calico-node is started.
#[derive(Clone, Debug, Default)]
pub struct HostOptions {
    /// `--backend none`: no BGP.
    pub no_bgp: bool,
    /// `--as`.
    pub as_number: Option<u32>,
    /// More environment for calico-node (passed through calicoctl).
    pub env: Vec<(String, String)>,
}

/// See the module docs.
pub struct CalicoHost {
    /// The Node's name.
    pub name: String,
    pub address: IpAddr,
    pub run_dir: PathBuf,
    pub log_dir: PathBuf,
    endpoint: Option<String>,
    /// calico-node's container, when it runs from the image.
    pub container: Option<NodeContainer>,
    // Dropped after the node is stopped (the cluster stops it first).
    pub ns: Netns,
}

impl CalicoHost {
    pub(super) fn new(
        ns_name: &str,
        name: &str,
        index: usize,
        fabric: &Netns,
        dir: &Path,
    ) -> io::Result<CalicoHost> {
        let ns = Netns::create(ns_name)?;
        let r = ns.as_ref();
        r.write_file("/proc/sys/net/ipv4/ip_forward", "1")?;
        let far = format!("up{index}");
        ns.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", &far])?;
        ns.ip(&["link", "set", &far, "netns", fabric.name()])?;
        fabric.ip(&["link", "set", &far, "master", "br0", "up"])?;
        let address: IpAddr = format!("{FABRIC}.{}", 10 + index)
            .parse()
            .map_err(io::Error::other)?;
        ns.ip(&["addr", "add", &format!("{address}/24"), "dev", "eth0"])?;
        ns.ip(&["link", "set", "eth0", "up"])?;
        // A default route, as every host has: proxy ARP answers for the workloads' gateway
        // (169.254.1.1) only when the host routes that address out of another interface.
        ns.ip(&["route", "add", "default", "via", &format!("{FABRIC}.1")])?;
        let base = dir.join(name);
        Ok(CalicoHost {
            name: name.to_owned(),
            address,
            run_dir: base.join("run"),
            log_dir: base.join("log"),
            endpoint: None,
            container: None,
            ns,
        })
    }

    /// Starts calico-node with `calicoctl node run`, as a user on the host would.
    pub fn start(&mut self, endpoint: &str, options: &HostOptions) -> io::Result<()> {
        let ip = format!("{}/24", self.address);
        let run = self.run_dir.display().to_string();
        let log = self.log_dir.display().to_string();
        let mut args = vec![
            "node",
            "run",
            "--name",
            &self.name,
            "--ip",
            &ip,
            "--run-dir",
            &run,
            "--log-dir",
            &log,
        ];
        let as_text = options.as_number.map(|a| a.to_string());
        if let Some(a) = &as_text {
            args.extend(["--as", a]);
        }
        if options.no_bgp {
            args.extend(["--backend", "none"]);
        }
        let out = self.calicoctl_with(endpoint, &args, &options.env)?;
        checked(out, "node run")
            .map_err(|e| io::Error::other(format!("{e}\nlog:\n{}", self.log_tail(30))))?;
        self.endpoint = Some(endpoint.to_owned());
        Ok(())
    }

    /// Runs calico-node from `image` in this host's namespace, as calico/node runs on a host
    /// (`podman run --network ns:/run/netns/<host> --privileged -e ETCD_ENDPOINTS=… -e
    /// NODENAME=… -e IP=…`, the run directory as `/var/run/calico`), and waits until it
    /// answers on its status socket.
    pub fn start_container(
        &mut self,
        endpoint: &str,
        image: &NodeImage,
        options: &HostOptions,
    ) -> io::Result<()> {
        let mut env = vec![
            ("ETCD_ENDPOINTS".to_owned(), endpoint.to_owned()),
            ("NODENAME".to_owned(), self.name.clone()),
            ("IP".to_owned(), format!("{}/24", self.address)),
            (
                "CALICO_NETWORKING_BACKEND".to_owned(),
                if options.no_bgp { "none" } else { "bird" }.to_owned(),
            ),
        ];
        if let Some(a) = options.as_number {
            env.push(("AS".to_owned(), a.to_string()));
        }
        env.extend(options.env.iter().cloned());
        let name = format!("calico-node-{}", self.ns.name());
        let container = NodeContainer::run(image, &name, self.ns.name(), &self.run_dir, &env)?;
        self.container = Some(container);
        self.endpoint = Some(endpoint.to_owned());
        let socket = self.run_dir.join("calico-node.ctl");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                return Ok(());
            }
            let running = self.container.as_ref().is_some_and(NodeContainer::running);
            if !running || std::time::Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "calico-node in container {name} {}\nlog:\n{}",
                    if running {
                        "did not answer on its status socket within 30 s"
                    } else {
                        "exited while starting"
                    },
                    self.log_tail(30)
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Stops calico-node with `calicoctl node stop`, or its container with `podman stop`
    /// (SIGTERM) and removes it; the dataplane stays as it is.
    pub fn stop(&mut self) -> io::Result<()> {
        if let Some(container) = self.container.take() {
            self.endpoint = None;
            return container.stop_and_remove(10);
        }
        let Some(endpoint) = self.endpoint.take() else {
            return Ok(());
        };
        let run = self.run_dir.display().to_string();
        checked(
            calicoctl_in(
                &self.ns,
                &endpoint,
                &["node", "stop", "--run-dir", &run, "--force"],
            )?,
            "node stop",
        )
    }

    pub(super) fn stop_quietly(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("stopping calico-node on {}: {e}", self.name);
        }
    }

    /// `calicoctl node status` on this host.
    pub fn status(&self) -> io::Result<String> {
        let socket = self.run_dir.join("calico-node.ctl").display().to_string();
        let out = calicoctl_in(
            &self.ns,
            self.endpoint.as_deref().unwrap_or("http://127.0.0.1:2379"),
            &["node", "status", "--socket", &socket],
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The last `n` lines of calico-node's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The whole log (the container's output when it runs from the image).
    pub fn log(&self) -> String {
        match &self.container {
            Some(c) => c.logs(),
            None => {
                std::fs::read_to_string(self.log_dir.join("calico-node.log")).unwrap_or_default()
            }
        }
    }

    fn calicoctl_with(
        &self,
        endpoint: &str,
        args: &[&str],
        env: &[(String, String)],
    ) -> io::Result<Output> {
        std::process::Command::new("ip")
            .args(["netns", "exec", self.ns.name()])
            .arg(testkit::workspace_bin("calicoctl"))
            .args(args)
            .env("ETCD_ENDPOINTS", endpoint)
            .env("CALICO_NODE_BINARY", testkit::workspace_bin("calico-node"))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
    }

    /// `ip route` of the host's table main.
    pub fn routes(&self) -> io::Result<String> {
        self.ns.ip(&["route", "show"])
    }
}
