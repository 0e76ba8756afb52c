//! BGPPeer: an explicit BGP peering, for all nodes or those a selector picks, with an external
//! router (`peerIP`) or with other Calico nodes (`peerSelector`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::duration::Duration;
use super::meta::ObjectMeta;
use super::node::check_as_number;
use super::numorstring::ASNumber;
use crate::validation::{Validate, Validator, k8s, net};

fn is_false(b: &bool) -> bool {
    !*b
}

/// Whether to set the node's IP as the session's source address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SourceAddress {
    #[default]
    UseNodeIP,
    None,
}

/// How the next hop of routes sent to the peer is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NextHopMode {
    /// BGP's default behaviour.
    #[default]
    Auto,
    /// `next hop self`.
    #[serde(rename = "Self")]
    SelfHop,
    /// `next hop keep`.
    Keep,
}

/// Whether the reverse peering of a node-to-node peering is generated automatically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReversePeering {
    #[default]
    Auto,
    Manual,
}

/// Reference to a key in a Kubernetes Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeySelector {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// Where a BGP password comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BGPPassword {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
}

/// An explicit BGP peering (cluster-wide).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BGPPeer {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: BGPPeerSpec,
}

/// The spec of a [`BGPPeer`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BGPPeerSpec {
    /// The one node this peering applies to (empty with no nodeSelector: all nodes).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_selector: String,
    /// `<IP>`, `<IPv4>:<port>` or `[<IPv6>]:<port>`.
    #[serde(default, rename = "peerIP", skip_serializing_if = "String::is_empty")]
    pub peer_ip: String,
    #[serde(default, rename = "asNumber", skip_serializing_if = "Option::is_none")]
    pub as_number: Option<ASNumber>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer_selector: String,
    /// Deprecated: use `nextHopMode: Keep`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_original_next_hop: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<BGPPassword>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<SourceAddress>,
    /// Graceful-restart time; BIRD's default (120s) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_restart_time: Option<Duration>,
    #[serde(
        default,
        rename = "numAllowedLocalASNumbers",
        skip_serializing_if = "Option::is_none"
    )]
    pub num_allowed_local_as_numbers: Option<i32>,
    /// GTSM: the number of hops to the peer.
    #[serde(
        default,
        rename = "ttlSecurity",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl_security: Option<u8>,
    /// Gateway through which the peer is reached (adds a /32 static route).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reachable_by: String,
    /// Names of BGPFilters applied to this peering, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub local_workload_selector: String,
    #[serde(
        default,
        rename = "localASNumber",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_as_number: Option<ASNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_mode: Option<NextHopMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_time: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse_peering: Option<ReversePeering>,
}

impl BGPPeerSpec {
    /// The peer address and optional port from `peerIP`.
    pub fn peer_address(&self) -> Option<(IpAddr, Option<u16>)> {
        if self.peer_ip.is_empty() {
            return None;
        }
        net::parse_ip_port(&self.peer_ip).ok()
    }

    /// The source-address mode, `UseNodeIP` when unset.
    pub fn source_address_or_default(&self) -> SourceAddress {
        self.source_address.unwrap_or_default()
    }

    /// The effective next-hop mode: `nextHopMode` if set, `Keep` for the deprecated
    /// `keepOriginalNextHop`, else `Auto`.
    pub fn effective_next_hop_mode(&self) -> NextHopMode {
        match self.next_hop_mode {
            Some(m) => m,
            None if self.keep_original_next_hop => NextHopMode::Keep,
            None => NextHopMode::Auto,
        }
    }

    /// Whether the peering applies to every node (no node and no nodeSelector).
    pub fn is_global(&self) -> bool {
        self.node.is_empty() && self.node_selector.is_empty()
    }
}

impl Validate for BGPPeerSpec {
    fn validate(&self, v: &mut Validator) {
        k8s::check_name_field(v, "node", &self.node);
        v.selector("nodeSelector", &self.node_selector);
        v.selector("peerSelector", &self.peer_selector);
        v.selector("localWorkloadSelector", &self.local_workload_selector);
        let peer = if self.peer_ip.is_empty() {
            None
        } else {
            match net::parse_ip_port(&self.peer_ip) {
                Ok((ip, _)) => Some(ip),
                Err(e) => {
                    v.report_at(
                        "peerIP",
                        self.peer_ip.clone(),
                        format!("invalid peerIP {:?}: {e}", self.peer_ip),
                    );
                    None
                }
            }
        };
        if let Some(a) = self.as_number {
            check_as_number(v, "asNumber", a);
        }
        if let Some(a) = self.local_as_number {
            check_as_number(v, "localASNumber", a);
        }
        let has_as = self.as_number.is_some_and(|a| a.0 != 0);
        if !self.node.is_empty() && !self.node_selector.is_empty() {
            v.report_at(
                "node",
                self.node.clone(),
                "node must be empty when nodeSelector is specified",
            );
        }
        if !self.peer_ip.is_empty() && !self.peer_selector.is_empty() {
            v.report_at(
                "peerIP",
                self.peer_ip.clone(),
                "peerIP must be empty when peerSelector is specified",
            );
        }
        if has_as && !self.peer_selector.is_empty() {
            v.report_at(
                "asNumber",
                self.as_number.map(|a| a.to_string()).unwrap_or_default(),
                "asNumber must be empty when peerSelector is specified",
            );
        }
        if !self.local_workload_selector.is_empty() {
            if !has_as {
                v.report_at(
                    "asNumber",
                    "",
                    "asNumber must be set when localWorkloadSelector is specified",
                );
            }
            if !self.peer_ip.is_empty() {
                v.report_at(
                    "peerIP",
                    self.peer_ip.clone(),
                    "peerIP must be empty when localWorkloadSelector is specified",
                );
            }
            if !self.peer_selector.is_empty() {
                v.report_at(
                    "peerSelector",
                    self.peer_selector.clone(),
                    "peerSelector must be empty when localWorkloadSelector is specified",
                );
            }
        }
        if !self.reachable_by.is_empty() {
            match self.reachable_by.parse::<IpAddr>() {
                Err(_) => v.report_at(
                    "reachableBy",
                    self.reachable_by.clone(),
                    format!(
                        "invalid reachableBy {:?}: not an IP address",
                        self.reachable_by
                    ),
                ),
                Ok(gw) => {
                    if self.peer_ip.is_empty() {
                        v.report_at(
                            "reachableBy",
                            self.reachable_by.clone(),
                            "reachableBy must be empty when peerIP is empty",
                        );
                    } else if let Some(p) = peer
                        && p.is_ipv4() != gw.is_ipv4()
                    {
                        v.report_at(
                            "reachableBy",
                            self.reachable_by.clone(),
                            "reachableBy and peerIP address families do not match",
                        );
                    }
                }
            }
        }
        if self.keep_original_next_hop && self.next_hop_mode.is_some() {
            v.report_at("keepOriginalNextHop", "true", "keepOriginalNextHop is deprecated and must not be set to true when nextHopMode is set");
        }
        v.field("filters", |v| {
            for (i, f) in self.filters.iter().enumerate() {
                v.item(i, |v| {
                    if !k8s::is_dns_subdomain(f) {
                        v.report(f.clone(), format!("invalid BGPFilter name {f:?}"));
                    }
                });
            }
        });
    }
}
