//! One endpoint, one direction, one flavour of policy: tiers, then (for normal policy)
//! profiles (Felix's `felix/rules/endpoints.go`), evaluated rule by rule from the resources.

use std::collections::BTreeMap;

use super::matching::{policy_selects, rule_matches};
use crate::policy::index::{Entity, Index};
use crate::policy::packet::Packet;
use crate::policy::policy_entry::PolicyEntry;
use crate::resources::{Action, Rule, TierDefaultAction};

/// A direction of policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dir {
    Ingress,
    Egress,
}

impl Dir {
    fn name(self) -> &'static str {
        match self {
            Dir::Ingress => "ingress",
            Dir::Egress => "egress",
        }
    }
}

/// Which policies apply at a stage of a packet's way through a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flavor {
    /// Filter-table policy: every policy that is neither `preDNAT` nor `doNotTrack`.
    Normal,
    /// Forwarded traffic through a host endpoint: `applyOnForward` policies among the normal
    /// ones.
    Forward,
    /// `preDNAT` policies (host endpoint ingress, before destination NAT).
    PreDnat,
    /// `doNotTrack` policies (host endpoints, before connection tracking).
    Untracked,
}

impl Flavor {
    fn takes(self, p: &PolicyEntry) -> bool {
        let normal = !p.pre_dnat && !p.do_not_track;
        match self {
            Flavor::Normal => normal,
            Flavor::Forward => normal && p.apply_on_forward,
            Flavor::PreDnat => p.pre_dnat,
            Flavor::Untracked => p.do_not_track,
        }
    }

    /// The word in the trace (empty for normal policy).
    fn label(self) -> &'static str {
        match self {
            Flavor::Normal => "",
            Flavor::Forward => "forward ",
            Flavor::PreDnat => "pre-DNAT ",
            Flavor::Untracked => "untracked ",
        }
    }

    /// Whether a tier that no policy passed the packet out of applies its default action.
    /// `preDNAT` and `doNotTrack` tiers never drop at their end: normal policy still runs
    /// (Felix renders no end-of-tier drop for them: `felix/rules/endpoints.go`).
    fn end_of_tier_applies(self) -> bool {
        matches!(self, Flavor::Normal | Flavor::Forward)
    }
}

/// How a list of rules ended.
enum RulesEnd {
    Allow(usize),
    Deny(usize),
    Pass(usize),
    /// No rule (other than `Log` rules) matched.
    NoMatch,
}

fn run_rules(
    ix: &Index,
    rules: &[Rule],
    ns: Option<&str>,
    pkt: &Packet,
    what: &str,
    trace: &mut Vec<String>,
) -> RulesEnd {
    for (i, r) in rules.iter().enumerate() {
        if !rule_matches(ix, r, ns, pkt) {
            continue;
        }
        match r.action {
            Action::Log => trace.push(format!("{what} rule {i}: Log, continuing")),
            Action::Allow => return RulesEnd::Allow(i),
            Action::Deny => return RulesEnd::Deny(i),
            Action::Pass => return RulesEnd::Pass(i),
        }
    }
    RulesEnd::NoMatch
}

fn order_key(order: Option<f64>) -> f64 {
    order.unwrap_or(f64::INFINITY)
}

/// Policies of `flavor` for `e` in `dir`, grouped by tier, both in evaluation order.
fn tiers<'i, 'a>(
    ix: &'i Index<'a>,
    e: &Entity,
    dir: Dir,
    flavor: Flavor,
) -> Vec<(&'a str, Vec<&'i PolicyEntry<'a>>)> {
    let mut by_tier: BTreeMap<&'a str, Vec<&'i PolicyEntry<'a>>> = BTreeMap::new();
    for p in &ix.policies {
        let in_dir = match dir {
            Dir::Ingress => p.ingress_type,
            Dir::Egress => p.egress_type,
        };
        if in_dir && flavor.takes(p) && policy_selects(p, &e.labels) {
            by_tier.entry(p.tier).or_default().push(p);
        }
    }
    let mut out: Vec<_> = by_tier.into_iter().collect();
    // Existing tiers first; then by order (missing last); then by name.
    out.sort_by(|(a, _), (b, _)| {
        let (ta, tb) = (ix.tier(a), ix.tier(b));
        (!ta.valid)
            .cmp(&!tb.valid)
            .then_with(|| order_key(ta.order).total_cmp(&order_key(tb.order)))
            .then_with(|| a.cmp(b))
    });
    for (_, pols) in &mut out {
        pols.sort_by(|a, b| {
            order_key(a.order)
                .total_cmp(&order_key(b.order))
                .then_with(|| a.id.felix_name().cmp(&b.id.felix_name()))
        });
    }
    out
}

