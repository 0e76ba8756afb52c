//! [`KernelLinks`]: the kernel backend of the interface reconciler, in one network namespace:
//! sysctls read and written under `/proc/sys/net` from a thread inside the namespace, links
//! and neighbours over the crate's netlink socket opened inside it ([`crate::netlink`]).
//!
//! Blocking, as every kernel backend of the crate: a sysctl is a file write and a netlink op
//! one syscall pair, both microseconds; an async caller runs `sync` on a blocking thread
//! (see the crate docs).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use nix::errno::Errno;

use super::backend::LinkBackend;
use super::error::LinkError;
use super::mac::Mac;
use super::observed::{Observation, ObservedInterface, ObservedNeighbour};
use super::ops::{Op, OpError, OpFailure};
use super::sysctl::Sysctl;
use crate::netlink::{LinkInfo, NetlinkSocket};
use crate::netns::NetnsRef;

const ENOENT: i32 = 2;

/// Workload interfaces in the kernel of one namespace.
#[derive(Debug)]
pub struct KernelLinks {
    netns: NetnsRef,
    socket: Option<NetlinkSocket>,
}

/// Sysctls of one interface as read inside the namespace.
struct SysctlRead {
    ipv4: bool,
    ipv6: bool,
    values: BTreeMap<Sysctl, i32>,
}

impl KernelLinks {
    pub fn new(netns: NetnsRef) -> KernelLinks {
        KernelLinks {
            netns,
            socket: None,
        }
    }

    /// `net.ipv4.conf.default.rp_filter` of the namespace: the value Felix gives workload
    /// interfaces.
    pub fn default_rp_filter(&self) -> Result<u8, LinkError> {
        let path = "/proc/sys/net/ipv4/conf/default/rp_filter";
        let text = self
            .netns
            .read_file(path)
            .map_err(|e| LinkError::io(path, e))?;
        text.trim().parse().map_err(|_| {
            LinkError::io(
                path,
                io::Error::new(io::ErrorKind::InvalidData, format!("value {text:?}")),
            )
        })
    }

    fn socket(&mut self) -> Result<&mut NetlinkSocket, LinkError> {
        if self.socket.is_none() {
            self.socket = Some(NetlinkSocket::open(&self.netns)?);
        }
        self.socket
            .as_mut()
            .ok_or_else(|| LinkError::io("rtnetlink socket", io::Error::other("not open")))
    }

    fn read_interfaces(
        &mut self,
        names: &BTreeSet<String>,
    ) -> Result<(BTreeMap<String, LinkInfo>, NeighbourTable), LinkError> {
        let sock = self.socket()?;
        let mut links = BTreeMap::new();
        for name in names {
            if let Some(info) = sock.link_by_name(name)? {
                links.insert(name.clone(), info);
            }
        }
        let mut neighbours = NeighbourTable::new();
        if !links.is_empty() {
            let indexes: BTreeSet<u32> = links.values().map(|l| l.index).collect();
            for ipv6 in [false, true] {
                for n in sock.neighbours(ipv6)? {
                    if indexes.contains(&n.index) {
                        let entry = ObservedNeighbour {
                            mac: n.mac.map(Mac),
                            permanent: n.permanent,
                        };
                        neighbours.entry(n.index).or_default().insert(n.ip, entry);
                    }
                }
            }
        }
        Ok((links, neighbours))
    }

    fn read_sysctls(&self, names: Vec<String>) -> Result<Vec<SysctlRead>, LinkError> {
        self.netns
            .run(move || {
                Ok(names
                    .iter()
                    .map(|name| {
                        let ipv4 = Path::new(&format!("/proc/sys/net/ipv4/conf/{name}")).is_dir();
                        let ipv6 = Path::new(&format!("/proc/sys/net/ipv6/conf/{name}")).is_dir();
                        let values = Sysctl::ALL
                            .into_iter()
                            .filter(|s| ipv6 || !s.is_ipv6())
                            .filter_map(|s| {
                                let text = std::fs::read_to_string(s.path(name)).ok()?;
                                Some((s, text.trim().parse().ok()?))
                            })
                            .collect();
                        SysctlRead { ipv4, ipv6, values }
                    })
                    .collect())
            })
            .map_err(|e| LinkError::io(format!("reading sysctls in {:?}", self.netns), e))
    }

