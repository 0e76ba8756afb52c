//! `calicoctl node run` and `calicoctl node stop`: start and stop this host's calico-node as
//! a daemon, as calicoctl v0.9's `node` did (it started the calico/node container; here the
//! `calico-node` binary runs directly).
//!
//! `node run` turns its flags into calico/node's environment (`NODENAME`, `IP`, `IP6`, `AS`,
//! `IP_AUTODETECTION_METHOD`, `CALICO_NETWORKING_BACKEND`, `NO_DEFAULT_POOLS`, and the
//! datastore settings calicoctl itself uses, inline certificates written to files), starts
//! calico-node in its own process group with its output in `<log-dir>/calico-node.log`,
//! records its pid in `<run-dir>/calico-node.pid`, and waits until it answers on its status
//! socket (`<run-dir>/calico-node.ctl`). `node stop` sends SIGTERM (calico-node then leaves
//! the dataplane and the peers' routes in place) and waits for the process to end.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::args::{NodeRunArgs, NodeStopArgs};
use crate::config;

/// The files of one calico-node under its run directory.
pub struct RunFiles {
    pub pid: PathBuf,
    pub socket: PathBuf,
    pub certs: PathBuf,
}

impl RunFiles {
    pub fn new(run_dir: &Path) -> RunFiles {
        RunFiles {
            pid: run_dir.join("calico-node.pid"),
            socket: run_dir.join("calico-node.ctl"),
            certs: run_dir.join("certs"),
        }
    }
}

pub async fn run(cfg: Option<&Path>, args: NodeRunArgs) -> Result<()> {
    let files = RunFiles::new(&args.run_dir);
    if let Some(pid) = running(&files.pid) {
        bail!(
            "calico-node is already running on this host (pid {pid}, {}); stop it first with \
             `calicoctl node stop`",
            files.pid.display()
        );
    }
    let datastore = config::load(&config::source(cfg)?)?;
    let binary = node_binary(args.node_binary.as_deref())?;
    let mut env: Vec<(String, String)> = vec![
        (
            "CALICO_STATUS_SOCKET".into(),
            files.socket.display().to_string(),
        ),
        ("CALICO_NETWORKING_BACKEND".into(), args.backend.clone()),
    ];
    let mut set = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            env.push((k.to_owned(), v.clone()));
        }
    };
    set("NODENAME", &args.name);
    set("IP", &args.ip);
    set("IP6", &args.ip6);
    set("AS", &args.as_number);
    set("IP_AUTODETECTION_METHOD", &args.ip_autodetection_method);
    set("IP6_AUTODETECTION_METHOD", &args.ip6_autodetection_method);
    if args.no_default_ippools {
        env.push(("NO_DEFAULT_POOLS".into(), "true".into()));
    }
    env.extend(datastore_env(&datastore, &files.certs)?);
    if args.dryrun {
        for (k, v) in &env {
            println!("{k}={v}");
        }
        println!("{}", binary.display());
        return Ok(());
    }
    std::fs::create_dir_all(&args.run_dir)
        .with_context(|| format!("creating {}", args.run_dir.display()))?;
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("creating {}", args.log_dir.display()))?;
    let log_path = args.log_dir.join("calico-node.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let mut child = Command::new(&binary)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    std::fs::write(&files.pid, format!("{}\n", child.id()))
        .with_context(|| format!("writing {}", files.pid.display()))?;
    println!(
        "Running calico-node ({}), log in {}",
        binary.display(),
        log_path.display()
    );
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        if std::os::unix::net::UnixStream::connect(&files.socket).is_ok() {
            println!("Calico node started.");
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            let _ = std::fs::remove_file(&files.pid);
            bail!(
                "calico-node exited ({status}) while starting; the end of {}:\n{}",
                log_path.display(),
                tail(&log_path, 20)
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "calico-node did not answer on {} within {} s (still starting? see {})",
                files.socket.display(),
                args.timeout,
                log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn stop(args: NodeStopArgs) -> Result<()> {
    let files = RunFiles::new(&args.run_dir);
    let Some(pid) = running(&files.pid) else {
        let _ = std::fs::remove_file(&files.pid);
        println!("calico-node is not running.");
        return Ok(());
    };
    signal(pid, libc::SIGTERM)?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    while alive(pid) {
        if Instant::now() >= deadline {
            if !args.force {
                bail!(
                    "calico-node (pid {pid}) did not stop within {} s; `calicoctl node stop \
                     --force` kills it",
                    args.timeout
                );
            }
            signal(pid, libc::SIGKILL)?;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(&files.pid);
    println!("Node stopped.");
    Ok(())
}

/// The pid in `pid_file` when that process is alive.
pub fn running(pid_file: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (pid > 0 && alive(pid)).then_some(pid)
}

fn alive(pid: i32) -> bool {
    // A zombie (exited, not yet reaped by its parent) counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

fn signal(pid: i32, sig: libc::c_int) -> Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(anyhow!(
            "signalling calico-node (pid {pid}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// `--node-binary`, else `$CALICO_NODE_BINARY`, else `calico-node` beside calicoctl, else on
/// the PATH.
fn node_binary(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = flag
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CALICO_NODE_BINARY").map(PathBuf::from))
    {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(anyhow!("calico-node binary {} does not exist", p.display()))
        };
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("calico-node")));
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("calico-node"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    beside
        .into_iter()
        .chain(on_path)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "calico-node not found beside calicoctl or on the PATH; give it with \
                 --node-binary"
            )
        })
}

/// calicoctl's datastore settings as calico-node's environment; inline certificates and keys
/// are written to files under `cert_dir` (mode 0600).
fn datastore_env(
    cfg: &datastore::config::DatastoreConfig,
    cert_dir: &Path,
) -> Result<Vec<(String, String)>> {
    let etcd = &cfg.etcd;
    let mut env = vec![("ETCD_ENDPOINTS".to_owned(), etcd.endpoints.join(","))];
    if let Some(u) = &etcd.username {
        env.push(("ETCD_USERNAME".into(), u.clone()));
    }
    if let Some(p) = &etcd.password {
        env.push(("ETCD_PASSWORD".into(), p.clone()));
    }
    for (var, file, inline, name) in [
        (
            "ETCD_CA_CERT_FILE",
            &etcd.ca_cert_file,
            &etcd.ca_cert,
            "ca.pem",
        ),
        ("ETCD_CERT_FILE", &etcd.cert_file, &etcd.cert, "cert.pem"),
        ("ETCD_KEY_FILE", &etcd.key_file, &etcd.key, "key.pem"),
    ] {
        let path = match (inline, file) {
            (Some(pem), _) => {
                std::fs::create_dir_all(cert_dir)
                    .with_context(|| format!("creating {}", cert_dir.display()))?;
                let path = cert_dir.join(name);
                write_private(&path, pem)?;
                path
            }
            (None, Some(f)) => f.clone(),
            (None, None) => continue,
        };
        env.push((var.to_owned(), path.display().to_string()));
    }
    Ok(env)
}

fn write_private(path: &Path, content: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(content.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The last `n` lines of a file, for an error message.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
