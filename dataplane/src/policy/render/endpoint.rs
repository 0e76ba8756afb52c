//! The building blocks of endpoint chains, shared by the workload chains ([`super`]) and the
//! host endpoint chains ([`super::host`]): the prologue, the tiers of one direction, a whole
//! direction chain, and interface matches.

use model::policy::{DirectionPolicy, HostPolicy, TierPolicies};
use model::resources::TierDefaultAction;

use crate::policy::ir::{
    Chain, CtState, IfField, IfName, MARK_ACCEPT, MARK_PASS, Match, Rule, Statement, Verdict,
};
use crate::policy::names;

/// The rules every endpoint chain starts with.
pub(super) fn endpoint_prologue() -> Vec<Rule> {
    vec![
        Rule::new(
            vec![Match::Ct(CtState::EstablishedRelated)],
            Verdict::Accept,
        ),
        Rule::new(vec![Match::Ct(CtState::Invalid)], Verdict::Drop),
        Rule {
            statements: vec![Statement::ClearMark(MARK_ACCEPT | MARK_PASS)],
            ..Rule::default()
        },
    ]
}

/// How the tiers of a chain end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TierStyle {
    /// Normal and forward policy: a tier that no policy passed the packet out of applies its
    /// default action; an accepted packet returns.
    Filter,
    /// Pre-DNAT policy: no end-of-tier drop (normal policy still runs).
    PreDnat,
    /// Untracked policy: no end-of-tier drop; an accepted packet is not tracked.
    Untracked,
}

/// The rules of `tiers` for one direction.
pub(super) fn tier_rules(tiers: &[TierPolicies], ingress: bool, style: TierStyle) -> Vec<Rule> {
    let mut rules = Vec::new();
    for tier in tiers {
        rules.push(Rule {
            statements: vec![Statement::ClearMark(MARK_PASS)],
            ..Rule::default()
        });
        for id in &tier.policies {
            rules.push(Rule::new(
                vec![Match::Mark {
                    bits: MARK_PASS,
                    set: false,
                }],
                Verdict::Jump(names::policy(id, ingress)),
            ));
            let mut accepted = accepted_return();
            if style == TierStyle::Untracked {
                accepted.statements.push(Statement::NoTrack);
            }
            rules.push(accepted);
        }
        if style == TierStyle::Filter && tier.default_action == TierDefaultAction::Deny {
            rules.push(
                Rule::new(
                    vec![Match::Mark {
                        bits: MARK_PASS,
                        set: false,
                    }],
                    Verdict::Drop,
                )
                .with_comment(format!(
                    "end of tier {}: drop if no policy passed the packet",
                    comment_safe(&tier.tier)
                )),
            );
        }
    }
    rules
}

/// An endpoint chain for one direction: prologue, `preamble`, tiers, profiles, drop.
pub(super) fn direction_chain(dp: &DirectionPolicy, ingress: bool, preamble: Vec<Rule>) -> Chain {
    let mut rules = endpoint_prologue();
    rules.extend(preamble);
    rules.extend(tier_rules(&dp.tiers, ingress, TierStyle::Filter));
    for profile in &dp.profiles {
        rules.push(Rule::new(
            Vec::new(),
            Verdict::Jump(names::profile(profile, ingress)),
        ));
        rules.push(accepted_return());
    }
    rules.push(Rule::new(Vec::new(), Verdict::Drop).with_comment("drop if no profile matched"));
    Chain { hook: None, rules }
}

pub(super) fn accepted_return() -> Rule {
    Rule::new(
        vec![Match::Mark {
            bits: MARK_ACCEPT,
            set: true,
        }],
        Verdict::Return,
    )
}

/// Text fit for an nft comment: printable ASCII without quotes or backslashes.
pub(crate) fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(super) fn workload_prefixes(hp: &HostPolicy) -> Vec<IfName> {
    hp.settings
        .interface_prefixes
        .iter()
        .map(|p| IfName::Prefix(p.clone()))
        .collect()
}

pub(super) fn iface(field: IfField, neg: bool, name: IfName) -> Match {
    Match::Interface { field, neg, name }
}
