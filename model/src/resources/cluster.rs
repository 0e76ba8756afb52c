//! ClusterInformation (`default`): cluster-wide facts written by calico-node, including the
//! datastore-ready flag Felix waits for.

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use crate::validation::{Validate, Validator};

/// Cluster-wide information (a single resource named `default`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterInformation {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ClusterInformationSpec,
}

/// The spec of [`ClusterInformation`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterInformationSpec {
    #[serde(
        default,
        rename = "clusterGUID",
        skip_serializing_if = "String::is_empty"
    )]
    pub cluster_guid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub calico_version: String,
    /// When false, Felix does not program the dataplane ("Ready" flag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastore_ready: Option<bool>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

impl ClusterInformationSpec {
    /// The ready flag; an unset flag counts as ready.
    pub fn is_datastore_ready(&self) -> bool {
        self.datastore_ready.unwrap_or(true)
    }
}

impl Validate for ClusterInformationSpec {
    fn validate(&self, _v: &mut Validator) {}
}
