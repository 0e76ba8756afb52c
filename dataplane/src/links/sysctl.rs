//! The per-interface sysctls Felix sets on a workload interface
//! (`felix/dataplane/linux/endpoint_mgr.go`, `configureProcSysForInterface`), and where each
//! lives under `/proc/sys/net` (their meaning: the kernel's
//! `Documentation/networking/ip-sysctl.rst`).

/// One per-interface sysctl. Values are integers, as the kernel prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sysctl {
    /// `ipv4/conf/<if>/route_localnet` (1: allows NAT to the host's loopback).
    RouteLocalnet,
    /// `ipv4/neigh/<if>/proxy_delay` (0: answer proxy ARP at once).
    ProxyDelay,
    /// `ipv4/conf/<if>/proxy_arp` (1: the host answers the workload's ARP for 169.254.1.1).
    ProxyArp,
    /// `ipv4/conf/<if>/forwarding`.
    Ipv4Forwarding,
    /// `ipv4/conf/<if>/rp_filter` (0 off, 1 strict, 2 loose).
    RpFilter,
    /// `ipv6/conf/<if>/proxy_ndp`.
    ProxyNdp,
    /// `ipv6/conf/<if>/forwarding`.
    Ipv6Forwarding,
    /// `ipv6/conf/<if>/accept_ra` (0: ignore router advertisements from workloads).
    AcceptRa,
}

impl Sysctl {
    /// Every sysctl this module manages, IPv4 first.
    pub const ALL: [Sysctl; 8] = [
        Sysctl::RouteLocalnet,
        Sysctl::ProxyDelay,
        Sysctl::ProxyArp,
        Sysctl::Ipv4Forwarding,
        Sysctl::RpFilter,
        Sysctl::ProxyNdp,
        Sysctl::Ipv6Forwarding,
        Sysctl::AcceptRa,
    ];

    /// Whether it lives under `ipv6/` (and exists only where the interface has IPv6).
    pub fn is_ipv6(&self) -> bool {
        matches!(
            self,
            Sysctl::ProxyNdp | Sysctl::Ipv6Forwarding | Sysctl::AcceptRa
        )
    }

    /// The path below `/proc/sys/net/` for interface `iface`, e.g. `ipv4/conf/cali1/proxy_arp`.
    pub fn relative_path(&self, iface: &str) -> String {
        let (dir, leaf) = match self {
            Sysctl::RouteLocalnet => ("ipv4/conf", "route_localnet"),
            Sysctl::ProxyDelay => ("ipv4/neigh", "proxy_delay"),
            Sysctl::ProxyArp => ("ipv4/conf", "proxy_arp"),
            Sysctl::Ipv4Forwarding => ("ipv4/conf", "forwarding"),
            Sysctl::RpFilter => ("ipv4/conf", "rp_filter"),
            Sysctl::ProxyNdp => ("ipv6/conf", "proxy_ndp"),
            Sysctl::Ipv6Forwarding => ("ipv6/conf", "forwarding"),
            Sysctl::AcceptRa => ("ipv6/conf", "accept_ra"),
        };
        format!("{dir}/{iface}/{leaf}")
    }

    /// The full `/proc/sys` path for interface `iface`.
    pub fn path(&self, iface: &str) -> String {
        format!("/proc/sys/net/{}", self.relative_path(iface))
    }

    /// The value a new interface has in a fresh network namespace (Linux 6.x; `proxy_delay`
    /// is in centiseconds, 80 = 0.8 s). Used by the twin.
    pub fn linux_default(&self) -> i32 {
        match self {
            Sysctl::ProxyDelay => 80,
            Sysctl::AcceptRa => 1,
            _ => 0,
        }
    }
}

impl Sysctl {
    /// The dotted name for interface `iface`, as `sysctl` prints it:
    /// `net.ipv4.conf.cali1.proxy_arp`.
    pub fn name(&self, iface: &str) -> String {
        format!("net.{}", self.relative_path(iface).replace('/', "."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_proc_sys_layout() {
        assert_eq!(
            Sysctl::ProxyArp.path("cali1"),
            "/proc/sys/net/ipv4/conf/cali1/proxy_arp"
        );
        assert_eq!(
            Sysctl::ProxyDelay.path("cali1"),
            "/proc/sys/net/ipv4/neigh/cali1/proxy_delay"
        );
        assert_eq!(
            Sysctl::AcceptRa.path("cali1"),
            "/proc/sys/net/ipv6/conf/cali1/accept_ra"
        );
        assert_eq!(
            Sysctl::RpFilter.name("cali1"),
            "net.ipv4.conf.cali1.rp_filter"
        );
    }
}
