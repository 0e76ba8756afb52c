//! IP prefixes and their NLRI encoding (RFC 4271 §4.3, RFC 4760 §5), with the optional
//! Path Identifier of ADD-PATH (RFC 7911 §3).
//!
//! On the wire a prefix is a length in bits followed by just enough octets to hold it;
//! trailing bits past the length are irrelevant and are cleared on decode, so two encodings
//! of the same prefix decode equal.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::error::EncodeError;
use super::family::Afi;
use super::reader::Reader;

/// Why an NLRI field failed to parse (an Invalid Network Field, RFC 4271 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("prefix length {length} exceeds {max}")]
    LengthTooLong { length: u8, max: u8 },
    #[error("field ends inside a prefix")]
    Truncated,
    #[error("not an IP prefix")]
    Syntax,
}

/// An IPv4 prefix with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Prefix {
    addr: Ipv4Addr,
    len: u8,
}

impl Ipv4Prefix {
    /// `None` if `len` > 32; host bits of `addr` are cleared.
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Self> {
        (len <= 32).then(|| Self::masked(u32::from(addr), len))
    }

    /// Caller guarantees `len` <= 32.
    fn masked(addr: u32, len: u8) -> Self {
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        Self {
            addr: Ipv4Addr::from(addr & mask),
            len,
        }
    }

    pub fn addr(self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix_len(self) -> u8 {
        self.len
    }

    pub fn is_default(self) -> bool {
        self.len == 0
    }
}

/// An IPv6 prefix with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Prefix {
    addr: Ipv6Addr,
    len: u8,
}

impl Ipv6Prefix {
    /// `None` if `len` > 128; host bits of `addr` are cleared.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Self> {
        (len <= 128).then(|| Self::masked(u128::from(addr), len))
    }

    /// Caller guarantees `len` <= 128.
    fn masked(addr: u128, len: u8) -> Self {
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        Self {
            addr: Ipv6Addr::from(addr & mask),
            len,
        }
    }

    pub fn addr(self) -> Ipv6Addr {
        self.addr
    }

    pub fn prefix_len(self) -> u8 {
        self.len
    }

    pub fn is_default(self) -> bool {
        self.len == 0
    }
}

/// An IPv4 or IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prefix {
    V4(Ipv4Prefix),
    V6(Ipv6Prefix),
}

impl Prefix {
    pub fn afi(self) -> Afi {
        match self {
            Self::V4(_) => Afi::IPV4,
            Self::V6(_) => Afi::IPV6,
        }
    }

    pub fn prefix_len(self) -> u8 {
        match self {
            Self::V4(p) => p.len,
            Self::V6(p) => p.len,
        }
    }

    pub fn is_default(self) -> bool {
        self.prefix_len() == 0
    }
}

impl From<Ipv4Prefix> for Prefix {
    fn from(p: Ipv4Prefix) -> Self {
        Self::V4(p)
    }
}

impl From<Ipv6Prefix> for Prefix {
    fn from(p: Ipv6Prefix) -> Self {
        Self::V6(p)
    }
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(p) => p.fmt(f),
            Self::V6(p) => p.fmt(f),
        }
    }
}

fn split_prefix(s: &str) -> Result<(&str, u8), PrefixError> {
    let (addr, len) = s.split_once('/').ok_or(PrefixError::Syntax)?;
    Ok((addr, len.parse().map_err(|_| PrefixError::Syntax)?))
}

impl FromStr for Ipv4Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = split_prefix(s)?;
        let addr = addr.parse().map_err(|_| PrefixError::Syntax)?;
        Self::new(addr, len).ok_or(PrefixError::LengthTooLong {
            length: len,
            max: 32,
        })
    }
}

impl FromStr for Ipv6Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = split_prefix(s)?;
        let addr = addr.parse().map_err(|_| PrefixError::Syntax)?;
        Self::new(addr, len).ok_or(PrefixError::LengthTooLong {
            length: len,
            max: 128,
        })
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(':') {
            s.parse().map(Self::V6)
        } else {
            s.parse().map(Self::V4)
        }
    }
}

/// One NLRI entry: a prefix and, on ADD-PATH sessions, its Path Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nlri {
    pub path_id: Option<u32>,
    pub prefix: Prefix,
}

impl Nlri {
    pub fn new(prefix: impl Into<Prefix>) -> Self {
        Self {
            path_id: None,
            prefix: prefix.into(),
        }
    }

    pub fn with_path_id(prefix: impl Into<Prefix>, path_id: u32) -> Self {
        Self {
            path_id: Some(path_id),
            prefix: prefix.into(),
        }
    }

    /// Octets this entry takes on a session where ADD-PATH is `add_path`.
    pub fn encoded_len(&self, add_path: bool) -> usize {
        usize::from(add_path) * 4 + 1 + usize::from(self.prefix.prefix_len()).div_ceil(8)
    }
}

impl fmt::Display for Nlri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path_id {
            Some(id) => write!(f, "{} path-id {id}", self.prefix),
            None => self.prefix.fmt(f),
        }
    }
}

