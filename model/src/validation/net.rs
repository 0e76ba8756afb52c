//! IP address and CIDR checks, following libcalico-go's `cnet.ParseCIDROrIP` and the
//! validator tags built on it:
//!
//! - `cidr`: an address or a CIDR; host bits may be set (`10.0.0.1/24` is fine);
//! - `net`: an address or a CIDR that is strictly masked (`10.0.0.0/24`, not `10.0.0.1/24`);
//! - `ip`, `ipv4`, `ipv6`: a bare address (of the given family).
//!
//! A bare address counts as a full-length prefix (`/32` or `/128`).

use std::net::IpAddr;

use ipnet::IpNet;

use super::Validator;

/// Parses an address or a CIDR. Returns the address as written and the network it names
/// (host bits cleared). The error text explains what is wrong, without repeating the input.
pub fn parse_cidr_or_ip(s: &str) -> Result<(IpAddr, IpNet), String> {
    match s.split_once('/') {
        None => {
            let ip: IpAddr = s
                .parse()
                .map_err(|_| "not an IPv4 or IPv6 address".to_owned())?;
            let len = if ip.is_ipv4() { 32 } else { 128 };
            let net = IpNet::new(ip, len).map_err(|e| e.to_string())?;
            Ok((ip, net))
        }
        Some((addr, len)) => {
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("{addr:?} is not an IPv4 or IPv6 address"))?;
            if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("prefix length {len:?} is not a number"));
            }
            let max: u32 = if ip.is_ipv4() { 32 } else { 128 };
            let n: u32 = len
                .parse()
                .map_err(|_| format!("prefix length {len} is longer than {max}"))?;
            if n > max {
                return Err(format!("prefix length {n} is longer than {max}"));
            }
            let n8 =
                u8::try_from(n).map_err(|_| format!("prefix length {n} is longer than {max}"))?;
            let net = IpNet::new(ip, n8).map_err(|e| e.to_string())?.trunc();
            Ok((ip, net))
        }
    }
}

/// Parses a strictly masked CIDR (or bare address).
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let (ip, net) = parse_cidr_or_ip(s)?;
    if net.addr() != ip {
        return Err(format!(
            "host bits are set; the network address is {:?}",
            net.to_string()
        ));
    }
    Ok(net)
}

/// Reports `field` unless it is an address or CIDR (host bits allowed).
pub fn check_cidr(v: &mut Validator, field: &str, value: &str) -> Option<IpNet> {
    match parse_cidr_or_ip(value) {
        Ok((_, net)) => Some(net),
        Err(e) => {
            v.report_at(field, value, format!("invalid CIDR {value:?}: {e}"));
            None
        }
    }
}

/// Reports `field` unless it is a strictly masked CIDR or an address.
pub fn check_net(v: &mut Validator, field: &str, value: &str) -> Option<IpNet> {
    match parse_net(value) {
        Ok(net) => Some(net),
        Err(e) => {
            v.report_at(field, value, format!("invalid CIDR {value:?}: {e}"));
            None
        }
    }
}

/// Reports `field` unless it is a bare IP address; `family` restricts it to 4 or 6.
pub fn check_ip(v: &mut Validator, field: &str, value: &str, family: Option<u8>) -> Option<IpAddr> {
    let what = match family {
        Some(4) => "IPv4 address",
        Some(6) => "IPv6 address",
        _ => "IP address",
    };
    match value.parse::<IpAddr>() {
        Ok(ip) => {
            let ok = match family {
                Some(4) => ip.is_ipv4(),
                Some(6) => ip.is_ipv6(),
                _ => true,
            };
            if ok {
                Some(ip)
            } else {
                v.report_at(
                    field,
                    value,
                    format!("invalid {what} {value:?}: wrong address family"),
                );
                None
            }
        }
        Err(_) => {
            v.report_at(field, value, format!("invalid {what} {value:?}"));
            None
        }
    }
}

/// Splits `<IPv4>:<port>` or `[<IPv6>]:<port>` or a bare address, as BGPPeer `peerIP` and
/// `reachableBy` are written. Returns the address and the port (if any).
pub fn parse_ip_port(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    let port_of = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("port {p:?} must be between 1 and 65535")),
            Ok(n) => Ok(n),
        }
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, port) = rest
            .split_once("]:")
            .ok_or_else(|| "expected \"[<IPv6>]:<port>\"".to_owned())?;
        let ip: std::net::Ipv6Addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
        return Ok((IpAddr::V6(ip), Some(port_of(port)?)));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    if let Some((addr, port)) = s.split_once(':')
        && let Ok(ip) = addr.parse::<std::net::Ipv4Addr>()
    {
        return Ok((IpAddr::V4(ip), Some(port_of(port)?)));
    }
    Err("expected an IP address, \"<IPv4>:<port>\" or \"[<IPv6>]:<port>\"".to_owned())
}
