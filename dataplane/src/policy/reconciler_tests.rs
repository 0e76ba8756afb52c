//! The policy reconciler's `sync` over the twin: a refused transaction is retried after
//! backoff, and the table is rebuilt after repeated failures. The kernel side is
//! `dataplane/tests/policy_kernel.rs`.

use std::time::{Duration, Instant};

use model::policy::HostPolicy;

use super::backend::PolicyBackend;
use super::error::PolicyError;
use super::observed::Observed;
use super::ops::{Op, Transaction};
use super::reconciler::{PolicyConfig, PolicyReconciler};
use super::twin::PolicyTwin;

/// The twin, refusing the next `fail` transactions as nft would.
struct Flaky {
    twin: PolicyTwin,
    fail: u32,
    seen: Vec<Transaction>,
}

impl PolicyBackend for Flaky {
    fn apply(&mut self, tx: &Transaction) -> Result<(), PolicyError> {
        self.seen.push(tx.clone());
        if self.fail > 0 {
            self.fail -= 1;
            return Err(PolicyError::Rejected {
                stderr: "Error: Could not process rule: No such file or directory".into(),
            });
        }
        PolicyBackend::apply(&mut self.twin, tx)
    }
    fn read(&mut self) -> Result<Option<Observed>, PolicyError> {
        PolicyBackend::read(&mut self.twin)
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
        twin: PolicyTwin::new(),
        fail: 0,
        seen: Vec::new(),
    };
    let mut p = PolicyReconciler::new(PolicyConfig::default());
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

/// A backend whose reads fail while `fail_reads` is above zero.
struct FlakyReads {
    twin: PolicyTwin,
    fail_reads: u32,
}

impl PolicyBackend for FlakyReads {
    fn apply(&mut self, tx: &Transaction) -> Result<(), PolicyError> {
        PolicyBackend::apply(&mut self.twin, tx)
    }
    fn read(&mut self) -> Result<Option<Observed>, PolicyError> {
        if self.fail_reads > 0 {
            self.fail_reads -= 1;
            return Err(PolicyError::Rejected {
                stderr: "netlink: Error: Could not process rule".into(),
            });
        }
        PolicyBackend::read(&mut self.twin)
    }
}

#[test]
fn a_failed_read_followed_by_nothing_to_do_clears_the_backoff() {
    let t0 = Instant::now();
    let mut dp = FlakyReads {
        twin: PolicyTwin::new(),
        fail_reads: 0,
    };
    let mut p = PolicyReconciler::new(PolicyConfig::default());
    p.set_host_policy(&host_policy(&["cali1"]));
    p.set_complete();
    p.sync(&mut dp, t0).unwrap();
    assert!(p.in_sync());
    // The refresh read fails once, then succeeds with the table as desired.
    let refresh = p.next_wakeup().unwrap();
    dp.fail_reads = 1;
    assert!(p.sync(&mut dp, refresh).is_err());
    let retry = p.next_wakeup().unwrap();
    assert!(retry > refresh, "the read is retried after a delay");
    let report = p.sync(&mut dp, retry).unwrap();
    assert_eq!(report.ops, 0, "nothing to change");
    // No retry is pending any more: the next wake-up is the next refresh, in the future.
    assert_eq!(p.failures(), 0);
    assert!(p.next_wakeup().unwrap() > retry + Duration::from_secs(60));
}
