//! [`PolicyInput`]: the PolicyProgrammer's input, the Calculator's [`PolicyFeed`]. At
//! (re)start the reconciler is given the whole policy the feed's deltas built
//! (`set_host_policy`); then each batch's deltas are applied in order (`apply`), and the
//! reconciler's dirty tracking makes the kernel work that of the batch's net change.

use dataplane::policy::{PolicyConfig, PolicyReconciler};

use super::input::Input;
use crate::bus::PolicyFeed;
use crate::observe::metrics::Metrics;

/// The PolicyProgrammer's input (see the module docs).
#[derive(Clone, Debug)]
pub struct PolicyInput {
    config: PolicyConfig,
    feed: PolicyFeed,
    complete: bool,
}

impl PolicyInput {
    pub fn new(config: PolicyConfig, feed: PolicyFeed) -> Self {
        PolicyInput {
            config,
            feed,
            complete: false,
        }
    }
}

impl Input for PolicyInput {
    type Reconciler = PolicyReconciler;
    const NAME: &'static str = "policy";

    fn load(&mut self) -> PolicyReconciler {
        let snapshot = self.feed.snapshot();
        let mut rec = PolicyReconciler::new(self.config.clone());
        rec.set_host_policy(&snapshot.policy);
        self.complete = snapshot.complete;
        rec
    }

    fn take(&mut self, rec: &mut PolicyReconciler) -> bool {
        let Some(batch) = self.feed.take() else {
            return false;
        };
        for delta in &batch.deltas {
            rec.apply(delta);
        }
        self.complete |= batch.complete;
        true
    }

    fn waiting_for(&self) -> Option<&'static str> {
        (!self.complete).then_some("the datastore")
    }

    fn desired(&self, rec: &PolicyReconciler) -> usize {
        rec.desired().chains.len()
    }

    fn record(&self, rec: &PolicyReconciler, metrics: &Metrics) {
        let table = rec.desired();
        let rules = table.chains.values().map(|c| c.rules.len()).sum();
        metrics.set_policy_table(table.chains.len(), rules, table.sets.len());
    }
}
