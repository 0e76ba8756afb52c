//! Node: one Calico host, its BGP identity (addresses, AS number, route-reflector cluster ID)
//! and tunnel addresses; status carries what the node reports about itself.

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use super::numorstring::ASNumber;
use crate::validation::{Validate, Validator, k8s, net};

/// A Calico node (host).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NodeSpec,
    /// Omitted when empty (Go always writes `"status":{}`; both read the same).
    #[serde(default, skip_serializing_if = "NodeStatus::is_empty")]
    pub status: NodeStatus,
}

/// The spec of a [`Node`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp: Option<NodeBGPSpec>,
    #[serde(
        default,
        rename = "ipv4VXLANTunnelAddr",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_vxlan_tunnel_addr: String,
    #[serde(
        default,
        rename = "vxlanTunnelMACAddr",
        skip_serializing_if = "String::is_empty"
    )]
    pub vxlan_tunnel_mac_addr: String,
    #[serde(
        default,
        rename = "ipv6VXLANTunnelAddr",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_vxlan_tunnel_addr: String,
    #[serde(
        default,
        rename = "vxlanTunnelMACAddrV6",
        skip_serializing_if = "String::is_empty"
    )]
    pub vxlan_tunnel_mac_addr_v6: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orch_refs: Vec<OrchRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wireguard: Option<NodeWireguardSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<NodeAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<NodeInterface>,
}

/// A node's BGP settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeBGPSpec {
    /// The node's AS; `None` means the cluster default (BGPConfiguration, else 64512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_number: Option<ASNumber>,
    /// The node's IPv4 address with its subnet, e.g. `10.0.0.5/24`.
    #[serde(
        default,
        rename = "ipv4Address",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_address: String,
    #[serde(
        default,
        rename = "ipv6Address",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_address: String,
    #[serde(
        default,
        rename = "ipv4IPIPTunnelAddr",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_ipip_tunnel_addr: String,
    /// Makes the node a route reflector in this cluster (an IPv4-formatted ID).
    #[serde(
        default,
        rename = "routeReflectorClusterID",
        skip_serializing_if = "String::is_empty"
    )]
    pub route_reflector_cluster_id: String,
}

impl NodeBGPSpec {
    /// The IPv4 address (without prefix length), if set and valid.
    pub fn ipv4(&self) -> Option<std::net::Ipv4Addr> {
        net::parse_cidr_or_ip(&self.ipv4_address)
            .ok()
            .and_then(|(ip, _)| match ip {
                std::net::IpAddr::V4(a) => Some(a),
                std::net::IpAddr::V6(_) => None,
            })
    }

    /// The IPv6 address (without prefix length), if set and valid.
    pub fn ipv6(&self) -> Option<std::net::Ipv6Addr> {
        net::parse_cidr_or_ip(&self.ipv6_address)
            .ok()
            .and_then(|(ip, _)| match ip {
                std::net::IpAddr::V6(a) => Some(a),
                std::net::IpAddr::V4(_) => None,
            })
    }

    /// The IPv4 subnet the node's address is in, if set and valid.
    pub fn ipv4_network(&self) -> Option<ipnet::IpNet> {
        net::parse_cidr_or_ip(&self.ipv4_address)
            .ok()
            .map(|(_, n)| n)
    }

    /// The IPv6 subnet the node's address is in, if set and valid.
    pub fn ipv6_network(&self) -> Option<ipnet::IpNet> {
        net::parse_cidr_or_ip(&self.ipv6_address)
            .ok()
            .map(|(_, n)| n)
    }

    /// Whether the node is a route reflector.
    pub fn is_route_reflector(&self) -> bool {
        !self.route_reflector_cluster_id.is_empty()
    }
}

/// WireGuard interface addresses of a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeWireguardSpec {
    #[serde(
        default,
        rename = "interfaceIPv4Address",
        skip_serializing_if = "String::is_empty"
    )]
    pub interface_ipv4_address: String,
    #[serde(
        default,
        rename = "interfaceIPv6Address",
        skip_serializing_if = "String::is_empty"
    )]
    pub interface_ipv6_address: String,
}

/// Correlates the node with its name in an orchestrator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrchRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_name: String,
    #[serde(default)]
    pub orchestrator: String,
}

/// An address the node can be reached at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAddress {
    #[serde(default)]
    pub address: String,
    /// `CalicoNodeIP`, `InternalIP` or `ExternalIP`.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub address_type: String,
}

