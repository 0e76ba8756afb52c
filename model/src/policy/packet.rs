//! The packet a policy question is asked about: the first packet of a flow (connection
//! tracking is ignored), described by its addresses and its layer-4 header.

use std::fmt;
use std::net::IpAddr;

/// IANA protocol numbers used by the policy code.
pub mod proto {
    /// Internet Control Message Protocol (IPv4).
    pub const ICMP: u8 = 1;
    /// IP in IP encapsulation.
    pub const IPIP: u8 = 4;
    /// Transmission Control Protocol.
    pub const TCP: u8 = 6;
    /// User Datagram Protocol.
    pub const UDP: u8 = 17;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
    /// Stream Control Transmission Protocol.
    pub const SCTP: u8 = 132;
}

/// An IP version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpVersion {
    V4,
    V6,
}

impl IpVersion {
    /// The version of an address.
    pub fn of(addr: &IpAddr) -> IpVersion {
        if addr.is_ipv4() {
            IpVersion::V4
        } else {
            IpVersion::V6
        }
    }

    /// The version of a network.
    pub fn of_net(net: &ipnet::IpNet) -> IpVersion {
        match net {
            ipnet::IpNet::V4(_) => IpVersion::V4,
            ipnet::IpNet::V6(_) => IpVersion::V6,
        }
    }
}

/// The layer-4 part of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L4 {
    Tcp {
        src_port: u16,
        dst_port: u16,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    Sctp {
        src_port: u16,
        dst_port: u16,
    },
    /// ICMP (protocol 1).
    Icmp {
        icmp_type: u8,
        code: u8,
    },
    /// ICMPv6 (protocol 58).
    IcmpV6 {
        icmp_type: u8,
        code: u8,
    },
    /// Any other protocol, by number. Port and ICMP matches never match it, even when the
    /// number is that of TCP, UDP, SCTP, ICMP or ICMPv6 (the header is unknown).
    Other(u8),
}

/// The first packet of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub l4: L4,
}

impl Packet {
    /// A TCP packet.
    pub fn tcp(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> Packet {
        Packet {
            src,
            dst,
            l4: L4::Tcp { src_port, dst_port },
        }
    }

    /// A UDP packet.
    pub fn udp(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> Packet {
        Packet {
            src,
            dst,
            l4: L4::Udp { src_port, dst_port },
        }
    }

    /// An SCTP packet.
    pub fn sctp(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> Packet {
        Packet {
            src,
            dst,
            l4: L4::Sctp { src_port, dst_port },
        }
    }

    /// An ICMP packet for IPv4 addresses, an ICMPv6 packet for IPv6 addresses.
    pub fn icmp(src: IpAddr, dst: IpAddr, icmp_type: u8, code: u8) -> Packet {
        let l4 = if src.is_ipv4() {
            L4::Icmp { icmp_type, code }
        } else {
            L4::IcmpV6 { icmp_type, code }
        };
        Packet { src, dst, l4 }
    }

    /// A packet of another protocol.
    pub fn other(src: IpAddr, dst: IpAddr, protocol: u8) -> Packet {
        Packet {
            src,
            dst,
            l4: L4::Other(protocol),
        }
    }

    /// The IP version, or `None` when source and destination are of different families.
    pub fn ip_version(&self) -> Option<IpVersion> {
        let v = IpVersion::of(&self.src);
        (v == IpVersion::of(&self.dst)).then_some(v)
    }

    /// The IANA protocol number.
    pub fn protocol(&self) -> u8 {
        match self.l4 {
            L4::Tcp { .. } => proto::TCP,
            L4::Udp { .. } => proto::UDP,
            L4::Sctp { .. } => proto::SCTP,
            L4::Icmp { .. } => proto::ICMP,
            L4::IcmpV6 { .. } => proto::ICMPV6,
            L4::Other(n) => n,
        }
    }

    /// `(source port, destination port)` for TCP, UDP and SCTP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.l4 {
            L4::Tcp { src_port, dst_port }
            | L4::Udp { src_port, dst_port }
            | L4::Sctp { src_port, dst_port } => Some((src_port, dst_port)),
            _ => None,
        }
    }

    /// `(type, code)` for ICMP and ICMPv6.
    pub fn icmp_type_code(&self) -> Option<(u8, u8)> {
        match self.l4 {
            L4::Icmp { icmp_type, code } | L4::IcmpV6 { icmp_type, code } => {
                Some((icmp_type, code))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.l4 {
            L4::Tcp { src_port, dst_port } => {
                write!(f, "tcp {}:{src_port} -> {}:{dst_port}", self.src, self.dst)
            }
            L4::Udp { src_port, dst_port } => {
                write!(f, "udp {}:{src_port} -> {}:{dst_port}", self.src, self.dst)
            }
            L4::Sctp { src_port, dst_port } => {
                write!(f, "sctp {}:{src_port} -> {}:{dst_port}", self.src, self.dst)
            }
            L4::Icmp { icmp_type, code } => write!(
                f,
                "icmp {} -> {} type {icmp_type} code {code}",
                self.src, self.dst
            ),
            L4::IcmpV6 { icmp_type, code } => write!(
                f,
                "icmpv6 {} -> {} type {icmp_type} code {code}",
                self.src, self.dst
            ),
            L4::Other(n) => write!(f, "proto {n} {} -> {}", self.src, self.dst),
        }
    }
}
