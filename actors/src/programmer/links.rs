//! [`LinkInput`]: the LinkManager's input, the Calculator's [`InterfaceEdge`] (each local
//! workload interface's configuration by name).

use dataplane::links::{InterfaceConfig, LinkConfig, LinkReconciler};
use tracing::warn;

use super::input::Input;
use crate::bus::{Changes, InterfaceEdge};
use crate::observe::metrics::Metrics;

/// The LinkManager's input (see the module docs).
#[derive(Clone, Debug)]
pub struct LinkInput {
    config: LinkConfig,
    edge: InterfaceEdge,
    complete: bool,
}

impl LinkInput {
    pub fn new(config: LinkConfig, edge: InterfaceEdge) -> Self {
        LinkInput {
            config,
            edge,
            complete: false,
        }
    }

    fn apply(&mut self, rec: &mut LinkReconciler, changes: Changes<String, InterfaceConfig>) {
        self.complete |= changes.complete;
        for (name, cfg) in changes.changes {
            match cfg {
                Some(cfg) => {
                    if let Err(e) = rec.upsert(cfg) {
                        // Whatever it had before is no longer wanted either.
                        warn!(interface = %name, error = %e, "interface configuration refused");
                        rec.remove(&name);
                    }
                }
                None => rec.remove(&name),
            }
        }
    }
}

impl Input for LinkInput {
    type Reconciler = LinkReconciler;
    const NAME: &'static str = "links";

    fn load(&mut self) -> LinkReconciler {
        let mut rec = LinkReconciler::new(self.config.clone());
        self.complete = false;
        let snapshot = self.edge.snapshot();
        self.apply(&mut rec, snapshot);
        rec
    }

    fn take(&mut self, rec: &mut LinkReconciler) -> bool {
        match self.edge.take() {
            Some(c) => {
                self.apply(rec, c);
                true
            }
            None => false,
        }
    }

    fn waiting_for(&self) -> Option<&'static str> {
        (!self.complete).then_some("the datastore")
    }

    fn desired(&self, rec: &LinkReconciler) -> usize {
        rec.desired().len()
    }

    fn record(&self, _rec: &LinkReconciler, _metrics: &Metrics) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_configuration_removes_what_the_interface_had() {
        let edge = InterfaceEdge::new();
        let mut input = LinkInput::new(LinkConfig::default(), edge.clone());
        let mut rec = input.load();
        edge.push(
            [("cali1".to_owned(), Some(InterfaceConfig::new("cali1")))],
            false,
        );
        assert!(input.take(&mut rec));
        assert_eq!(input.desired(&rec), 1);
        assert_eq!(input.waiting_for(), Some("the datastore"));
        // An rp_filter the kernel does not have: refused, and the old one is not kept.
        edge.push(
            [(
                "cali1".to_owned(),
                Some(InterfaceConfig::new("cali1").with_rp_filter(7)),
            )],
            true,
        );
        assert!(input.take(&mut rec));
        assert_eq!(input.desired(&rec), 0);
        assert_eq!(input.waiting_for(), None);
    }
}
