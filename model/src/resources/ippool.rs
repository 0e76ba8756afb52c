//! IPPool: a range workload addresses are allocated from, in blocks, and how traffic to it is
//! encapsulated (IPIP / VXLAN) and NATed.

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use crate::validation::{Validate, Validator, net};

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// Default IPv4 block size.
pub const DEFAULT_BLOCK_SIZE_V4: u8 = 26;
/// Default IPv6 block size.
pub const DEFAULT_BLOCK_SIZE_V6: u8 = 122;

/// When to encapsulate traffic to a pool (used for both IPIP and VXLAN).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EncapsulationMode {
    #[default]
    Never,
    Always,
    /// Only when the destination host is on another subnet.
    CrossSubnet,
}

/// IPIP mode of a pool.
pub type IPIPMode = EncapsulationMode;
/// VXLAN mode of a pool.
pub type VXLANMode = EncapsulationMode;

impl EncapsulationMode {
    /// Whether encapsulation is ever used.
    pub fn enabled(self) -> bool {
        self != EncapsulationMode::Never
    }
}

/// What addresses from a pool may be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IPPoolAllowedUse {
    Workload,
    Tunnel,
    LoadBalancer,
}

/// Whether IPAM hands out addresses from the pool automatically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AssignmentMode {
    #[default]
    Automatic,
    Manual,
}

/// An IP pool (cluster-wide).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IPPool {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: IPPoolSpec,
}

/// The spec of an [`IPPool`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IPPoolSpec {
    #[serde(default)]
    pub cidr: String,
    #[serde(default, rename = "vxlanMode", skip_serializing_if = "Option::is_none")]
    pub vxlan_mode: Option<VXLANMode>,
    #[serde(default, rename = "ipipMode", skip_serializing_if = "Option::is_none")]
    pub ipip_mode: Option<IPIPMode>,
    /// Masquerade traffic from the pool to destinations outside all pools.
    #[serde(default, skip_serializing_if = "is_false")]
    pub nat_outgoing: bool,
    /// No new allocations from the pool.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// Do not export the pool's routes over BGP.
    #[serde(default, rename = "disableBGPExport", skip_serializing_if = "is_false")]
    pub disable_bgp_export: bool,
    /// Prefix length of allocation blocks; 0 means the default (26 / 122).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub block_size: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_selector: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace_selector: String,
    /// APIv1 compatibility only; must not be set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipip: Option<serde_json::Value>,
    /// APIv1 compatibility only; must not be set.
    #[serde(default, rename = "nat-outgoing", skip_serializing_if = "is_false")]
    pub nat_outgoing_v1: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_uses: Vec<IPPoolAllowedUse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_mode: Option<AssignmentMode>,
}

impl IPPoolSpec {
    /// The pool's network, if the CIDR parses (host bits cleared).
    pub fn network(&self) -> Option<ipnet::IpNet> {
        net::parse_cidr_or_ip(&self.cidr).ok().map(|(_, n)| n)
    }

    /// Whether the pool is IPv6.
    pub fn is_ipv6(&self) -> bool {
        matches!(self.network(), Some(ipnet::IpNet::V6(_)))
    }

    /// The block size, or the default for the pool's family when unset.
    pub fn block_size(&self) -> u8 {
        match u8::try_from(self.block_size) {
            Ok(b) if b != 0 => b,
            _ if self.is_ipv6() => DEFAULT_BLOCK_SIZE_V6,
            _ => DEFAULT_BLOCK_SIZE_V4,
        }
    }

    /// The IPIP mode, `Never` when unset.
    pub fn ipip(&self) -> IPIPMode {
        self.ipip_mode.unwrap_or_default()
    }

    /// The VXLAN mode, `Never` when unset.
    pub fn vxlan(&self) -> VXLANMode {
        self.vxlan_mode.unwrap_or_default()
    }

    /// The node selector, `all()` when unset.
    pub fn node_selector_or_all(&self) -> &str {
        if self.node_selector.is_empty() {
            "all()"
        } else {
            &self.node_selector
        }
    }

    /// The allowed uses, `[Workload, Tunnel]` when unset.
    pub fn allowed_uses_or_default(&self) -> Vec<IPPoolAllowedUse> {
        if self.allowed_uses.is_empty() {
            vec![IPPoolAllowedUse::Workload, IPPoolAllowedUse::Tunnel]
        } else {
            self.allowed_uses.clone()
        }
    }

    /// Whether IPAM may allocate workload addresses from this pool automatically.
    pub fn usable_for_workloads(&self) -> bool {
        !self.disabled
            && self.assignment_mode.unwrap_or_default() == AssignmentMode::Automatic
            && self
                .allowed_uses_or_default()
                .contains(&IPPoolAllowedUse::Workload)
    }

