//! Endpoints: WorkloadEndpoints (a workload's interface, namespaced) and HostEndpoints (a host
//! interface or set of host IPs to protect, cluster-wide).

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use super::numorstring::Protocol;
use super::rule_validation::check_protocol;
use crate::names::{WorkloadEndpointIdentifiers, WorkloadEndpointNameError};
use crate::validation::{Validate, Validator, k8s, net};

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// A workload's network interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadEndpoint {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: WorkloadEndpointSpec,
}

/// The spec of a [`WorkloadEndpoint`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadEndpointSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub orchestrator: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workload: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    #[serde(
        default,
        rename = "containerID",
        skip_serializing_if = "String::is_empty"
    )]
    pub container_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account_name: String,
    /// The endpoint's addresses, each a /32 or /128 (a bare address is accepted).
    #[serde(default, rename = "ipNetworks", skip_serializing_if = "Vec::is_empty")]
    pub ip_networks: Vec<String>,
    #[serde(default, rename = "ipNATs", skip_serializing_if = "Vec::is_empty")]
    pub ip_nats: Vec<IPNAT>,
    #[serde(
        default,
        rename = "ipv4Gateway",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_gateway: String,
    #[serde(
        default,
        rename = "ipv6Gateway",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_gateway: String,
    /// Profiles applied after policy, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// The host-side interface, e.g. `cali1234567890a`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interface_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<WorkloadEndpointPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_spoofed_source_prefixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos_controls: Option<QoSControls>,
}

impl WorkloadEndpoint {
    /// The identifiers the endpoint's name is built from.
    pub fn identifiers(&self) -> WorkloadEndpointIdentifiers {
        let s = &self.spec;
        WorkloadEndpointIdentifiers {
            node: s.node.clone(),
            orchestrator: s.orchestrator.clone(),
            endpoint: s.endpoint.clone(),
            workload: s.workload.clone(),
            pod: s.pod.clone(),
            container_id: s.container_id.clone(),
        }
    }

    /// What Calico's client does on write: name the endpoint from its identifiers when it has
    /// no name, and add the `projectcalico.org/namespace`, `projectcalico.org/orchestrator`
    /// (and `projectcalico.org/serviceaccount`) labels.
    pub(crate) fn set_defaults(&mut self) {
        if self.metadata.name.is_empty()
            && let Ok(name) = self.identifiers().name()
        {
            self.metadata.name = name;
        }
        let labels = &mut self.metadata.labels;
        if let Some(ns) = self.metadata.namespace.as_deref().filter(|s| !s.is_empty()) {
            labels.insert(LABEL_NAMESPACE.to_owned(), ns.to_owned());
        }
        if !self.spec.orchestrator.is_empty() {
            labels.insert(
                LABEL_ORCHESTRATOR.to_owned(),
                self.spec.orchestrator.clone(),
            );
        }
        if !self.spec.service_account_name.is_empty() {
            labels.insert(
                LABEL_SERVICE_ACCOUNT.to_owned(),
                self.spec.service_account_name.clone(),
            );
        }
    }

    /// Checks that the name is the one Calico derives from the spec's identifiers.
    pub(crate) fn check_name(&self, v: &mut Validator) {
        match self.identifiers().name() {
            Ok(expected) => {
                let name = &self.metadata.name;
                if !name.is_empty() && *name != expected {
                    let message = format!(
                        "the WorkloadEndpoint name {name:?} does not match the identifiers in its spec: expected {expected:?}"
                    );
                    v.field("metadata", |v| v.report_at("name", name.clone(), message));
                }
            }
            Err(WorkloadEndpointNameError::Missing(field)) => v.field("spec", |v| {
                v.report_at(
                    field,
                    "",
                    format!("{field} must be set (it is part of the WorkloadEndpoint name)"),
                )
            }),
            Err(WorkloadEndpointNameError::Dash { field, value }) => v.field("spec", |v| {
                v.report_at(
                    field,
                    value.clone(),
                    format!("{field} {value:?} must not begin or end with '-'"),
                )
            }),
        }
    }
}

/// Label Calico puts on workload endpoints: their namespace.
pub const LABEL_NAMESPACE: &str = "projectcalico.org/namespace";
/// Label Calico puts on workload endpoints: their orchestrator.
pub const LABEL_ORCHESTRATOR: &str = "projectcalico.org/orchestrator";
/// Label Calico puts on workload endpoints: their service account.
pub const LABEL_SERVICE_ACCOUNT: &str = "projectcalico.org/serviceaccount";

impl WorkloadEndpointSpec {
    /// The parsed `ipNetworks` (skipping any that do not parse).
    pub fn networks(&self) -> Vec<ipnet::IpNet> {
        self.ip_networks
            .iter()
            .filter_map(|n| net::parse_cidr_or_ip(n).ok().map(|(_, n)| n))
            .collect()
    }
}

