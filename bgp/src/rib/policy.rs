//! The embedder's rules as data: which best routes each update group is sent (chosen by the
//! peers' policy tag) and which are reported for installing (e.g. into the kernel).
//!
//! A [`Policy`] is a value: the embedder builds a new one and hands it over whole
//! ([`Rib::set_policy`](super::Rib::set_policy), or the speaker's `set_policy`); the RIB
//! re-evaluates every route against it and returns the differences. Nothing is shared.
//!
//! Each [`Filter`] is an ordered list of [`Rule`]s, first match wins, with a verdict for
//! routes no rule matches, in the manner of a BIRD filter or a prefix list with `ge`/`le`.
//! What a Calico node needs, for example:
//!
//! ```
//! use bgp::rib::{Filter, Policy, PrefixRange, Rule, SourceMatch};
//! let block: bgp::codec::Prefix = "10.65.3.0/26".parse().unwrap();
//! let workload: bgp::codec::Prefix = "10.65.9.7/32".parse().unwrap();
//! let policy = Policy {
//!     // Towards every peer: this host's pool blocks and its workload routes, nothing else.
//!     default_export: Filter::reject_all()
//!         .then(Rule::accept(PrefixRange::exact(block)).from(SourceMatch::Local))
//!         .then(Rule::accept(PrefixRange::exact(workload)).from(SourceMatch::Local)),
//!     // Install what peers taught us, not what we originate ourselves.
//!     install: Filter::accept_all().then(Rule::reject_source(SourceMatch::Local)),
//!     ..Policy::default()
//! };
//! # let _ = policy;
//! ```

use std::collections::BTreeMap;

use super::route::{Route, RouteSource};
use crate::codec::Prefix;

/// Export filters per update-group policy tag, and the install filter. The default exports
/// and installs everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Export filter per policy tag (a peer's `export_policy`, shared by its update group);
    /// tags not listed use `default_export`.
    pub export: BTreeMap<u32, Filter>,
    /// Export filter of the tags not in `export`.
    pub default_export: Filter,
    /// Which best routes are reported to the embedder ([`BestChange`](super::BestChange)).
    /// A best route it rejects is reported as no route.
    pub install: Filter,
}

impl Policy {
    /// Exports and installs everything.
    pub fn accept_all() -> Self {
        Self::default()
    }

    /// The export filter of update groups with policy tag `tag`.
    pub fn export_filter(&self, tag: u32) -> &Filter {
        self.export.get(&tag).unwrap_or(&self.default_export)
    }

    /// Whether `route`, the best route to `prefix`, goes to the update groups of `tag`
    /// (after split horizon and route reflection have allowed it).
    pub fn exports(&self, tag: u32, prefix: Prefix, route: &Route) -> bool {
        self.export_filter(tag).accepts(prefix, route)
    }

    /// Whether the best route to `prefix` is reported for installing.
    pub fn installs(&self, prefix: Prefix, route: &Route) -> bool {
        self.install.accepts(prefix, route)
    }
}

/// Rules tried in order; the first that matches decides, `otherwise` when none does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub rules: Vec<Rule>,
    pub otherwise: Verdict,
}

impl Default for Filter {
    fn default() -> Self {
        Self::accept_all()
    }
}

impl Filter {
    /// No rules, everything accepted.
    pub fn accept_all() -> Self {
        Self {
            rules: Vec::new(),
            otherwise: Verdict::Accept,
        }
    }

    /// No rules, everything rejected (deny by default).
    pub fn reject_all() -> Self {
        Self {
            rules: Vec::new(),
            otherwise: Verdict::Reject,
        }
    }

    /// This filter with `rule` appended (tried after the rules already there).
    pub fn then(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    pub fn accepts(&self, prefix: Prefix, route: &Route) -> bool {
        self.accepts_from(prefix, route.source)
    }

    /// [`Filter::accepts`] for a route from `source` (rules look at nothing else).
    pub fn accepts_from(&self, prefix: Prefix, source: RouteSource) -> bool {
        let verdict = self
            .rules
            .iter()
            .find(|r| r.matches_from(prefix, source))
            .map_or(self.otherwise, |r| r.verdict);
        verdict == Verdict::Accept
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject,
}

/// Which routes a rule applies to, and what it decides for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The prefixes it matches; every prefix when `None`.
    pub prefixes: Option<PrefixRange>,
    pub source: SourceMatch,
    pub verdict: Verdict,
}

impl Rule {
    /// Accepts routes to prefixes in `range`, from any source.
    pub fn accept(range: PrefixRange) -> Self {
        Self {
            prefixes: Some(range),
            source: SourceMatch::Any,
            verdict: Verdict::Accept,
        }
    }

    /// Rejects routes to prefixes in `range`, from any source.
    pub fn reject(range: PrefixRange) -> Self {
        Self {
            prefixes: Some(range),
            source: SourceMatch::Any,
            verdict: Verdict::Reject,
        }
    }

    /// Accepts every route from `source`.
    pub fn accept_source(source: SourceMatch) -> Self {
        Self {
            prefixes: None,
            source,
            verdict: Verdict::Accept,
        }
    }

    /// Rejects every route from `source`.
    pub fn reject_source(source: SourceMatch) -> Self {
        Self {
            prefixes: None,
            source,
            verdict: Verdict::Reject,
        }
    }

    /// This rule, restricted to routes from `source`.
    pub fn from(mut self, source: SourceMatch) -> Self {
        self.source = source;
        self
    }

    pub fn matches(&self, prefix: Prefix, route: &Route) -> bool {
        self.matches_from(prefix, route.source)
    }

