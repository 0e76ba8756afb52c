//! A host namespace with workload namespaces plumbed as Calico plumbs them: a veth pair per
//! workload, `cali…` on the host with MAC ee:ee:ee:ee:ee:ee, proxy ARP and a `/32` route on
//! the host side; `eth0` with the workload's address, `169.254.1.1 dev eth0 scope link` and
//! a default route via 169.254.1.1 inside. Everything is removed when the [`Host`] is dropped
//! (deleting a namespace deletes its interfaces).

use std::io;
use std::net::IpAddr;

use dataplane::netns::Netns;

/// One workload: its namespace and Calico identity.
#[derive(Debug)]
pub struct Workload {
    pub ns: Netns,
    /// Host-side interface name.
    pub iface: String,
    pub ip: IpAddr,
    /// Kubernetes namespace and pod name (the WorkloadEndpoint's namespace and name).
    pub namespace: String,
    pub name: String,
}

/// The host's address on its uplink (see [`Host::with_external`]).
pub const HOST_IP: &str = "192.168.99.1";
/// The external peer's address.
pub const EXTERNAL_IP: &str = "192.168.99.2";
/// The host's uplink interface.
pub const UPLINK: &str = "uplink0";

/// A host namespace and its workloads.
#[derive(Debug)]
pub struct Host {
    pub workloads: Vec<Workload>,
    /// A namespace outside the cluster at the other end of the uplink, when asked for.
    pub external: Option<Netns>,
    // Dropped last: workloads' veths go with either end.
    pub ns: Netns,
}

/// What a workload is: `(namespace, name, interface, address)`.
pub type WorkloadSpec<'a> = (&'a str, &'a str, &'a str, &'a str);

impl Host {
    /// A host with forwarding on, an uplink (proxy ARP answers only for addresses routed
    /// through another interface), and the given workloads.
    pub fn with_workloads(prefix: &str, specs: &[WorkloadSpec<'_>]) -> io::Result<Host> {
        let ns = Netns::create(prefix)?;
        let r = ns.as_ref();
        r.write_file("/proc/sys/net/ipv4/ip_forward", "1")?;
        ns.ip(&[
            "link", "add", "uplink0", "type", "veth", "peer", "name", "uplink1",
        ])?;
        ns.ip(&["link", "set", "uplink0", "up"])?;
        ns.ip(&["link", "set", "uplink1", "up"])?;
        ns.ip(&["route", "add", "default", "dev", "uplink0"])?;
        let mut workloads = Vec::new();
        for (namespace, name, iface, ip) in specs {
            let wns = Netns::create(&format!("{prefix}-wl"))?;
            let ip: IpAddr = ip
                .parse()
                .map_err(|e| io::Error::other(format!("address {ip}: {e}")))?;
            ns.ip(&[
                "link", "add", iface, "type", "veth", "peer", "name", "eth0tmp",
            ])?;
            ns.ip(&["link", "set", "eth0tmp", "netns", wns.name()])?;
            ns.ip(&["link", "set", iface, "address", "ee:ee:ee:ee:ee:ee", "up"])?;
            for (key, value) in [("proxy_arp", "1"), ("forwarding", "1")] {
                r.write_file(&format!("/proc/sys/net/ipv4/conf/{iface}/{key}"), value)?;
            }
            r.write_file(
                &format!("/proc/sys/net/ipv4/neigh/{iface}/proxy_delay"),
                "0",
            )?;
            ns.ip(&[
                "route",
                "add",
                &format!("{ip}/32"),
                "dev",
                iface,
                "scope",
                "link",
            ])?;
            wns.ip(&["link", "set", "eth0tmp", "name", "eth0"])?;
            wns.ip(&["addr", "add", &format!("{ip}/32"), "dev", "eth0"])?;
            wns.ip(&["link", "set", "eth0", "up"])?;
            wns.ip(&[
                "route",
                "add",
                "169.254.1.1",
                "dev",
                "eth0",
                "scope",
                "link",
            ])?;
            wns.ip(&[
                "route",
                "add",
                "default",
                "via",
                "169.254.1.1",
                "dev",
                "eth0",
            ])?;
            workloads.push(Workload {
                ns: wns,
                iface: iface.to_string(),
                ip,
                namespace: namespace.to_string(),
                name: name.to_string(),
            });
        }
        Ok(Host {
            workloads,
            external: None,
            ns,
        })
    }

    /// As [`Host::with_workloads`], with the uplink's far end in a namespace outside the
    /// cluster: the host is [`HOST_IP`] on [`UPLINK`], the outside [`EXTERNAL_IP`], which has
    /// no route to the workloads (only NAT outgoing lets them reach it).
    pub fn with_external(prefix: &str, specs: &[WorkloadSpec<'_>]) -> io::Result<Host> {
        let mut host = Host::with_workloads(prefix, specs)?;
        let ext = Netns::create(&format!("{prefix}-ext"))?;
        host.ns
            .ip(&["link", "set", "uplink1", "netns", ext.name()])?;
        host.ns
            .ip(&["addr", "add", &format!("{HOST_IP}/24"), "dev", UPLINK])?;
        ext.ip(&[
            "addr",
            "add",
            &format!("{EXTERNAL_IP}/24"),
            "dev",
            "uplink1",
        ])?;
        ext.ip(&["link", "set", "uplink1", "up"])?;
        host.external = Some(ext);
        Ok(host)
    }
}