/// A named (or host-mapped) port of a workload endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadEndpointPort {
    #[serde(default)]
    pub name: String,
    pub protocol: Protocol,
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub host_port: u16,
    #[serde(default, rename = "hostIP")]
    pub host_ip: String,
}

/// A 1:1 NAT mapping for a workload endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(clippy::upper_case_acronyms)]
pub struct IPNAT {
    #[serde(default, rename = "internalIP")]
    pub internal_ip: String,
    #[serde(default, rename = "externalIP")]
    pub external_ip: String,
}

/// Bandwidth, packet-rate and connection limits for a workload endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QoSControls {
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ingress_bandwidth: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ingress_burst: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ingress_peakrate: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ingress_minburst: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub egress_bandwidth: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub egress_burst: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub egress_peakrate: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub egress_minburst: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ingress_packet_rate: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ingress_packet_burst: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub egress_packet_rate: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub egress_packet_burst: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ingress_max_connections: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub egress_max_connections: i64,
    /// DSCP value (number 0-63 or a name such as `AF11`); kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dscp: Option<serde_json::Value>,
}

/// A host interface (or a set of host addresses) to police.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEndpoint {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: HostEndpointSpec,
}

/// The spec of a [`HostEndpoint`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostEndpointSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// The interface; `"*"` means all of the host's interfaces.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interface_name: String,
    #[serde(default, rename = "expectedIPs", skip_serializing_if = "Vec::is_empty")]
    pub expected_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPort>,
}

impl HostEndpointSpec {
    /// Whether this endpoint covers all of the host's interfaces.
    pub fn is_all_interfaces(&self) -> bool {
        self.interface_name == "*"
    }
}

/// A named port of a host endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointPort {
    #[serde(default)]
    pub name: String,
    pub protocol: Protocol,
    #[serde(default)]
    pub port: u16,
}

fn check_profiles(v: &mut Validator, profiles: &[String]) {
    v.field("profiles", |v| {
        for (i, p) in profiles.iter().enumerate() {
            v.item(i, |v| {
                if !k8s::is_dns_subdomain(p) {
                    v.report(p.clone(), format!("invalid profile name {p:?}: must consist of lower case alphanumeric characters, '-' or '.'"));
                }
            });
        }
    });
}

fn check_port_protocol(v: &mut Validator, p: &Protocol) {
    check_protocol(v, "protocol", p);
    if !matches!(p, Protocol::Other(_) | Protocol::Number(0)) && !p.supports_ports() {
        v.report_at(
            "protocol",
            p.to_string(),
            format!("protocol {p} does not support ports; use TCP, UDP or SCTP"),
        );
    }
}

impl Validate for WorkloadEndpointPort {
    fn validate(&self, v: &mut Validator) {
        if !self.name.is_empty() {
            for p in k8s::port_name_problems(&self.name) {
                v.report_at(
                    "name",
                    self.name.clone(),
                    format!("invalid port name {:?}: {p}", self.name),
                );
            }
        } else if self.host_port == 0 {
            v.report_at(
                "name",
                "",
                "port name must not be empty if no hostPort is specified",
            );
        }
        check_port_protocol(v, &self.protocol);
        if self.port == 0 {
            v.report_at("port", "0", "port must be between 1 and 65535");
        }
        if !self.host_ip.is_empty() {
            net::check_net(v, "hostIP", &self.host_ip);
        }
    }
}

impl Validate for EndpointPort {
    fn validate(&self, v: &mut Validator) {
        for p in k8s::port_name_problems(&self.name) {
            v.report_at(
                "name",
                self.name.clone(),
                format!("invalid port name {:?}: {p}", self.name),
            );
        }
        check_port_protocol(v, &self.protocol);
        if self.port == 0 {
            v.report_at("port", "0", "port must be between 1 and 65535");
        }
    }
}

