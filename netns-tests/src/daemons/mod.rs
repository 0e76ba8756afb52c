//! Foreign BGP daemons as test peers: BIRD2 (`bird`), GoBGP (`gobgp`) and FRR's bgpd (`frr`)
//! running inside a namespace, each with its own state directory, stopped (and their files
//! removed) on drop. Each is asked what it holds through its own status interface: BIRD
//! through `birdc`, GoBGP through its `gobgp` CLI (gRPC), FRR through its vty socket.

mod bird;
mod frr;
mod gobgp;

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dataplane::netns::Netns;

pub use bird::Bird;
pub use frr::{Frr, FrrPeer};
pub use gobgp::GoBgp;

/// `<tmp>/calico-<what>-<namespace>`, created.
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

/// Waits up to `grace` for `child`, already asked to stop, to exit; then kills it. Reaps it
/// either way.
pub fn reap(child: &mut std::process::Child, grace: Duration) {
    let _ = wait_for(grace, Duration::from_millis(20), || {
        match child.try_wait() {
            Ok(None) => None,
            Ok(Some(_)) | Err(_) => Some(()),
        }
    });
    let _ = child.kill();
    let _ = child.wait();
}

/// The version `program --version` reports (the last word of its first line: `BIRD version
/// 2.0.12` → `2.0.12`), `?` when it cannot say.
pub fn version(program: &str) -> String {
    let Some(path) = testkit::prereq::find_program(program) else {
        return "?".to_owned();
    };
    std::process::Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            // BIRD prints it on stderr, the others on stdout.
            let text = [o.stdout, o.stderr].concat();
            let text = String::from_utf8_lossy(&text).into_owned();
            text.lines()
                .next()
                .and_then(|l| l.split_whitespace().last())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".to_owned())
}