    /// Fills in what Calico's client fills in on write: canonical CIDR text (when the CIDR is
    /// strictly masked), block size, encapsulation modes, node selector, allowed uses and
    /// assignment mode.
    pub(crate) fn set_defaults(&mut self) {
        if let Ok((ip, n)) = net::parse_cidr_or_ip(&self.cidr) {
            // Only rewrite the text when it names the same network; a CIDR with host bits set
            // stays as written so validation can reject it.
            if n.addr() == ip {
                self.cidr = n.to_string();
            }
            if self.block_size == 0 {
                self.block_size = i64::from(if ip.is_ipv4() {
                    DEFAULT_BLOCK_SIZE_V4
                } else {
                    DEFAULT_BLOCK_SIZE_V6
                });
            }
        }
        self.ipip_mode.get_or_insert(EncapsulationMode::Never);
        self.vxlan_mode.get_or_insert(EncapsulationMode::Never);
        if self.node_selector.is_empty() {
            self.node_selector = "all()".to_owned();
        }
        if self.allowed_uses.is_empty() {
            self.allowed_uses = vec![IPPoolAllowedUse::Workload, IPPoolAllowedUse::Tunnel];
        }
        self.assignment_mode
            .get_or_insert(AssignmentMode::Automatic);
    }
}

impl Validate for IPPoolSpec {
    fn validate(&self, v: &mut Validator) {
        v.selector("nodeSelector", &self.node_selector);
        v.selector("namespaceSelector", &self.namespace_selector);
        if self.ipip.is_some() {
            v.report_at(
                "ipip",
                "",
                "the APIv1 field ipip must not be set; use ipipMode",
            );
        }
        if self.nat_outgoing_v1 {
            v.report_at(
                "nat-outgoing",
                "true",
                "the APIv1 field nat-outgoing must not be set; use natOutgoing",
            );
        }
        let lb = self.allowed_uses.contains(&IPPoolAllowedUse::LoadBalancer);
        let ipip = self.ipip();
        let vxlan = self.vxlan();
        if ipip.enabled() && vxlan.enabled() {
            v.report_at(
                "vxlanMode",
                format!("{vxlan:?}"),
                "cannot enable both VXLAN and IPIP on the same IPPool",
            );
        }
        if lb {
            if ipip.enabled() || vxlan.enabled() {
                v.report_at("ipipMode", format!("{ipip:?}"), "neither ipipMode nor vxlanMode can be enabled on an IPPool with allowedUses LoadBalancer");
            }
            for u in &self.allowed_uses {
                if *u != IPPoolAllowedUse::LoadBalancer {
                    v.report_at(
                        "allowedUses",
                        format!("{u:?}"),
                        format!("LoadBalancer cannot be used at the same time as {u:?}"),
                    );
                }
            }
            if self.disable_bgp_export {
                v.report_at(
                    "disableBGPExport",
                    "true",
                    "an IPPool with allowedUses LoadBalancer must not have disableBGPExport set",
                );
            }
            if !self.node_selector.is_empty() && self.node_selector != "all()" {
                v.report_at(
                    "nodeSelector",
                    self.node_selector.clone(),
                    "an IPPool with allowedUses LoadBalancer must have nodeSelector all()",
                );
            }
        }
        if self.cidr.is_empty() {
            v.report_at("cidr", "", "IPPool CIDR must be specified");
            return;
        }
        let (ip, cidr) = match net::parse_cidr_or_ip(&self.cidr) {
            Ok(x) => x,
            Err(e) => {
                v.report_at(
                    "cidr",
                    self.cidr.clone(),
                    format!("invalid CIDR {:?}: {e}", self.cidr),
                );
                return;
            }
        };
        if cidr.addr() != ip {
            v.report_at(
                "cidr",
                self.cidr.clone(),
                format!(
                    "IPPool CIDR {:?} is not strictly masked (the network is {cidr})",
                    self.cidr
                ),
            );
        }
        let v6 = !ip.is_ipv4();
        if v6 && ipip.enabled() {
            v.report_at(
                "ipipMode",
                format!("{ipip:?}"),
                "IPIP is not supported on an IPv6 IP pool",
            );
        }
        let block = if self.block_size == 0 {
            i64::from(if v6 {
                DEFAULT_BLOCK_SIZE_V6
            } else {
                DEFAULT_BLOCK_SIZE_V4
            })
        } else {
            self.block_size
        };
        let (lo, hi) = if v6 { (116, 128) } else { (20, 32) };
        if !(lo..=hi).contains(&block) {
            v.report_at(
                "blockSize",
                block.to_string(),
                format!(
                    "invalid blockSize {block}: IPv{} block size must be between {lo} and {hi}",
                    if v6 { 6 } else { 4 }
                ),
            );
        } else if !self.disabled && i64::from(cidr.prefix_len()) > block {
            v.report_at(
                "cidr",
                self.cidr.clone(),
                format!("IP pool {cidr} is too small for use with Calico IPAM: its prefix must not be longer than the block size /{block}"),
            );
        }
        let link_local: ipnet::IpNet = if v6 {
            ipnet::IpNet::V6(
                ipnet::Ipv6Net::new(std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10)
                    .unwrap_or_default(),
            )
        } else {
            ipnet::IpNet::V4(
                ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(169, 254, 0, 0), 16)
                    .unwrap_or_default(),
            )
        };
        if cidr.contains(&link_local) || link_local.contains(&cidr) {
            v.report_at(
                "cidr",
                self.cidr.clone(),
                format!(
                    "IPPool CIDR overlaps with IPv{} Link Local range {link_local}",
                    if v6 { 6 } else { 4 }
                ),
            );
        }
    }
}
