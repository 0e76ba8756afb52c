//! Policies, profiles and tiers as resolution sees them: policies of both kinds in one shape
//! ([`PolicyEntry`]) with their checks, what ordering needs of a policy ([`PolicyMeta`]),
//! a profile's usability, and a tier's sort key with the built-in defaults ([`tier_info`]).

use super::entity::problem;
use super::ipsets::policy_selector;
use super::resolved::{PolicyId, Problem};
use super::validity::{parse_optional, rule_problem};
use crate::resources::tier::{builtin_tier_default_action, builtin_tier_order};
use crate::resources::{
    GlobalNetworkPolicy, Kind, NetworkPolicy, PolicyType, Profile, Rule, Tier, TierDefaultAction,
};
use crate::selector::Selector;

use super::entity::namespace_or_default;

/// A NetworkPolicy or GlobalNetworkPolicy, in one shape.
#[derive(Clone, Debug)]
pub struct PolicyEntry<'a> {
    pub id: PolicyId,
    /// The namespace of a NetworkPolicy.
    pub namespace: Option<&'a str>,
    pub tier: &'a str,
    pub order: Option<f64>,
    /// Effective types (inferred from the rules when unset, as
    /// [`crate::resources::policy::infer_policy_types`] does).
    pub ingress_type: bool,
    pub egress_type: bool,
    pub selector: &'a str,
    /// GlobalNetworkPolicy only.
    pub namespace_selector: &'a str,
    pub service_account_selector: &'a str,
    pub ingress: &'a [Rule],
    pub egress: &'a [Rule],
    pub do_not_track: bool,
    pub pre_dnat: bool,
    pub apply_on_forward: bool,
}

/// What choosing and ordering an endpoint's policies needs of a policy.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyMeta {
    pub id: PolicyId,
    pub tier: String,
    pub order: Option<f64>,
    pub ingress_type: bool,
    pub egress_type: bool,
    pub do_not_track: bool,
    pub pre_dnat: bool,
    pub apply_on_forward: bool,
}