    /// Writes the sysctl ops (in order) from one thread inside the namespace.
    fn write_sysctls(&self, ops: &[&Op]) -> Vec<Result<(), OpFailure>> {
        let writes: Vec<(String, String, String)> = ops
            .iter()
            .filter_map(|op| match op {
                Op::SetSysctl {
                    interface,
                    sysctl,
                    value,
                } => Some((interface.clone(), sysctl.path(interface), value.to_string())),
                _ => None,
            })
            .collect();
        let n = writes.len();
        let result = self.netns.run(move || {
            Ok(writes
                .iter()
                .map(|(iface, path, value)| match std::fs::write(path, value) {
                    Ok(()) => Ok(()),
                    Err(e) if e.raw_os_error() == Some(ENOENT) => {
                        if Path::new(&format!("/proc/sys/net/ipv4/conf/{iface}")).is_dir() {
                            Err(OpFailure::Kernel(format!("{path}: {e}")))
                        } else {
                            Err(OpFailure::NoSuchInterface(iface.clone()))
                        }
                    }
                    Err(e) => Err(OpFailure::Kernel(format!("{path}: {e}"))),
                })
                .collect::<Vec<_>>())
        });
        match result {
            Ok(r) => r,
            Err(e) => vec![Err(OpFailure::Kernel(format!("entering namespace: {e}"))); n],
        }
    }

    fn apply_netlink(&mut self, op: &Op, index: &mut IndexCache) -> Result<(), OpFailure> {
        let name = op.interface();
        let sock = self
            .socket()
            .map_err(|e| OpFailure::Kernel(e.to_string()))?;
        let idx = match index.get(name) {
            Some(i) => *i,
            None => {
                let i = sock
                    .link_by_name(name)
                    .map_err(|e| OpFailure::Kernel(e.to_string()))?
                    .map(|l| l.index);
                index.insert(name.to_owned(), i);
                i
            }
        };
        let Some(idx) = idx else {
            return Err(OpFailure::NoSuchInterface(name.to_owned()));
        };
        let result = match op {
            Op::SetUp { .. } => sock.set_link_up(idx),
            Op::SetNeighbour { ip, mac, .. } => {
                sock.set_permanent_neighbour(idx, *ip, mac.octets())
            }
            Op::DeleteNeighbour { ip, .. } => match sock.delete_neighbour(idx, *ip) {
                Err(e) if e.errno() == Some(Errno::ENOENT) => Ok(()),
                r => r,
            },
            Op::SetSysctl { .. } => Ok(()),
        };
        result.map_err(|e| match e.errno() {
            Some(Errno::ENODEV) => {
                index.insert(name.to_owned(), None);
                OpFailure::NoSuchInterface(name.to_owned())
            }
            _ => OpFailure::Kernel(e.to_string()),
        })
    }
}

type NeighbourTable = BTreeMap<u32, BTreeMap<std::net::IpAddr, ObservedNeighbour>>;
type IndexCache = BTreeMap<String, Option<u32>>;

impl LinkBackend for KernelLinks {
    fn read(&mut self, names: &BTreeSet<String>) -> Result<Observation, LinkError> {
        let mut out: Observation = names.iter().map(|n| (n.clone(), None)).collect();
        if names.is_empty() {
            return Ok(out);
        }
        let (links, mut neighbours) = match self.read_interfaces(names) {
            Ok(r) => r,
            Err(e) => {
                // Reopen the socket next time: it may be what failed.
                self.socket = None;
                return Err(e);
            }
        };
        let present: Vec<String> = links.keys().cloned().collect();
        let sysctls = self.read_sysctls(present.clone())?;
        for (name, s) in present.into_iter().zip(sysctls) {
            let Some(link) = links.get(&name) else {
                continue;
            };
            if !s.ipv4 {
                // Vanished between the netlink read and the sysctl read.
                continue;
            }
            out.insert(
                name,
                Some(ObservedInterface {
                    up: link.up,
                    ipv6: s.ipv6,
                    sysctls: s.values,
                    neighbours: neighbours.remove(&link.index).unwrap_or_default(),
                }),
            );
        }
        Ok(out)
    }

    fn apply(&mut self, ops: &[Op]) -> Vec<OpError> {
        let sysctl_ops: Vec<&Op> = ops
            .iter()
            .filter(|op| matches!(op, Op::SetSysctl { .. }))
            .collect();
        let mut failures = Vec::new();
        if !sysctl_ops.is_empty() {
            let results = self.write_sysctls(&sysctl_ops);
            for (op, r) in sysctl_ops.iter().zip(results) {
                if let Err(cause) = r {
                    failures.push(OpError {
                        op: (*op).clone(),
                        cause,
                    });
                }
            }
        }
        let mut index = IndexCache::new();
        for op in ops.iter().filter(|op| !matches!(op, Op::SetSysctl { .. })) {
            if let Err(cause) = self.apply_netlink(op, &mut index) {
                failures.push(OpError {
                    op: op.clone(),
                    cause,
                });
            }
        }
        failures
    }
}