    fn matches_from(&self, prefix: Prefix, source: RouteSource) -> bool {
        self.prefixes.is_none_or(|r| r.contains(prefix)) && self.source.matches(source)
    }
}

/// Where a route must come from for a rule to match it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceMatch {
    Any,
    /// Originated by the embedder.
    Local,
    /// Learned from a peer.
    Learned,
}

impl SourceMatch {
    fn matches(self, source: RouteSource) -> bool {
        match self {
            Self::Any => true,
            Self::Local => source == RouteSource::Local,
            Self::Learned => source != RouteSource::Local,
        }
    }
}

/// Prefixes inside `prefix` with a length from `min_len` to `max_len` (a prefix list's
/// `ge`/`le`, BIRD's `net ~ [ p{min,max} ]`). Never matches the other address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixRange {
    pub prefix: Prefix,
    pub min_len: u8,
    pub max_len: u8,
}

impl PrefixRange {
    /// Exactly `prefix`.
    pub fn exact(prefix: Prefix) -> Self {
        let len = prefix.prefix_len();
        Self {
            prefix,
            min_len: len,
            max_len: len,
        }
    }

    /// `prefix` and every prefix inside it (BIRD's `net ~ prefix`).
    pub fn or_longer(prefix: Prefix) -> Self {
        let max_len = match prefix {
            Prefix::V4(_) => 32,
            Prefix::V6(_) => 128,
        };
        Self {
            prefix,
            min_len: prefix.prefix_len(),
            max_len,
        }
    }

    pub fn contains(&self, candidate: Prefix) -> bool {
        let len = candidate.prefix_len();
        if len < self.min_len || len > self.max_len || len < self.prefix.prefix_len() {
            return false;
        }
        let outer = u32::from(self.prefix.prefix_len());
        match (self.prefix, candidate) {
            (Prefix::V4(range), Prefix::V4(c)) => {
                let mask = u32::MAX.checked_shl(32 - outer).unwrap_or(0);
                u32::from(range.addr()) & mask == u32::from(c.addr()) & mask
            }
            (Prefix::V6(range), Prefix::V6(c)) => {
                let mask = u128::MAX.checked_shl(128 - outer).unwrap_or(0);
                u128::from(range.addr()) & mask == u128::from(c.addr()) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::PathAttributes;
    use crate::rib::PeerId;
    use std::sync::Arc;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    fn route(source: RouteSource) -> Route {
        Route {
            source,
            attributes: Arc::new(PathAttributes::default().into()),
            stale: false,
        }
    }

    #[test]
    fn ranges_match_by_containment_and_length() {
        let pool = PrefixRange::or_longer(p("10.65.0.0/16"));
        assert!(pool.contains(p("10.65.0.0/16")));
        assert!(pool.contains(p("10.65.3.0/26")));
        assert!(pool.contains(p("10.65.3.7/32")));
        assert!(!pool.contains(p("10.0.0.0/8")));
        assert!(!pool.contains(p("10.66.0.0/26")));
        assert!(!pool.contains(p("fd00::/64")));
        let exact = PrefixRange::exact(p("10.65.3.0/26"));
        assert!(exact.contains(p("10.65.3.0/26")));
        assert!(!exact.contains(p("10.65.3.0/27")));
        assert!(!exact.contains(p("10.65.3.64/26")));
        let v6 = PrefixRange::or_longer(p("fd00:1::/48"));
        assert!(v6.contains(p("fd00:1:0:5::/64")));
        assert!(!v6.contains(p("fd00:2::/64")));
        let everything = PrefixRange::or_longer(p("0.0.0.0/0"));
        assert!(everything.contains(p("192.0.2.0/24")));
        let blocks = PrefixRange {
            prefix: p("10.65.0.0/16"),
            min_len: 26,
            max_len: 26,
        };
        assert!(blocks.contains(p("10.65.3.64/26")));
        assert!(!blocks.contains(p("10.65.3.64/32")));
    }

    #[test]
    fn first_matching_rule_decides_and_sources_are_told_apart() {
        let local = route(RouteSource::Local);
        let learned = route(RouteSource::Peer(PeerId(1)));
        let filter = Filter::reject_all()
            .then(Rule::reject(PrefixRange::exact(p("10.65.3.128/26"))))
            .then(Rule::accept(PrefixRange::or_longer(p("10.65.0.0/16"))).from(SourceMatch::Local));
        assert!(filter.accepts(p("10.65.3.0/26"), &local));
        assert!(!filter.accepts(p("10.65.3.0/26"), &learned));
        assert!(!filter.accepts(p("10.65.3.128/26"), &local));
        assert!(!filter.accepts(p("10.70.0.0/24"), &local));
        let install = Filter::accept_all().then(Rule::reject_source(SourceMatch::Local));
        assert!(install.accepts(p("10.70.0.0/24"), &learned));
        assert!(!install.accepts(p("10.70.0.0/24"), &local));
        let only_learned = Filter::reject_all().then(Rule::accept_source(SourceMatch::Learned));
        assert!(only_learned.accepts(p("10.70.0.0/24"), &learned));
        assert!(!only_learned.accepts(p("10.70.0.0/24"), &local));
    }

    #[test]
    fn tags_without_a_filter_use_the_default_export() {
        let mut policy = Policy {
            default_export: Filter::reject_all(),
            ..Policy::default()
        };
        policy.export.insert(7, Filter::accept_all());
        let r = route(RouteSource::Local);
        assert!(policy.exports(7, p("10.0.0.0/24"), &r));
        assert!(!policy.exports(0, p("10.0.0.0/24"), &r));
        assert!(policy.installs(p("10.0.0.0/24"), &r));
    }
}
