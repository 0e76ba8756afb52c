//! IPAM resources (libcalico-go `internalapi`): allocation blocks, block affinities, handles
//! and the IPAM configuration. In etcd mode Calico stores these under `/calico/ipam/v2/` in
//! its v1 format (libcalico-go `lib/backend/model/block.go`, `block_affinity.go`; see
//! [`crate::keys`]); these are the v3 shapes `calicoctl` shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use super::scalar;
use crate::validation::{Validate, Validator, net};

fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

/// An allocation block of a pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IPAMBlock {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: IPAMBlockSpec,
}

/// The spec of an [`IPAMBlock`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IPAMBlockSpec {
    #[serde(default)]
    pub cidr: String,
    /// `host:<node>` when the block is affine to a host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_claim_time: Option<String>,
    /// One entry per address: the index into `attributes`, or null when free.
    #[serde(default)]
    pub allocations: Vec<Option<u32>>,
    /// Free ordinals, in allocation order.
    #[serde(default)]
    pub unallocated: Vec<u32>,
    #[serde(default)]
    pub attributes: Vec<AllocationAttribute>,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(default)]
    pub sequence_number_for_allocation: BTreeMap<String, u64>,
    #[serde(default)]
    pub deleted: bool,
    /// Deprecated; IPAMConfiguration's strictAffinity is used instead.
    #[serde(default)]
    pub strict_affinity: bool,
}

/// Metadata of one allocation in a block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationAttribute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle_id: Option<String>,
    #[serde(
        default,
        rename = "secondary",
        deserialize_with = "scalar::string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub secondary: BTreeMap<String, String>,
    #[serde(
        default,
        rename = "alternateOwnerAttrs",
        deserialize_with = "scalar::string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub alternate_owner_attrs: BTreeMap<String, String>,
}

/// A host's claim on a block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockAffinity {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: BlockAffinitySpec,
}

/// The spec of a [`BlockAffinity`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlockAffinitySpec {
    /// `confirmed`, `pending` or `pendingDeletion`.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub node: String,
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub affinity_type: String,
    #[serde(default)]
    pub cidr: String,
    /// `"true"` or `"false"` (a string in Calico's API); must not be set to `"true"` by users.
    #[serde(default, deserialize_with = "scalar::string")]
    pub deleted: String,
}

/// The allocations made under one handle.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IPAMHandle {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: IPAMHandleSpec,
}

/// The spec of an [`IPAMHandle`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IPAMHandleSpec {
    #[serde(default, rename = "handleID")]
    pub handle_id: String,
    /// Block CIDR (with `/` as written by Calico) to the number of addresses held there.
    #[serde(default)]
    pub block: BTreeMap<String, i64>,
    #[serde(default)]
    pub deleted: bool,
}

/// Cluster-wide IPAM settings (a single resource named `default`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IPAMConfiguration {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: IPAMConfigurationSpec,
}

/// The spec of [`IPAMConfiguration`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IPAMConfigurationSpec {
    /// Forbid borrowing addresses from other hosts' blocks.
    #[serde(default)]
    pub strict_affinity: bool,
    /// Most blocks one host may claim (0 = unlimited).
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub max_blocks_per_host: i32,
    #[serde(default = "default_true")]
    pub auto_allocate_blocks: bool,
    #[serde(
        default,
        rename = "kubeVirtVMAddressPersistence",
        skip_serializing_if = "Option::is_none"
    )]
    pub kube_virt_vm_address_persistence: Option<String>,
}

fn default_true() -> bool {
    true
}

impl Validate for IPAMBlockSpec {
    fn validate(&self, v: &mut Validator) {
        if let Some(n) = net::check_net(v, "cidr", &self.cidr) {
            let size = 1u128 << (n.max_prefix_len() - n.prefix_len()).min(64);
            if self.allocations.len() as u128 != size {
                v.report_at(
                    "allocations",
                    self.allocations.len().to_string(),
                    format!(
                        "a /{} block must have {size} allocation entries",
                        n.prefix_len()
                    ),
                );
            }
        }
        v.field("allocations", |v| {
            for (i, a) in self.allocations.iter().enumerate() {
                if let Some(idx) = a
                    && *idx as usize >= self.attributes.len()
                {
                    v.item(i, |v| {
                        v.report(
                            idx.to_string(),
                            format!("attribute index {idx} is out of range"),
                        )
                    });
                }
            }
        });
    }
}

impl Validate for BlockAffinitySpec {
    fn validate(&self, v: &mut Validator) {
        net::check_net(v, "cidr", &self.cidr);
        if !["", "confirmed", "pending", "pendingDeletion"].contains(&self.state.as_str()) {
            v.report_at(
                "state",
                self.state.clone(),
                format!(
                    "invalid state {:?}: must be confirmed, pending or pendingDeletion",
                    self.state
                ),
            );
        }
        if self.deleted == "true" {
            v.report_at("deleted", "true", "spec.deleted cannot be set to \"true\"");
        }
    }
}

impl Validate for IPAMHandleSpec {
    fn validate(&self, _v: &mut Validator) {}
}

impl Validate for IPAMConfigurationSpec {
    fn validate(&self, v: &mut Validator) {
        if self.max_blocks_per_host < 0 {
            v.report_at(
                "maxBlocksPerHost",
                self.max_blocks_per_host.to_string(),
                "must be greater than or equal to 0",
            );
        }
    }
}