/// Whether `e` has policy of `flavor` for `dir`.
pub(super) fn has_policies(ix: &Index, e: &Entity, dir: Dir, flavor: Flavor) -> bool {
    !tiers(ix, e, dir, flavor).is_empty()
}

/// How the tiers of one direction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TiersEnd {
    /// A policy allowed the packet.
    Allow,
    /// A policy, or the end of a tier, denied the packet.
    Deny,
    /// No tier decided: there were none, or every one passed the packet on.
    Undecided,
}

/// Runs the tiers of `flavor` for `e` in `dir`. `who` names the endpoint in the trace.
pub(super) fn run_tiers(
    ix: &Index,
    e: &Entity,
    dir: Dir,
    flavor: Flavor,
    pkt: &Packet,
    who: &str,
    trace: &mut Vec<String>,
) -> TiersEnd {
    let d = format!("{}{}", flavor.label(), dir.name());
    for (tier, policies) in tiers(ix, e, dir, flavor) {
        let mut passed = false;
        for p in policies {
            let rules = match dir {
                Dir::Ingress => p.ingress,
                Dir::Egress => p.egress,
            };
            let what = format!("{who} {d}: tier {tier}: {} {}", p.id, dir.name());
            match run_rules(ix, rules, p.namespace, pkt, &what, trace) {
                RulesEnd::Allow(i) => {
                    trace.push(format!("{what} rule {i}: Allow"));
                    return TiersEnd::Allow;
                }
                RulesEnd::Deny(i) => {
                    trace.push(format!("{what} rule {i}: Deny"));
                    return TiersEnd::Deny;
                }
                RulesEnd::Pass(i) => {
                    trace.push(format!("{what} rule {i}: Pass to the next tier"));
                    passed = true;
                    break;
                }
                RulesEnd::NoMatch => {}
            }
        }
        if passed {
            continue;
        }
        if !flavor.end_of_tier_applies() {
            trace.push(format!(
                "{who} {d}: end of tier {tier}: no verdict, going on"
            ));
            continue;
        }
        match ix.tier(tier).default_action {
            TierDefaultAction::Deny => {
                trace.push(format!(
                    "{who} {d}: end of tier {tier}: no policy allowed or passed the packet; Deny"
                ));
                return TiersEnd::Deny;
            }
            TierDefaultAction::Pass => trace.push(format!(
                "{who} {d}: end of tier {tier}: default action Pass"
            )),
        }
    }
    TiersEnd::Undecided
}

/// Runs `e`'s normal policy for `dir` (tiers, then profiles); true when the packet is
/// allowed. `who` names the endpoint in the trace.
pub(super) fn run_endpoint(
    ix: &Index,
    e: &Entity,
    dir: Dir,
    pkt: &Packet,
    who: &str,
    trace: &mut Vec<String>,
) -> bool {
    match run_tiers(ix, e, dir, Flavor::Normal, pkt, who, trace) {
        TiersEnd::Allow => return true,
        TiersEnd::Deny => return false,
        TiersEnd::Undecided => {}
    }
    let d = dir.name();
    for name in e.profiles {
        let what = format!("{who} {d}: profile {name}");
        let entry = ix.profiles.get(name.as_str()).filter(|p| p.rules_valid);
        let Some(entry) = entry else {
            trace.push(format!("{what} is missing or invalid; Deny (fail closed)"));
            return false;
        };
        let spec = &entry.profile.spec;
        let rules = match dir {
            Dir::Ingress => &spec.ingress,
            Dir::Egress => &spec.egress,
        };
        match run_rules(ix, rules, None, pkt, &what, trace) {
            RulesEnd::Allow(i) => {
                trace.push(format!("{what} rule {i}: Allow"));
                return true;
            }
            RulesEnd::Deny(i) => {
                trace.push(format!("{what} rule {i}: Deny"));
                return false;
            }
            RulesEnd::Pass(i) => trace.push(format!("{what} rule {i}: Pass to the next profile")),
            RulesEnd::NoMatch => {}
        }
    }
    trace.push(format!("{who} {d}: no profile allowed the packet; Deny"));
    false
}