/// Decodes a whole NLRI field of `afi` prefixes, appending to `out`. With `add_path`, each
/// prefix is preceded by a 4-octet Path Identifier.
pub(crate) fn decode_nlri(
    field: &[u8],
    afi: Afi,
    add_path: bool,
    out: &mut Vec<Nlri>,
) -> Result<(), PrefixError> {
    let mut r = Reader::new(field);
    // Estimate of the entry count (/24s and /48s are typical), to allocate once.
    let typical = if afi == Afi::IPV6 { 7 } else { 4 } + if add_path { 4 } else { 0 };
    out.reserve(field.len() / typical);
    while !r.is_empty() {
        let path_id = if add_path {
            Some(r.u32().ok_or(PrefixError::Truncated)?)
        } else {
            None
        };
        let len = r.u8().ok_or(PrefixError::Truncated)?;
        let max = if afi == Afi::IPV6 { 128 } else { 32 };
        if len > max {
            return Err(PrefixError::LengthTooLong { length: len, max });
        }
        let bytes = r
            .take(usize::from(len).div_ceil(8))
            .ok_or(PrefixError::Truncated)?;
        // At most 4 (16) octets by the length check; fold them into the address.
        let prefix = if afi == Afi::IPV6 {
            let addr = bytes
                .iter()
                .enumerate()
                .fold(0u128, |a, (i, &b)| a | u128::from(b) << (120 - 8 * i));
            Prefix::V6(Ipv6Prefix::masked(addr, len))
        } else {
            let addr = bytes
                .iter()
                .enumerate()
                .fold(0u32, |a, (i, &b)| a | u32::from(b) << (24 - 8 * i));
            Prefix::V4(Ipv4Prefix::masked(addr, len))
        };
        out.push(Nlri { path_id, prefix });
    }
    Ok(())
}

/// Encodes one NLRI entry, checking that the prefix belongs to `afi`.
pub(crate) fn encode_nlri(
    nlri: &Nlri,
    afi: Afi,
    add_path: bool,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    if nlri.prefix.afi() != afi {
        return Err(EncodeError::PrefixFamilyMismatch {
            expected: afi,
            prefix: nlri.prefix,
        });
    }
    if add_path {
        buf.put_u32(nlri.path_id.unwrap_or(0));
    }
    let len = nlri.prefix.prefix_len();
    let unused = match nlri.prefix {
        Prefix::V4(_) => 4,
        Prefix::V6(_) => 16,
    } - usize::from(len).div_ceil(8);
    buf.put_u8(len);
    // Write the whole address, then drop the octets past the prefix length: fixed-size
    // copies are cheaper than a variable-length one.
    match nlri.prefix {
        Prefix::V4(p) => buf.put_slice(&p.addr.octets()),
        Prefix::V6(p) => buf.put_slice(&p.addr.octets()),
    }
    buf.truncate(buf.len() - unused);
    Ok(())
}

pub(crate) fn encode_nlri_list(
    list: &[Nlri],
    afi: Afi,
    add_path: bool,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    buf.reserve(list.iter().map(|n| n.encoded_len(add_path)).sum());
    list.iter()
        .try_for_each(|n| encode_nlri(n, afi, add_path, buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Nlri {
        Nlri::new(s.parse::<Ipv4Prefix>().unwrap())
    }

    #[test]
    fn host_bits_are_cleared() {
        let p: Ipv4Prefix = "10.1.2.3/16".parse().unwrap();
        assert_eq!(p.to_string(), "10.1.0.0/16");
        let p: Ipv6Prefix = "2001:db8::1/32".parse().unwrap();
        assert_eq!(p.to_string(), "2001:db8::/32");
        assert_eq!("0.0.0.0/0".parse::<Prefix>().unwrap().prefix_len(), 0);
    }

    #[test]
    fn nlri_uses_the_minimum_number_of_octets() {
        let list = [
            v4("10.0.0.0/8"),
            v4("192.168.1.0/24"),
            v4("0.0.0.0/0"),
            v4("1.2.3.4/32"),
        ];
        let mut buf = BytesMut::new();
        encode_nlri_list(&list, Afi::IPV4, false, &mut buf).unwrap();
        assert_eq!(&buf[..], &[8, 10, 24, 192, 168, 1, 0, 32, 1, 2, 3, 4]);
        let mut out = Vec::new();
        decode_nlri(&buf, Afi::IPV4, false, &mut out).unwrap();
        assert_eq!(out, list);
    }

    #[test]
    fn add_path_nlri_carry_a_path_identifier() {
        let n = Nlri::with_path_id("2001:db8::/48".parse::<Ipv6Prefix>().unwrap(), 7);
        let mut buf = BytesMut::new();
        encode_nlri(&n, Afi::IPV6, true, &mut buf).unwrap();
        assert_eq!(buf.len(), n.encoded_len(true));
        let mut out = Vec::new();
        decode_nlri(&buf, Afi::IPV6, true, &mut out).unwrap();
        assert_eq!(out, [n]);
    }

    #[test]
    fn overlong_and_truncated_prefixes_are_errors() {
        let mut out = Vec::new();
        assert_eq!(
            decode_nlri(&[33, 1, 2, 3, 4, 5], Afi::IPV4, false, &mut out),
            Err(PrefixError::LengthTooLong {
                length: 33,
                max: 32
            })
        );
        assert_eq!(
            decode_nlri(&[24, 10, 0], Afi::IPV4, false, &mut out),
            Err(PrefixError::Truncated)
        );
        assert_eq!(
            decode_nlri(&[0, 0, 0], Afi::IPV4, true, &mut out),
            Err(PrefixError::Truncated)
        );
    }

    #[test]
    fn encoding_rejects_a_prefix_of_the_wrong_family() {
        let mut buf = BytesMut::new();
        let err = encode_nlri(&v4("10.0.0.0/8"), Afi::IPV6, false, &mut buf).unwrap_err();
        assert!(matches!(err, EncodeError::PrefixFamilyMismatch { .. }));
    }
}
