//! Tiers: ordered groups of policies. Traffic that no policy in a tier allows or passes gets
//! the tier's default action (Deny unless the tier says Pass).

use serde::{Deserialize, Serialize};

use super::meta::{ConditionStatus, ObjectMeta};
use super::scalar;
use crate::validation::{Validate, Validator};

/// The tier policies without `spec.tier` belong to.
pub const DEFAULT_TIER_NAME: &str = "default";
/// The tier Kubernetes AdminNetworkPolicies live in.
pub const KUBE_ADMIN_TIER_NAME: &str = "kube-admin";
/// The tier Kubernetes BaselineAdminNetworkPolicies live in.
pub const KUBE_BASELINE_TIER_NAME: &str = "kube-baseline";
/// Order of the `default` tier.
pub const DEFAULT_TIER_ORDER: f64 = 1_000_000.0;
/// Order of the `kube-admin` tier.
pub const KUBE_ADMIN_TIER_ORDER: f64 = 1_000.0;
/// Order of the `kube-baseline` tier.
pub const KUBE_BASELINE_TIER_ORDER: f64 = 10_000_000.0;

/// What happens at the end of a tier to traffic no policy allowed or passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TierDefaultAction {
    Deny,
    Pass,
}

/// A policy tier (cluster-wide).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: TierSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConditionStatus>,
}

/// The spec of a [`Tier`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierSpec {
    /// Position among tiers (lower first); `None` sorts last.
    #[serde(
        default,
        serialize_with = "scalar::ser_opt_float",
        skip_serializing_if = "Option::is_none"
    )]
    pub order: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<TierDefaultAction>,
}

impl TierSpec {
    /// The end-of-tier action, `Deny` when unset.
    pub fn default_action_or_deny(&self) -> TierDefaultAction {
        self.default_action.unwrap_or(TierDefaultAction::Deny)
    }
}

/// The fixed order of a built-in tier, or `None` for user tiers.
pub fn builtin_tier_order(name: &str) -> Option<f64> {
    match name {
        DEFAULT_TIER_NAME => Some(DEFAULT_TIER_ORDER),
        KUBE_ADMIN_TIER_NAME => Some(KUBE_ADMIN_TIER_ORDER),
        KUBE_BASELINE_TIER_NAME => Some(KUBE_BASELINE_TIER_ORDER),
        _ => None,
    }
}

/// The required default action of a built-in tier, or `None` for user tiers.
pub fn builtin_tier_default_action(name: &str) -> Option<TierDefaultAction> {
    match name {
        DEFAULT_TIER_NAME => Some(TierDefaultAction::Deny),
        KUBE_ADMIN_TIER_NAME | KUBE_BASELINE_TIER_NAME => Some(TierDefaultAction::Pass),
        _ => None,
    }
}

impl Tier {
    /// The built-in `default` tier, as Calico creates it.
    pub fn default_tier() -> Tier {
        let mut t = Tier {
            metadata: ObjectMeta::named(DEFAULT_TIER_NAME),
            ..Tier::default()
        };
        t.set_defaults();
        t
    }

    pub(crate) fn set_defaults(&mut self) {
        let name = self.metadata.name.as_str();
        if self.spec.order.is_none() {
            self.spec.order = builtin_tier_order(name);
        }
        if self.spec.default_action.is_none() {
            self.spec.default_action =
                Some(builtin_tier_default_action(name).unwrap_or(TierDefaultAction::Deny));
        }
    }
}

impl Validate for Tier {
    fn validate(&self, v: &mut Validator) {
        let name = self.metadata.name.as_str();
        v.field("spec", |v| {
            if let Some(order) = builtin_tier_order(name)
                && self.spec.order != Some(order)
            {
                let shown = self.spec.order.map(|o| o.to_string()).unwrap_or_default();
                v.report_at(
                    "order",
                    shown,
                    format!("the {name:?} tier's order must be {order}"),
                );
            }
            if let (Some(want), Some(got)) =
                (builtin_tier_default_action(name), self.spec.default_action)
                && want != got
            {
                v.report_at(
                    "defaultAction",
                    format!("{got:?}"),
                    format!("the {name:?} tier must have default action {want:?}"),
                );
            }
        });
    }
}
