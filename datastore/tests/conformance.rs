//! One set of cases, run against every backend: the in-memory store (on tokio's paused clock, so
//! lease expiry follows virtual time as it does under turmoil), a real etcd started per test, and
//! our etcd server (`datastore::etcd_server` in front of an in-memory store) on a loopback port.
//! The last two are reached the same way, through the production client (`EtcdDatastore`) over
//! TCP, so the third run checks our server against what the client expects of etcd — the path
//! the simulation takes. A case that passes on one and fails on another is a difference to fix.

use std::sync::Arc;

use anyhow::Result;

#[path = "conformance/mod.rs"]
mod cases;
mod fake_etcd;
mod watch_events;

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test(start_paused = true)]
                async fn $case() -> Result<()> {
                    cases::$case(Arc::new(datastore::memory::MemoryDatastore::new())).await
                }
            )*
        }
        mod etcd {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() -> Result<()> {
                    if !testkit::require_etcd(stringify!($case)) {
                        return Ok(());
                    }
                    let server = testkit::etcd::EtcdServer::start()
                        .map_err(|e| anyhow::anyhow!("starting etcd: {e}"))?;
                    let cfg = datastore::etcd::EtcdConfig::with_endpoints(server.endpoints());
                    let ds = datastore::etcd::EtcdDatastore::connect(&cfg).await?;
                    cases::$case(Arc::new(ds)).await
                }
            )*
        }
        mod etcd_server {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() -> Result<()> {
                    let server = fake_etcd::FakeEtcd::start().await?;
                    let ds = server.client().await?;
                    cases::$case(Arc::new(ds)).await
                }
            )*
        }
    };
}

conformance!(
    put_get_tracks_revisions_and_versions,
    create_fails_when_the_key_exists,
    update_is_compare_and_swap,
    delete_checks_revision_and_returns_the_pair,
    list_returns_the_prefix_in_key_order,
    list_at_an_old_revision_sees_the_past,
    list_of_a_compacted_revision_fails,
    watch_replays_history_then_follows,
    watch_from_now_sees_only_new_events,
    watch_of_a_compacted_revision_yields_compacted,
    watch_is_isolated_by_prefix,
    txn_success_commits_all_writes_at_one_revision,
    txn_failure_runs_the_failure_branch,
    lease_expiry_deletes_the_key_and_emits_delete,
    lease_keep_alive_keeps_the_key,
    lease_revoke_deletes_attached_keys,
    update_keeps_the_lease,
    lease_time_to_live_and_list_report_live_leases,
    put_with_an_unknown_lease_fails,
    reads_and_compaction_in_the_future_fail,
    watch_from_a_future_revision_waits_for_it,
    txn_over_etcds_operation_limit_is_refused,
    txn_writing_a_key_twice_is_refused_in_either_branch,
    a_request_over_etcds_size_limit_is_refused,
    the_empty_key_is_refused,
    a_short_lease_ttl_is_raised_to_etcds_minimum,
);