impl Validate for WorkloadEndpointSpec {
    fn validate(&self, v: &mut Validator) {
        for (field, value) in [
            ("orchestrator", &self.orchestrator),
            ("workload", &self.workload),
            ("node", &self.node),
            ("pod", &self.pod),
            ("endpoint", &self.endpoint),
            ("serviceAccountName", &self.service_account_name),
        ] {
            k8s::check_name_field(v, field, value);
        }
        let cid = &self.container_id;
        if !cid.is_empty() {
            let b = cid.as_bytes();
            let ok = b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b.first().is_some_and(u8::is_ascii_alphanumeric)
                && b.last().is_some_and(u8::is_ascii_alphanumeric);
            if !ok {
                v.report_at("containerID", cid.clone(), format!("invalid container ID {cid:?}: must be alphanumeric characters or '-', starting and ending with an alphanumeric"));
            }
        }
        let mut nets = Vec::new();
        v.field("ipNetworks", |v| {
            for (i, n) in self.ip_networks.iter().enumerate() {
                v.item(i, |v| match net::parse_net(n) {
                    Ok(ipn) => {
                        if ipn.prefix_len() != ipn.max_prefix_len() {
                            v.report(n.clone(), format!("invalid IP network {n:?}: a workload endpoint network must be a single address (/32 or /128)"));
                        }
                        nets.push(ipn);
                    }
                    Err(e) => v.report(n.clone(), format!("invalid CIDR {n:?}: {e}")),
                });
            }
        });
        v.field("ipNATs", |v| {
            for (i, nat) in self.ip_nats.iter().enumerate() {
                v.item(i, |v| {
                    let int = net::check_ip(v, "internalIP", &nat.internal_ip, None);
                    let ext = net::check_ip(v, "externalIP", &nat.external_ip, None);
                    if let (Some(a), Some(b)) = (int, ext)
                        && a.is_ipv4() != b.is_ipv4()
                    {
                        v.report_at(
                            "externalIP",
                            nat.external_ip.clone(),
                            "internalIP and externalIP must be of the same IP version",
                        );
                    }
                    if let Some(a) = int
                        && !nets.iter().any(|n| n.contains(&a))
                    {
                        v.report_at(
                            "internalIP",
                            nat.internal_ip.clone(),
                            format!("NAT internal IP {a} is not in the endpoint's ipNetworks"),
                        );
                    }
                });
            }
        });
        if !self.ipv4_gateway.is_empty() {
            net::check_ip(v, "ipv4Gateway", &self.ipv4_gateway, Some(4));
        }
        if !self.ipv6_gateway.is_empty() {
            net::check_ip(v, "ipv6Gateway", &self.ipv6_gateway, Some(6));
        }
        check_profiles(v, &self.profiles);
        if !k8s::is_interface_name(&self.interface_name) && self.interface_name != "*" {
            v.report_at(
                "interfaceName",
                self.interface_name.clone(),
                format!("invalid interface name {:?}: must be 1-15 characters of letters, digits, '_', '.' or '-'", self.interface_name),
            );
        }
        if !self.mac.is_empty() && !is_mac(&self.mac) {
            v.report_at(
                "mac",
                self.mac.clone(),
                format!("invalid MAC address {:?}", self.mac),
            );
        }
        v.list("ports", &self.ports);
        v.field("allowSpoofedSourcePrefixes", |v| {
            for (i, p) in self.allow_spoofed_source_prefixes.iter().enumerate() {
                v.item(i, |v| {
                    if let Err(e) = net::parse_cidr_or_ip(p) {
                        v.report(p.clone(), format!("invalid CIDR {p:?}: {e}"));
                    }
                });
            }
        });
    }
}

impl Validate for HostEndpointSpec {
    fn validate(&self, v: &mut Validator) {
        if self.interface_name.is_empty() && self.expected_ips.is_empty() {
            v.report_at(
                "interfaceName",
                "",
                "no interface or expected IPs have been specified",
            );
        }
        if self.node.is_empty() {
            v.report_at("node", "", "no node has been specified");
        }
        k8s::check_name_field(v, "node", &self.node);
        if !self.interface_name.is_empty()
            && self.interface_name != "*"
            && !k8s::is_interface_name(&self.interface_name)
        {
            v.report_at(
                "interfaceName",
                self.interface_name.clone(),
                format!("invalid interface name {:?}: must be \"*\" or 1-15 characters of letters, digits, '_', '.' or '-'", self.interface_name),
            );
        }
        v.field("expectedIPs", |v| {
            for (i, ip) in self.expected_ips.iter().enumerate() {
                v.item(i, |v| {
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        v.report(ip.clone(), format!("invalid IP address {ip:?}"));
                    }
                });
            }
        });
        check_profiles(v, &self.profiles);
        v.list("ports", &self.ports);
    }
}

/// Go's `net.ParseMAC` formats: 6, 8 or 20 octets separated by `:` or `-`, or dotted quads.
pub(crate) fn is_mac(s: &str) -> bool {
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|c| c.is_ascii_hexdigit());
    for sep in [':', '-'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if [6, 8, 20].contains(&parts.len()) && parts.iter().all(|p| hex(p, 2)) {
            return true;
        }
    }
    let parts: Vec<&str> = s.split('.').collect();
    [3, 4, 10].contains(&parts.len()) && parts.iter().all(|p| hex(p, 4))
}
