//! Prerequisites of tests, and the skip log.
//!
//! A test that cannot run on this machine calls one of the `require_*` functions first:
//!
//! ```no_run
//! # fn t() {
//! if !testkit::require_root("routes_are_programmed") {
//!     return;
//! }
//! # }
//! ```
//!
//! Outside CI a missing prerequisite prints `<binary>::<test>: skipped: needs <what>` and
//! appends a line to the skip log named by `CALICO_SKIP_LOG` (`just test` sets it, then counts
//! and lists the skips when the run ends). Under any truthy `CI` (`true`, `1`, `yes`, ...) it
//! panics instead: CI installs everything, so a missing prerequisite there is a failure.

use std::io::Write as _;
use std::path::PathBuf;

/// Environment variable naming the skip log (one line per skipped test: what it needs, a tab,
/// the test).
pub const SKIP_LOG_ENV: &str = "CALICO_SKIP_LOG";

/// Whether this is a CI run: `CI` is set to anything but empty, `0`, `false`, `no` or `off`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| truthy(&v))
}

fn truthy(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "false" | "no" | "off"
    )
}

/// Whether the process runs as root (it may create network namespaces, program nftables).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `true` when running as root; otherwise [`skip`]s the test (a failure in CI).
pub fn require_root(test: &str) -> bool {
    is_root() || skip(test, "root")
}

/// `true` when the `etcd` binary is installed; otherwise [`skip`]s the test (a failure in CI).
pub fn require_etcd(test: &str) -> bool {
    crate::etcd::etcd_binary().is_some()
        || skip(test, "etcd (apt-get install etcd-server etcd-client)")
}

/// `true` when `program` is on the PATH (or in /usr/sbin, /usr/lib/frr for daemons);
/// otherwise [`skip`]s the test, naming the Debian `package` that has it (a failure in CI).
pub fn require_tool(test: &str, program: &str, package: &str) -> bool {
    find_program(program).is_some() || skip(test, &format!("{program} (apt-get install {package})"))
}

/// Where `program` is: a path as given, else the first match on the PATH or in the
/// directories Debian puts daemons in.
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/lib/frr"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Skips `test`, which needs `what`: outside CI prints the skip and records it in the skip log
/// and returns `false` (so `require_x(..) || skip(..)` reads as "may run"); in CI panics.
pub fn skip(test: &str, what: &str) -> bool {
    let test = qualified(test);
    if in_ci() {
        panic!("{test}: needs {what}, and this is a CI run (CI is set): install it");
    }
    eprintln!("{test}: skipped: needs {what}");
    if let Some(log) = std::env::var_os(SKIP_LOG_ENV) {
        let line = format!("{}\t{test}\n", what.replace(['\t', '\n'], " "));
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            panic!(
                "{test}: cannot record the skip in {}: {e}",
                PathBuf::from(log).display()
            );
        }
    }
    false
}

/// `test` prefixed with the test binary's name (`routes-1a2b3c` → `routes::test`), so that the
/// skip list says where each test lives.
fn qualified(test: &str) -> String {
    let binary = std::env::current_exe().ok().and_then(|p| {
        let stem = p.file_stem()?.to_str()?.to_owned();
        Some(match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
            _ => stem,
        })
    });
    match binary {
        Some(b) => format!("{b}::{test}"),
        None => test.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::truthy;

    #[test]
    fn any_ci_value_but_the_false_ones_is_a_ci_run() {
        for v in ["true", "1", "yes", "TRUE", "on", "github"] {
            assert!(truthy(v), "{v}");
        }
        for v in ["", "0", "false", "no", "off", "False", " "] {
            assert!(!truthy(v), "{v:?}");
        }
    }
}
