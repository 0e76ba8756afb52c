//! Changes to workload interfaces as data, the errors applying them can give, and the pure
//! diff from (desired, observed) to the changes.
//!
//! Ownership: only `NUD_PERMANENT` neighbours on interfaces in the desired (or just removed)
//! set are changed or deleted; learnt entries and other interfaces are never touched. On a
//! desired interface the permanent entries are exactly workload address → workload MAC.

use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

use super::desired::InterfaceConfig;
use super::mac::Mac;
use super::observed::ObservedInterface;
use super::sysctl::Sysctl;

/// One change to one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Writes a sysctl of the interface.
    SetSysctl {
        interface: String,
        sysctl: Sysctl,
        value: i32,
    },
    /// Brings the interface up (`ip link set <if> up`).
    SetUp { interface: String },
    /// Adds or replaces a permanent neighbour entry (`ip neigh replace <ip> lladdr <mac> dev
    /// <if> nud permanent`).
    SetNeighbour {
        interface: String,
        ip: IpAddr,
        mac: Mac,
    },
    /// Deletes the neighbour entry for `ip` (an absent entry counts as deleted).
    DeleteNeighbour { interface: String, ip: IpAddr },
}

impl Op {
    /// The interface the op changes.
    pub fn interface(&self) -> &str {
        match self {
            Op::SetSysctl { interface, .. }
            | Op::SetUp { interface }
            | Op::SetNeighbour { interface, .. }
            | Op::DeleteNeighbour { interface, .. } => interface,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::SetSysctl {
                interface,
                sysctl,
                value,
            } => write!(f, "set {}={value}", sysctl.name(interface)),
            Op::SetUp { interface } => write!(f, "set link {interface} up"),
            Op::SetNeighbour { interface, ip, mac } => {
                write!(
                    f,
                    "add permanent neighbour {ip} lladdr {mac} dev {interface}"
                )
            }
            Op::DeleteNeighbour { interface, ip } => {
                write!(f, "delete neighbour {ip} dev {interface}")
            }
        }
    }
}

/// Why an op failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OpFailure {
    /// The interface does not exist (netlink `ENODEV`, sysctl file missing): it vanished,
    /// or has not appeared yet.
    #[error("interface {0} does not exist")]
    NoSuchInterface(String),
    /// The kernel refused the op.
    #[error("{0}")]
    Kernel(String),
}

/// An op that failed, and why.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{op}: {cause}")]
pub struct OpError {
    pub op: Op,
    pub cause: OpFailure,
}

impl OpError {
    /// The interface of the failed op.
    pub fn interface(&self) -> &str {
        self.op.interface()
    }

    /// Whether the interface was missing.
    pub fn is_no_such_interface(&self) -> bool {
        matches!(self.cause, OpFailure::NoSuchInterface(_))
    }
}

/// The ops that take `have` to `want`, in order: sysctls, link up, stale permanent neighbours
/// deleted, neighbours added or corrected.
pub fn diff(want: &InterfaceConfig, have: &ObservedInterface) -> Vec<Op> {
    let iface = || want.name.clone();
    let mut ops = Vec::new();
    for (sysctl, value) in want.sysctls(have.ipv6) {
        if have.sysctls.get(&sysctl) != Some(&value) {
            ops.push(Op::SetSysctl {
                interface: iface(),
                sysctl,
                value,
            });
        }
    }
    if !have.up {
        ops.push(Op::SetUp { interface: iface() });
    }
    let wanted = want.neighbours(have.ipv6);
    for (ip, n) in &have.neighbours {
        // Every other permanent entry is stale: for an address the workload no longer has,
        // or any while the MAC is unknown (so the end state never depends on history).
        if n.permanent && !wanted.contains_key(ip) {
            ops.push(Op::DeleteNeighbour {
                interface: iface(),
                ip: *ip,
            });
        }
    }
    for (ip, mac) in wanted {
        let ok = have
            .neighbours
            .get(&ip)
            .is_some_and(|n| n.permanent && n.mac == Some(mac));
        if !ok {
            ops.push(Op::SetNeighbour {
                interface: iface(),
                ip,
                mac,
            });
        }
    }
    ops
}

