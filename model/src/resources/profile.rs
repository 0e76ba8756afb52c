//! Profiles: rules and labels that endpoints reference by name. Rules in profiles run after
//! all tiers; `labelsToApply` are inherited by the endpoints that use the profile.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use super::rule::Rule;
use super::rule_validation::check_rules;
use super::scalar;
use crate::validation::{Validate, Validator, k8s};

/// A security profile (cluster-wide).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ProfileSpec,
}

/// The spec of a [`Profile`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<Rule>,
    /// Labels every endpoint using this profile inherits.
    #[serde(
        default,
        deserialize_with = "scalar::string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels_to_apply: BTreeMap<String, String>,
}

impl Validate for ProfileSpec {
    fn validate(&self, v: &mut Validator) {
        check_rules(v, "ingress", &self.ingress, None);
        check_rules(v, "egress", &self.egress, None);
        k8s::check_labels(v, "labelsToApply", &self.labels_to_apply);
    }
}
