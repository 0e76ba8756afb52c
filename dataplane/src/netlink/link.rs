//! Links (RTM_*LINK): the one link parser ([`parse_link`]: name, index, up, MAC) behind both
//! the dump ([`NetlinkSocket::links`]) and the get by name ([`NetlinkSocket::link_by_name`]);
//! setting a link up, deleting one, and creating a veth pair whose peer goes straight into
//! another namespace.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

use super::error::NetlinkError;
use super::socket::NetlinkSocket;
use super::wire::{
    self, AF_UNSPEC, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, RTM_DELLINK,
    RTM_GETLINK, RTM_NEWLINK,
};

const IFINFOMSG_LEN: usize = 16;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFF_UP: u32 = 1;

/// A link as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// The link-layer address, when it is 6 bytes long.
    pub mac: Option<[u8; 6]>,
}

/// An RTM_NEWLINK payload; `Ok(None)` when it has no name.
pub fn parse_link(p: &[u8]) -> Result<Option<LinkInfo>, String> {
    if p.len() < IFINFOMSG_LEN {
        return Err(format!("link message of {} bytes", p.len()));
    }
    let index = wire::u32_at(p, 4).ok_or("short link message")?;
    let flags = wire::u32_at(p, 8).ok_or("short link message")?;
    let mut name = None;
    let mut mac = None;
    for (k, v) in wire::attrs(&p[IFINFOMSG_LEN..]) {
        match k {
            IFLA_IFNAME => name = Some(wire::c_string(v)),
            IFLA_ADDRESS => mac = wire::mac_from(v),
            _ => {}
        }
    }
    Ok(name.map(|name| LinkInfo {
        index,
        name,
        up: flags & IFF_UP != 0,
        mac,
    }))
}

/// Appends an `ifinfomsg`.
fn ifinfomsg(out: &mut Vec<u8>, index: u32, flags: u32, change: u32) {
    out.extend_from_slice(&[AF_UNSPEC, 0, 0, 0]); // family, pad, type
    out.extend_from_slice(&index.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&change.to_ne_bytes());
}

/// A veth pair to create: `name` here, `peer` moved into the namespace of `peer_netns`.
#[derive(Clone, Copy, Debug)]
pub struct Veth<'a> {
    pub name: &'a str,
    pub mac: Option<[u8; 6]>,
    pub peer: &'a str,
    pub peer_netns: BorrowedFd<'a>,
    /// MTU of both ends.
    pub mtu: u32,
}

impl NetlinkSocket {
    /// Every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<LinkInfo>, NetlinkError> {
        self.dump(
            "dumping links",
            |out, seq| {
                let start = wire::begin(out, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq);
                ifinfomsg(out, 0, 0, 0);
                wire::finish(out, start);
            },
            |m| {
                if m.kind == RTM_NEWLINK {
                    parse_link(m.payload)
                } else {
                    Ok(None)
                }
            },
        )
    }

    /// The link named `name`; `None` if there is none.
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<LinkInfo>, NetlinkError> {
        let r = self.get(
            &format!("reading link {name}"),
            |out, seq| {
                let start = wire::begin(out, RTM_GETLINK, NLM_F_REQUEST, seq);
                ifinfomsg(out, 0, 0, 0);
                wire::str_attr(out, IFLA_IFNAME, name);
                wire::finish(out, start);
            },
            |m| match m.kind {
                RTM_NEWLINK => parse_link(m.payload),
                other => Err(format!("unexpected message type {other}")),
            },
        );
        match r {
            Err(e) if e.errno() == Some(Errno::ENODEV) => Ok(None),
            r => r,
        }
    }

    /// Sets link `index` administratively up.
    pub fn set_link_up(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.request(&format!("setting link {index} up"), |out, seq| {
            let start = wire::begin(out, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
            ifinfomsg(out, index, IFF_UP, IFF_UP);
            wire::finish(out, start);
        })
    }

    /// Deletes link `index` (a veth takes its peer with it).
    pub fn delete_link(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.request(&format!("deleting link {index}"), |out, seq| {
            let start = wire::begin(out, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
            ifinfomsg(out, index, 0, 0);
            wire::finish(out, start);
        })
    }

    /// Creates a veth pair (`EEXIST` if `name` exists).
    pub fn add_veth(&mut self, v: &Veth<'_>) -> Result<(), NetlinkError> {
        let what = format!("creating veth {} (peer {})", v.name, v.peer);
        self.request(&what, |out, seq| {
            let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
            let start = wire::begin(out, RTM_NEWLINK, flags, seq);
            ifinfomsg(out, 0, 0, 0);
            wire::str_attr(out, IFLA_IFNAME, v.name);
            wire::attr(out, IFLA_MTU, &v.mtu.to_ne_bytes());
            if let Some(mac) = v.mac {
                wire::attr(out, IFLA_ADDRESS, &mac);
            }
            let info = wire::nest_begin(out, IFLA_LINKINFO);
            wire::str_attr(out, IFLA_INFO_KIND, "veth");
            let data = wire::nest_begin(out, IFLA_INFO_DATA);
            let peer = wire::nest_begin(out, VETH_INFO_PEER);
            ifinfomsg(out, 0, 0, 0);
            wire::str_attr(out, IFLA_IFNAME, v.peer);
            wire::attr(out, IFLA_MTU, &v.mtu.to_ne_bytes());
            let fd: u32 = v.peer_netns.as_raw_fd() as u32;
            wire::attr(out, IFLA_NET_NS_FD, &fd.to_ne_bytes());
            wire::nest_end(out, peer);
            wire::nest_end(out, data);
            wire::nest_end(out, info);
            wire::finish(out, start);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_message_gives_name_index_state_and_mac() {
        let mut buf = Vec::new();
        let start = wire::begin(&mut buf, RTM_NEWLINK, 0, 1);
        ifinfomsg(&mut buf, 7, IFF_UP, 0);
        wire::str_attr(&mut buf, IFLA_IFNAME, "cali1");
        wire::attr(&mut buf, IFLA_ADDRESS, &[0xee; 6]);
        wire::finish(&mut buf, start);
        let m = wire::messages(&buf).next().unwrap().unwrap();
        assert_eq!(
            parse_link(m.payload).unwrap(),
            Some(LinkInfo {
                index: 7,
                name: "cali1".into(),
                up: true,
                mac: Some([0xee; 6]),
            })
        );
    }

    #[test]
    fn garbage_never_panics() {
        let junk: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for n in 0..junk.len() {
            for m in wire::messages(&junk[..n]).flatten() {
                let _ = parse_link(m.payload);
                let _ = wire::parse_error(&m);
            }
            let _ = parse_link(&junk[..n]);
        }
    }
}
