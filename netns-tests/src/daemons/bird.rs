//! BIRD2 in a namespace, driven through `birdc`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dataplane::netns::Netns;

use super::{state_dir, wait_for};

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
