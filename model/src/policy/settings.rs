//! The FelixConfiguration settings that change policy: the action for workload-to-host
//! traffic, failsafe ports, and whether workloads may send encapsulated packets (Calico's
//! FelixConfiguration reference: `defaultEndpointToHostAction`, `failsafeInboundHostPorts`,
//! `allowIPIPPacketsFromWorkloads`, ...).
//!
//! For a node `N`, each setting comes from `node.N` when set there, else from `default`, else
//! Felix's default (the per-host resource wins over the global one, as in Felix's config loading).

use ipnet::IpNet;

use super::packet::proto;
use crate::resources::{EndpointToHostAction, FelixConfiguration, FelixConfigurationSpec};
use crate::validation::net;

/// A failsafe port: traffic to it bypasses host endpoint policy.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FailsafePort {
    /// Protocol number: TCP, UDP or SCTP.
    pub protocol: u8,
    /// Destination port.
    pub port: u16,
    /// For inbound entries the source must be in this network, for outbound entries the
    /// destination; `None` means any address.
    pub net: Option<IpNet>,
}

/// The policy-relevant settings of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSettings {
    /// What happens to workload-to-host traffic that egress policy allowed.
    pub endpoint_to_host_action: EndpointToHostAction,
    /// Inbound failsafe ports (traffic arriving through a host endpoint).
    pub failsafe_inbound: Vec<FailsafePort>,
    /// Outbound failsafe ports (traffic leaving through a host endpoint).
    pub failsafe_outbound: Vec<FailsafePort>,
    /// When false, VXLAN packets (UDP to `vxlan_port`) from workloads are dropped before
    /// egress policy.
    pub allow_vxlan_packets_from_workloads: bool,
    /// When false, IP-in-IP packets (protocol 4) from workloads are dropped before egress
    /// policy.
    pub allow_ipip_packets_from_workloads: bool,
    /// The VXLAN UDP port.
    pub vxlan_port: u16,
    /// Workload interface name prefixes.
    pub interface_prefixes: Vec<String>,
}

impl HostSettings {
    /// The settings of `node`, from its `node.<node>` configuration over `default`.
    pub fn for_node(configs: &[FelixConfiguration], node: &str) -> HostSettings {
        let per_node = format!("node.{node}");
        let find = |name: &str| {
            configs
                .iter()
                .rev()
                .find(|c| c.metadata.name == name)
                .map(|c| &*c.spec)
        };
        let merged = merge(find("default"), find(&per_node));
        HostSettings::from_spec(&merged)
    }

    /// The settings one configuration spec gives.
    pub fn from_spec(spec: &FelixConfigurationSpec) -> HostSettings {
        HostSettings {
            endpoint_to_host_action: spec.default_endpoint_to_host_action(),
            failsafe_inbound: failsafe_ports(&spec.failsafe_inbound_host_ports()),
            failsafe_outbound: failsafe_ports(&spec.failsafe_outbound_host_ports()),
            allow_vxlan_packets_from_workloads: spec
                .allow_vxlan_packets_from_workloads
                .unwrap_or(false),
            allow_ipip_packets_from_workloads: spec
                .allow_ipip_packets_from_workloads
                .unwrap_or(false),
            vxlan_port: spec.vxlan_port(),
            interface_prefixes: spec.interface_prefixes(),
        }
    }
}

impl Default for HostSettings {
    fn default() -> Self {
        HostSettings::from_spec(&FelixConfigurationSpec::default())
    }
}

/// The fields this module reads, from `node` when set there, else from `global`.
fn merge(
    global: Option<&FelixConfigurationSpec>,
    node: Option<&FelixConfigurationSpec>,
) -> FelixConfigurationSpec {
    let mut out = global.cloned().unwrap_or_default();
    let Some(n) = node else { return out };
    if !n.default_endpoint_to_host_action.is_empty() {
        out.default_endpoint_to_host_action = n.default_endpoint_to_host_action.clone();
    }
    if n.failsafe_inbound_host_ports.is_some() {
        out.failsafe_inbound_host_ports = n.failsafe_inbound_host_ports.clone();
    }
    if n.failsafe_outbound_host_ports.is_some() {
        out.failsafe_outbound_host_ports = n.failsafe_outbound_host_ports.clone();
    }
    if n.allow_vxlan_packets_from_workloads.is_some() {
        out.allow_vxlan_packets_from_workloads = n.allow_vxlan_packets_from_workloads;
    }
    if n.allow_ipip_packets_from_workloads.is_some() {
        out.allow_ipip_packets_from_workloads = n.allow_ipip_packets_from_workloads;
    }
    if n.vxlan_port.is_some() {
        out.vxlan_port = n.vxlan_port;
    }
    if !n.interface_prefix.is_empty() {
        out.interface_prefix = n.interface_prefix.clone();
    }
    out
}

/// Converts configured failsafe entries; entries with an unknown protocol or a bad network
/// are skipped (validation reports them).
fn failsafe_ports(entries: &[crate::resources::ProtoPort]) -> Vec<FailsafePort> {
    entries
        .iter()
        .filter_map(|e| {
            let protocol = match e.protocol.to_ascii_uppercase().as_str() {
                "" | "TCP" => proto::TCP,
                "UDP" => proto::UDP,
                "SCTP" => proto::SCTP,
                _ => return None,
            };
            let net = if e.net.is_empty() {
                None
            } else {
                Some(net::parse_cidr_or_ip(&e.net).ok()?.1)
            };
            Some(FailsafePort {
                protocol,
                port: e.port,
                net,
            })
        })
        .collect()
}