/// The ops that clean an interface no longer desired: its permanent neighbours go (sysctls
/// and link state are left; the interface is normally about to be deleted).
pub fn cleanup(name: &str, have: &ObservedInterface) -> Vec<Op> {
    have.neighbours
        .iter()
        .filter(|(_, n)| n.permanent)
        .map(|(ip, _)| Op::DeleteNeighbour {
            interface: name.to_owned(),
            ip: *ip,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::links::observed::ObservedNeighbour;

    fn mac(b: u8) -> Mac {
        Mac([2, 0, 0, 0, 0, b])
    }

    fn configured(want: &InterfaceConfig, ipv6: bool) -> ObservedInterface {
        ObservedInterface {
            up: true,
            ipv6,
            sysctls: want.sysctls(ipv6).into_iter().collect(),
            neighbours: want
                .neighbours(ipv6)
                .into_iter()
                .map(|(ip, m)| (ip, ObservedNeighbour::permanent(m)))
                .collect(),
        }
    }

    #[test]
    fn configured_interface_needs_nothing() {
        let want = InterfaceConfig::new("cali1")
            .with_addresses(["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()])
            .with_mac(mac(1));
        assert!(diff(&want, &configured(&want, true)).is_empty());
        assert!(diff(&want, &configured(&want, false)).is_empty());
    }

    #[test]
    fn new_interface_gets_sysctls_up_and_neighbours_in_order() {
        let want = InterfaceConfig::new("cali1")
            .with_addresses(["10.0.0.1".parse().unwrap()])
            .with_mac(mac(1));
        let have = ObservedInterface {
            ipv6: true,
            ..Default::default()
        };
        let ops = diff(&want, &have);
        assert_eq!(ops.len(), 8 + 1 + 1);
        assert!(matches!(ops[8], Op::SetUp { .. }));
        assert!(matches!(ops[9], Op::SetNeighbour { .. }));
        assert_eq!(
            ops[2].to_string(),
            "set net.ipv4.conf.cali1.proxy_arp=1",
            "{ops:?}"
        );
    }

    #[test]
    fn ipv6_sysctls_and_neighbours_skipped_without_ipv6() {
        let want = InterfaceConfig::new("cali1")
            .with_addresses(["fd00::1".parse().unwrap()])
            .with_mac(mac(1));
        let ops = diff(&want, &ObservedInterface::default());
        assert!(ops.iter().all(|op| match op {
            Op::SetSysctl { sysctl, .. } => !sysctl.is_ipv6(),
            Op::SetNeighbour { .. } => false,
            _ => true,
        }));
    }

    #[test]
    fn stale_permanent_neighbours_go_learnt_ones_stay() {
        let want = InterfaceConfig::new("cali1")
            .with_addresses(["10.0.0.1".parse().unwrap()])
            .with_mac(mac(1));
        let mut have = configured(&want, true);
        have.neighbours.insert(
            "10.0.0.9".parse().unwrap(),
            ObservedNeighbour::permanent(mac(9)),
        );
        have.neighbours.insert(
            "10.0.0.8".parse().unwrap(),
            ObservedNeighbour::learnt(Some(mac(8))),
        );
        assert_eq!(
            diff(&want, &have),
            vec![Op::DeleteNeighbour {
                interface: "cali1".into(),
                ip: "10.0.0.9".parse().unwrap()
            }]
        );
    }

    #[test]
    fn wrong_mac_or_learnt_entry_for_workload_ip_is_replaced() {
        let want = InterfaceConfig::new("cali1")
            .with_addresses(["10.0.0.1".parse().unwrap()])
            .with_mac(mac(1));
        for n in [
            ObservedNeighbour::permanent(mac(2)),
            ObservedNeighbour::learnt(Some(mac(1))),
        ] {
            let mut have = configured(&want, true);
            have.neighbours.insert("10.0.0.1".parse().unwrap(), n);
            assert_eq!(
                diff(&want, &have),
                vec![Op::SetNeighbour {
                    interface: "cali1".into(),
                    ip: "10.0.0.1".parse().unwrap(),
                    mac: mac(1)
                }]
            );
        }
    }

    #[test]
    fn unknown_mac_leaves_no_permanent_entries() {
        let want = InterfaceConfig::new("cali1").with_addresses(["10.0.0.1".parse().unwrap()]);
        let mut have = configured(&want, true);
        have.neighbours.insert(
            "10.0.0.1".parse().unwrap(),
            ObservedNeighbour::permanent(mac(7)),
        );
        assert_eq!(
            diff(&want, &have),
            vec![Op::DeleteNeighbour {
                interface: "cali1".into(),
                ip: "10.0.0.1".parse().unwrap()
            }]
        );
    }
}
