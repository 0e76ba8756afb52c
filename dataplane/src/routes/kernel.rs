//! [`KernelRoutes`]: the kernel backend — one NETLINK_ROUTE socket ([`NetlinkSocket`]) opened
//! inside a network namespace, blocking, used for dumps and for batches of route operations.
//!
//! A batch is sent in chunks: each chunk is one [`NetlinkSocket::batch`] of many
//! RTM_NEWROUTE/RTM_DELROUTE messages, only the last asking for an ack, so a chunk costs one
//! send and, when nothing fails, one receive; the kernel's errors name the refused
//! operations by sequence number. If errors were dropped anyway (ENOBUFS), or the socket
//! fails, the batch outcome is unknown and [`RouteBackend::apply`] returns `Err`; the
//! reconciler then re-reads the kernel.

use crate::netlink::wire::{
    AF_INET, AF_INET6, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
    RTM_DELROUTE, RTM_NEWROUTE,
};
use crate::netlink::{NetlinkError, NetlinkSocket};
use crate::netns::NetnsRef;

use super::backend::{KernelState, RouteBackend};
use super::op::{OpFailure, RouteOp};
use super::problem::RouteError;
use super::route::{KernelRoute, Links, RT_TABLE_MAIN};
use super::wire;

/// Largest chunk sent at once, in messages.
const MAX_CHUNK_MSGS: usize = 16_384;
/// The longest route request: IPv6 with gateway, priority and table.
const MAX_REQUEST_BYTES: usize = 80;

/// See the module docs.
#[derive(Debug)]
pub struct KernelRoutes {
    socket: NetlinkSocket,
}

impl KernelRoutes {
    /// Opens the backend's socket inside `netns`.
    pub fn open(netns: &NetnsRef) -> Result<KernelRoutes, RouteError> {
        Ok(KernelRoutes {
            socket: NetlinkSocket::open(netns)?,
        })
    }

    /// The routes of table main of one family.
    fn dump_routes(&mut self, family: u8) -> Result<Vec<KernelRoute>, NetlinkError> {
        let what = if family == AF_INET {
            "dumping IPv4 routes"
        } else {
            "dumping IPv6 routes"
        };
        self.socket.dump(
            what,
            |out, seq| wire::encode_route_dump(out, seq, family, RT_TABLE_MAIN as u8),
            |m| {
                if m.kind != RTM_NEWROUTE {
                    return Ok(None);
                }
                Ok(wire::parse_route(m.payload)?.filter(|r| r.table == RT_TABLE_MAIN))
            },
        )
    }

    fn dump_links(&mut self) -> Result<Links, NetlinkError> {
        let mut links = Links::new();
        for l in self.socket.links()? {
            links.insert(l.name, l.index);
        }
        Ok(links)
    }

    /// Sends `ops` (one chunk, starting at batch index `offset`) and collects the failures.
    fn apply_chunk(
        &mut self,
        ops: &[RouteOp],
        offset: usize,
        failures: &mut Vec<OpFailure>,
    ) -> Result<(), NetlinkError> {
        self.socket.batch(
            "applying routes",
            ops.len(),
            |out, first| {
                for (i, op) in ops.iter().enumerate() {
                    let (kind, mut flags) = match op {
                        RouteOp::Add(_) => (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL),
                        RouteOp::Replace(_) => (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE),
                        RouteOp::Delete(_) => (RTM_DELROUTE, 0),
                    };
                    flags |= NLM_F_REQUEST;
                    if i + 1 == ops.len() {
                        flags |= NLM_F_ACK;
                    }
                    let seq = first.wrapping_add(i as u32);
                    wire::encode_route(out, kind, flags, seq, op.route());
                }
            },
            |i, errno, message| {
                failures.push(OpFailure {
                    index: offset + i,
                    errno,
                    message,
                })
            },
        )
    }
}

impl RouteBackend for KernelRoutes {
    fn read(&mut self) -> Result<KernelState, RouteError> {
        let links = self.dump_links()?;
        let mut routes = self.dump_routes(AF_INET)?;
        routes.extend(self.dump_routes(AF_INET6)?);
        let names = links.names_by_index();
        for r in &mut routes {
            r.dev = r.oif.and_then(|i| names.get(&i)).map(|n| (*n).to_owned());
        }
        Ok(KernelState { routes, links })
    }

    fn read_links(&mut self) -> Result<Links, RouteError> {
        Ok(self.dump_links()?)
    }

    fn apply(&mut self, ops: &[RouteOp]) -> Result<Vec<OpFailure>, RouteError> {
        let mut failures = Vec::new();
        let mut start = 0;
        let per_chunk =
            (self.socket.max_batch_bytes() / MAX_REQUEST_BYTES).clamp(1, MAX_CHUNK_MSGS);
        while start < ops.len() {
            let end = (start + per_chunk).min(ops.len());
            self.apply_chunk(&ops[start..end], start, &mut failures)?;
            start = end;
        }
        Ok(failures)
    }
}
