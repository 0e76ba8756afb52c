//! Workload plumbing, as Calico's CNI plugin does it
//! (`cni-plugin/internal/pkg/utils/network_linux.go`, `DoNetworking`): a veth pair whose host
//! side is `cali…` with MAC `ee:ee:ee:ee:ee:ee` and whose other end is `eth0` in the
//! workload's namespace, with the workload's addresses (/32, /128), the
//! `169.254.1.1 dev eth0 scope link` + `default via 169.254.1.1` routes, and for IPv6 a
//! default route via the host side's link-local address. For `calicoctl container add` and a
//! CNI plugin.
//!
//! Blocking, like every kernel backend of the crate (the crate's netlink socket, sysctl
//! writes from a thread in the namespace, a short wait for the host side's IPv6 link-local
//! address); it needs no async runtime. An async caller runs it on a blocking thread
//! (`tokio::task::spawn_blocking`).
//!
//! The host side's sysctls, neighbours and the host routes are not set here: the interface
//! reconciler ([`super::reconciler`]) and the route reconciler own them.

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use nix::errno::Errno;
use thiserror::Error;
use tracing::{info, warn};

use super::mac::Mac;
use super::names::{InvalidName, validate_ifname};
use crate::netlink::link::Veth;
use crate::netlink::wire::{NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, RTM_NEWROUTE};
use crate::netlink::{NetlinkError, NetlinkSocket};
use crate::netns::NetnsRef;
use crate::routes::route::{Route, protocol};
use crate::routes::wire::encode_route;

/// The workload's IPv4 gateway: answered by proxy ARP on the host side.
pub const GATEWAY_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);

/// How long to wait for the host side's IPv6 link-local address.
const LINK_LOCAL_WAIT: Duration = Duration::from_secs(2);

/// One workload to plumb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadSpec {
    /// Host-side name, e.g. from [`super::names::k8s_veth_name`].
    pub host_ifname: String,
    /// Name inside the workload (Calico: `eth0`).
    pub workload_ifname: String,
    /// Addresses of the workload: IPv4 as /32, IPv6 as /128.
    pub addresses: Vec<IpAddr>,
    /// MTU of both ends.
    pub mtu: u32,
}

impl WorkloadSpec {
    /// `eth0`, MTU 1500.
    pub fn new(host_ifname: impl Into<String>, addresses: Vec<IpAddr>) -> WorkloadSpec {
        WorkloadSpec {
            host_ifname: host_ifname.into(),
            workload_ifname: "eth0".to_owned(),
            addresses,
            mtu: 1500,
        }
    }

    pub fn with_mtu(mut self, mtu: u32) -> Self {
        self.mtu = mtu;
        self
    }
}

/// A plumbed workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlumbedWorkload {
    pub host_ifname: String,
    /// The host side's interface index.
    pub host_index: u32,
    /// MAC of the workload side: the neighbour entry for its addresses.
    pub workload_mac: Mac,
}

