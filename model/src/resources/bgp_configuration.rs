//! BGPConfiguration (`default` for the cluster, `node.<name>` per node): the default AS, the
//! node-to-node mesh switch, service address advertisement and communities.

use serde::{Deserialize, Serialize};

use super::bgp::BGPPassword;
use super::duration::Duration;
use super::meta::ObjectMeta;
use super::node::check_as_number;
use super::numorstring::ASNumber;
use crate::validation::{Validate, Validator, k8s, net};

/// Calico's default AS number.
pub const DEFAULT_AS_NUMBER: u32 = 64512;
/// Default BGP listen port.
pub const DEFAULT_BGP_PORT: u16 = 179;

/// Which address BIRD listens on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BindMode {
    /// All addresses.
    #[default]
    None,
    /// Only the node's IP.
    NodeIP,
}

/// An Enabled/Disabled switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EnabledDisabled {
    Enabled,
    Disabled,
}

/// BGP configuration (cluster-wide `default`, or per node `node.<name>`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BGPConfiguration {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: BGPConfigurationSpec,
}

/// A CIDR block of service addresses to advertise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceIPBlock {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cidr: String,
}

/// A named BGP community value (`aa:nn` standard or `aa:nn:mm` large).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Community {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// Communities to attach to routes within a CIDR.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrefixAdvertisement {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cidr: String,
    /// Community names (from `communities`) or literal values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
}

/// The spec of a [`BGPConfiguration`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BGPConfigurationSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_severity_screen: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_to_node_mesh_enabled: Option<bool>,
    #[serde(default, rename = "asNumber", skip_serializing_if = "Option::is_none")]
    pub as_number: Option<ASNumber>,
    #[serde(
        default,
        rename = "serviceLoadBalancerIPs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub service_load_balancer_ips: Vec<ServiceIPBlock>,
    #[serde(
        default,
        rename = "serviceExternalIPs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub service_external_ips: Vec<ServiceIPBlock>,
    #[serde(
        default,
        rename = "serviceClusterIPs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub service_cluster_ips: Vec<ServiceIPBlock>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<Community>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefix_advertisements: Vec<PrefixAdvertisement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_mesh_password: Option<BGPPassword>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_mesh_max_restart_time: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_mode: Option<BindMode>,
    /// Interfaces whose addresses BIRD must not export (wildcards allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_interfaces: Vec<String>,
    #[serde(
        default,
        rename = "localWorkloadPeeringIPV4",
        skip_serializing_if = "String::is_empty"
    )]
    pub local_workload_peering_ipv4: String,
    #[serde(
        default,
        rename = "localWorkloadPeeringIPV6",
        skip_serializing_if = "String::is_empty"
    )]
    pub local_workload_peering_ipv6: String,
    /// Whether BIRD (Disabled) or Felix (Enabled) programs routes to remote workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_cluster_routes: Option<EnabledDisabled>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_load_balancer_aggregation: Option<EnabledDisabled>,
}

impl BGPConfigurationSpec {
    /// Whether the full node-to-node mesh is on (default true).
    pub fn node_to_node_mesh_enabled(&self) -> bool {
        self.node_to_node_mesh_enabled.unwrap_or(true)
    }

    /// The default AS number (64512 when unset).
    pub fn as_number(&self) -> u32 {
        self.as_number.map_or(DEFAULT_AS_NUMBER, ASNumber::get)
    }

    /// The BGP listen port (179 when unset).
    pub fn listen_port(&self) -> u16 {
        self.listen_port
            .filter(|p| *p != 0)
            .unwrap_or(DEFAULT_BGP_PORT)
    }

    /// The log severity (`Info` when unset).
    pub fn log_severity_screen(&self) -> &str {
        if self.log_severity_screen.is_empty() {
            "Info"
        } else {
            &self.log_severity_screen
        }
    }

    /// The bind mode (`None` when unset).
    pub fn bind_mode(&self) -> BindMode {
        self.bind_mode.unwrap_or_default()
    }

    /// Whether Felix, rather than BIRD, programs routes to remote workloads.
    pub fn felix_programs_cluster_routes(&self) -> bool {
        self.program_cluster_routes == Some(EnabledDisabled::Enabled)
    }
}

/// Log levels Calico accepts (case-insensitive, as the CRD's pattern).
pub(crate) fn is_log_level(s: &str) -> bool {
    ["Trace", "Debug", "Info", "Warning", "Error", "Fatal"]
        .iter()
        .any(|l| l.eq_ignore_ascii_case(s))
}