impl<'a> PolicyEntry<'a> {
    /// A NetworkPolicy (namespace `default` when it has none).
    pub fn from_network_policy(p: &'a NetworkPolicy) -> PolicyEntry<'a> {
        let ns = namespace_or_default(p.metadata.namespace());
        let spec = &p.spec;
        let types = spec.effective_types();
        PolicyEntry {
            id: PolicyId::Namespaced {
                namespace: ns.to_owned(),
                name: p.metadata.name.clone(),
            },
            namespace: Some(ns),
            tier: spec.tier_or_default(),
            order: spec.order,
            ingress_type: types.contains(&PolicyType::Ingress),
            egress_type: types.contains(&PolicyType::Egress),
            selector: &spec.selector,
            namespace_selector: "",
            service_account_selector: &spec.service_account_selector,
            ingress: &spec.ingress,
            egress: &spec.egress,
            do_not_track: false,
            pre_dnat: false,
            apply_on_forward: true,
        }
    }

    /// A GlobalNetworkPolicy.
    pub fn from_global_network_policy(p: &'a GlobalNetworkPolicy) -> PolicyEntry<'a> {
        let spec = &p.spec;
        let types = spec.effective_types();
        PolicyEntry {
            id: PolicyId::Global {
                name: p.metadata.name.clone(),
            },
            namespace: None,
            tier: spec.tier_or_default(),
            order: spec.order,
            ingress_type: types.contains(&PolicyType::Ingress),
            egress_type: types.contains(&PolicyType::Egress),
            selector: &spec.selector,
            namespace_selector: &spec.namespace_selector,
            service_account_selector: &spec.service_account_selector,
            ingress: &spec.ingress,
            egress: &spec.egress,
            do_not_track: spec.do_not_track,
            pre_dnat: spec.pre_dnat,
            apply_on_forward: spec.apply_on_forward,
        }
    }

    /// Why the policy cannot be used at all (a selector that does not parse, an unusable
    /// rule); such a policy is ignored.
    pub fn problem(&self) -> Option<Problem> {
        let checks = [
            ("selector", self.selector),
            ("namespaceSelector", self.namespace_selector),
            ("serviceAccountSelector", self.service_account_selector),
        ];
        let bad = checks
            .iter()
            .find_map(|(field, text)| parse_optional(field, text).err())
            .or_else(|| first_rule_problem(self.ingress, self.egress))?;
        Some(policy_problem(
            &self.id,
            format!("{bad}; the policy is ignored"),
        ))
    }

    /// The selector of the endpoints the policy applies to, in Felix's form (namespace and
    /// service-account conditions folded in). `Err`: the combined selector does not parse,
    /// and the policy is ignored.
    pub fn endpoint_selector(&self) -> Result<Selector, Problem> {
        policy_selector(self)
            .and_then(|t| Selector::parse(&t).map_err(|e| e.to_string()))
            .map_err(|msg| policy_problem(&self.id, format!("{msg}; the policy is ignored")))
    }

    /// The problem of a usable policy whose tier is neither a Tier resource
    /// (`tier_exists`) nor a built-in tier.
    pub fn missing_tier_problem(&self, tier_exists: bool) -> Option<Problem> {
        if tier_exists || builtin_tier_order(self.tier).is_some() {
            return None;
        }
        let msg = format!(
            "tier {:?} does not exist; its policies run after all other tiers, with default action Deny",
            self.tier
        );
        Some(policy_problem(&self.id, msg))
    }

    /// What ordering needs of the policy.
    pub fn meta(&self) -> PolicyMeta {
        PolicyMeta {
            id: self.id.clone(),
            tier: self.tier.to_owned(),
            order: self.order,
            ingress_type: self.ingress_type,
            egress_type: self.egress_type,
            do_not_track: self.do_not_track,
            pre_dnat: self.pre_dnat,
            apply_on_forward: self.apply_on_forward,
        }
    }
}

/// A problem of policy `id`.
pub fn policy_problem(id: &PolicyId, message: String) -> Problem {
    match id {
        PolicyId::Global { name } => problem(Kind::GlobalNetworkPolicy, None, name, message),
        PolicyId::Namespaced { namespace, name } => {
            problem(Kind::NetworkPolicy, Some(namespace), name, message)
        }
    }
}

pub(crate) fn first_rule_problem(ingress: &[Rule], egress: &[Rule]) -> Option<String> {
    for (dir, rules) in [("ingress", ingress), ("egress", egress)] {
        for (i, r) in rules.iter().enumerate() {
            if let Some(msg) = rule_problem(r) {
                return Some(format!("{dir} rule {i}: {msg}"));
            }
        }
    }
    None
}

/// Why a profile's rules cannot be used (endpoints using it then get drop rules); its
/// labels still apply.
pub fn profile_problem(p: &Profile) -> Option<Problem> {
    let msg = first_rule_problem(&p.spec.ingress, &p.spec.egress)?;
    Some(problem(
        Kind::Profile,
        None,
        &p.metadata.name,
        format!("{msg}; endpoints using the profile get drop rules"),
    ))
}

/// A tier as the sorter sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TierInfo {
    /// False for a tier that policies name but that does not exist; such tiers sort after
    /// all others (Felix's `TierLess`).
    pub valid: bool,
    pub order: Option<f64>,
    pub default_action: TierDefaultAction,
}

/// How the sorter sees tier `name`, given its Tier resource if any: the resource (with the
/// built-in tier's defaults for unset fields), else the built-in tier's defaults (`default`
/// is 1,000,000 / Deny), else an invalid tier (sorted last, Deny).
pub fn tier_info(tier: Option<&Tier>, name: &str) -> TierInfo {
    if let Some(t) = tier {
        return TierInfo {
            valid: true,
            order: t.spec.order.or_else(|| builtin_tier_order(name)),
            default_action: t
                .spec
                .default_action
                .or_else(|| builtin_tier_default_action(name))
                .unwrap_or(TierDefaultAction::Deny),
        };
    }
    match builtin_tier_order(name) {
        Some(order) => TierInfo {
            valid: true,
            order: Some(order),
            default_action: builtin_tier_default_action(name).unwrap_or(TierDefaultAction::Deny),
        },
        None => TierInfo {
            valid: false,
            order: None,
            default_action: TierDefaultAction::Deny,
        },
    }
}
