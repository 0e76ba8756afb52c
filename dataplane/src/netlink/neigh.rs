//! Neighbours (RTM_*NEIGH): a dump per family, and adding or deleting one entry.

use std::net::IpAddr;

use super::error::NetlinkError;
use super::socket::NetlinkSocket;
use super::wire::{
    self, AF_INET, AF_INET6, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REPLACE, NLM_F_REQUEST,
    RTM_DELNEIGH, RTM_GETNEIGH, RTM_NEWNEIGH,
};

const NDMSG_LEN: usize = 12;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NUD_PERMANENT: u16 = 0x80;
const NTF_PROXY: u8 = 0x08;

/// One neighbour entry as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// The interface index.
    pub index: u32,
    pub ip: IpAddr,
    /// The link-layer address, when present and 6 bytes long.
    pub mac: Option<[u8; 6]>,
    /// `NUD_PERMANENT`.
    pub permanent: bool,
}

/// An RTM_NEWNEIGH payload; `Ok(None)` for proxy entries and entries without an address.
pub fn parse_neighbour(p: &[u8]) -> Result<Option<Neighbour>, String> {
    if p.len() < NDMSG_LEN {
        return Err(format!("neighbour message of {} bytes", p.len()));
    }
    let family = p[0];
    let index = wire::u32_at(p, 4).ok_or("short neighbour message")?;
    let state = wire::u16_at(p, 8).ok_or("short neighbour message")?;
    let flags = p[10];
    if flags & NTF_PROXY != 0 {
        return Ok(None);
    }
    let mut ip = None;
    let mut mac = None;
    for (k, v) in wire::attrs(&p[NDMSG_LEN..]) {
        match k {
            NDA_DST => ip = wire::ip_from(family, v),
            NDA_LLADDR => mac = wire::mac_from(v),
            _ => {}
        }
    }
    Ok(ip.map(|ip| Neighbour {
        index,
        ip,
        mac,
        permanent: state == NUD_PERMANENT,
    }))
}

/// Appends an `ndmsg`.
fn ndmsg(out: &mut Vec<u8>, family: u8, index: u32, state: u16) {
    out.extend_from_slice(&[family, 0, 0, 0]);
    out.extend_from_slice(&index.to_ne_bytes());
    out.extend_from_slice(&state.to_ne_bytes());
    out.extend_from_slice(&[0, 0]); // flags, type
}

impl NetlinkSocket {
    /// Every neighbour of one family (`ip -4|-6 neigh show`), proxy entries excluded.
    pub fn neighbours(&mut self, ipv6: bool) -> Result<Vec<Neighbour>, NetlinkError> {
        let family = if ipv6 { AF_INET6 } else { AF_INET };
        self.dump(
            "dumping neighbours",
            |out, seq| {
                let start = wire::begin(out, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq);
                ndmsg(out, family, 0, 0);
                wire::finish(out, start);
            },
            |m| {
                if m.kind == RTM_NEWNEIGH {
                    parse_neighbour(m.payload)
                } else {
                    Ok(None)
                }
            },
        )
    }

    /// Adds or replaces the permanent entry `ip` → `mac` on link `index`.
    pub fn set_permanent_neighbour(
        &mut self,
        index: u32,
        ip: IpAddr,
        mac: [u8; 6],
    ) -> Result<(), NetlinkError> {
        self.request(
            &format!("setting neighbour {ip} on link {index}"),
            |out, seq| {
                let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
                let start = wire::begin(out, RTM_NEWNEIGH, flags, seq);
                ndmsg(out, wire::family_of(&ip), index, NUD_PERMANENT);
                wire::attr(out, NDA_DST, &wire::ip_bytes(&ip));
                wire::attr(out, NDA_LLADDR, &mac);
                wire::finish(out, start);
            },
        )
    }

    /// Deletes the entry for `ip` on link `index` (`ENOENT` if there is none).
    pub fn delete_neighbour(&mut self, index: u32, ip: IpAddr) -> Result<(), NetlinkError> {
        self.request(
            &format!("deleting neighbour {ip} on link {index}"),
            |out, seq| {
                let start = wire::begin(out, RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK, seq);
                ndmsg(out, wire::family_of(&ip), index, 0);
                wire::attr(out, NDA_DST, &wire::ip_bytes(&ip));
                wire::finish(out, start);
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(state: u16, flags: u8) -> Vec<u8> {
        let mut buf = Vec::new();
        let start = wire::begin(&mut buf, RTM_NEWNEIGH, 0, 1);
        ndmsg(&mut buf, AF_INET6, 4, state);
        buf[start + wire::NLMSG_HDR_LEN + 10] = flags;
        wire::attr(
            &mut buf,
            NDA_DST,
            &wire::ip_bytes(&"fd00::1".parse().unwrap()),
        );
        wire::attr(&mut buf, NDA_LLADDR, &[1, 2, 3, 4, 5, 6]);
        wire::finish(&mut buf, start);
        buf
    }

    #[test]
    fn a_neighbour_message_gives_interface_address_mac_and_permanence() {
        let buf = message(NUD_PERMANENT, 0);
        let m = wire::messages(&buf).next().unwrap().unwrap();
        assert_eq!(
            parse_neighbour(m.payload).unwrap(),
            Some(Neighbour {
                index: 4,
                ip: "fd00::1".parse().unwrap(),
                mac: Some([1, 2, 3, 4, 5, 6]),
                permanent: true,
            })
        );
    }

    #[test]
    fn proxy_entries_are_left_out() {
        let buf = message(NUD_PERMANENT, NTF_PROXY);
        let m = wire::messages(&buf).next().unwrap().unwrap();
        assert_eq!(parse_neighbour(m.payload).unwrap(), None);
    }
}