/// Parses a community value: `aa:nn` (16-bit parts) or `aa:nn:mm` (32-bit parts).
/// `Ok(None)` means the text is not in community format at all (so may be a name).
fn parse_community(s: &str) -> Result<Option<Vec<u32>>, String> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Ok(None);
    }
    let large = parts.len() == 3;
    let max: u64 = if large {
        u64::from(u32::MAX)
    } else {
        u64::from(u16::MAX)
    };
    let mut out = Vec::new();
    for p in parts {
        match p.parse::<u64>() {
            Ok(n) if n <= max => out.push(u32::try_from(n).unwrap_or(u32::MAX)),
            _ => {
                let bits = if large { 32 } else { 16 };
                return Err(format!(
                    "invalid community value {s:?}: expected {bits}-bit numbers"
                ));
            }
        }
    }
    Ok(Some(out))
}

impl Validate for BGPConfigurationSpec {
    fn validate(&self, v: &mut Validator) {
        if !self.log_severity_screen.is_empty() && !is_log_level(&self.log_severity_screen) {
            v.report_at(
                "logSeverityScreen",
                self.log_severity_screen.clone(),
                format!("invalid log level {:?}: must be one of Trace, Debug, Info, Warning, Error, Fatal", self.log_severity_screen),
            );
        }
        if let Some(a) = self.as_number {
            check_as_number(v, "asNumber", a);
        }
        for (field, blocks) in [
            ("serviceLoadBalancerIPs", &self.service_load_balancer_ips),
            ("serviceExternalIPs", &self.service_external_ips),
            ("serviceClusterIPs", &self.service_cluster_ips),
        ] {
            v.field(field, |v| {
                for (i, b) in blocks.iter().enumerate() {
                    if !b.cidr.is_empty() {
                        v.item(i, |v| {
                            net::check_net(v, "cidr", &b.cidr);
                        });
                    }
                }
            });
        }
        v.field("communities", |v| {
            for (i, c) in self.communities.iter().enumerate() {
                v.item(i, |v| {
                    if c.name.is_empty() {
                        v.report_at("name", "", "community name must be specified");
                    }
                    k8s::check_name_field(v, "name", &c.name);
                    match parse_community(&c.value) {
                        Ok(Some(_)) => {}
                        Ok(None) => v.report_at(
                            "value",
                            c.value.clone(),
                            format!(
                                "invalid community value {:?}: expected \"aa:nn\" or \"aa:nn:mm\"",
                                c.value
                            ),
                        ),
                        Err(e) => v.report_at("value", c.value.clone(), e),
                    }
                });
            }
        });
        if self.prefix_advertisements.is_empty() && !self.communities.is_empty() {
            v.report_at(
                "communities",
                "",
                "communities are defined but not used in prefixAdvertisements",
            );
        }
        v.field("prefixAdvertisements", |v| {
            for (i, pa) in self.prefix_advertisements.iter().enumerate() {
                v.item(i, |v| {
                    if pa.cidr.is_empty() {
                        v.report_at("cidr", "", "prefixAdvertisement CIDR must be specified");
                    } else {
                        net::check_cidr(v, "cidr", &pa.cidr);
                    }
                    v.field("communities", |v| {
                        for (j, c) in pa.communities.iter().enumerate() {
                            v.item(j, |v| match parse_community(c) {
                                Ok(Some(_)) => {}
                                Ok(None) => {
                                    if !self.communities.iter().any(|d| &d.name == c) {
                                        v.report(c.clone(), format!("community {c:?} is neither a valid value nor defined in communities"));
                                    }
                                }
                                Err(e) => v.report(c.clone(), e),
                            });
                        }
                    });
                });
            }
        });
        if self.listen_port == Some(0) {
            v.report_at("listenPort", "0", "listenPort must be between 1 and 65535");
        }
        let mesh_off = self.node_to_node_mesh_enabled == Some(false);
        if mesh_off && self.node_mesh_password.is_some() {
            v.report_at(
                "nodeMeshPassword",
                "",
                "nodeMeshPassword cannot be set when nodeToNodeMeshEnabled is false",
            );
        }
        if mesh_off && self.node_mesh_max_restart_time.is_some() {
            v.report_at(
                "nodeMeshMaxRestartTime",
                "",
                "nodeMeshMaxRestartTime cannot be set when nodeToNodeMeshEnabled is false",
            );
        }
        v.field("ignoredInterfaces", |v| {
            for (i, name) in self.ignored_interfaces.iter().enumerate() {
                v.item(i, |v| {
                    let ok = name != "*"
                        && (1..=15).contains(&name.len())
                        && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.*-".contains(&c));
                    if !ok {
                        v.report(name.clone(), format!("invalid interface name {name:?}: must be 1-15 characters of letters, digits, '_', '.', '*' or '-' (and not just \"*\")"));
                    }
                });
            }
        });
        if !self.local_workload_peering_ipv4.is_empty() {
            net::check_ip(
                v,
                "localWorkloadPeeringIPV4",
                &self.local_workload_peering_ipv4,
                Some(4),
            );
        }
        if !self.local_workload_peering_ipv6.is_empty() {
            net::check_ip(
                v,
                "localWorkloadPeeringIPV6",
                &self.local_workload_peering_ipv6,
                Some(6),
            );
        }
    }
}
