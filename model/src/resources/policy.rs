//! NetworkPolicy (namespaced) and GlobalNetworkPolicy (cluster-wide): ordered rules applied
//! to the endpoints their selector picks, within a tier.

use serde::{Deserialize, Serialize};

use super::meta::{ConditionStatus, ObjectMeta};
use super::rule::Rule;
use super::rule_validation::check_rules;
use super::scalar;
use super::tier::DEFAULT_TIER_NAME;
use crate::validation::{Validate, Validator, k8s};

fn is_false(b: &bool) -> bool {
    !*b
}

/// The direction(s) a policy applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PolicyType {
    Ingress,
    Egress,
}

/// Hints to the policy engine that never change enforcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PolicyPerformanceHint {
    /// Program the policy on every node even if no local endpoint matches it.
    AssumeNeededOnEveryNode,
}

/// Calico's default for `types` when a policy leaves it empty (Calico's NetworkPolicy
/// reference, field `types`): Ingress
/// unless there are only egress rules; both when both kinds of rules are present.
pub fn infer_policy_types(ingress: &[Rule], egress: &[Rule]) -> Vec<PolicyType> {
    match (ingress.is_empty(), egress.is_empty()) {
        (false, false) => vec![PolicyType::Ingress, PolicyType::Egress],
        (true, false) => vec![PolicyType::Egress],
        _ => vec![PolicyType::Ingress],
    }
}

/// A namespaced security policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPolicy {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NetworkPolicySpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConditionStatus>,
}

/// The spec of a [`NetworkPolicy`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicySpec {
    /// The tier; empty means `default`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tier: String,
    /// Position within the tier (lower first); `None` sorts last.
    #[serde(
        default,
        serialize_with = "scalar::ser_opt_float",
        skip_serializing_if = "Option::is_none"
    )]
    pub order: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<Rule>,
    /// Which endpoints in the namespace the policy applies to; empty means all.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<PolicyType>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account_selector: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub performance_hints: Vec<PolicyPerformanceHint>,
}

/// The tier, type and defaulting methods both policy kinds share (their specs differ only in
/// fields these methods do not read).
macro_rules! policy_spec_common {
    ($spec:ty) => {
        impl $spec {
            /// The tier name, `default` when empty.
            pub fn tier_or_default(&self) -> &str {
                if self.tier.is_empty() {
                    DEFAULT_TIER_NAME
                } else {
                    &self.tier
                }
            }

            /// `types` if set, else the types Calico infers from the rules.
            pub fn effective_types(&self) -> Vec<PolicyType> {
                if self.types.is_empty() {
                    infer_policy_types(&self.ingress, &self.egress)
                } else {
                    self.types.clone()
                }
            }

            /// Whether the policy applies to ingress traffic.
            pub fn applies_to_ingress(&self) -> bool {
                self.effective_types().contains(&PolicyType::Ingress)
            }

            /// Whether the policy applies to egress traffic.
            pub fn applies_to_egress(&self) -> bool {
                self.effective_types().contains(&PolicyType::Egress)
            }

            pub(crate) fn set_defaults(&mut self) {
                if self.tier.is_empty() {
                    self.tier = DEFAULT_TIER_NAME.to_owned();
                }
                if self.types.is_empty() {
                    self.types = infer_policy_types(&self.ingress, &self.egress);
                }
            }
        }
    };
}

policy_spec_common!(NetworkPolicySpec);
policy_spec_common!(GlobalNetworkPolicySpec);

/// A cluster-wide security policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalNetworkPolicy {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: GlobalNetworkPolicySpec,
}

/// The spec of a [`GlobalNetworkPolicy`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalNetworkPolicySpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tier: String,
    #[serde(
        default,
        serialize_with = "scalar::ser_opt_float",
        skip_serializing_if = "Option::is_none"
    )]
    pub order: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<Rule>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<PolicyType>,
    /// Apply before connection tracking (raw table); matches are not tracked.
    #[serde(default, skip_serializing_if = "is_false")]
    pub do_not_track: bool,
    /// Apply before DNAT (mangle PREROUTING); host endpoints only.
    #[serde(default, rename = "preDNAT", skip_serializing_if = "is_false")]
    pub pre_dnat: bool,
    /// Also apply to traffic forwarded through host endpoints.
    #[serde(default, skip_serializing_if = "is_false")]
    pub apply_on_forward: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account_selector: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace_selector: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub performance_hints: Vec<PolicyPerformanceHint>,
}

