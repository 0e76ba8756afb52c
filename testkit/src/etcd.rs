//! Real etcd servers for tests and benchmarks: a single member or a loopback cluster, each on
//! free loopback ports with a temporary data directory, stopped and removed on drop.
//!
//! When the `etcd` binary is missing, [`EtcdServer::start`] returns [`NotInstalled`]. Tests
//! call [`crate::require_etcd`] first, which turns that into a recorded skip outside CI and a
//! failure in CI.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The etcd binary is not on this machine (`apt-get install etcd-server`).
#[derive(Debug)]
pub struct NotInstalled;

impl std::fmt::Display for NotInstalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "etcd is not installed (apt-get install etcd-server etcd-client)"
        )
    }
}
impl std::error::Error for NotInstalled {}

/// The etcd binary to run: `$ETCD_BIN` or `etcd` on the PATH.
pub(crate) fn etcd_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ETCD_BIN") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join("etcd"))
        .find(|p| p.is_file())
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

struct Member {
    name: String,
    client_url: String,
    peer_url: String,
    /// Plain-HTTP `/health` address when the client URLs are not plain HTTP.
    metrics_url: Option<String>,
    child: Option<Child>,
}

/// One or more etcd members on loopback. Dropping it kills every member and removes the data.
pub struct EtcdCluster {
    binary: PathBuf,
    dir: tempfile::TempDir,
    members: Vec<Member>,
    /// Extra command-line arguments for every member (TLS, for example).
    extra_args: Vec<String>,
    /// The network namespace (`ip netns` name) the members run in; `None`: this process's.
    netns: Option<String>,
}

/// A single-member etcd.
pub type EtcdServer = EtcdCluster;

impl EtcdCluster {
    /// Starts a single-member etcd and waits until it serves requests.
    pub fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Self::start_cluster(1)
    }

    /// Starts an `n`-member cluster and waits until every member serves requests.
    ///
    /// Free ports are found by binding port 0 and closing it, so a test running in parallel can
    /// take one before etcd binds it; a start that fails is therefore retried on new ports.
    pub fn start_cluster(n: usize) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Self::start_cluster_with_args(n, &[], "http")
    }

    /// Starts a single-member etcd with `extra_args` (for example `--cert-file ...`) whose client
    /// URLs use `scheme` (`http` or `https`). With `https`, health is checked on a separate plain
    /// HTTP metrics URL (`--listen-metrics-urls`).
    pub fn start_with_args(
        extra_args: &[String],
        scheme: &str,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Self::start_cluster_with_args(1, extra_args, scheme)
    }

    /// A single-member etcd inside network namespace `netns` (an `ip netns` name), serving
    /// clients on `host` (an address of that namespace) so that other namespaces reach it.
    pub fn start_in_netns(
        netns: &str,
        host: &str,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let mut attempt = 1;
        loop {
            match Self::try_start(1, &[], "http", host, Some(netns)) {
                Err(e) if attempt < 3 && !e.is::<NotInstalled>() => attempt += 1,
                result => return result,
            }
        }
    }

    fn start_cluster_with_args(
        n: usize,
        extra_args: &[String],
        scheme: &str,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        const ATTEMPTS: usize = 3;
        let mut attempt = 1;
        loop {
            match Self::try_start(n, extra_args, scheme, "127.0.0.1", None) {
                Err(e) if attempt < ATTEMPTS && !e.is::<NotInstalled>() => {
                    eprintln!("etcd start attempt {attempt} failed ({e}); retrying on new ports");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn try_start(
        n: usize,
        extra_args: &[String],
        scheme: &str,
        host: &str,
        netns: Option<&str>,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let binary = etcd_binary().ok_or(NotInstalled)?;
        let dir = tempfile::Builder::new().prefix("calico-etcd-").tempdir()?;
        let mut members = Vec::new();
        for i in 0..n {
            members.push(Member {
                name: format!("m{i}"),
                client_url: format!("{scheme}://{host}:{}", free_port()?),
                peer_url: format!("http://{host}:{}", free_port()?),
                metrics_url: match scheme {
                    "http" => None,
                    _ => Some(format!("http://127.0.0.1:{}", free_port()?)),
                },
                child: None,
            });
        }
        let mut cluster = EtcdCluster {
            binary,
            dir,
            members,
            extra_args: extra_args.to_vec(),
            netns: netns.map(str::to_owned),
        };
        for i in 0..n {
            cluster.spawn(i, true)?;
        }
        for i in 0..n {
            cluster.wait_healthy(i, Duration::from_secs(20))?;
        }
        Ok(cluster)
    }

    fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(&mut self, i: usize, new: bool) -> std::io::Result<()> {
        let initial = self.initial_cluster();
        let data = self.dir.path().join(&self.members[i].name);
        let log = std::fs::File::create(
            self.dir
                .path()
                .join(format!("{}.log", self.members[i].name)),
        )?;
        let m = &mut self.members[i];
        let mut cmd = match &self.netns {
            // `ip netns exec` execs etcd in place: the child is etcd itself.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        if let Some(url) = &m.metrics_url {
            cmd.arg("--listen-metrics-urls").arg(url);
        }
        let child = cmd
            .arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(&data)
            .arg("--listen-client-urls")
            .arg(&m.client_url)
            .arg("--advertise-client-urls")
            .arg(&m.client_url)
            .arg("--listen-peer-urls")
            .arg(&m.peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&m.peer_url)
            .arg("--initial-cluster")
            .arg(initial)
            .arg("--initial-cluster-state")
            .arg(if new { "new" } else { "existing" })
            .arg("--initial-cluster-token")
            .arg("calico-test")
            .args(&self.extra_args)
            .env("ETCD_UNSUPPORTED_ARCH", "amd64")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        m.child = Some(child);
        Ok(())
    }

    fn wait_healthy(
        &mut self,
        i: usize,
        timeout: Duration,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let m = &self.members[i];
        let addr = m
            .metrics_url
            .as_ref()
            .unwrap_or(&m.client_url)
            .trim_start_matches("http://")
            .to_string();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.members[i].child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(format!(
                    "etcd member {} exited during start: {status}; log in {}",
                    self.members[i].name,
                    self.dir.path().display()
                )
                .into());
            }
            if let Ok(body) = in_netns(self.netns.as_deref(), {
                let addr = addr.clone();
                move || http_get(&addr, "/health")
            }) && body.contains("\"health\":\"true\"")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "etcd member {} not healthy after {timeout:?}",
                    self.members[i].name
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Client URLs of every member, in member order.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_url.clone()).collect()
    }

    /// Client URL of member `i`.
    pub fn endpoint(&self, i: usize) -> String {
        self.members[i].client_url.clone()
    }

    /// Kills member `i` (SIGKILL): its clients see the connection drop.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Restarts a killed member with its data and waits until it is healthy.
    pub fn restart(&mut self, i: usize) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.kill(i);
        self.spawn(i, false)?;
        self.wait_healthy(i, Duration::from_secs(20))
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}

/// A minimal HTTP/1.0 GET on loopback, for the health check (no HTTP client dependency).
fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(
        &addr.parse().map_err(std::io::Error::other)?,
        Duration::from_millis(500),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// Runs `f` on a thread inside network namespace `netns` (an `ip netns` name), or here.
fn in_netns<T: Send + 'static>(
    netns: Option<&str>,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let Some(ns) = netns else {
        return f();
    };
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(&path)?;
        // SAFETY: setns on a file descriptor we own, for this thread only.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        f()
    })
    .join()
    .map_err(|_| std::io::Error::other("etcd health check thread panicked"))?
}
