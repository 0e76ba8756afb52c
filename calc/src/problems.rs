//! Problems (resources used only in part or not at all), each from one source, counted, so
//! that the same problem from two sources is reported once and withdrawn when the last
//! source goes (the resolved model keeps them sorted and without duplicates).

use std::collections::{BTreeMap, HashMap};

use model::policy::{PolicyDelta, PolicyId, Problem};

/// What a problem comes from; a source's problems are replaced as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// A resource on its own (a bad address, unusable profile rules), by key.
    Key(String),
    /// A policy's checks: unusable, its selector, its tier.
    Policy(PolicyId),
    /// A used policy whose rules do not compile.
    PolicyRules(PolicyId),
    /// A used profile: missing, or its rules do not compile.
    ProfileRules(String),
    /// The local workload endpoints claiming one interface (`""`: those without one).
    WorkloadInterface(String),
    /// The local host endpoints claiming one interface, and the program of the winner.
    HostInterface(String),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Problems {
    by_source: HashMap<Source, Vec<Problem>>,
    counts: BTreeMap<Problem, u32>,
    /// Problems whose presence changed since the last drain: true = now present.
    pending: BTreeMap<Problem, bool>,
}

impl Problems {
    /// Replaces the problems of `source`.
    pub fn set(&mut self, source: Source, mut problems: Vec<Problem>) {
        problems.sort();
        problems.dedup();
        let old = if problems.is_empty() {
            self.by_source.remove(&source).unwrap_or_default()
        } else {
            match self.by_source.get(&source) {
                Some(old) if *old == problems => return,
                _ => self
                    .by_source
                    .insert(source, problems.clone())
                    .unwrap_or_default(),
            }
        };
        for p in problems {
            let c = self.counts.entry(p.clone()).or_insert(0);
            *c += 1;
            if *c == 1 {
                toggle(&mut self.pending, p, true);
            }
        }
        for p in old {
            if let Some(c) = self.counts.get_mut(&p) {
                *c -= 1;
                if *c == 0 {
                    self.counts.remove(&p);
                    toggle(&mut self.pending, p, false);
                }
            }
        }
    }

    /// The changes since the last call, as deltas.
    pub fn drain(&mut self, out: &mut Vec<PolicyDelta>) {
        for (p, present) in std::mem::take(&mut self.pending) {
            out.push(if present {
                PolicyDelta::ProblemAdded(p)
            } else {
                PolicyDelta::ProblemRemoved(p)
            });
        }
    }
}

/// Records that `item` became present (`true`) or absent; a change back cancels.
pub(crate) fn toggle<T: Ord>(pending: &mut BTreeMap<T, bool>, item: T, present: bool) {
    match pending.get(&item) {
        Some(p) if *p != present => {
            pending.remove(&item);
        }
        _ => {
            pending.insert(item, present);
        }
    }
}
