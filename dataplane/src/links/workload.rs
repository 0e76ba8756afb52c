//! Workload plumbing, as Calico's CNI plugin does it (calico.md §3.1 "Container side"): a
//! veth pair whose host side is `cali…` with MAC `ee:ee:ee:ee:ee:ee` and whose other end is
//! `eth0` in the workload's namespace, with the workload's addresses (/32, /128), the
//! `169.254.1.1 dev eth0 scope link` + `default via 169.254.1.1` routes, and for IPv6 a
//! default route via the host side's link-local address. For `calicoctl container add` and a
//! CNI plugin.
//!
//! The host side's sysctls, neighbours and the host routes are not set here: the interface
//! reconciler ([`super::reconciler`]) and the route programmer own them.

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::TryStreamExt;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{InfoData, InfoVeth, LinkAttribute};
use netlink_packet_route::route::{RouteProtocol, RouteScope};
use rtnetlink::{Handle, LinkUnspec, LinkVeth, RouteMessageBuilder};
use thiserror::Error;
use tracing::{info, warn};

use super::mac::Mac;
use super::names::{InvalidName, validate_ifname};
use crate::netns::NetnsRef;

/// The workload's IPv4 gateway: answered by proxy ARP on the host side.
pub const GATEWAY_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);

/// How long to wait for the host side's IPv6 link-local address.
const LINK_LOCAL_WAIT: Duration = Duration::from_secs(2);

const ENODEV: i32 = 19;

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
/// failure the new pair is deleted again.
pub async fn add_workload(
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
    let host_h = host
        .rtnetlink()
        .map_err(|e| ctx.err("opening rtnetlink in the host namespace", e))?;
    let wl_ref = NetnsRef::Path(workload_netns.to_owned());
    let wl_h = wl_ref
        .rtnetlink()
        .map_err(|e| ctx.err("opening rtnetlink in the workload namespace", e))?;

    if let Some(old) = link_index(&host_h, &spec.host_ifname)
        .await
        .map_err(|e| ctx.err("looking up the host interface", e))?
    {
        info!(interface = %spec.host_ifname, "deleting stale workload interface");
        host_h
            .link()
            .del(old)
            .execute()
            .await
            .map_err(|e| ctx.err("deleting the stale host interface", to_io(e)))?;
    }

    let ns_file = File::open(workload_netns).map_err(|e| ctx.err("opening the namespace", e))?;
    let peer = LinkUnspec::new_with_name(&spec.workload_ifname)
        .mtu(spec.mtu)
        .setns_by_fd(ns_file.as_raw_fd())
        .build();
    let veth = LinkVeth::new(&spec.host_ifname, &spec.workload_ifname)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .mtu(spec.mtu)
        .address(Mac::HOST_SIDE.octets().to_vec())
        .build();
    host_h
        .link()
        .add(veth)
        .execute()
        .await
        .map_err(|e| ctx.err("creating the veth pair", to_io(e)))?;
    drop(ns_file);

    match configure(&host_h, host, &wl_h, &wl_ref, spec, &ctx).await {
        Ok(p) => Ok(p),
        Err(e) => {
            if let Err(cleanup) = remove_workload(host, &spec.host_ifname).await {
                warn!(interface = %spec.host_ifname, error = %cleanup, "removing a half-plumbed workload failed");
            }
            Err(e)
        }
    }
}

