//! Which address of this host is its node address, as calico/node chooses it
//! (`IP_AUTODETECTION_METHOD`, `IP6_AUTODETECTION_METHOD`; Calico's
//! `node/pkg/lifecycle/startup/autodetection`):
//!
//! - `first-found` (the default): the first global address of the family on the first
//!   interface, in interface order, that is not one of Calico's excluded names (Docker, CNI,
//!   Calico's own and tunnel devices, loopback, `kube-ipvs*`, ...);
//! - `can-reach=DEST`: the address the kernel would send from to reach DEST (an IP or a name);
//! - `interface=REGEX[,REGEX...]`: the first address on the first interface whose name matches
//!   one of the regular expressions;
//! - `skip-interface=REGEX[,REGEX...]`: like `first-found`, also skipping the interfaces that
//!   match;
//! - `cidr=CIDR[,CIDR...]`: the first address inside one of the CIDRs.
//!
//! Pure: the interfaces and "how would the kernel reach DEST" are passed in, so the choice is
//! tested without a kernel; the binary reads them from netlink and a connected UDP socket.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

/// Interfaces `first-found` never picks (Calico's `DEFAULT_INTERFACES_TO_EXCLUDE`).
pub const EXCLUDED_INTERFACES: &[&str] = &[
    "^docker.*",
    "^cbr.*",
    "^dummy.*",
    "^virbr.*",
    "^lxcbr.*",
    "^veth.*",
    "^lo$",
    "^cali.*",
    "^tunl.*",
    "^flannel.*",
    "^kube-ipvs.*",
    "^cni.*",
    "^vxlan.calico.*",
    "^vxlan-v6.calico.*",
    "^wireguard.cali.*",
    "^wg-v6.cali.*",
    "^nodelocaldns.*",
];

/// An interface as autodetection sees it: its name and addresses (with prefix length), in
/// the kernel's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub addresses: Vec<IpNet>,
}

/// The IP family an address is wanted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn has(self, a: &IpAddr) -> bool {
        matches!(
            (self, a),
            (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
        )
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// How to choose the node address.
#[derive(Clone, Debug)]
pub enum Method {
    FirstFound,
    CanReach(String),
    Interface(Vec<Regex>),
    SkipInterface(Vec<Regex>),
    Cidr(Vec<IpNet>),
}

impl PartialEq for Method {
    fn eq(&self, other: &Self) -> bool {
        let patterns = |v: &[Regex]| v.iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>();
        match (self, other) {
            (Method::FirstFound, Method::FirstFound) => true,
            (Method::CanReach(a), Method::CanReach(b)) => a == b,
            (Method::Interface(a), Method::Interface(b))
            | (Method::SkipInterface(a), Method::SkipInterface(b)) => patterns(a) == patterns(b),
            (Method::Cidr(a), Method::Cidr(b)) => a == b,
            _ => false,
        }
    }
}

/// A method setting that does not parse; the message names the setting and the part at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct BadMethod {
    pub setting: String,
    pub problem: String,
}

impl Method {
    /// Parses a method as calico/node takes it (`first-found`, `can-reach=DEST`,
    /// `interface=REGEX,...`, `skip-interface=REGEX,...`, `cidr=CIDR,...`). `setting` names
    /// the variable for errors.
    pub fn parse(setting: &str, text: &str) -> Result<Method, BadMethod> {
        let bad = |problem: String| BadMethod {
            setting: format!("{setting}={text:?}"),
            problem,
        };
        let text = text.trim();
        let (kind, value) = match text.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (text, ""),
        };
        let list = || -> Vec<&str> {
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        };
        let regexes = || -> Result<Vec<Regex>, BadMethod> {
            let items = list();
            if items.is_empty() {
                return Err(bad(format!(
                    "{kind}= needs at least one regular expression"
                )));
            }
            items
                .into_iter()
                .map(|r| Regex::new(r).map_err(|e| bad(format!("regular expression {r:?}: {e}"))))
                .collect()
        };
        match kind {
            "" | "first-found" if value.is_empty() => Ok(Method::FirstFound),
            "can-reach" if !value.is_empty() => Ok(Method::CanReach(value.to_owned())),
            "can-reach" => Err(bad(
                "can-reach= needs a destination (an IP or a name)".into()
            )),
            "interface" => Ok(Method::Interface(regexes()?)),
            "skip-interface" => Ok(Method::SkipInterface(regexes()?)),
            "cidr" => {
                let items = list();
                if items.is_empty() {
                    return Err(bad("cidr= needs at least one CIDR".into()));
                }
                items
                    .into_iter()
                    .map(|c| {
                        c.parse::<IpNet>()
                            .map(|n| n.trunc())
                            .map_err(|e| bad(format!("CIDR {c:?}: {e}")))
                    })
                    .collect::<Result<_, _>>()
                    .map(Method::Cidr)
            }
            _ => Err(bad(
                "expected first-found, can-reach=DEST, interface=REGEX, skip-interface=REGEX \
                 or cidr=CIDR"
                    .into(),
            )),
        }
    }

    /// The address this method picks for `family` among `interfaces`, or `None`. `reach`
    /// answers `can-reach`: the source address the kernel would use towards a destination.
    pub fn select(
        &self,
        family: Family,
        interfaces: &[Interface],
        reach: &dyn Fn(&str) -> Option<IpAddr>,
    ) -> Option<IpNet> {
        let usable = |n: &&IpNet| family.has(&n.addr()) && is_global(&n.addr());
        let first_on = |pick: &dyn Fn(&Interface) -> bool| {
            interfaces
                .iter()
                .filter(|i| pick(i))
                .find_map(|i| i.addresses.iter().find(usable).copied())
        };
        let excluded = default_exclusions();
        let matches_any = |rs: &[Regex], name: &str| rs.iter().any(|r| r.is_match(name));
        match self {
            Method::FirstFound => first_on(&|i| !matches_any(&excluded, &i.name)),
            Method::SkipInterface(skip) => {
                first_on(&|i| !matches_any(&excluded, &i.name) && !matches_any(skip, &i.name))
            }
            Method::Interface(only) => first_on(&|i| matches_any(only, &i.name)),
            Method::Cidr(cidrs) => interfaces
                .iter()
                .flat_map(|i| i.addresses.iter())
                .filter(usable)
                .find(|n| cidrs.iter().any(|c| c.contains(&n.addr())))
                .copied(),
            Method::CanReach(dest) => {
                let source = reach(dest).filter(|a| family.has(a))?;
                // The address with its prefix length, from the interface that holds it.
                interfaces
                    .iter()
                    .flat_map(|i| i.addresses.iter())
                    .find(|n| n.addr() == source)
                    .copied()
                    .or_else(|| IpNet::new(source, full_length(&source)).ok())
            }
        }
    }
}