/// A host interface and its addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeInterface {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
}

/// What the node reports about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wireguard_public_key: String,
    #[serde(
        default,
        rename = "wireguardPublicKeyV6",
        skip_serializing_if = "String::is_empty"
    )]
    pub wireguard_public_key_v6: String,
    #[serde(default, rename = "podCIDRs", skip_serializing_if = "Vec::is_empty")]
    pub pod_cidrs: Vec<String>,
}

impl NodeStatus {
    /// Whether no status field is set.
    pub fn is_empty(&self) -> bool {
        self == &NodeStatus::default()
    }
}

fn check_address(v: &mut Validator, field: &str, value: &str, family: u8) {
    if value.is_empty() {
        return;
    }
    match net::parse_cidr_or_ip(value) {
        Ok((ip, _)) if (family == 4) == ip.is_ipv4() => {}
        Ok(_) => v.report_at(
            field,
            value,
            format!("invalid IPv{family} CIDR {value:?}: wrong address family"),
        ),
        Err(e) => v.report_at(field, value, format!("invalid CIDR {value:?}: {e}")),
    }
}

impl Validate for NodeBGPSpec {
    fn validate(&self, v: &mut Validator) {
        if self == &NodeBGPSpec::default() {
            v.report("", "spec.bgp should not be empty");
        }
        if let Some(asn) = self.as_number {
            check_as_number(v, "asNumber", asn);
        }
        check_address(v, "ipv4Address", &self.ipv4_address, 4);
        check_address(v, "ipv6Address", &self.ipv6_address, 6);
        if !self.ipv4_ipip_tunnel_addr.is_empty() {
            net::check_ip(
                v,
                "ipv4IPIPTunnelAddr",
                &self.ipv4_ipip_tunnel_addr,
                Some(4),
            );
        }
        if !self.route_reflector_cluster_id.is_empty() {
            net::check_ip(
                v,
                "routeReflectorClusterID",
                &self.route_reflector_cluster_id,
                Some(4),
            );
        }
    }
}

/// Reports an AS number of 0 (the only value a decoded [`ASNumber`] can have that is invalid).
pub(crate) fn check_as_number(v: &mut Validator, field: &str, asn: ASNumber) {
    if asn.0 == 0 {
        v.report_at(
            field,
            "0",
            "invalid AS number 0: must be between 1 and 4294967295",
        );
    }
}

impl Validate for NodeSpec {
    fn validate(&self, v: &mut Validator) {
        if let Some(bgp) = &self.bgp {
            v.nested("bgp", bgp);
        }
        if !self.ipv4_vxlan_tunnel_addr.is_empty() {
            net::check_ip(
                v,
                "ipv4VXLANTunnelAddr",
                &self.ipv4_vxlan_tunnel_addr,
                Some(4),
            );
        }
        if !self.ipv6_vxlan_tunnel_addr.is_empty() {
            net::check_ip(
                v,
                "ipv6VXLANTunnelAddr",
                &self.ipv6_vxlan_tunnel_addr,
                Some(6),
            );
        }
        for (field, mac) in [
            ("vxlanTunnelMACAddr", &self.vxlan_tunnel_mac_addr),
            ("vxlanTunnelMACAddrV6", &self.vxlan_tunnel_mac_addr_v6),
        ] {
            if !mac.is_empty() && !super::endpoint::is_mac(mac) {
                v.report_at(field, mac.clone(), format!("invalid MAC address {mac:?}"));
            }
        }
        if let Some(wg) = &self.wireguard {
            v.field("wireguard", |v| {
                if !wg.interface_ipv4_address.is_empty() {
                    net::check_ip(
                        v,
                        "interfaceIPv4Address",
                        &wg.interface_ipv4_address,
                        Some(4),
                    );
                }
                if !wg.interface_ipv6_address.is_empty() {
                    net::check_ip(
                        v,
                        "interfaceIPv6Address",
                        &wg.interface_ipv6_address,
                        Some(6),
                    );
                }
            });
        }
        v.field("addresses", |v| {
            for (i, a) in self.addresses.iter().enumerate() {
                v.item(i, |v| {
                    net::check_cidr(v, "address", &a.address);
                });
            }
        });
        v.field("interfaces", |v| {
            for (i, it) in self.interfaces.iter().enumerate() {
                v.item(i, |v| k8s::check_name_field(v, "name", &it.name));
            }
        });
    }
}
