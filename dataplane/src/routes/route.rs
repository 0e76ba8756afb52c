//! Routes as data: what calico-node wants ([`Route`]: a destination and a [`RouteTarget`]),
//! what a kernel routing table holds ([`KernelRoute`], every route, ours or not), and the
//! interfaces routes go through ([`Links`]). Also the rules that tie the two together: the
//! kernel route a desired route becomes, and whether a kernel route satisfies a desired one.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// The kernel's main routing table (`RT_TABLE_MAIN`); the only table the reconciler programs.
pub const RT_TABLE_MAIN: u32 = 254;

/// Route protocol numbers (`RTPROT_*`, include/uapi/linux/rtnetlink.h) that tests and the
/// twin use for routes that are not ours.
pub mod protocol {
    /// Routes the kernel made itself (connected subnets, IPv6 link-local).
    pub const KERNEL: u8 = 2;
    /// `ip route add` without `proto` (RTPROT_BOOT).
    pub const BOOT: u8 = 3;
    /// Static routes of the administrator (RTPROT_STATIC).
    pub const STATIC: u8 = 4;
}

/// Route scopes (`RT_SCOPE_*`).
pub mod scope {
    pub const UNIVERSE: u8 = 0;
    pub const LINK: u8 = 253;
    pub const HOST: u8 = 254;
    /// In a delete request: match any scope.
    pub const NOWHERE: u8 = 255;
}

/// The metric the kernel gives a route that names none: 0 for IPv4, 1024 for IPv6
/// (`IP6_RT_PRIO_USER`). Our routes use it, so they occupy the slot `ip route add` would.
pub fn default_metric(dst: &IpNet) -> u32 {
    match dst {
        IpNet::V4(_) => 0,
        IpNet::V6(_) => 1024,
    }
}

/// Where a desired route sends packets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RouteTarget {
    /// Straight out of an interface, scope link: a local workload
    /// (`10.65.0.2/32 dev cali1234 scope link`).
    Interface(String),
    /// To a next hop: a remote block (`10.65.1.0/26 via 192.168.1.2`, or with
    /// `dev tunl0 onlink` when the next hop is not on a connected subnet).
    Gateway {
        via: IpAddr,
        dev: Option<String>,
        onlink: bool,
    },
    /// Dropped: a block affine to this host, so that addresses of the block that have no
    /// workload are not sent back out (`blackhole 10.65.0.0/26`).
    Blackhole,
}

/// A route calico-node wants in table main.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    /// The destination, normalised (host bits cleared) by the constructors and the reconciler.
    pub dst: IpNet,
    pub target: RouteTarget,
}

/// A route that cannot be programmed as given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRoute {
    #[error("route {0}: the gateway is not of the destination's address family")]
    GatewayFamily(Route),
    #[error("route {0}: onlink needs a device")]
    OnlinkWithoutDevice(Route),
    #[error("route {0}: empty interface name")]
    EmptyInterface(Route),
}

impl Route {
    /// A route to `dst` with `target` (host bits of `dst` cleared).
    pub fn new(dst: IpNet, target: RouteTarget) -> Route {
        Route {
            dst: dst.trunc(),
            target,
        }
    }

    /// The `/32` or `/128` route of a local workload address through its interface.
    pub fn workload(ip: IpAddr, iface: impl Into<String>) -> Route {
        Route::new(IpNet::from(ip), RouteTarget::Interface(iface.into()))
    }

    /// A route through a next hop on a connected subnet.
    pub fn via(dst: IpNet, gateway: IpAddr) -> Route {
        Route::new(
            dst,
            RouteTarget::Gateway {
                via: gateway,
                dev: None,
                onlink: false,
            },
        )
    }

