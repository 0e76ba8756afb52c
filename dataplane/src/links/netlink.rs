//! A blocking rtnetlink socket for the kernel backend: requests with an acknowledgement,
//! single gets and dumps of links and neighbours. Messages are encoded and decoded with
//! netlink-packet-route (the types rtnetlink uses); the socket is plain `netlink_sys`, so the
//! backend needs no runtime and a batch costs one syscall pair per op.
//!
//! A netlink socket belongs to the network namespace of the thread that opened it: open it
//! inside the namespace ([`crate::netns::NetnsRef::run`]), then use it from any thread.

use std::io;
use std::net::IpAddr;

use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_MULTIPART, NLM_F_REPLACE, NLM_F_REQUEST,
    NetlinkBuffer, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use super::mac::Mac;
use super::observed::ObservedNeighbour;

/// Largest datagram expected from the kernel (dump skbs are at most 32 KiB).
const RECV_BUF: usize = 64 * 1024;
/// `recv(2)` flag: report the real length of a truncated datagram.
const MSG_TRUNC: i32 = 0x20;

/// What a request waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ack,
    One,
    Dump,
}

/// One blocking NETLINK_ROUTE socket.
#[derive(Debug)]
pub(crate) struct RouteSocket {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// A link as read: index and whether it is administratively up.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LinkInfo {
    pub index: u32,
    pub up: bool,
}

impl RouteSocket {
    /// Opens a socket in the calling thread's network namespace.
    pub(crate) fn open() -> io::Result<RouteSocket> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(RouteSocket {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// The link named `name`; `None` if there is none (`ENODEV`).
    pub(crate) fn link_by_name(&mut self, name: &str) -> io::Result<Option<LinkInfo>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.exchange(RouteNetlinkMessage::GetLink(msg), Expect::One) {
            Ok(replies) => Ok(replies.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(LinkInfo {
                    index: l.header.index,
                    up: l.header.flags.contains(LinkFlags::Up),
                }),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets link `index` administratively up.
    pub(crate) fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.exchange(RouteNetlinkMessage::NewLink(msg), Expect::Ack)
            .map(drop)
    }

    /// Every neighbour of one family (`ip -4|-6 neigh show`), proxy entries excluded, as
    /// (interface index, IP, entry).
    pub(crate) fn neighbours(
        &mut self,
        ipv6: bool,
    ) -> io::Result<Vec<(u32, IpAddr, ObservedNeighbour)>> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = if ipv6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let replies = self.exchange(RouteNetlinkMessage::GetNeighbour(msg), Expect::Dump)?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => neighbour_of(&n),
                _ => None,
            })
            .collect())
    }

    /// Adds or replaces the permanent entry `ip` → `mac` on link `index`.
    pub(crate) fn set_permanent_neighbour(
        &mut self,
        index: u32,
        ip: IpAddr,
        mac: Mac,
    ) -> io::Result<()> {
        let mut msg = neighbour_message(index, ip);
        msg.header.state = NeighbourState::Permanent;
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec()));
        self.exchange_flags(
            RouteNetlinkMessage::NewNeighbour(msg),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
            Expect::Ack,
        )
        .map(drop)
    }

    /// Deletes the entry for `ip` on link `index` (`ENOENT` if there is none).
    pub(crate) fn delete_neighbour(&mut self, index: u32, ip: IpAddr) -> io::Result<()> {
        let msg = neighbour_message(index, ip);
        self.exchange(RouteNetlinkMessage::DelNeighbour(msg), Expect::Ack)
            .map(drop)
    }

    fn exchange(
        &mut self,
        msg: RouteNetlinkMessage,
        expect: Expect,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let flags = match expect {
            Expect::Ack => NLM_F_REQUEST | NLM_F_ACK,
            Expect::One => NLM_F_REQUEST,
            Expect::Dump => NLM_F_REQUEST | NLM_F_DUMP,
        };
        self.exchange_flags(msg, flags, expect)
    }

    /// Sends one request and collects its replies: until the acknowledgement, the single
    /// reply, or the end of the dump. Replies to other sequence numbers are skipped.
    fn exchange_flags(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        expect: Expect,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut nl = NetlinkMessage::from(msg);
        nl.header.flags = flags;
        nl.header.sequence_number = seq;
        nl.finalize();
        let mut out = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut out);
        self.socket.send(&out, 0)?;

        let mut replies = Vec::new();
        loop {
            self.buf.clear();
            let n = self.socket.recv(&mut self.buf, MSG_TRUNC)?;
            if n > self.buf.len() {
                return Err(io::Error::other(format!(
                    "netlink reply of {n} bytes truncated to {}",
                    self.buf.len()
                )));
            }
            let mut off = 0;
            while off < self.buf.len() {
                let chunk = &self.buf[off..];
                let len = NetlinkBuffer::new_checked(chunk)
                    .map_err(|e| invalid(format!("netlink reply: {e}")))?
                    .length() as usize;
                if len == 0 || len > chunk.len() {
                    return Err(invalid(format!("netlink reply with length {len}")));
                }
                off += (len + 3) & !3;
                let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&chunk[..len]);
                let m = match parsed {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::debug!(error = %e, "skipping undecodable netlink reply");
                        continue;
                    }
                };
                if m.header.sequence_number != seq {
                    continue;
                }
                let multi = m.header.flags & NLM_F_MULTIPART != 0;
                match m.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(replies),
                            Some(_) => Err(e.to_io()),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(inner) => {
                        replies.push(inner);
                        if expect == Expect::One && !multi {
                            return Ok(replies);
                        }
                    }
                    NetlinkPayload::Overrun(_) => {
                        return Err(io::Error::other("netlink overrun"));
                    }
                    _ => {}
                }
            }
        }
    }
}

const ENODEV: i32 = 19;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn neighbour_message(index: u32, ip: IpAddr) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.ifindex = index;
    let (family, addr) = match ip {
        IpAddr::V4(a) => (AddressFamily::Inet, NeighbourAddress::Inet(a)),
        IpAddr::V6(a) => (AddressFamily::Inet6, NeighbourAddress::Inet6(a)),
    };
    msg.header.family = family;
    msg.attributes.push(NeighbourAttribute::Destination(addr));
    msg
}

fn neighbour_of(n: &NeighbourMessage) -> Option<(u32, IpAddr, ObservedNeighbour)> {
    if n.header.flags.contains(NeighbourFlags::Proxy) {
        return None;
    }
    let mut ip = None;
    let mut mac = None;
    for a in &n.attributes {
        match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => ip = Some((*v4).into()),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => ip = Some((*v6).into()),
            NeighbourAttribute::LinkLayerAddress(l) => mac = Mac::from_bytes(l),
            _ => {}
        }
    }
    Some((
        n.header.ifindex,
        ip?,
        ObservedNeighbour {
            mac,
            permanent: n.header.state == NeighbourState::Permanent,
        },
    ))
}
