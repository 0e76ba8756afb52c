//! What the benchmarks read from a running calico-node and its host: its health and metrics
//! endpoints (`/readiness`, `/metrics`, served on [`HEALTH_ADDR`] inside the host namespace,
//! turned on with [`node_env`]), its process's memory from `/proc`, the host's routes by
//! netlink dump, and the host-side interfaces of local workloads.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use dataplane::netlink::NetlinkSocket;
use dataplane::netlink::wire::AF_INET;
use dataplane::netns::NetnsRef;
use dataplane::routes::wire::{encode_route_dump, parse_route};

use crate::calico_cluster::CalicoHost;

/// Where calico-node serves health and metrics in each host namespace (one listener).
pub const HEALTH_ADDR: &str = "127.0.0.1:9099";

/// The route protocol calico-node programs with.
pub const CALICO_PROTOCOL: u8 = dataplane::routes::DEFAULT_PROTOCOL;

/// The environment variable naming a program to run as calico-node instead of the one built
/// beside calicoctl (a profiling wrapper that execs it, say).
pub const NODE_BINARY_ENV: &str = "NODE_BENCH_CALICO_NODE";

/// calico-node's environment for the benchmarks: health and metrics on [`HEALTH_ADDR`]
/// (Felix's variables), and `CALICO_NODE_BINARY` when [`NODE_BINARY_ENV`] is set.
pub fn node_env() -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("FELIX_HEALTHENABLED", "true"),
        ("FELIX_HEALTHHOST", "127.0.0.1"),
        ("FELIX_HEALTHPORT", "9099"),
        ("FELIX_PROMETHEUSMETRICSENABLED", "true"),
        ("FELIX_PROMETHEUSMETRICSHOST", "127.0.0.1"),
        ("FELIX_PROMETHEUSMETRICSPORT", "9099"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(binary) = std::env::var_os(NODE_BINARY_ENV) {
        env.push((
            "CALICO_NODE_BINARY".to_owned(),
            binary.to_string_lossy().into_owned(),
        ));
    }
    env
}

/// `GET path` on [`HEALTH_ADDR`] inside `ns`: the status code and the body.
pub fn http_get(ns: &NetnsRef, path: &str) -> io::Result<(u16, String)> {
    let addr: SocketAddr = HEALTH_ADDR.parse().map_err(io::Error::other)?;
    // The socket is made inside the namespace; it is then used from here.
    let mut stream =
        ns.run(move || TcpStream::connect_timeout(&addr, Duration::from_millis(500)))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {HEALTH_ADDR}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other(format!("not an HTTP reply: {text:.80}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    Ok((code, body))
}

/// Whether the host's calico-node answers `/readiness` with 200.
pub fn ready(host: &CalicoHost) -> bool {
    matches!(http_get(&host.ns.as_ref(), "/readiness"), Ok((200, _)))
}

/// Whether the host's calico-node reports component `name` (`policy`, `routes`) ready on
/// `/readiness` (one line per component: `policy: live, ready (...)`).
pub fn component_ready(host: &CalicoHost, name: &str) -> bool {
    http_get(&host.ns.as_ref(), "/readiness").is_ok_and(|(_, body)| {
        body.lines()
            .any(|l| l.starts_with(&format!("{name}: live, ready")))
    })
}

/// The host's calico-node's metrics text.
pub fn metrics(host: &CalicoHost) -> io::Result<String> {
    match http_get(&host.ns.as_ref(), "/metrics")? {
        (200, body) => Ok(body),
        (code, body) => Err(io::Error::other(format!("/metrics: {code} {body:.200}"))),
    }
}

/// The value of metric `name` with exactly `labels` (`[("reconciler", "routes")]`) in
/// Prometheus' text format; `None` when absent.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted = if labels.is_empty() {
        name.to_owned()
    } else {
        let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        format!("{name}{{{}}}", inner.join(","))
    };
    text.lines().find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        (series == wanted).then(|| value.parse().ok()).flatten()
    })
}

/// The pid calico-node's run directory records.
pub fn pid(host: &CalicoHost) -> io::Result<u32> {
    let file = host.run_dir.join("calico-node.pid");
    let text = std::fs::read_to_string(&file)?;
    text.trim()
        .parse()
        .map_err(|e| io::Error::other(format!("{}: {e}", file.display())))
}

/// A process's memory from `/proc/<pid>/status`, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss: u64,
    /// RssAnon: resident anonymous memory (heap, stacks).
    pub anon: u64,
    /// RssFile: resident file-backed memory (the binary's text and data).
    pub file: u64,
    /// VmHWM: the peak of VmRSS.
    pub peak: u64,
}

impl Memory {
    pub fn of(pid: u32) -> io::Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| io::Error::other(format!("/proc/{pid}/status has no {name}")))
        };
        Ok(Memory {
            rss: field("VmRSS:")?,
            anon: field("RssAnon:")?,
            file: field("RssFile:")?,
            peak: field("VmHWM:")?,
        })
    }
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// IPv4 routes of table main in `ns` with route protocol `protocol`.
pub fn count_routes(ns: &NetnsRef, protocol: u8) -> io::Result<usize> {
    let mut socket = NetlinkSocket::open(ns).map_err(io::Error::other)?;
    let routes = socket
        .dump(
            "route dump",
            |out, seq| encode_route_dump(out, seq, AF_INET, dataplane::routes::RT_TABLE_MAIN as u8),
            |m| {
                Ok(parse_route(m.payload)?.filter(|r| {
                    r.protocol == protocol && r.table == dataplane::routes::RT_TABLE_MAIN
                }))
            },
        )
        .map_err(io::Error::other)?;
    Ok(routes.len())
}

/// The host side of each local workload: a veth pair per interface name, both ends in the
/// host namespace (`<iface>` and `wl<iface without cali>`), up — what calico-node needs of a
/// workload (its interface, to route to and to program), without a namespace per workload.
pub fn add_host_interfaces(ns: &NetnsRef, ifaces: &[String]) -> io::Result<()> {
    let mut script = String::new();
    for iface in ifaces {
        let peer = format!("wl{}", iface.trim_start_matches("cali"));
        script.push_str(&format!(
            "link add {iface} type veth peer name {peer}\nlink set {peer} up\n"
        ));
    }
    let out = ns.run(move || {
        let mut child = std::process::Command::new("ip")
            .args(["-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(script.as_bytes())?;
        }
        child.wait_with_output()
    })?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ip -batch: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Percentile `p` (0..=100, nearest rank) of `v` (sorted here).
pub fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}
