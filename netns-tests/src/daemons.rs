//! Foreign BGP daemons as test peers: BIRD2 and GoBGP running inside a namespace, each with
//! its own state directory, stopped (and their files removed) on drop.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dataplane::netns::Netns;

fn state_dir(what: &str, ns: &Netns) -> io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("calico-{what}-{}", ns.name()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Resident set size of a process, in KiB (from `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Polls `f` every `every` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(
    timeout: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// A BIRD2 daemon in a namespace, in the foreground so that it dies with its handle.
pub struct Bird {
    child: Child,
    dir: PathBuf,
}

impl Bird {
    /// Starts `bird -f` with `config` (checked first with `bird -p`), and waits for its
    /// control socket.
    pub fn start(ns: &Netns, config: &str) -> io::Result<Bird> {
        let dir = state_dir("bird", ns)?;
        let conf = dir.join("bird.conf");
        std::fs::write(&conf, config)?;
        let check = Command::new("bird")
            .arg("-p")
            .arg("-c")
            .arg(&conf)
            .output()?;
        if !check.status.success() {
            return Err(io::Error::other(format!(
                "bird.conf rejected: {}",
                String::from_utf8_lossy(&check.stderr)
            )));
        }
        let ctl = dir.join("bird.ctl");
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name(), "bird", "-f", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(&ctl)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let bird = Bird { child, dir };
        wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
            bird.birdc(&["show", "status"]).ok()
        })
        .ok_or_else(|| io::Error::other("bird did not open its control socket"))?;
        Ok(bird)
    }

    /// Runs `birdc -s <ctl> <args>` and returns its output.
    pub fn birdc(&self, args: &[&str]) -> io::Result<String> {
        let out = Command::new("birdc")
            .arg("-s")
            .arg(self.dir.join("bird.ctl"))
            .args(args)
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether protocol `name` is Established.
    pub fn established(&self, name: &str) -> bool {
        self.birdc(&["show", "protocols", name])
            .is_ok_and(|s| s.contains("Established"))
    }

    /// The number of routes BIRD holds (`show route count`: "N of M routes for K networks").
    pub fn route_count(&self) -> Option<u64> {
        let s = self.birdc(&["show", "route", "count"]).ok()?;
        s.lines()
            .find(|l| l.contains("routes for"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// Routes imported by protocol `name` (`show protocols all`: "Routes: N imported, ...").
    /// Unlike `show route count` this does not walk the table, so polling it does not slow
    /// BIRD down.
    pub fn imported(&self, name: &str) -> Option<u64> {
        let s = self.birdc(&["show", "protocols", "all", name]).ok()?;
        s.lines()
            .find_map(|l| l.trim().strip_prefix("Routes:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// The process ID of the bird daemon (the child of `ip netns exec`, which execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
