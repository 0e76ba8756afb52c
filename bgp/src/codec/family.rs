//! Address families: AFI and SAFI numbers (RFC 4760 §3, IANA "Address Family Numbers" and
//! "SAFI Values").
//!
//! Both are open newtypes so that families this crate cannot parse (VPN, EVPN, flowspec, ...)
//! can still be carried in capabilities and ROUTE-REFRESH messages and compared.

use std::fmt;

/// Address Family Identifier (RFC 4760 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Afi(pub u16);

impl Afi {
    pub const IPV4: Afi = Afi(1);
    pub const IPV6: Afi = Afi(2);
}

/// Subsequent Address Family Identifier (RFC 4760 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Safi(pub u8);

impl Safi {
    pub const UNICAST: Safi = Safi(1);
    pub const MULTICAST: Safi = Safi(2);
}

/// An (AFI, SAFI) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressFamily {
    pub afi: Afi,
    pub safi: Safi,
}

impl AddressFamily {
    pub const IPV4_UNICAST: AddressFamily = AddressFamily::new(Afi::IPV4, Safi::UNICAST);
    pub const IPV6_UNICAST: AddressFamily = AddressFamily::new(Afi::IPV6, Safi::UNICAST);

    pub const fn new(afi: Afi, safi: Safi) -> Self {
        Self { afi, safi }
    }

    /// Whether this codec can parse NLRI of this family (IPv4 and IPv6 unicast).
    pub fn is_supported(self) -> bool {
        self == Self::IPV4_UNICAST || self == Self::IPV6_UNICAST
    }
}

impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::IPV4_UNICAST => f.write_str("ipv4-unicast"),
            Self::IPV6_UNICAST => f.write_str("ipv6-unicast"),
            Self { afi, safi } => write!(f, "afi {} safi {}", afi.0, safi.0),
        }
    }
}
