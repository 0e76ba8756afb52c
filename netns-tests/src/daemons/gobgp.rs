//! GoBGP in a namespace, driven through the `gobgp` CLI (its gRPC API).

use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dataplane::netns::Netns;

use super::{state_dir, wait_for};

/// A GoBGP daemon in a namespace with its gRPC API on `127.0.0.1:<api_port>` of that
/// namespace.
pub struct GoBgp {
    child: Child,
    dir: PathBuf,
    ns: String,
    api_port: u16,
}

impl GoBgp {
    /// Starts `gobgpd` with `config` (TOML; checked first with `gobgpd -d`) and waits for its
    /// API.
    pub fn start(ns: &Netns, config: &str, api_port: u16) -> io::Result<GoBgp> {
        let dir = state_dir("gobgp", ns)?;
        let conf = dir.join("gobgpd.toml");
        std::fs::write(&conf, config)?;
        let check = Command::new("gobgpd")
            .arg("-d")
            .arg("-f")
            .arg(&conf)
            .output()?;
        if !check.status.success() {
            return Err(io::Error::other(format!(
                "gobgpd.toml rejected: {}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            )));
        }
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name(), "gobgpd", "-f"])
            .arg(&conf)
            .args(["-p", "--pprof-disable", "--api-hosts"])
            .arg(format!("127.0.0.1:{api_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let g = GoBgp {
            child,
            dir,
            ns: ns.name().to_owned(),
            api_port,
        };
        wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
            g.gobgp(&["global"]).ok()
        })
        .ok_or_else(|| io::Error::other("gobgpd did not open its API"))?;
        Ok(g)
    }

    /// Runs the `gobgp` CLI against this daemon.
    pub fn gobgp(&self, args: &[&str]) -> io::Result<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "gobgp", "-p"])
            .arg(self.api_port.to_string())
            .args(args)
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "gobgp {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether the neighbor at `addr` is Established.
    pub fn established(&self, addr: &str) -> bool {
        self.gobgp(&["neighbor", addr])
            .is_ok_and(|s| s.contains("BGP state = established"))
    }

    /// Destinations in the global IPv4 RIB (`gobgp global rib summary`).
    pub fn ipv4_destinations(&self) -> Option<u64> {
        let s = self
            .gobgp(&["global", "rib", "summary", "-a", "ipv4"])
            .ok()?;
        // "Table ipv4-unicast\nDestination: N, Path: M"
        let line = s.lines().find(|l| l.contains("Destination:"))?;
        line.split("Destination:")
            .nth(1)?
            .split(',')
            .next()?
            .trim()
            .parse()
            .ok()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for GoBgp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
