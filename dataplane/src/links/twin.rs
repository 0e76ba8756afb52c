//! The in-memory twin of the kernel's workload interfaces: interfaces with their link state,
//! sysctls and neighbour tables, changed by the same [`Op`]s as the kernel and answering
//! what the kernel answers (`ENODEV` for a missing interface, no IPv6 sysctls or neighbours
//! without IPv6). It needs no root; the simulation and the property tests use it, and a
//! kernel test checks that both report the same state after the same ops.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::backend::LinkBackend;
use super::error::LinkError;
use super::mac::Mac;
use super::observed::{Observation, ObservedInterface, ObservedNeighbour};
use super::ops::{Op, OpError, OpFailure};
use super::sysctl::Sysctl;

/// Interfaces in memory, by name.
#[derive(Clone, Debug, Default)]
pub struct LinkTwin {
    interfaces: BTreeMap<String, ObservedInterface>,
    /// Ops applied so far (failed ones included), for tests.
    applied: usize,
}

impl LinkTwin {
    pub fn new() -> LinkTwin {
        LinkTwin::default()
    }

    /// A new interface as the kernel creates it in a fresh namespace: down, with IPv6, the
    /// default sysctl values, no neighbours. Replaces an interface of that name.
    pub fn add_interface(&mut self, name: &str) {
        self.interfaces.insert(
            name.to_owned(),
            ObservedInterface {
                up: false,
                ipv6: true,
                sysctls: Sysctl::ALL
                    .into_iter()
                    .map(|s| (s, s.linux_default()))
                    .collect(),
                neighbours: BTreeMap::new(),
            },
        );
    }

    /// An interface in a given state (sysctls without IPv6 are dropped if `ipv6` is false).
    pub fn insert_interface(&mut self, name: &str, mut state: ObservedInterface) {
        if !state.ipv6 {
            state.sysctls.retain(|s, _| !s.is_ipv6());
            state.neighbours.retain(|ip, _| ip.is_ipv4());
        }
        self.interfaces.insert(name.to_owned(), state);
    }

    /// Deletes an interface (its neighbours go with it). Returns whether it existed.
    pub fn remove_interface(&mut self, name: &str) -> bool {
        self.interfaces.remove(name).is_some()
    }

    /// One interface, if it exists.
    pub fn interface(&self, name: &str) -> Option<&ObservedInterface> {
        self.interfaces.get(name)
    }

    /// One interface, to change behind the reconciler's back (drift).
    pub fn interface_mut(&mut self, name: &str) -> Option<&mut ObservedInterface> {
        self.interfaces.get_mut(name)
    }

    /// Adds a learnt (non-permanent) neighbour, as the kernel does from ARP/NDP traffic.
    pub fn learn_neighbour(&mut self, name: &str, ip: IpAddr, mac: Mac) -> bool {
        match self.interfaces.get_mut(name) {
            Some(i) if ip.is_ipv4() || i.ipv6 => {
                i.neighbours
                    .insert(ip, ObservedNeighbour::learnt(Some(mac)));
                true
            }
            _ => false,
        }
    }

    /// Names of all interfaces.
    pub fn names(&self) -> BTreeSet<String> {
        self.interfaces.keys().cloned().collect()
    }

    /// Ops applied so far.
    pub fn applied_ops(&self) -> usize {
        self.applied
    }

    fn apply_one(&mut self, op: &Op) -> Result<(), OpFailure> {
        let name = op.interface();
        let Some(i) = self.interfaces.get_mut(name) else {
            return Err(OpFailure::NoSuchInterface(name.to_owned()));
        };
        let no_ipv6 = || OpFailure::Kernel("IPv6 is not available on the interface".to_owned());
        match op {
            Op::SetSysctl { sysctl, value, .. } => {
                if sysctl.is_ipv6() && !i.ipv6 {
                    return Err(no_ipv6());
                }
                i.sysctls.insert(*sysctl, *value);
            }
            Op::SetUp { .. } => i.up = true,
            Op::SetNeighbour { ip, mac, .. } => {
                if ip.is_ipv6() && !i.ipv6 {
                    return Err(no_ipv6());
                }
                i.neighbours.insert(*ip, ObservedNeighbour::permanent(*mac));
            }
            Op::DeleteNeighbour { ip, .. } => {
                i.neighbours.remove(ip);
            }
        }
        Ok(())
    }
}

impl LinkBackend for LinkTwin {
    fn read(&mut self, names: &BTreeSet<String>) -> Result<Observation, LinkError> {
        Ok(names
            .iter()
            .map(|n| (n.clone(), self.interfaces.get(n).cloned()))
            .collect())
    }

    fn apply(&mut self, ops: &[Op]) -> Vec<OpError> {
        let mut failures = Vec::new();
        for op in ops {
            self.applied += 1;
            if let Err(cause) = self.apply_one(op) {
                failures.push(OpError {
                    op: op.clone(),
                    cause,
                });
            }
        }
        failures
    }
}
