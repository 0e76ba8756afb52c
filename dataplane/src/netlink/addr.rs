//! Addresses (RTM_*ADDR): adding one to a link, and reading a link's addresses.

use std::net::IpAddr;

use ipnet::IpNet;

use super::error::NetlinkError;
use super::socket::NetlinkSocket;
use super::wire::{
    self, AF_INET, AF_INET6, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REPLACE, NLM_F_REQUEST,
    RTM_GETADDR, RTM_NEWADDR,
};

const IFADDRMSG_LEN: usize = 8;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

/// Appends an `ifaddrmsg` (scope universe).
fn ifaddrmsg(out: &mut Vec<u8>, family: u8, prefix_len: u8, index: u32) {
    out.extend_from_slice(&[family, prefix_len, 0, 0]);
    out.extend_from_slice(&index.to_ne_bytes());
}

/// An RTM_NEWADDR payload: (interface index, address).
pub fn parse_address(p: &[u8]) -> Result<Option<(u32, IpAddr)>, String> {
    Ok(parse_address_with_prefix(p)?.map(|(index, a, _)| (index, a)))
}

/// An RTM_NEWADDR payload: (interface index, address, prefix length).
pub fn parse_address_with_prefix(p: &[u8]) -> Result<Option<(u32, IpAddr, u8)>, String> {
    if p.len() < IFADDRMSG_LEN {
        return Err(format!("address message of {} bytes", p.len()));
    }
    let family = p[0];
    let index = wire::u32_at(p, 4).ok_or("short address message")?;
    let mut address = None;
    for (k, v) in wire::attrs(&p[IFADDRMSG_LEN..]) {
        match k {
            // IFA_LOCAL is the interface's own address where both are given (IPv4).
            IFA_LOCAL => address = wire::ip_from(family, v),
            IFA_ADDRESS if address.is_none() => address = wire::ip_from(family, v),
            _ => {}
        }
    }
    Ok(address.map(|a| (index, a, p[1])))
}

impl NetlinkSocket {
    /// Adds (or replaces) `ip/prefix_len` on link `index`.
    pub fn add_address(
        &mut self,
        index: u32,
        ip: IpAddr,
        prefix_len: u8,
    ) -> Result<(), NetlinkError> {
        let what = format!("adding {ip}/{prefix_len} to link {index}");
        self.request(&what, |out, seq| {
            let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
            let start = wire::begin(out, RTM_NEWADDR, flags, seq);
            ifaddrmsg(out, wire::family_of(&ip), prefix_len, index);
            let bytes = wire::ip_bytes(&ip);
            if ip.is_ipv4() {
                wire::attr(out, IFA_LOCAL, &bytes);
            }
            wire::attr(out, IFA_ADDRESS, &bytes);
            wire::finish(out, start);
        })
    }

    /// The addresses of one family on link `index`.
    pub fn addresses(&mut self, index: u32, ipv6: bool) -> Result<Vec<IpAddr>, NetlinkError> {
        let family = if ipv6 { AF_INET6 } else { AF_INET };
        self.dump(
            &format!("reading the addresses of link {index}"),
            |out, seq| {
                let start = wire::begin(out, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq);
                ifaddrmsg(out, family, 0, index);
                wire::finish(out, start);
            },
            |m| {
                if m.kind != RTM_NEWADDR {
                    return Ok(None);
                }
                // The kernel filters by index under strict checking; older ones do not.
                Ok(parse_address(m.payload)?
                    .filter(|(i, _)| *i == index)
                    .map(|(_, a)| a))
            },
        )
    }

    /// Every address of both families on every link, in the kernel's order: (link index,
    /// address with its prefix length).
    pub fn all_addresses(&mut self) -> Result<Vec<(u32, IpNet)>, NetlinkError> {
        let mut out = Vec::new();
        for family in [AF_INET, AF_INET6] {
            out.extend(self.dump(
                "reading the addresses of every link",
                |out, seq| {
                    let start = wire::begin(out, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq);
                    ifaddrmsg(out, family, 0, 0);
                    wire::finish(out, start);
                },
                |m| {
                    if m.kind != RTM_NEWADDR {
                        return Ok(None);
                    }
                    Ok(parse_address_with_prefix(m.payload)?
                        .and_then(|(i, a, len)| IpNet::new(a, len).ok().map(|n| (i, n))))
                },
            )?);
        }
        Ok(out)
    }
}
