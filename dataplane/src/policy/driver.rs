//! One round of the policy programmer against a dataplane (the kernel or the twin): read the
//! table when due, plan, apply, record the outcome. A failure is logged with nft's message
//! (which names the object), the kernel is unchanged (one transaction), and the same work is
//! retried after the programmer's backoff; after repeated failures the programmer rebuilds
//! the whole table.

use std::time::Instant;

use super::nft::{NftError, PolicyDataplane};
use super::program::PolicyProgrammer;

/// What one round did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// The table was read.
    pub read: bool,
    /// Operations in the applied transaction (0: nothing to do).
    pub ops: usize,
    /// Kernel objects written or removed.
    pub size: usize,
    /// The transaction replaced the whole table.
    pub rebuilt: bool,
}

impl PolicyProgrammer {
    /// One round at `now`. `Err` is a failed read or apply, already logged and scheduled for
    /// retry.
    pub fn sync<D: PolicyDataplane + ?Sized>(
        &mut self,
        dp: &mut D,
        now: Instant,
    ) -> Result<SyncReport, NftError> {
        let mut report = SyncReport::default();
        if self.wants_read(now) {
            match dp.read() {
                Ok(state) => {
                    self.observed(state, now);
                    report.read = true;
                }
                Err(e) => {
                    let delay = self.failed(now);
                    tracing::warn!(error = %e, retry_in = ?delay, "reading the policy table failed");
                    return Err(e);
                }
            }
        }
        let Some(tx) = self.plan(now) else {
            return Ok(report);
        };
        report.ops = tx.ops.len();
        report.size = tx.size();
        report.rebuilt = matches!(tx.ops.as_slice(), [super::ops::Op::ReplaceTable(_)]);
        match dp.apply(&tx) {
            Ok(()) => {
                self.applied(&tx);
                Ok(report)
            }
            Err(e) => {
                let delay = self.failed(now);
                tracing::warn!(
                    error = %e,
                    ops = tx.ops.len(),
                    failures = self.failures(),
                    retry_in = ?delay,
                    "policy transaction refused; the table is unchanged"
                );
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::policy::observed::Observed;
    use crate::policy::ops::{Op, Transaction};
    use crate::policy::twin::Twin;
    use model::policy::HostPolicy;

    /// The twin, refusing the next `fail` transactions as nft would.
    struct Flaky {
        twin: Twin,
        fail: u32,
        seen: Vec<Transaction>,
    }

    impl PolicyDataplane for Flaky {
        fn apply(&mut self, tx: &Transaction) -> Result<(), NftError> {
            self.seen.push(tx.clone());
            if self.fail > 0 {
                self.fail -= 1;
                return Err(NftError::Rejected {
                    stderr: "Error: Could not process rule: No such file or directory".into(),
                });
            }
            PolicyDataplane::apply(&mut self.twin, tx)
        }
        fn read(&mut self) -> Result<Option<Observed>, NftError> {
            PolicyDataplane::read(&mut self.twin)
        }
    }

    fn host_policy(ifaces: &[&str]) -> HostPolicy {
        let mut hp = HostPolicy {
            host: "h1".into(),
            workload_endpoints: Default::default(),
            host_endpoints: Default::default(),
            policies: Default::default(),
            profiles: Default::default(),
            ip_sets: Default::default(),
            ip_pools: Default::default(),
            settings: Default::default(),
            problems: Vec::new(),
        };
        for i in ifaces {
            hp.workload_endpoints.insert(
                i.to_string(),
                model::policy::WorkloadEndpointPolicy {
                    namespace: "ns".into(),
                    name: i.to_string(),
                    ingress: Default::default(),
                    egress: Default::default(),
                },
            );
        }
        hp
    }

    #[test]
    fn a_refused_transaction_is_retried_after_backoff_then_the_table_is_rebuilt() {
        let t0 = Instant::now();
        let mut dp = Flaky {
            twin: Twin::new(),
            fail: 0,
            seen: Vec::new(),
        };
        let mut p = PolicyProgrammer::new(Duration::from_secs(180));
        p.set_host_policy(&host_policy(&["cali1"]));
        p.set_complete();
        assert!(p.sync(&mut dp, t0).unwrap().rebuilt);

        // An endpoint is added; the kernel refuses three times.
        dp.fail = 3;
        p.set_host_policy(&host_policy(&["cali1", "cali2"]));
        assert!(p.sync(&mut dp, t0).is_err());
        // Backing off: nothing is attempted before the delay.
        assert_eq!(p.sync(&mut dp, t0).unwrap().ops, 0);
        let mut t = t0;
        for _ in 0..2 {
            t += Duration::from_secs(11);
            assert!(p.sync(&mut dp, t).is_err());
        }
        // Three failures in a row: the next attempt replaces the whole table, and succeeds.
        t += Duration::from_secs(11);
        let report = p.sync(&mut dp, t).unwrap();
        assert!(report.rebuilt, "{report:?}");
        assert!(p.in_sync());
        let last = dp.seen.last().unwrap();
        assert!(matches!(last.ops.as_slice(), [Op::ReplaceTable(_)]));
        let table = dp.twin.table().unwrap();
        assert!(table.chains.contains_key("fw-cali2"));
        // The failed attempts were incremental, each the same small change.
        assert!(
            dp.seen[1..4].iter().all(|tx| tx.size() < 40),
            "{:?}",
            dp.seen[1]
        );
    }
}
