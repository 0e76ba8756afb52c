//! Ethernet (MAC) addresses: the workload's, for its permanent neighbour entry, and the fixed
//! host-side address Calico gives every workload veth.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A 48-bit Ethernet address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// `ee:ee:ee:ee:ee:ee`: the host side of every workload veth (Calico's CNI plugin,
    /// `cni-plugin/internal/pkg/utils/network_linux.go`), so the workload's gateway MAC never
    /// changes.
    pub const HOST_SIDE: Mac = Mac([0xee; 6]);

    /// The address in a kernel reply, if it is 6 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Option<Mac> {
        <[u8; 6]>::try_from(bytes).ok().map(Mac)
    }

    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// The IPv6 link-local address formed from this MAC (EUI-64, RFC 4291 appendix A): what
    /// the kernel gives an interface with this address.
    pub fn ipv6_link_local(&self) -> std::net::Ipv6Addr {
        let m = self.0;
        std::net::Ipv6Addr::from([
            0xfe,
            0x80,
            0,
            0,
            0,
            0,
            0,
            0,
            m[0] ^ 0x02,
            m[1],
            m[2],
            0xff,
            0xfe,
            m[3],
            m[4],
            m[5],
        ])
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// A MAC address that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid MAC address {input:?}: expected six hex octets separated by ':'")]
pub struct ParseMacError {
    pub input: String,
}

impl FromStr for Mac {
    type Err = ParseMacError;

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-` separators), in either case.
    fn from_str(s: &str) -> Result<Mac, ParseMacError> {
        let err = || ParseMacError {
            input: s.to_owned(),
        };
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in &mut out {
            let p = parts.next().ok_or_else(err)?;
            if p.is_empty() || p.len() > 2 {
                return Err(err());
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Mac(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        let m: Mac = "0A:1b:2c:3d:4e:5f".parse().unwrap();
        assert_eq!(m.0, [0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f]);
        assert_eq!(m.to_string(), "0a:1b:2c:3d:4e:5f");
        assert_eq!(Mac::HOST_SIDE.to_string(), "ee:ee:ee:ee:ee:ee");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "ee:ee:ee:ee:ee",
            "ee:ee:ee:ee:ee:ee:ee",
            "eee:e:ee:ee:ee:ee",
            "zz:ee:ee:ee:ee:ee",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    #[test]
    fn host_side_link_local_is_eui64() {
        assert_eq!(
            Mac::HOST_SIDE.ipv6_link_local(),
            "fe80::ecee:eeff:feee:eeee"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
        );
    }
}