/// Checks shared by both policy kinds.
fn check_common(
    v: &mut Validator,
    tier: &str,
    selector: &str,
    sa_selector: &str,
    types: &[PolicyType],
    hints: &[PolicyPerformanceHint],
) {
    k8s::check_name_field(v, "tier", tier);
    v.selector("selector", selector);
    v.selector("serviceAccountSelector", sa_selector);
    for (field, s) in [
        ("selector", selector),
        ("serviceAccountSelector", sa_selector),
    ] {
        if s.contains("global()") {
            v.report_at(
                field,
                s,
                "global() can only be used in an EntityRule namespaceSelector",
            );
        }
    }
    let mut seen = Vec::new();
    for t in types {
        if seen.contains(t) {
            v.report_at(
                "types",
                format!("{t:?}"),
                format!("'{t:?}' type specified more than once"),
            );
        }
        seen.push(*t);
    }
    let mut seen_hints = Vec::new();
    for h in hints {
        if seen_hints.contains(h) {
            v.report_at(
                "performanceHints",
                format!("{h:?}"),
                format!("performance hint '{h:?}' specified more than once"),
            );
        }
        seen_hints.push(*h);
    }
}

impl Validate for NetworkPolicySpec {
    fn validate(&self, v: &mut Validator) {
        check_common(
            v,
            &self.tier,
            &self.selector,
            &self.service_account_selector,
            &self.types,
            &self.performance_hints,
        );
        check_rules(v, "ingress", &self.ingress, Some(true));
        check_rules(v, "egress", &self.egress, Some(false));
    }
}

impl Validate for GlobalNetworkPolicySpec {
    fn validate(&self, v: &mut Validator) {
        check_common(
            v,
            &self.tier,
            &self.selector,
            &self.service_account_selector,
            &self.types,
            &self.performance_hints,
        );
        v.selector("namespaceSelector", &self.namespace_selector);
        if self.namespace_selector.contains("global()") {
            v.report_at(
                "namespaceSelector",
                self.namespace_selector.clone(),
                "global() can only be used in an EntityRule namespaceSelector",
            );
        }
        check_rules(v, "ingress", &self.ingress, Some(true));
        check_rules(v, "egress", &self.egress, Some(false));
        if self.do_not_track && self.pre_dnat {
            v.report_at(
                "preDNAT",
                "true",
                "preDNAT and doNotTrack cannot both be true",
            );
        }
        if self.pre_dnat && !self.egress.is_empty() {
            v.report_at(
                "egress",
                self.egress.len().to_string(),
                "a preDNAT policy cannot have egress rules",
            );
        }
        if self.pre_dnat && self.types.contains(&PolicyType::Egress) {
            v.report_at(
                "types",
                "Egress",
                "a preDNAT policy cannot have the Egress type",
            );
        }
        if !self.apply_on_forward && (self.do_not_track || self.pre_dnat) {
            v.report_at(
                "applyOnForward",
                "false",
                "applyOnForward must be true if either preDNAT or doNotTrack is true",
            );
        }
        // At global scope a service name needs a namespace.
        for (field, rules, ingress) in [
            ("ingress", &self.ingress, true),
            ("egress", &self.egress, false),
        ] {
            v.field(field, |v| {
                for (i, r) in rules.iter().enumerate() {
                    let end = if ingress { &r.source } else { &r.destination };
                    if let Some(svc) = &end.services
                        && svc.namespace.is_empty() {
                            let side = if ingress { "source" } else { "destination" };
                            v.item(i, |v| {
                                v.field(side, |v| {
                                    v.report_at("services", svc.name.clone(), "a service in a GlobalNetworkPolicy rule must specify a namespace")
                                })
                            });
                        }
                }
            });
        }
    }
}

/// Whether `name` is a valid NetworkPolicy name: a DNS label, optionally `<label>.<label>`
/// (tier-prefixed), or `knp.default.<subdomain>` / `ossg.default.<subdomain>`.
pub fn is_valid_network_policy_name(name: &str) -> bool {
    for prefix in ["knp.default.", "ossg.default."] {
        if let Some(rest) = name.strip_prefix(prefix)
            && k8s::is_dns_subdomain(rest)
        {
            return true;
        }
    }
    is_valid_global_network_policy_name(name)
}

/// Whether `name` is a valid GlobalNetworkPolicy name: a DNS label, optionally
/// `<label>.<label>`.
pub fn is_valid_global_network_policy_name(name: &str) -> bool {
    match name.split_once('.') {
        None => k8s::is_dns_label(name),
        Some((a, b)) => k8s::is_dns_label(a) && k8s::is_dns_label(b),
    }
}