    /// A route through a next hop out of `dev`; `onlink` when the next hop is not on a
    /// connected subnet of `dev` (IPIP: `via <node> dev tunl0 onlink`).
    pub fn via_dev(dst: IpNet, gateway: IpAddr, dev: impl Into<String>, onlink: bool) -> Route {
        Route::new(
            dst,
            RouteTarget::Gateway {
                via: gateway,
                dev: Some(dev.into()),
                onlink,
            },
        )
    }

    /// A blackhole route.
    pub fn blackhole(dst: IpNet) -> Route {
        Route::new(dst, RouteTarget::Blackhole)
    }

    /// The interface the route names, if any.
    pub fn interface(&self) -> Option<&str> {
        match &self.target {
            RouteTarget::Interface(dev) => Some(dev),
            RouteTarget::Gateway { dev, .. } => dev.as_deref(),
            RouteTarget::Blackhole => None,
        }
    }

    /// Checks what the kernel would refuse for a reason that retrying cannot fix.
    pub fn validate(&self) -> Result<(), InvalidRoute> {
        match &self.target {
            RouteTarget::Interface(dev) if dev.is_empty() => {
                Err(InvalidRoute::EmptyInterface(self.clone()))
            }
            RouteTarget::Gateway { via, dev, onlink } => {
                if via.is_ipv4() != matches!(self.dst, IpNet::V4(_)) {
                    Err(InvalidRoute::GatewayFamily(self.clone()))
                } else if *onlink && dev.is_none() {
                    Err(InvalidRoute::OnlinkWithoutDevice(self.clone()))
                } else if dev.as_deref() == Some("") {
                    Err(InvalidRoute::EmptyInterface(self.clone()))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// The route as the kernel will hold it once added with `protocol`, going out of
    /// interface index `oif` (resolved by the caller from the route's interface name).
    pub fn to_kernel(&self, protocol: u8, oif: Option<u32>) -> KernelRoute {
        let (kind, scope, gateway, onlink) = match &self.target {
            RouteTarget::Interface(_) => (RouteKind::Unicast, scope_link(&self.dst), None, false),
            RouteTarget::Gateway { via, onlink, .. } => {
                (RouteKind::Unicast, scope::UNIVERSE, Some(*via), *onlink)
            }
            RouteTarget::Blackhole => (RouteKind::Blackhole, scope::UNIVERSE, None, false),
        };
        KernelRoute {
            dst: self.dst,
            table: RT_TABLE_MAIN,
            protocol,
            scope,
            kind,
            tos: 0,
            metric: default_metric(&self.dst),
            oif: if kind == RouteKind::Blackhole {
                None
            } else {
                oif
            },
            dev: if kind == RouteKind::Blackhole {
                None
            } else {
                self.interface().map(str::to_owned)
            },
            gateway,
            onlink,
            multipath: false,
        }
    }

    /// Whether the kernel route `k` is this route: same destination, type, scope, next hop
    /// and interface. Fields the kernel fills in by itself (the device of a gateway route that
    /// names none, the device of an IPv6 blackhole) are not compared. Protocol and metric are
    /// the caller's business.
    pub fn is_satisfied_by(&self, k: &KernelRoute) -> bool {
        if k.dst != self.dst || k.multipath || k.tos != 0 {
            return false;
        }
        match &self.target {
            RouteTarget::Interface(dev) => {
                k.kind == RouteKind::Unicast
                    && k.scope == scope_link(&self.dst)
                    && k.gateway.is_none()
                    && k.dev.as_deref() == Some(dev.as_str())
            }
            RouteTarget::Gateway { via, dev, onlink } => {
                k.kind == RouteKind::Unicast
                    && k.scope == scope::UNIVERSE
                    && k.gateway == Some(*via)
                    && k.onlink == *onlink
                    && dev.as_deref().is_none_or(|d| k.dev.as_deref() == Some(d))
            }
            RouteTarget::Blackhole => k.kind == RouteKind::Blackhole,
        }
    }
}

/// The scope of a route straight out of an interface: link for IPv4; IPv6 routes are always
/// reported with scope universe.
fn scope_link(dst: &IpNet) -> u8 {
    match dst {
        IpNet::V4(_) => scope::LINK,
        IpNet::V6(_) => scope::UNIVERSE,
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            RouteTarget::Interface(dev) => write!(f, "{} dev {dev} scope link", self.dst),
            RouteTarget::Gateway { via, dev, onlink } => {
                write!(f, "{} via {via}", self.dst)?;
                if let Some(dev) = dev {
                    write!(f, " dev {dev}")?;
                }
                if *onlink {
                    write!(f, " onlink")?;
                }
                Ok(())
            }
            RouteTarget::Blackhole => write!(f, "blackhole {}", self.dst),
        }
    }
}

/// A route type (`RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteKind {
    Unicast,
    Local,
    Broadcast,
    Blackhole,
    Unreachable,
    Prohibit,
    Other(u8),
}

impl RouteKind {
    pub fn from_rtn(v: u8) -> RouteKind {
        match v {
            1 => RouteKind::Unicast,
            2 => RouteKind::Local,
            3 => RouteKind::Broadcast,
            6 => RouteKind::Blackhole,
            7 => RouteKind::Unreachable,
            8 => RouteKind::Prohibit,
            v => RouteKind::Other(v),
        }
    }

    pub fn to_rtn(self) -> u8 {
        match self {
            RouteKind::Unicast => 1,
            RouteKind::Local => 2,
            RouteKind::Broadcast => 3,
            RouteKind::Blackhole => 6,
            RouteKind::Unreachable => 7,
            RouteKind::Prohibit => 8,
            RouteKind::Other(v) => v,
        }
    }
}

/// One route of a kernel routing table, ours or anybody's, as a route dump reports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KernelRoute {
    pub dst: IpNet,
    pub table: u32,
    pub protocol: u8,
    pub scope: u8,
    pub kind: RouteKind,
    pub tos: u8,
    /// The priority (`metric` in `ip route`).
    pub metric: u32,
    /// The output interface index.
    pub oif: Option<u32>,
    /// The output interface name (resolved from `oif` by the reader).
    pub dev: Option<String>,
    pub gateway: Option<IpAddr>,
    pub onlink: bool,
    /// An ECMP route (several next hops; `oif`/`gateway` are then unset).
    pub multipath: bool,
}

impl KernelRoute {
    /// Whether this route sits in the slot a route to `dst` added without a metric takes
    /// (same destination, TOS 0, the family's default metric): another route there makes an
    /// add fail with EEXIST, and a replace overwrites it.
    pub fn in_default_slot(&self) -> bool {
        self.tos == 0 && self.metric == default_metric(&self.dst)
    }
}

impl fmt::Display for KernelRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RouteKind::Unicast => {}
            RouteKind::Blackhole => write!(f, "blackhole ")?,
            RouteKind::Unreachable => write!(f, "unreachable ")?,
            RouteKind::Prohibit => write!(f, "prohibit ")?,
            RouteKind::Local => write!(f, "local ")?,
            RouteKind::Broadcast => write!(f, "broadcast ")?,
            RouteKind::Other(v) => write!(f, "type{v} ")?,
        }
        write!(f, "{}", self.dst)?;
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        match (&self.dev, self.oif) {
            (Some(dev), _) => write!(f, " dev {dev}")?,
            (None, Some(i)) => write!(f, " dev if{i}")?,
            (None, None) => {}
        }
        if self.multipath {
            write!(f, " multipath")?;
        }
        if self.table != RT_TABLE_MAIN {
            write!(f, " table {}", self.table)?;
        }
        write!(f, " proto {}", self.protocol)?;
        if self.scope == scope::LINK {
            write!(f, " scope link")?;
        } else if self.scope != scope::UNIVERSE {
            write!(f, " scope {}", self.scope)?;
        }
        if self.metric != 0 {
            write!(f, " metric {}", self.metric)?;
        }
        if self.onlink {
            write!(f, " onlink")?;
        }
        Ok(())
    }
}

