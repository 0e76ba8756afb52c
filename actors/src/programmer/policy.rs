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

#[cfg(test)]
mod tests {
    use model::policy::{HostSettings, IpSet, IpSetKind, PolicyDelta};

    use super::*;

    fn set(id: &str, net: &str) -> PolicyDelta {
        PolicyDelta::SetUpserted {
            id: id.to_owned(),
            set: IpSet {
                selector: String::new(),
                kind: IpSetKind::Nets(net.parse().into_iter().collect()),
            },
        }
    }

    #[test]
    fn a_reload_from_the_snapshot_desires_what_the_deltas_built() {
        let feed = PolicyFeed::new("h1");
        let mut input = PolicyInput::new(PolicyConfig::default(), feed.clone());
        let mut incremental = input.load();
        feed.push(
            [
                PolicyDelta::Settings(HostSettings::default()),
                set("s:a", "10.0.0.1/32"),
                set("s:b", "10.0.0.2/32"),
            ],
            false,
        );
        assert!(input.take(&mut incremental));
        feed.push([PolicyDelta::SetRemoved { id: "s:a".into() }], true);
        assert!(input.take(&mut incremental));
        assert_eq!(input.waiting_for(), None);

        let mut restarted = input.clone();
        let mut reloaded = restarted.load();
        assert_eq!(reloaded.desired(), incremental.desired());
        assert_eq!(restarted.waiting_for(), None);
        assert!(
            !restarted.take(&mut reloaded),
            "the snapshot took everything"
        );
    }
}
