//! Calico's "number or string" scalars (`api/pkg/lib/numorstring`): ports, protocols and AS
//! numbers, each readable from a JSON number or a string and written back the way Calico
//! writes them.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

// ---------------------------------------------------------------------------------------------
// Port
// ---------------------------------------------------------------------------------------------

/// A port match: a single port or an inclusive range (`"min:max"`), or a named port.
///
/// Reads from an integer (`80`), a digit string (`"80"`), a range string (`"8000:8080"`) or a
/// name (`"http"`). Writes a single port as a number, a range and a name as strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Port {
    /// Ports `min..=max` (a single port has `min == max`).
    Range { min: u16, max: u16 },
    /// A named port, resolved through the endpoints' `ports` lists.
    Named(String),
}

impl Port {
    /// A single numeric port.
    pub fn single(port: u16) -> Port {
        Port::Range {
            min: port,
            max: port,
        }
    }

    /// The numeric range, or `None` for a named port.
    pub fn range(&self) -> Option<(u16, u16)> {
        match self {
            Port::Range { min, max } => Some((*min, *max)),
            Port::Named(_) => None,
        }
    }

    /// The port name, or `None` for a numeric port.
    pub fn name(&self) -> Option<&str> {
        match self {
            Port::Named(n) => Some(n),
            Port::Range { .. } => None,
        }
    }
}

fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

fn parse_port_number(s: &str, whole: &str) -> Result<u16, String> {
    s.parse::<u32>()
        .ok()
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("invalid port {whole:?}: port number must be between 1 and 65535"))
}

impl FromStr for Port {
    type Err = String;

    fn from_str(s: &str) -> Result<Port, String> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return parse_port_number(s, s).map(Port::single);
        }
        if let Some((a, b)) = s.split_once(':') {
            let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
            if digits(a) && digits(b) {
                let min = parse_port_number(a, s)?;
                let max = parse_port_number(b, s)?;
                if min > max {
                    return Err(format!(
                        "invalid port range {s:?}: minimum port number ({min}) is greater than \
                         maximum port number ({max})"
                    ));
                }
                return Ok(Port::Range { min, max });
            }
        }
        if is_port_name(s) {
            Ok(Port::Named(s.to_owned()))
        } else {
            Err(format!(
                "invalid port {s:?}: expected a number, a range \"min:max\" or a port name \
                 (letters, digits, '_', '.', '-'; at most 128 characters)"
            ))
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Range { min, max } if min == max => write!(f, "{min}"),
            Port::Range { min, max } => write!(f, "{min}:{max}"),
            Port::Named(n) => f.write_str(n),
        }
    }
}

