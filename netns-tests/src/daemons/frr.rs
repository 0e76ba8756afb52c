//! FRR's `bgpd` in a namespace, without zebra and without the package's service, driven
//! through its vty socket.
//!
//! One `bgpd` per namespace: `bgpd -Z` (no zebra) `-S` (no user switch) `-P 0` (no vty TCP
//! port), its pid file, vty socket and log in a state directory owned by user `frr`, logging
//! errors only (at the default level it logs a line per route). A config is checked with
//! `bgpd -C` before it is started. eBGP routes are only accepted with
//! `no bgp ebgp-requires-policy` (RFC 8212 behaviour is FRR's default); see
//! [`crate::bgp_lab::frr_passive_config`].
//!
//! The vty protocol, as `vtysh` speaks it: connect to `<dir>/bgpd.vty`, write the command and
//! a NUL byte; the answer is the output followed by three NUL bytes and a status byte (0 is
//! success).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dataplane::netns::Netns;

use super::{state_dir, wait_for};

/// How long `bgpd` gets to exit after SIGTERM (it takes 0.1 to 2 s) before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// The longest a vty command may take to answer.
const VTY_TIMEOUT: Duration = Duration::from_secs(10);

/// A peer as `show bgp ipv4 unicast summary json` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrrPeer {
    /// `Established`, `Active`, `Connect`, ...
    pub state: String,
    /// Prefixes received from the peer and accepted (`pfxRcd`).
    pub received: u64,
}

/// A `bgpd` process in a namespace; stopped (SIGTERM, waited for) and its files removed on
/// drop. Drop it before its namespace.
pub struct Frr {
    child: Child,
    dir: PathBuf,
}

impl Frr {
    /// Writes `config` to `<dir>/bgpd.conf`, checks it with `bgpd -C`, starts `bgpd` in `ns`
    /// and waits until its vty socket answers.
    pub fn start(ns: &Netns, config: &str) -> io::Result<Frr> {
        let bgpd = testkit::prereq::find_program("bgpd")
            .ok_or_else(|| io::Error::other("bgpd not found (apt-get install frr)"))?;
        let dir = state_dir("frr", ns)?;
        let conf = dir.join("bgpd.conf");
        std::fs::write(&conf, config)?;
        let owned = Command::new("chown")
            .args(["-R", "frr:frr"])
            .arg(&dir)
            .output()?;
        if !owned.status.success() {
            return Err(io::Error::other(format!(
                "chown frr:frr {}: {}",
                dir.display(),
                String::from_utf8_lossy(&owned.stderr).trim()
            )));
        }
        let check = Command::new(&bgpd)
            .arg("-C")
            .arg("-f")
            .arg(&conf)
            .output()?;
        if !check.status.success() {
            return Err(io::Error::other(format!(
                "bgpd.conf rejected: {}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            )));
        }
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(&bgpd)
            .args(["-Z", "--log-level", "error", "-S", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("bgpd.pid"))
            .arg("--vty_socket")
            .arg(&dir)
            .args(["-P", "0", "--log"])
            .arg(format!("file:{}", dir.join("bgpd.log").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut frr = Frr { child, dir };
        let up = wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
            frr.vty("show bgp summary json").ok()
        });
        if up.is_none() {
            let exited = frr.child.try_wait().ok().flatten();
            return Err(io::Error::other(format!(
                "bgpd did not open its vty socket {} within 10 s (exited: {exited:?}); log: {}",
                frr.dir.join("bgpd.vty").display(),
                frr.log()
            )));
        }
        Ok(frr)
    }

    /// Runs one vty command and returns its output.
    pub fn vty(&self, command: &str) -> io::Result<String> {
        let path = self.dir.join("bgpd.vty");
        let mut stream = UnixStream::connect(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        stream.set_read_timeout(Some(VTY_TIMEOUT))?;
        stream.set_write_timeout(Some(VTY_TIMEOUT))?;
        let mut request = command.as_bytes().to_vec();
        request.push(0);
        stream.write_all(&request)?;
        let mut answer = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::other(format!(
                    "bgpd closed the vty before answering {command:?}"
                )));
            }
            answer.extend_from_slice(&chunk[..n]);
            let len = answer.len();
            if len >= 4 && answer[len - 4..len - 1] == [0, 0, 0] {
                let status = answer[len - 1];
                answer.truncate(len - 4);
                let text = String::from_utf8_lossy(&answer).into_owned();
                if status != 0 {
                    return Err(io::Error::other(format!(
                        "bgpd: {command:?} failed (status {status}): {}",
                        text.trim()
                    )));
                }
                return Ok(text);
            }
        }
    }

    /// The IPv4 unicast peer at `address` (`show bgp ipv4 unicast summary json`).
    pub fn peer(&self, address: &str) -> io::Result<FrrPeer> {
        let text = self.vty("show bgp ipv4 unicast summary json")?;
        let summary: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| io::Error::other(format!("bgpd summary is not JSON ({e}): {text}")))?;
        let peer = &summary["peers"][address];
        let state = peer["state"].as_str().ok_or_else(|| {
            io::Error::other(format!("bgpd summary has no peer {address}: {text}"))
        })?;
        Ok(FrrPeer {
            state: state.to_owned(),
            received: peer["pfxRcd"].as_u64().unwrap_or(0),
        })
    }

    /// Whether the peer at `address` is Established.
    pub fn established(&self, address: &str) -> bool {
        self.peer(address).is_ok_and(|p| p.state == "Established")
    }

    /// The process ID of `bgpd` (`ip netns exec` execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The end of `bgpd`'s log (errors only), for failure messages.
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("bgpd.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        // SIGTERM, and wait: bgpd takes up to 2 s to exit, and its namespace must outlive it.
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill has no memory-safety preconditions; the pid is our own child,
            // not yet reaped, so it cannot name another process.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        super::reap(&mut self.child, EXIT_GRACE);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