/// Interfaces by name, with their indexes: how route interface names become `RTA_OIF`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Links {
    by_name: BTreeMap<String, u32>,
}

impl Links {
    pub fn new() -> Links {
        Links::default()
    }

    /// The index of interface `name`.
    pub fn index(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The name of interface `index` (a linear search: links are few).
    pub fn name(&self, index: u32) -> Option<&str> {
        self.by_name
            .iter()
            .find(|(_, i)| **i == index)
            .map(|(n, _)| n.as_str())
    }

    pub fn insert(&mut self, name: impl Into<String>, index: u32) {
        self.by_name.insert(name.into(), index);
    }

    pub fn remove(&mut self, name: &str) -> Option<u32> {
        self.by_name.remove(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.by_name.iter().map(|(n, i)| (n.as_str(), *i))
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Index → name, for resolving many routes.
    pub fn names_by_index(&self) -> BTreeMap<u32, &str> {
        self.by_name.iter().map(|(n, i)| (*i, n.as_str())).collect()
    }
}

impl FromIterator<(String, u32)> for Links {
    fn from_iter<I: IntoIterator<Item = (String, u32)>>(iter: I) -> Self {
        Links {
            by_name: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_route_becomes_a_scope_link_route_of_our_protocol() {
        let r = Route::workload("10.65.0.2".parse().unwrap(), "cali1");
        assert_eq!(r.to_string(), "10.65.0.2/32 dev cali1 scope link");
        let k = r.to_kernel(80, Some(7));
        assert_eq!(
            (k.scope, k.kind, k.metric, k.oif, k.protocol),
            (scope::LINK, RouteKind::Unicast, 0, Some(7), 80)
        );
        assert!(r.is_satisfied_by(&k));
        assert_eq!(k.to_string(), "10.65.0.2/32 dev cali1 proto 80 scope link");
    }

    #[test]
    fn ipv6_routes_take_metric_1024_and_scope_universe() {
        let r = Route::workload("fd00::2".parse().unwrap(), "cali1");
        let k = r.to_kernel(80, Some(7));
        assert_eq!((k.scope, k.metric), (scope::UNIVERSE, 1024));
        assert!(k.in_default_slot());
    }

    #[test]
    fn gateway_route_without_device_accepts_the_device_the_kernel_chose() {
        let r = Route::via(
            "10.66.0.0/26".parse().unwrap(),
            "192.168.1.2".parse().unwrap(),
        );
        let mut k = r.to_kernel(80, None);
        k.dev = Some("eth0".into());
        k.oif = Some(3);
        assert!(r.is_satisfied_by(&k));
        let pinned = Route::via_dev(r.dst, "192.168.1.2".parse().unwrap(), "tunl0", true);
        assert!(!pinned.is_satisfied_by(&k));
    }

    #[test]
    fn a_different_interface_does_not_satisfy_a_workload_route() {
        let r = Route::workload("10.65.0.2".parse().unwrap(), "cali1");
        let mut k = r.to_kernel(80, Some(7));
        k.dev = Some("cali2".into());
        assert!(!r.is_satisfied_by(&k));
    }

    #[test]
    fn host_bits_are_cleared_and_bad_gateways_rejected() {
        let r = Route::blackhole("10.65.0.7/26".parse().unwrap());
        assert_eq!(r.dst.to_string(), "10.65.0.0/26");
        let bad = Route::via("10.66.0.0/26".parse().unwrap(), "fd00::1".parse().unwrap());
        assert!(matches!(
            bad.validate(),
            Err(InvalidRoute::GatewayFamily(_))
        ));
        let onlink = Route::new(
            "10.66.0.0/26".parse().unwrap(),
            RouteTarget::Gateway {
                via: "1.2.3.4".parse().unwrap(),
                dev: None,
                onlink: true,
            },
        );
        assert!(onlink.validate().is_err());
    }
}