/// Deletes a workload's veth pair by its host side (the workload side goes with it).
/// Returns whether there was one; an absent interface is not an error.
pub async fn remove_workload(host: &NetnsRef, host_ifname: &str) -> Result<bool, PlumbingError> {
    validate_ifname(host_ifname)?;
    let ctx = Ctx {
        interface: host_ifname.to_owned(),
        netns: PathBuf::from("-"),
    };
    let h = host
        .rtnetlink()
        .map_err(|e| ctx.err("opening rtnetlink in the host namespace", e))?;
    let Some(index) = link_index(&h, host_ifname)
        .await
        .map_err(|e| ctx.err("looking up the host interface", e))?
    else {
        return Ok(false);
    };
    match h.link().del(index).execute().await.map_err(to_io) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(ENODEV) => Ok(false),
        Err(e) => Err(ctx.err("deleting the host interface", e)),
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

async fn configure(
    host_h: &Handle,
    host: &NetnsRef,
    wl_h: &Handle,
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

    let host_index = link_index(host_h, host_if)
        .await
        .map_err(|e| ctx.err("looking up the host interface", e))?
        .ok_or_else(|| ctx.err("looking up the host interface", enodev()))?;
    host_h
        .link()
        .change(LinkUnspec::new_with_index(host_index).up().build())
        .execute()
        .await
        .map_err(|e| ctx.err("bringing the host interface up", to_io(e)))?;

    let (wl_index, wl_mac) = link_index_and_mac(wl_h, wl_if)
        .await
        .map_err(|e| ctx.err(format!("looking up {wl_if} in the workload"), e))?
        .ok_or_else(|| ctx.err(format!("looking up {wl_if} in the workload"), enodev()))?;
    let workload_mac = wl_mac.ok_or_else(|| {
        ctx.err(
            format!("reading the MAC of {wl_if} in the workload"),
            io::Error::new(io::ErrorKind::InvalidData, "no 6-byte link-layer address"),
        )
    })?;
    wl_h.link()
        .change(LinkUnspec::new_with_index(wl_index).up().build())
        .execute()
        .await
        .map_err(|e| ctx.err(format!("bringing {wl_if} up in the workload"), to_io(e)))?;

    for addr in &spec.addresses {
        let len = if addr.is_ipv4() { 32 } else { 128 };
        wl_h.address()
            .add(wl_index, *addr, len)
            .replace()
            .execute()
            .await
            .map_err(|e| ctx.err(format!("adding {addr}/{len} to {wl_if}"), to_io(e)))?;
    }

    if spec.addresses.iter().any(IpAddr::is_ipv4) {
        let gw_route = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(GATEWAY_V4, 32)
            .output_interface(wl_index)
            .scope(RouteScope::Link)
            .protocol(RouteProtocol::Boot)
            .build();
        wl_h.route()
            .add(gw_route)
            .replace()
            .execute()
            .await
            .map_err(|e| {
                ctx.err(
                    format!("adding {GATEWAY_V4} dev {wl_if} scope link"),
                    to_io(e),
                )
            })?;
        let default = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(GATEWAY_V4)
            .output_interface(wl_index)
            .protocol(RouteProtocol::Boot)
            .build();
        wl_h.route()
            .add(default)
            .replace()
            .execute()
            .await
            .map_err(|e| ctx.err(format!("adding default via {GATEWAY_V4}"), to_io(e)))?;
    }

    if has_v6 {
        let gw = host_link_local(host_h, host_index).await.unwrap_or_else(|| {
            let ll = Mac::HOST_SIDE.ipv6_link_local();
            warn!(interface = %host_if, gateway = %ll, "host side has no IPv6 link-local address yet; using the one its MAC gives");
            ll
        });
        let default = RouteMessageBuilder::<Ipv6Addr>::new()
            .gateway(gw)
            .output_interface(wl_index)
            .protocol(RouteProtocol::Boot)
            .build();
        wl_h.route()
            .add(default)
            .replace()
            .execute()
            .await
            .map_err(|e| ctx.err(format!("adding default via {gw} dev {wl_if}"), to_io(e)))?;
    }

    Ok(PlumbedWorkload {
        host_ifname: host_if.clone(),
        host_index,
        workload_mac,
    })
}

/// The host side's IPv6 link-local address, waiting up to [`LINK_LOCAL_WAIT`] for the kernel
/// to assign it (it does once both ends are up).
async fn host_link_local(h: &Handle, index: u32) -> Option<Ipv6Addr> {
    let step = Duration::from_millis(20);
    let mut waited = Duration::ZERO;
    loop {
        let mut addrs = h.address().get().set_link_index_filter(index).execute();
        while let Ok(Some(msg)) = addrs.try_next().await {
            for attr in &msg.attributes {
                if let AddressAttribute::Address(IpAddr::V6(a)) = attr
                    && a.is_unicast_link_local()
                {
                    return Some(*a);
                }
            }
        }
        if waited >= LINK_LOCAL_WAIT {
            return None;
        }
        tokio::time::sleep(step).await;
        waited += step;
    }
}

async fn link_index(h: &Handle, name: &str) -> io::Result<Option<u32>> {
    Ok(link_index_and_mac(h, name).await?.map(|(i, _)| i))
}

async fn link_index_and_mac(h: &Handle, name: &str) -> io::Result<Option<(u32, Option<Mac>)>> {
    let mut links = h.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await {
        Ok(Some(msg)) => {
            let mac = msg.attributes.iter().find_map(|a| match a {
                LinkAttribute::Address(b) => Mac::from_bytes(b),
                _ => None,
            });
            Ok(Some((msg.header.index, mac)))
        }
        Ok(None) => Ok(None),
        Err(e) => match to_io(e) {
            e if e.raw_os_error() == Some(ENODEV) => Ok(None),
            e => Err(e),
        },
    }
}

fn enodev() -> io::Error {
    io::Error::from_raw_os_error(ENODEV)
}

fn to_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io(),
        other => io::Error::other(other.to_string()),
    }
}