impl Serialize for Port {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Port::Range { min, max } if min == max => s.serialize_u16(*min),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

struct PortVisitor;

impl Visitor<'_> for PortVisitor {
    type Value = Port;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a port number, a \"min:max\" range or a port name")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Port, E> {
        u16::try_from(v).map(Port::single).map_err(|_| {
            E::custom(format!(
                "invalid port {v}: port number must be between 1 and 65535"
            ))
        })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Port, E> {
        u64::try_from(v)
            .map_err(|_| {
                E::custom(format!(
                    "invalid port {v}: port number must be between 1 and 65535"
                ))
            })
            .and_then(|u| self.visit_u64(u))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Port, E> {
        Err(E::custom(format!(
            "invalid port {v}: port number must be an integer"
        )))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Port, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Port, D::Error> {
        d.deserialize_any(PortVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Protocol
// ---------------------------------------------------------------------------------------------

/// An IP protocol: one of Calico's names or a number.
///
/// Names are case-sensitive as in Calico's validator (`TCP`, not `tcp`); an unknown name is
/// kept as [`Protocol::Other`] so that validation can report it with its path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    IcmpV6,
    Sctp,
    UdpLite,
    /// A protocol number (valid range 1-255; 0 is rejected by validation).
    Number(u8),
    /// A name Calico does not know; rejected by validation.
    Other(String),
}

impl Protocol {
    /// Parses a protocol name or a decimal number, as Calico's `Uint8OrString` does.
    pub fn from_name(s: &str) -> Protocol {
        if let Ok(n) = s.parse::<u8>() {
            return Protocol::Number(n);
        }
        match s {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            "ICMP" => Protocol::Icmp,
            "ICMPv6" => Protocol::IcmpV6,
            "SCTP" => Protocol::Sctp,
            "UDPLite" => Protocol::UdpLite,
            other => Protocol::Other(other.to_owned()),
        }
    }

    /// The IANA protocol number, if known.
    pub fn number(&self) -> Option<u8> {
        match self {
            Protocol::Tcp => Some(6),
            Protocol::Udp => Some(17),
            Protocol::Icmp => Some(1),
            Protocol::IcmpV6 => Some(58),
            Protocol::Sctp => Some(132),
            Protocol::UdpLite => Some(136),
            Protocol::Number(n) => Some(*n),
            Protocol::Other(_) => None,
        }
    }

    /// Whether port matches make sense for this protocol (TCP, UDP or SCTP by name or number).
    pub fn supports_ports(&self) -> bool {
        matches!(self.number(), Some(6 | 17 | 132))
    }

    /// Whether this is ICMP (by name or number 1).
    pub fn is_icmp(&self) -> bool {
        self.number() == Some(1)
    }

    /// Whether this is ICMPv6 (by name or number 58).
    pub fn is_icmpv6(&self) -> bool {
        self.number() == Some(58)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("TCP"),
            Protocol::Udp => f.write_str("UDP"),
            Protocol::Icmp => f.write_str("ICMP"),
            Protocol::IcmpV6 => f.write_str("ICMPv6"),
            Protocol::Sctp => f.write_str("SCTP"),
            Protocol::UdpLite => f.write_str("UDPLite"),
            Protocol::Number(n) => write!(f, "{n}"),
            Protocol::Other(s) => f.write_str(s),
        }
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Protocol::Number(n) => s.serialize_u8(*n),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

struct ProtocolVisitor;

impl Visitor<'_> for ProtocolVisitor {
    type Value = Protocol;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a protocol name (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite) or number (1-255)")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Protocol, E> {
        u8::try_from(v).map(Protocol::Number).map_err(|_| {
            E::custom(format!(
                "invalid protocol number {v}: must be between 1 and 255"
            ))
        })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Protocol, E> {
        u64::try_from(v)
            .map_err(|_| {
                E::custom(format!(
                    "invalid protocol number {v}: must be between 1 and 255"
                ))
            })
            .and_then(|u| self.visit_u64(u))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Protocol, E> {
        Ok(Protocol::from_name(v))
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Protocol, D::Error> {
        d.deserialize_any(ProtocolVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// ASNumber
// ---------------------------------------------------------------------------------------------

/// A BGP AS number. Reads from an integer, a decimal string or the dotted `"<high>.<low>"`
/// form (each part 0-65535); writes a plain integer. AS 0 is rejected by validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ASNumber(pub u32);

impl ASNumber {
    /// The numeric value.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl From<u32> for ASNumber {
    fn from(v: u32) -> ASNumber {
        ASNumber(v)
    }
}

fn as_out_of_range(v: impl fmt::Display) -> String {
    format!("invalid AS number {v}: must be between 1 and 4294967295")
}

impl FromStr for ASNumber {
    type Err = String;

    fn from_str(s: &str) -> Result<ASNumber, String> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<u32>()
                .map(ASNumber)
                .map_err(|_| as_out_of_range(format!("{s:?}")));
        }
        let bad = || {
            format!(
                "invalid AS number {s:?}: expected an integer or the dotted form \"<0-65535>.<0-65535>\""
            )
        };
        let (hi, lo) = s.split_once('.').ok_or_else(bad)?;
        let hi: u16 = hi.parse().map_err(|_| bad())?;
        let lo: u16 = lo.parse().map_err(|_| bad())?;
        Ok(ASNumber((u32::from(hi) << 16) + u32::from(lo)))
    }
}

impl fmt::Display for ASNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for ASNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

struct ASNumberVisitor;

impl Visitor<'_> for ASNumberVisitor {
    type Value = ASNumber;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AS number (integer, or string such as \"64512\" or \"1.10\")")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ASNumber, E> {
        u32::try_from(v)
            .map(ASNumber)
            .map_err(|_| E::custom(as_out_of_range(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ASNumber, E> {
        u64::try_from(v)
            .map_err(|_| E::custom(as_out_of_range(v)))
            .and_then(|u| self.visit_u64(u))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ASNumber, E> {
        Err(E::custom(format!(
            "invalid AS number {v}: must be an integer"
        )))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ASNumber, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for ASNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ASNumber, D::Error> {
        d.deserialize_any(ASNumberVisitor)
    }
}
