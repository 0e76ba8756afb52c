//! What one workload interface should look like: its sysctls, link state and permanent
//! neighbour entries, as Felix's endpoint manager configures it
//! (`felix/dataplane/linux/endpoint_mgr.go`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::mac::Mac;
use super::sysctl::Sysctl;

/// The desired configuration of one workload interface (host side of a workload veth).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// The interface name, e.g. `cali1234567890a`.
    pub name: String,
    /// The workload's addresses (IPv4 and IPv6); each gets a permanent neighbour entry when
    /// [`Self::mac`] is known.
    pub addresses: BTreeSet<IpAddr>,
    /// The workload-side MAC, if known.
    pub mac: Option<Mac>,
    /// `rp_filter` for the interface: 0 off, 1 strict, 2 loose. Felix copies
    /// `net.ipv4.conf.default.rp_filter`, and uses 0 when the endpoint may send from spoofed
    /// source addresses.
    pub rp_filter: u8,
}

impl InterfaceConfig {
    /// An interface with no addresses, no MAC and strict `rp_filter`.
    pub fn new(name: impl Into<String>) -> InterfaceConfig {
        InterfaceConfig {
            name: name.into(),
            addresses: BTreeSet::new(),
            mac: None,
            rp_filter: 1,
        }
    }

    /// Adds workload addresses.
    pub fn with_addresses(mut self, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.addresses.extend(addrs);
        self
    }

    /// Sets the workload MAC.
    pub fn with_mac(mut self, mac: Mac) -> Self {
        self.mac = Some(mac);
        self
    }

    /// Sets `rp_filter`.
    pub fn with_rp_filter(mut self, value: u8) -> Self {
        self.rp_filter = value;
        self
    }

    /// The sysctls and their values; the IPv6 ones only when the interface has IPv6
    /// (`/proc/sys/net/ipv6/conf/<if>` exists).
    pub fn sysctls(&self, ipv6: bool) -> Vec<(Sysctl, i32)> {
        Sysctl::ALL
            .into_iter()
            .filter(|s| ipv6 || !s.is_ipv6())
            .map(|s| {
                let v = match s {
                    Sysctl::RouteLocalnet => 1,
                    Sysctl::ProxyDelay => 0,
                    Sysctl::ProxyArp => 1,
                    Sysctl::Ipv4Forwarding => 1,
                    Sysctl::RpFilter => i32::from(self.rp_filter),
                    Sysctl::ProxyNdp => 1,
                    Sysctl::Ipv6Forwarding => 1,
                    Sysctl::AcceptRa => 0,
                };
                (s, v)
            })
            .collect()
    }

    /// The permanent neighbour entries: every address → the workload MAC (none while the
    /// MAC is unknown; IPv6 addresses only when the interface has IPv6).
    pub fn neighbours(&self, ipv6: bool) -> BTreeMap<IpAddr, Mac> {
        let Some(mac) = self.mac else {
            return BTreeMap::new();
        };
        self.addresses
            .iter()
            .filter(|a| ipv6 || a.is_ipv4())
            .map(|a| (*a, mac))
            .collect()
    }
}
