//! The embedder's hooks: which best routes go to which update group, and which go to the
//! embedder (e.g. to be installed in the kernel).

use super::export::GroupKey;
use super::route::Route;
use crate::codec::Prefix;

/// Decisions the RIB leaves to the embedder. Both must be pure functions of their
/// arguments (the RIB re-evaluates them to compute withdrawals); after changing the rules,
/// call [`Rib::reevaluate_exports`](super::Rib::reevaluate_exports).
pub trait RibPolicy {
    /// Whether `route`, the best route to `prefix`, is announced to the peers of the update
    /// group `group` (whose [`GroupKey::export_policy`] is the peers' policy tag). Called
    /// after the split-horizon and route-reflection rules, before rewriting.
    fn export(&self, group: &GroupKey, prefix: Prefix, route: &Route) -> bool {
        let _ = (group, prefix, route);
        true
    }

    /// Whether the best route to `prefix` is reported in [`BestChange`](super::BestChange)s.
    fn install(&self, prefix: Prefix, route: &Route) -> bool {
        let _ = (prefix, route);
        true
    }
}

/// Exports and installs everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl RibPolicy for AcceptAll {}
