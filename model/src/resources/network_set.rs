//! NetworkSets (namespaced) and GlobalNetworkSets: named lists of CIDRs that policy selectors
//! can match through the set's labels.

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use crate::validation::{Validate, Validator, net};

/// Most entries in one set.
pub const MAX_NETS_PER_SET: usize = 100_000;

/// A namespaced set of networks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSet {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NetworkSetSpec,
}

/// A cluster-wide set of networks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalNetworkSet {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NetworkSetSpec,
}

/// The spec of a [`NetworkSet`] or [`GlobalNetworkSet`]. `nets` entries are CIDRs (host bits
/// allowed) or bare addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSetSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nets: Vec<String>,
}

impl NetworkSetSpec {
    /// The parsed networks (host bits cleared), skipping entries that do not parse.
    pub fn networks(&self) -> Vec<ipnet::IpNet> {
        self.nets
            .iter()
            .filter_map(|n| net::parse_cidr_or_ip(n).ok().map(|(_, net)| net))
            .collect()
    }
}

impl Validate for NetworkSetSpec {
    fn validate(&self, v: &mut Validator) {
        if self.nets.len() > MAX_NETS_PER_SET {
            v.report_at(
                "nets",
                self.nets.len().to_string(),
                format!("at most {MAX_NETS_PER_SET} networks are allowed"),
            );
        }
        v.field("nets", |v| {
            for (i, n) in self.nets.iter().enumerate() {
                v.item(i, |v| {
                    if let Err(e) = net::parse_cidr_or_ip(n) {
                        v.report(n.clone(), format!("invalid CIDR {n:?}: {e}"));
                    }
                });
            }
        });
    }
}