/// A plumbing step that failed, naming the interface and the workload namespace.
#[derive(Debug, Error)]
pub enum PlumbingError {
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    #[error("{step} (host interface {interface}, workload namespace {netns}): {source}")]
    Step {
        step: String,
        interface: String,
        netns: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Creates the veth pair for a workload whose network namespace is `workload_netns` (e.g.
/// `/run/netns/<name>` or `/proc/<pid>/ns/net`) and configures the workload side. A stale
/// host interface of the same name is deleted first (as Calico's CNI plugin does); on
/// failure the new pair is deleted again. Blocking (see the module docs).
pub fn add_workload(
    host: &NetnsRef,
    workload_netns: &Path,
    spec: &WorkloadSpec,
) -> Result<PlumbedWorkload, PlumbingError> {
    validate_ifname(&spec.host_ifname)?;
    validate_ifname(&spec.workload_ifname)?;
    let ctx = Ctx {
        interface: spec.host_ifname.clone(),
        netns: workload_netns.to_owned(),
    };
    let mut host_nl = NetlinkSocket::open(host)
        .map_err(|e| ctx.err("opening netlink in the host namespace", e.into()))?;
    let wl_ref = NetnsRef::Path(workload_netns.to_owned());
    let mut wl_nl = NetlinkSocket::open(&wl_ref)
        .map_err(|e| ctx.err("opening netlink in the workload namespace", e.into()))?;

    if let Some(old) = host_nl
        .link_by_name(&spec.host_ifname)
        .map_err(|e| ctx.err("looking up the host interface", e.into()))?
    {
        info!(interface = %spec.host_ifname, "deleting stale workload interface");
        host_nl
            .delete_link(old.index)
            .map_err(|e| ctx.err("deleting the stale host interface", e.into()))?;
    }

    let ns_file = File::open(workload_netns).map_err(|e| ctx.err("opening the namespace", e))?;
    host_nl
        .add_veth(&Veth {
            name: &spec.host_ifname,
            mac: Some(Mac::HOST_SIDE.octets()),
            peer: &spec.workload_ifname,
            peer_netns: ns_file.as_fd(),
            mtu: spec.mtu,
        })
        .map_err(|e| ctx.err("creating the veth pair", e.into()))?;
    drop(ns_file);

    match configure(&mut host_nl, host, &mut wl_nl, &wl_ref, spec, &ctx) {
        Ok(p) => Ok(p),
        Err(e) => {
            if let Err(cleanup) = remove_workload(host, &spec.host_ifname) {
                warn!(interface = %spec.host_ifname, error = %cleanup, "removing a half-plumbed workload failed");
            }
            Err(e)
        }
    }
}

/// Deletes a workload's veth pair by its host side (the workload side goes with it).
/// Returns whether there was one; an absent interface is not an error. Blocking (see the
/// module docs).
pub fn remove_workload(host: &NetnsRef, host_ifname: &str) -> Result<bool, PlumbingError> {
    validate_ifname(host_ifname)?;
    let ctx = Ctx {
        interface: host_ifname.to_owned(),
        netns: PathBuf::from("-"),
    };
    let mut nl = NetlinkSocket::open(host)
        .map_err(|e| ctx.err("opening netlink in the host namespace", e.into()))?;
    let Some(link) = nl
        .link_by_name(host_ifname)
        .map_err(|e| ctx.err("looking up the host interface", e.into()))?
    else {
        return Ok(false);
    };
    match nl.delete_link(link.index) {
        Ok(()) => Ok(true),
        Err(e) if e.errno() == Some(Errno::ENODEV) => Ok(false),
        Err(e) => Err(ctx.err("deleting the host interface", e.into())),
    }
}

struct Ctx {
    interface: String,
    netns: PathBuf,
}

impl Ctx {
    fn err(&self, step: impl Into<String>, source: io::Error) -> PlumbingError {
        PlumbingError::Step {
            step: step.into(),
            interface: self.interface.clone(),
            netns: self.netns.clone(),
            source,
        }
    }
}

fn configure(
    host_nl: &mut NetlinkSocket,
    host: &NetnsRef,
    wl_nl: &mut NetlinkSocket,
    wl_ref: &NetnsRef,
    spec: &WorkloadSpec,
    ctx: &Ctx,
) -> Result<PlumbedWorkload, PlumbingError> {
    let has_v6 = spec.addresses.iter().any(IpAddr::is_ipv6);
    let wl_if = &spec.workload_ifname;
    let host_if = &spec.host_ifname;
    if has_v6 {
        // A point-to-point link needs no duplicate address detection, which would delay the
        // addresses by a second; it must be off before the links come up.
        for (ns, name) in [(wl_ref, wl_if), (host, host_if)] {
            for (leaf, v) in [("disable_ipv6", "0"), ("accept_dad", "0")] {
                let path = format!("/proc/sys/net/ipv6/conf/{name}/{leaf}");
                ns.write_file(&path, v)
                    .map_err(|e| ctx.err(format!("setting {path}"), e))?;
            }
        }
    }

    let host_index = host_nl
        .link_by_name(host_if)
        .map_err(|e| ctx.err("looking up the host interface", e.into()))?
        .ok_or_else(|| ctx.err("looking up the host interface", enodev()))?
        .index;
    host_nl
        .set_link_up(host_index)
        .map_err(|e| ctx.err("bringing the host interface up", e.into()))?;

    let wl_link = wl_nl
        .link_by_name(wl_if)
        .map_err(|e| ctx.err(format!("looking up {wl_if} in the workload"), e.into()))?
        .ok_or_else(|| ctx.err(format!("looking up {wl_if} in the workload"), enodev()))?;
    let wl_index = wl_link.index;
    let workload_mac = wl_link.mac.map(Mac).ok_or_else(|| {
        ctx.err(
            format!("reading the MAC of {wl_if} in the workload"),
            io::Error::new(io::ErrorKind::InvalidData, "no 6-byte link-layer address"),
        )
    })?;
    wl_nl
        .set_link_up(wl_index)
        .map_err(|e| ctx.err(format!("bringing {wl_if} up in the workload"), e.into()))?;

    for addr in &spec.addresses {
        let len = if addr.is_ipv4() { 32 } else { 128 };
        wl_nl
            .add_address(wl_index, *addr, len)
            .map_err(|e| ctx.err(format!("adding {addr}/{len} to {wl_if}"), e.into()))?;
    }

    if spec.addresses.iter().any(IpAddr::is_ipv4) {
        let gateway = Route::workload(GATEWAY_V4.into(), wl_if.as_str());
        add_route(wl_nl, &gateway, wl_index).map_err(|e| {
            ctx.err(
                format!("adding {GATEWAY_V4} dev {wl_if} scope link"),
                e.into(),
            )
        })?;
        let default = Route::via_dev(
            IpNet::V4(Ipv4Net::default()),
            GATEWAY_V4.into(),
            wl_if.as_str(),
            false,
        );
        add_route(wl_nl, &default, wl_index)
            .map_err(|e| ctx.err(format!("adding default via {GATEWAY_V4}"), e.into()))?;
    }

    if has_v6 {
        let gw = host_link_local(host_nl, host_index).unwrap_or_else(|| {
            let ll = Mac::HOST_SIDE.ipv6_link_local();
            warn!(interface = %host_if, gateway = %ll, "host side has no IPv6 link-local address yet; using the one its MAC gives");
            ll
        });
        let default = Route::via_dev(
            IpNet::V6(Ipv6Net::default()),
            gw.into(),
            wl_if.as_str(),
            false,
        );
        add_route(wl_nl, &default, wl_index)
            .map_err(|e| ctx.err(format!("adding default via {gw} dev {wl_if}"), e.into()))?;
    }

    Ok(PlumbedWorkload {
        host_ifname: host_if.clone(),
        host_index,
        workload_mac,
    })
}

/// Adds (or replaces) `route` out of link `oif` in table main, `proto boot` as `ip route add`
/// gives it, through the route reconciler's own encoder.
fn add_route(nl: &mut NetlinkSocket, route: &Route, oif: u32) -> Result<(), NetlinkError> {
    let k = route.to_kernel(protocol::BOOT, Some(oif));
    nl.request(&format!("adding route {k}"), |out, seq| {
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        encode_route(out, RTM_NEWROUTE, flags, seq, &k);
    })
}

/// The host side's IPv6 link-local address, waiting up to [`LINK_LOCAL_WAIT`] for the kernel
/// to assign it (it does once both ends are up).
fn host_link_local(nl: &mut NetlinkSocket, index: u32) -> Option<Ipv6Addr> {
    let step = Duration::from_millis(20);
    let mut waited = Duration::ZERO;
    loop {
        if let Ok(addrs) = nl.addresses(index, true) {
            let ll = addrs.into_iter().find_map(|a| match a {
                IpAddr::V6(a) if a.is_unicast_link_local() => Some(a),
                _ => None,
            });
            if ll.is_some() {
                return ll;
            }
        }
        if waited >= LINK_LOCAL_WAIT {
            return None;
        }
        std::thread::sleep(step);
        waited += step;
    }
}

fn enodev() -> io::Error {
    io::Error::from_raw_os_error(Errno::ENODEV as i32)
}
