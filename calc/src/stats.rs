//! Work counters: what a change cost, for tests that check that one change costs what it
//! affects and not a rebuild.

/// Counts since the calculator was made (never reset; compare two readings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Selector evaluations against one entity's labels (set members and policy matches).
    pub selector_evaluations: u64,
    /// Entities whose effective labels were recomputed.
    pub entities_relabelled: u64,
    /// Local endpoint programs computed.
    pub programs_computed: u64,
    /// Address sets whose members were computed from scratch (a set coming into use).
    pub sets_computed: u64,
    /// Set members added or removed (counted per entity contribution).
    pub member_changes: u64,
    /// Policies and profiles compiled.
    pub rules_compiled: u64,
}
