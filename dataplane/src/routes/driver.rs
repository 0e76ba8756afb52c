//! One round of the route programmer's loop over any [`RouteDataplane`]: read what the
//! reconciler asks for, plan, apply, report back. The actor (and the simulation) call
//! [`RouteReconciler::sync`] whenever input arrives or [`RouteReconciler::next_wakeup`]
//! passes.

use std::time::Instant;

use super::dataplane::RouteDataplane;
use super::problem::RouteError;
use super::reconciler::{ReadScope, RouteReconciler};

/// What one [`RouteReconciler::sync`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// The read made first, if any.
    pub read: Option<ReadScope>,
    /// Operations sent.
    pub ops: usize,
    /// Operations the kernel refused.
    pub failures: usize,
}

impl RouteReconciler {
    /// Reads if needed, plans and applies once at `now`. A failed read or batch is recorded
    /// (and retried with backoff) before the error is returned.
    pub fn sync<D: RouteDataplane + ?Sized>(
        &mut self,
        dp: &mut D,
        now: Instant,
    ) -> Result<SyncReport, RouteError> {
        let mut report = SyncReport {
            read: self.wants_read(now),
            ..SyncReport::default()
        };
        match report.read {
            Some(ReadScope::Full) => match dp.read() {
                Ok(state) => self.observed(state, now),
                Err(e) => {
                    self.read_failed(&e, now);
                    return Err(e);
                }
            },
            Some(ReadScope::Links) => match dp.read_links() {
                Ok(links) => self.observed_links(links, now),
                Err(e) => {
                    self.read_failed(&e, now);
                    return Err(e);
                }
            },
            None => {}
        }
        let ops = self.plan(now);
        report.ops = ops.len();
        if ops.is_empty() {
            return Ok(report);
        }
        match dp.apply(&ops) {
            Ok(failures) => {
                report.failures = failures.len();
                self.applied(&ops, &failures, now);
                Ok(report)
            }
            Err(e) => {
                self.apply_failed(&ops, &e, now);
                Err(e)
            }
        }
    }
}