fn default_exclusions() -> Vec<Regex> {
    EXCLUDED_INTERFACES
        .iter()
        .filter_map(|r| Regex::new(r).ok())
        .collect()
}

fn full_length(a: &IpAddr) -> u8 {
    match a {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Not loopback, link-local, unspecified or multicast: an address other hosts can reach.
fn is_global(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_multicast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unicast_link_local())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, addrs: &[&str]) -> Interface {
        Interface {
            name: name.to_owned(),
            addresses: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    fn host() -> Vec<Interface> {
        vec![
            iface("lo", &["127.0.0.1/8", "::1/128"]),
            iface("docker0", &["172.17.0.1/16"]),
            iface("kube-ipvs0", &["10.96.0.1/32"]),
            iface("cali1234567890a", &["169.254.1.1/32"]),
            iface("eth0", &["fe80::1/64", "192.0.2.10/24", "2001:db8::10/64"]),
            iface("eth1", &["198.51.100.7/24"]),
        ]
    }

    fn no_route(_: &str) -> Option<IpAddr> {
        None
    }

    fn pick(method: &str, family: Family) -> Option<String> {
        Method::parse("IP_AUTODETECTION_METHOD", method)
            .unwrap()
            .select(family, &host(), &no_route)
            .map(|n| n.to_string())
    }

    #[test]
    fn first_found_skips_docker_kube_ipvs_calico_and_loopback() {
        assert_eq!(
            pick("first-found", Family::V4).as_deref(),
            Some("192.0.2.10/24")
        );
        assert_eq!(pick("", Family::V4).as_deref(), Some("192.0.2.10/24"));
    }

    #[test]
    fn first_found_for_ipv6_skips_link_local_addresses() {
        assert_eq!(
            pick("first-found", Family::V6).as_deref(),
            Some("2001:db8::10/64")
        );
    }

    #[test]
    fn interface_and_skip_interface_take_regular_expressions() {
        assert_eq!(
            pick("interface=eth1", Family::V4).as_deref(),
            Some("198.51.100.7/24")
        );
        assert_eq!(
            pick("interface=wlan.*, eth.*", Family::V4).as_deref(),
            Some("192.0.2.10/24")
        );
        assert_eq!(
            pick("skip-interface=eth0", Family::V4).as_deref(),
            Some("198.51.100.7/24")
        );
        assert_eq!(pick("interface=nothing", Family::V4), None);
    }

    #[test]
    fn cidr_picks_the_first_address_inside_one_of_them() {
        assert_eq!(
            pick("cidr=198.51.100.0/24", Family::V4).as_deref(),
            Some("198.51.100.7/24")
        );
        assert_eq!(
            pick("cidr=10.0.0.0/8,2001:db8::/32", Family::V6).as_deref(),
            Some("2001:db8::10/64")
        );
    }

    #[test]
    fn can_reach_uses_the_kernels_source_address_with_its_prefix_length() {
        let m = Method::parse("IP_AUTODETECTION_METHOD", "can-reach=8.8.8.8").unwrap();
        let reach = |d: &str| (d == "8.8.8.8").then(|| "198.51.100.7".parse().unwrap());
        assert_eq!(
            m.select(Family::V4, &host(), &reach)
                .map(|n| n.to_string())
                .as_deref(),
            Some("198.51.100.7/24")
        );
        assert_eq!(m.select(Family::V6, &host(), &reach), None);
    }

    #[test]
    fn bad_methods_name_the_setting_and_the_fault() {
        let e = Method::parse("IP_AUTODETECTION_METHOD", "interface=(").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("IP_AUTODETECTION_METHOD=\"interface=(\""),
            "{e}"
        );
        assert!(Method::parse("X", "cidr=10.0.0.0/33").is_err());
        assert!(Method::parse("X", "can-reach=").is_err());
        assert!(Method::parse("X", "fastest").is_err());
    }
}
