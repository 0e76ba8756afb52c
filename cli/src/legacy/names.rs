//! Names of the v3 resources that the v0.9 verbs generate.
//!
//! Each rule follows what Calico itself does when it turns v1 data into v3 resources
//! (libcalico-go's `names.CIDRToName` and the v1→v3 upgrade converters), so that a cluster
//! set up with the old verbs holds the same resource names as one that Calico migrated.

use std::net::IpAddr;

use ipnet::IpNet;

/// The IPPool name for a CIDR: libcalico-go's `names.CIDRToName` of the canonical CIDR
/// (`10.1.0.0/16` → `10-1-0-0-16`, `fd00::/64` → `fd00---64`; host bits are dropped first).
pub fn cidr_to_name(cidr: &IpNet) -> String {
    model::names::cidr_to_name(&cidr.trunc())
}

/// An IP address as a name part, as the v1→v3 BGPPeer converter does: IPv4 with `.` replaced by
/// `-` (`192-168-0-1`); IPv6 as eight zero-padded four-digit hex groups joined by `-`
/// (`00aa-00bb-0000-0000-0000-0000-0000-0000`).
pub fn ip_to_name(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:04x}"))
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// A v1 node name normalised to a v3 name, as the converter does for node-specific BGP peers:
/// lower-case; `/` becomes `.`; any other character outside `[-.a-z0-9]` becomes `-`; a run of
/// `.` and `-` containing at least one `.` collapses to a single `.`; leading and trailing `.`
/// and `-` are removed.
pub fn normalize_node_name(name: &str) -> String {
    let lowered = name.to_lowercase().replace('/', ".");
    // Replace each run of invalid characters by a single dash.
    let mut replaced = String::with_capacity(lowered.len());
    let mut in_invalid = false;
    for c in lowered.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
            replaced.push(c);
            in_invalid = false;
        } else if !in_invalid {
            replaced.push('-');
            in_invalid = true;
        }
    }
    // Collapse runs of [.-] that contain a dot into one dot.
    let mut collapsed = String::with_capacity(replaced.len());
    let mut run = String::new();
    for c in replaced.chars().chain(std::iter::once('\0')) {
        if c == '.' || c == '-' {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            if run.contains('.') {
                collapsed.push('.');
            } else {
                collapsed.push_str(&run);
            }
            run.clear();
        }
        if c != '\0' {
            collapsed.push(c);
        }
    }
    collapsed.trim_matches(|c| c == '.' || c == '-').to_string()
}

/// The name of a global BGPPeer created by `bgp peer add IP`: the converter's name for a v1
/// global peer, [`ip_to_name`].
pub fn global_peer_name(ip: &IpAddr) -> String {
    ip_to_name(ip)
}

/// The name of a node-specific BGPPeer created by `node bgp peer add IP`: the converter's
/// `<normalised node>.<ip name>`.
pub fn node_peer_name(node: &str, ip: &IpAddr) -> String {
    format!("{}.{}", normalize_node_name(node), ip_to_name(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_names_match_libcalico() {
        let v4: IpNet = "10.1.0.0/16".parse().unwrap();
        assert_eq!(cidr_to_name(&v4), "10-1-0-0-16");
        let v6: IpNet = "fd00:1::/64".parse().unwrap();
        assert_eq!(cidr_to_name(&v6), "fd00-1---64");
        let host_bits: IpNet = "192.168.3.7/24".parse().unwrap();
        assert_eq!(cidr_to_name(&host_bits), "192-168-3-0-24");
    }

    #[test]
    fn ip_names_match_the_v1_converter() {
        let v4: IpAddr = "192.168.0.1".parse().unwrap();
        assert_eq!(ip_to_name(&v4), "192-168-0-1");
        let v6: IpAddr = "aa:bb::".parse().unwrap();
        assert_eq!(ip_to_name(&v6), "00aa-00bb-0000-0000-0000-0000-0000-0000");
        let v6: IpAddr = "0aa:bb::50".parse().unwrap();
        assert_eq!(ip_to_name(&v6), "00aa-00bb-0000-0000-0000-0000-0000-0050");
    }

    #[test]
    fn node_names_are_normalised_like_the_v1_converter() {
        for (before, after) in [
            ("abc-def", "abc-def"),
            ("abc---def", "abc---def"),
            ("abc/def", "abc.def"),
            ("abc$$def", "abc-def"),
            ("abc$!$def", "abc-def"),
            ("abc..def", "abc.def"),
            ("abc...def", "abc.def"),
            ("abc.-def", "abc.def"),
            ("abc.-.-def", "abc.def"),
            ("-.abc.-", "abc"),
            ("Node_1", "node-1"),
        ] {
            assert_eq!(normalize_node_name(before), after, "{before}");
        }
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(node_peer_name("Host1", &ip), "host1.10-0-0-1");
    }
}
