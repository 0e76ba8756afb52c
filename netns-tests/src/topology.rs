//! A host namespace with workload namespaces, built by the dataplane itself: the workload
//! plumbing (veth pair, `cali…` with MAC ee:ee:ee:ee:ee:ee on the host, `eth0` with the
//! workload's address, `169.254.1.1 dev eth0 scope link` and a default route via it inside),
//! the interface reconciler (proxy ARP, forwarding, permanent neighbours) and the route
//! reconciler (a `/32` route per workload). Everything is removed when the [`Host`] is dropped
//! (deleting a namespace deletes its interfaces).

use std::io;
use std::net::IpAddr;

use std::path::PathBuf;
use std::time::Instant;

use dataplane::links::{
    InterfaceConfig, KernelLinks, LinkConfig, LinkReconciler, WorkloadSpec as Plumbing,
    add_workload,
};
use dataplane::netns::Netns;
use dataplane::routes::{KernelRoutes, Route, RouteConfig, RouteReconciler};

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
        let mut host = Host::new(prefix)?;
        host.add_workloads(prefix, specs, &[])?;
        Ok(host)
    }

    /// A host with forwarding on and an uplink, without workloads.
    pub fn new(prefix: &str) -> io::Result<Host> {
        let ns = Netns::create(prefix)?;
        let r = ns.as_ref();
        r.write_file("/proc/sys/net/ipv4/ip_forward", "1")?;
        ns.ip(&[
            "link", "add", "uplink0", "type", "veth", "peer", "name", "uplink1",
        ])?;
        ns.ip(&["link", "set", "uplink0", "up"])?;
        ns.ip(&["link", "set", "uplink1", "up"])?;
        ns.ip(&["route", "add", "default", "dev", "uplink0"])?;
        Ok(Host {
            workloads: Vec::new(),
            external: None,
            ns,
        })
    }

    /// Plumbs `specs` with the dataplane, configures their interfaces, and programs their
    /// routes plus `extra_routes` (routes to other hosts' workloads) with the route
    /// reconciler.
    pub fn add_workloads(
        &mut self,
        prefix: &str,
        specs: &[WorkloadSpec<'_>],
        extra_routes: &[Route],
    ) -> io::Result<()> {
        let r = self.ns.as_ref();
        let mut links = LinkReconciler::new(LinkConfig::default());
        let mut routes = RouteReconciler::new(RouteConfig::default());
        for route in extra_routes {
            routes.upsert(route.clone()).map_err(io::Error::other)?;
        }
        for (namespace, name, iface, ip) in specs {
            let wns = Netns::create(&format!("{prefix}-wl"))?;
            let ip: IpAddr = ip
                .parse()
                .map_err(|e| io::Error::other(format!("address {ip}: {e}")))?;
            let path = PathBuf::from(format!("/run/netns/{}", wns.name()));
            let plumbed = add_workload(&r, &path, &Plumbing::new(iface.to_string(), vec![ip]))
                .map_err(io::Error::other)?;
            links
                .upsert(
                    InterfaceConfig::new(iface.to_string())
                        .with_addresses([ip])
                        .with_mac(plumbed.workload_mac),
                )
                .map_err(io::Error::other)?;
            routes
                .upsert(Route::workload(ip, iface.to_string()))
                .map_err(io::Error::other)?;
            self.workloads.push(Workload {
                ns: wns,
                iface: iface.to_string(),
                ip,
                namespace: namespace.to_string(),
                name: name.to_string(),
            });
        }
        links.set_complete();
        routes.set_complete();
        let now = Instant::now();
        let report = links
            .sync(&mut KernelLinks::new(r.clone()), now)
            .map_err(io::Error::other)?;
        if !report.failures.is_empty() {
            return Err(io::Error::other(format!(
                "configuring workload interfaces: {:?}",
                report.failures
            )));
        }
        let mut kernel_routes = KernelRoutes::open(&r).map_err(io::Error::other)?;
        routes
            .sync(&mut kernel_routes, now)
            .map_err(io::Error::other)?;
        if !routes.in_sync() {
            return Err(io::Error::other(format!(
                "workload routes not programmed: {:?}",
                routes.problems().collect::<Vec<_>>()
            )));
        }
        Ok(())
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
