//! Network namespaces: where a backend's kernel objects live.
//!
//! In production calico-node programs its own (the host's) namespace, [`NetnsRef::Current`].
//! Tests and benchmarks program uniquely named namespaces made with `Netns::create` (feature
//! `testing`), which deletes its namespace when dropped.
//!
//! A netlink socket belongs to the namespace of the thread that opened it, and `/proc/sys`
//! and child processes follow the calling thread's namespace too (setns(2), `man 8
//! ip-netns`). [`NetnsRef::run`] therefore runs a closure on a short-lived thread that
//! entered the namespace; the caller's threads never change namespace. Everything here
//! blocks the calling thread and needs no async runtime.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::process::Command;

use nix::sched::{CloneFlags, setns};

/// A network namespace to program.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum NetnsRef {
    /// The namespace of the calling process.
    #[default]
    Current,
    /// A namespace by its bind-mount path (`/run/netns/<name>` for `ip netns` namespaces).
    Path(PathBuf),
}

impl std::fmt::Display for NetnsRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetnsRef::Current => write!(f, "the current network namespace"),
            NetnsRef::Path(p) => write!(f, "network namespace {}", p.display()),
        }
    }
}

impl NetnsRef {
    /// A namespace made by `ip netns add <name>`.
    pub fn named(name: &str) -> NetnsRef {
        NetnsRef::Path(PathBuf::from(format!("/run/netns/{name}")))
    }

    /// Runs `f` on a thread inside this namespace and returns its result. For
    /// [`NetnsRef::Current`] `f` runs on the calling thread.
    pub fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> io::Result<R> + Send + 'static,
    ) -> io::Result<R> {
        match self {
            NetnsRef::Current => f(),
            NetnsRef::Path(path) => {
                let path = path.clone();
                std::thread::spawn(move || {
                    let ns = File::open(&path).map_err(|e| {
                        io::Error::new(
                            e.kind(),
                            format!("network namespace {}: {e}", path.display()),
                        )
                    })?;
                    setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| {
                        io::Error::other(format!(
                            "entering network namespace {}: {e}",
                            path.display()
                        ))
                    })?;
                    f()
                })
                .join()
                .map_err(|_| io::Error::other("network namespace worker thread panicked"))?
            }
        }
    }

    /// Reads a file (a sysctl under `/proc/sys`) as seen from this namespace.
    pub fn read_file(&self, path: &str) -> io::Result<String> {
        let path = path.to_owned();
        self.run(move || std::fs::read_to_string(&path))
    }

    /// Writes a file (a sysctl under `/proc/sys`) as seen from this namespace.
    pub fn write_file(&self, path: &str, contents: &str) -> io::Result<()> {
        let (path, contents) = (path.to_owned(), contents.to_owned());
        self.run(move || {
            std::fs::write(&path, contents.as_bytes())
                .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))
        })
    }

    /// Runs a command inside this namespace and returns its output (not checked for
    /// success).
    pub fn command_output(&self, program: &str, args: &[&str]) -> io::Result<std::process::Output> {
        let program = program.to_owned();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.run(move || Command::new(&program).args(&args).output())
    }
}

/// A uniquely named network namespace, deleted on drop. Test scaffolding: only with the
/// `testing` feature (tests, benchmarks, netns-tests).
#[cfg(feature = "testing")]
#[derive(Debug)]
pub struct Netns {
    name: String,
}

#[cfg(feature = "testing")]
impl Netns {
    /// Creates `<prefix>-<pid>-<random>` with its loopback up. The random part comes from the
    /// standard library's per-map hash keys, so no counter is shared by the process.
    pub fn create(prefix: &str) -> io::Result<Netns> {
        use std::hash::{BuildHasher, RandomState};
        let suffix = RandomState::new().hash_one(std::time::SystemTime::now()) & 0xff_ffff;
        let name = format!("{prefix}-{}-{suffix:06x}", std::process::id());
        run_ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// This namespace as a [`NetnsRef`].
    pub fn as_ref(&self) -> NetnsRef {
        NetnsRef::named(&self.name)
    }

    /// Runs `ip <args>` inside the namespace; an error carries ip's message.
    pub fn ip(&self, args: &[&str]) -> io::Result<String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        run_ip(&full)
    }

    /// Runs a program inside the namespace (`ip netns exec`), checking its exit status.
    pub fn exec(&self, program: &str, args: &[&str]) -> io::Result<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{program} {} in netns {}: {}",
                args.join(" "),
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[cfg(feature = "testing")]
impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace removes its interfaces; veth peers in other namespaces go
        // with them.
        let _ = run_ip(&["netns", "del", &self.name]);
    }
}

#[cfg(feature = "testing")]
fn run_ip(args: &[&str]) -> io::Result<String> {
    let out = Command::new("ip").args(args).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
