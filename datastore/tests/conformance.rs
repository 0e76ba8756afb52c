//! One set of cases, run against every backend: the in-memory store (on tokio's paused clock, so
//! lease expiry follows virtual time as it does under turmoil), a real etcd started per test, and
//! our etcd server (`datastore::etcd_server` in front of an in-memory store) on a loopback port.
//! The last two are reached the same way, through the production client (`EtcdDatastore`) over
//! TCP, so the third run checks our server against what the client expects of etcd — the path
//! the simulation takes. A case that passes on one and fails on another is a difference to fix.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use datastore::{
    Compare, Datastore, Error, KeyValue, Revision, Txn, TxnOp, TxnOpResult, WatchEvent, WatchStream,
};
use futures::StreamExt;

mod fake_etcd;

/// How long a case waits for a watch batch before failing.
const WATCH_WAIT: Duration = Duration::from_secs(10);

async fn next_batch(ws: &mut WatchStream) -> Result<Vec<WatchEvent>> {
    match tokio::time::timeout(WATCH_WAIT, ws.next()).await {
        Ok(Some(Ok(batch))) => Ok(batch),
        Ok(Some(Err(e))) => bail!("watch failed: {e}"),
        Ok(None) => bail!("watch ended"),
        Err(_) => bail!("no watch batch within {WATCH_WAIT:?}"),
    }
}

/// A compact, comparable view of an event: kind, key, value, revision, previous value.
fn summary(e: &WatchEvent) -> (String, String, String, Revision, Option<String>) {
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    match e {
        WatchEvent::Put { kv, prev } => (
            "put".into(),
            kv.key.clone(),
            text(&kv.value),
            kv.mod_revision,
            prev.as_ref().map(|p| text(&p.value)),
        ),
        WatchEvent::Delete {
            key,
            revision,
            prev,
        } => (
            "delete".into(),
            key.clone(),
            String::new(),
            *revision,
            prev.as_ref().map(|p| text(&p.value)),
        ),
        WatchEvent::Compacted { compact_revision } => (
            "compacted".into(),
            String::new(),
            String::new(),
            *compact_revision,
            None,
        ),
    }
}

fn put(
    key: &str,
    value: &str,
    rev: Revision,
    prev: Option<&str>,
) -> (String, String, String, Revision, Option<String>) {
    (
        "put".into(),
        key.into(),
        value.into(),
        rev,
        prev.map(Into::into),
    )
}

fn del(key: &str, rev: Revision, prev: &str) -> (String, String, String, Revision, Option<String>) {
    (
        "delete".into(),
        key.into(),
        String::new(),
        rev,
        Some(prev.into()),
    )
}

fn summaries(batch: &[WatchEvent]) -> Vec<(String, String, String, Revision, Option<String>)> {
    batch.iter().map(summary).collect()
}

async fn value_of(ds: &dyn Datastore, key: &str) -> Result<Option<String>> {
    Ok(ds
        .get(key)
        .await?
        .0
        .map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
}

mod cases {
    use super::*;

    pub async fn put_get_tracks_revisions_and_versions(ds: Arc<dyn Datastore>) -> Result<()> {
        let k = "/conf/put_get/a";
        let (missing, rev0) = ds.get(k).await?;
        ensure!(missing.is_none(), "fresh key exists: {missing:?}");
        let r1 = ds.put(k, b"one".to_vec(), None).await?;
        ensure!(r1 > rev0, "put revision {r1} not after {rev0}");
        let r2 = ds.put(k, b"two".to_vec(), None).await?;
        ensure!(r2 == r1 + 1, "revisions {r1}, {r2} not consecutive");
        let (kv, rev) = ds.get(k).await?;
        let kv = kv.context("key missing after put")?;
        let want = KeyValue {
            key: k.into(),
            value: b"two".to_vec(),
            create_revision: r1,
            mod_revision: r2,
            version: 2,
            lease: 0,
        };
        ensure!(kv == want, "got {kv:?}, want {want:?}");
        ensure!(rev == r2, "store revision {rev}, want {r2}");
        Ok(())
    }

    pub async fn create_fails_when_the_key_exists(ds: Arc<dyn Datastore>) -> Result<()> {
        let k = "/conf/create/a";
        let r = ds.create(k, b"v".to_vec(), None).await?;
        match ds.create(k, b"w".to_vec(), None).await {
            Err(Error::AlreadyExists { key }) => ensure!(key == k),
            other => bail!("second create: {other:?}"),
        }
        let (kv, rev) = ds.get(k).await?;
        ensure!(kv.map(|kv| kv.value) == Some(b"v".to_vec()));
        ensure!(rev == r, "a failed create moved the revision to {rev}");
        Ok(())
    }

    pub async fn update_is_compare_and_swap(ds: Arc<dyn Datastore>) -> Result<()> {
        let k = "/conf/update/a";
        match ds.update(k, b"x".to_vec(), 5).await {
            Err(Error::NotFound { key }) => ensure!(key == k),
            other => bail!("update of a missing key: {other:?}"),
        }
        let r1 = ds.create(k, b"v1".to_vec(), None).await?;
        match ds.update(k, b"x".to_vec(), r1 - 1).await {
            Err(Error::Conflict {
                key,
                expected,
                actual,
            }) => ensure!(key == k && expected == r1 - 1 && actual == r1),
            other => bail!("stale update: {other:?}"),
        }
        let r2 = ds.update(k, b"v2".to_vec(), r1).await?;
        ensure!(r2 == r1 + 1);
        match ds.update(k, b"stale".to_vec(), r1).await {
            Err(Error::Conflict {
                expected, actual, ..
            }) => ensure!(expected == r1 && actual == r2, "conflict names {actual}"),
            other => bail!("update at the previous revision: {other:?}"),
        }
        let (kv, rev) = ds.get(k).await?;
        let kv = kv.context("key missing")?;
        ensure!(kv.value == b"v2" && kv.version == 2 && kv.create_revision == r1);
        ensure!(
            rev == r2,
            "store revision {rev} after a failed update, want {r2}"
        );
        Ok(())
    }

    pub async fn delete_checks_revision_and_returns_the_pair(ds: Arc<dyn Datastore>) -> Result<()> {
        let k = "/conf/delete/a";
        match ds.delete(k, None).await {
            Err(Error::NotFound { key }) => ensure!(key == k),
            other => bail!("delete of a missing key: {other:?}"),
        }
        let r1 = ds.put(k, b"v".to_vec(), None).await?;
        match ds.delete(k, Some(r1 + 7)).await {
            Err(Error::Conflict {
                expected, actual, ..
            }) => ensure!(expected == r1 + 7 && actual == r1),
            other => bail!("delete at a wrong revision: {other:?}"),
        }
        let gone = ds.delete(k, Some(r1)).await?;
        ensure!(gone.value == b"v" && gone.mod_revision == r1);
        ensure!(ds.get(k).await?.0.is_none());
        match ds.delete(k, None).await {
            Err(Error::NotFound { key }) => ensure!(key == k),
            other => bail!("second delete: {other:?}"),
        }
        let r2 = ds.put(k, b"again".to_vec(), None).await?;
        ds.put(k, b"twice".to_vec(), None).await?;
        match ds.delete(k, Some(r2)).await {
            Err(Error::Conflict {
                expected, actual, ..
            }) => ensure!(expected == r2 && actual == r2 + 1),
            other => bail!("delete at a stale revision: {other:?}"),
        }
        let gone = ds.delete(k, None).await?;
        ensure!(gone.value == b"twice" && gone.version == 2 && gone.create_revision == r2);
        Ok(())
    }

    pub async fn list_returns_the_prefix_in_key_order(ds: Arc<dyn Datastore>) -> Result<()> {
        for k in [
            "/conf/list/a/2",
            "/conf/list/ab",
            "/conf/list/a/1",
            "/conf/list/b",
        ] {
            ds.put(k, k.as_bytes().to_vec(), None).await?;
        }
        let keys =
            |l: datastore::ListResult| l.kvs.into_iter().map(|kv| kv.key).collect::<Vec<_>>();
        let slash = ds.list("/conf/list/a/", None).await?;
        let rev = slash.revision;
        ensure!(
            keys(slash) == ["/conf/list/a/1", "/conf/list/a/2"],
            "prefix /a/ leaked"
        );
        let bare = keys(ds.list("/conf/list/a", None).await?);
        ensure!(
            bare == ["/conf/list/a/1", "/conf/list/a/2", "/conf/list/ab"],
            "{bare:?}"
        );
        ensure!(ds.list("/conf/list/zzz", None).await?.kvs.is_empty());
        ensure!(
            rev == ds.get("/x").await?.1,
            "list revision {rev} is not the store revision"
        );
        Ok(())
    }

    pub async fn list_at_an_old_revision_sees_the_past(ds: Arc<dyn Datastore>) -> Result<()> {
        let r1 = ds.put("/conf/old/a", b"a1".to_vec(), None).await?;
        ds.put("/conf/old/a", b"a2".to_vec(), None).await?;
        ds.put("/conf/old/b", b"b1".to_vec(), None).await?;
        ds.delete("/conf/old/a", None).await?;
        let then = ds.list("/conf/old/", Some(r1)).await?;
        ensure!(
            then.revision == r1,
            "list at {r1} reports revision {}",
            then.revision
        );
        ensure!(
            then.kvs.len() == 1 && then.kvs[0].value == b"a1",
            "{:?}",
            then.kvs
        );
        let now = ds.list("/conf/old/", None).await?;
        ensure!(now.kvs.len() == 1 && now.kvs[0].key == "/conf/old/b");
        Ok(())
    }

    pub async fn list_of_a_compacted_revision_fails(ds: Arc<dyn Datastore>) -> Result<()> {
        let r1 = ds.put("/conf/compact/a", b"1".to_vec(), None).await?;
        let r2 = ds.put("/conf/compact/a", b"2".to_vec(), None).await?;
        ds.put("/conf/compact/a", b"3".to_vec(), None).await?;
        ds.compact(r2).await?;
        match ds.list("/conf/compact/", Some(r1)).await {
            Err(Error::Compacted {
                requested,
                compact_revision,
            }) => ensure!(
                requested == r1 && compact_revision == r2,
                "requested {requested}, compact revision {compact_revision}"
            ),
            other => bail!("list at a compacted revision: {other:?}"),
        }
        let at = ds.list("/conf/compact/", Some(r2)).await?;
        ensure!(at.kvs.len() == 1 && at.kvs[0].value == b"2", "{:?}", at.kvs);
        match ds.compact(r2).await {
            Err(Error::Compacted {
                compact_revision, ..
            }) => ensure!(
                compact_revision == r2,
                "compacting twice names compaction revision {compact_revision}, want {r2}"
            ),
            other => bail!("compacting twice: {other:?}"),
        }
        Ok(())
    }

    pub async fn watch_replays_history_then_follows(ds: Arc<dyn Datastore>) -> Result<()> {
        let p = "/conf/watch/";
        let r1 = ds.put("/conf/watch/a", b"1".to_vec(), None).await?;
        ds.put("/conf/other", b"x".to_vec(), None).await?;
        let r3 = ds.put("/conf/watch/a", b"2".to_vec(), None).await?;
        let r4 = ds.delete("/conf/watch/a", None).await?.mod_revision + 1;
        let mut ws = ds.watch(p, r1).await?;
        ensure!(summaries(&next_batch(&mut ws).await?) == [put("/conf/watch/a", "1", r1, None)]);
        ensure!(
            summaries(&next_batch(&mut ws).await?) == [put("/conf/watch/a", "2", r3, Some("1"))]
        );
        ensure!(summaries(&next_batch(&mut ws).await?) == [del("/conf/watch/a", r4, "2")]);
        let r5 = ds.put("/conf/watch/b", b"live".to_vec(), None).await?;
        ensure!(summaries(&next_batch(&mut ws).await?) == [put("/conf/watch/b", "live", r5, None)]);
        Ok(())
    }

    pub async fn watch_from_now_sees_only_new_events(ds: Arc<dyn Datastore>) -> Result<()> {
        ds.put("/conf/now/a", b"old".to_vec(), None).await?;
        let mut ws = ds.watch("/conf/now/", 0).await?;
        let r = ds.put("/conf/now/a", b"new".to_vec(), None).await?;
        ensure!(
            summaries(&next_batch(&mut ws).await?) == [put("/conf/now/a", "new", r, Some("old"))]
        );
        Ok(())
    }

    pub async fn watch_of_a_compacted_revision_yields_compacted(
        ds: Arc<dyn Datastore>,
    ) -> Result<()> {
        let r1 = ds.put("/conf/wc/a", b"1".to_vec(), None).await?;
        let r2 = ds.put("/conf/wc/a", b"2".to_vec(), None).await?;
        ds.compact(r2).await?;
        let mut ws = ds.watch("/conf/wc/", r1).await?;
        let batch = next_batch(&mut ws).await?;
        ensure!(
            batch
                == [WatchEvent::Compacted {
                    compact_revision: r2
                }],
            "got {batch:?}"
        );
        match tokio::time::timeout(WATCH_WAIT, ws.next()).await {
            Ok(None) => Ok(()),
            other => bail!("stream continued after Compacted: {other:?}"),
        }
    }

    pub async fn watch_is_isolated_by_prefix(ds: Arc<dyn Datastore>) -> Result<()> {
        let mut ws = ds.watch("/conf/iso/a/", 0).await?;
        ds.put("/conf/iso/ab", b"no".to_vec(), None).await?;
        ds.put("/conf/iso/a", b"no".to_vec(), None).await?;
        let r = ds.put("/conf/iso/a/1", b"yes".to_vec(), None).await?;
        ensure!(summaries(&next_batch(&mut ws).await?) == [put("/conf/iso/a/1", "yes", r, None)]);
        Ok(())
    }

    pub async fn txn_success_commits_all_writes_at_one_revision(
        ds: Arc<dyn Datastore>,
    ) -> Result<()> {
        let r0 = ds.put("/conf/txn/a", b"a0".to_vec(), None).await?;
        ds.put("/conf/txn/gone", b"g".to_vec(), None).await?;
        let mut ws = ds.watch("/conf/txn/", 0).await?;
        let resp = ds
            .txn(Txn {
                compare: vec![
                    Compare::ModRevision("/conf/txn/a".into(), r0),
                    Compare::Absent("/conf/txn/b".into()),
                    Compare::Exists("/conf/txn/gone".into()),
                ],
                success: vec![
                    TxnOp::Put {
                        key: "/conf/txn/a".into(),
                        value: b"a1".to_vec(),
                        lease: None,
                    },
                    TxnOp::Put {
                        key: "/conf/txn/b".into(),
                        value: b"b1".to_vec(),
                        lease: None,
                    },
                    TxnOp::Delete {
                        key: "/conf/txn/gone".into(),
                    },
                    TxnOp::Get {
                        key: "/conf/txn/a".into(),
                    },
                ],
                failure: vec![],
            })
            .await?;
        ensure!(resp.succeeded);
        let rev = resp.revision;
        ensure!(rev == r0 + 2, "txn revision {rev}, want {}", r0 + 2);
        let [
            TxnOpResult::Put { revision: pa },
            TxnOpResult::Put { revision: pb },
            TxnOpResult::Delete { deleted: Some(d) },
            TxnOpResult::Get { kv: Some(got) },
        ] = resp.results.as_slice()
        else {
            bail!("results {:?}", resp.results);
        };
        ensure!(*pa == rev && *pb == rev && d.value == b"g");
        ensure!(
            got.value == b"a1",
            "a get after a put in the same txn sees the put"
        );
        let batch = summaries(&next_batch(&mut ws).await?);
        ensure!(
            batch
                == [
                    put("/conf/txn/a", "a1", rev, Some("a0")),
                    put("/conf/txn/b", "b1", rev, None),
                    del("/conf/txn/gone", rev, "g"),
                ],
            "one batch for the txn: {batch:?}"
        );
        Ok(())
    }

    pub async fn txn_failure_runs_the_failure_branch(ds: Arc<dyn Datastore>) -> Result<()> {
        let r0 = ds.put("/conf/txnf/a", b"a0".to_vec(), None).await?;
        let resp = ds
            .txn(Txn {
                compare: vec![Compare::ModRevision("/conf/txnf/a".into(), r0 + 100)],
                success: vec![TxnOp::Delete {
                    key: "/conf/txnf/a".into(),
                }],
                failure: vec![TxnOp::Get {
                    key: "/conf/txnf/a".into(),
                }],
            })
            .await?;
        ensure!(!resp.succeeded && resp.revision == r0);
        match resp.results.as_slice() {
            [TxnOpResult::Get { kv: Some(kv) }] => ensure!(kv.mod_revision == r0),
            other => bail!("failure results {other:?}"),
        }
        let exists = ds
            .txn(Txn {
                compare: vec![Compare::Exists("/conf/txnf/missing".into())],
                success: vec![],
                failure: vec![TxnOp::Put {
                    key: "/conf/txnf/b".into(),
                    value: b"b".to_vec(),
                    lease: None,
                }],
            })
            .await?;
        ensure!(!exists.succeeded && exists.revision == r0 + 1);
        ensure!(value_of(&*ds, "/conf/txnf/a").await?.as_deref() == Some("a0"));
        Ok(())
    }

    pub async fn lease_expiry_deletes_the_key_and_emits_delete(
        ds: Arc<dyn Datastore>,
    ) -> Result<()> {
        let lease = ds.lease_grant(2).await?;
        let r = ds.put("/conf/lease/a", b"v".to_vec(), Some(lease)).await?;
        ensure!(ds.get("/conf/lease/a").await?.0.map(|kv| kv.lease) == Some(lease));
        let mut ws = ds.watch("/conf/lease/", r + 1).await?;
        let batch = next_batch(&mut ws).await?;
        ensure!(
            matches!(batch.as_slice(), [WatchEvent::Delete { key, prev: Some(_), .. }] if key == "/conf/lease/a"),
            "expected the lease's delete, got {batch:?}"
        );
        ensure!(ds.get("/conf/lease/a").await?.0.is_none());
        match ds.lease_keep_alive(lease).await {
            Err(Error::LeaseNotFound(id)) => ensure!(id == lease),
            other => bail!("keep-alive of an expired lease: {other:?}"),
        }
        Ok(())
    }

    pub async fn lease_keep_alive_keeps_the_key(ds: Arc<dyn Datastore>) -> Result<()> {
        let lease = ds.lease_grant(2).await?;
        ds.put("/conf/keep/a", b"v".to_vec(), Some(lease)).await?;
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let ttl = ds.lease_keep_alive(lease).await?;
            ensure!(ttl == 2, "keep-alive TTL {ttl}");
        }
        ensure!(
            ds.get("/conf/keep/a").await?.0.is_some(),
            "key expired despite keep-alives"
        );
        Ok(())
    }

    pub async fn lease_revoke_deletes_attached_keys(ds: Arc<dyn Datastore>) -> Result<()> {
        let lease = ds.lease_grant(60).await?;
        ds.put("/conf/revoke/a", b"a".to_vec(), Some(lease)).await?;
        ds.create("/conf/revoke/b", b"b".to_vec(), Some(lease))
            .await?;
        let rc = ds.put("/conf/revoke/c", b"c".to_vec(), None).await?;
        let mut ws = ds.watch("/conf/revoke/", rc + 1).await?;
        ds.lease_revoke(lease).await?;
        let batch = summaries(&next_batch(&mut ws).await?);
        let rev = batch.first().map(|e| e.3).unwrap_or(0);
        ensure!(
            batch
                == [
                    del("/conf/revoke/a", rev, "a"),
                    del("/conf/revoke/b", rev, "b")
                ],
            "revoke deletes in one revision: {batch:?}"
        );
        let left = ds.list("/conf/revoke/", None).await?.kvs;
        ensure!(left.len() == 1 && left[0].key == "/conf/revoke/c");
        match ds.lease_revoke(lease).await {
            Err(Error::LeaseNotFound(id)) => ensure!(id == lease),
            other => bail!("second revoke: {other:?}"),
        }
        match ds.lease_keep_alive(lease).await {
            Err(Error::LeaseNotFound(id)) => ensure!(id == lease),
            other => bail!("keep-alive of a revoked lease: {other:?}"),
        }
        Ok(())
    }

    pub async fn update_keeps_the_lease(ds: Arc<dyn Datastore>) -> Result<()> {
        let lease = ds.lease_grant(60).await?;
        let r = ds.put("/conf/ul/a", b"1".to_vec(), Some(lease)).await?;
        ds.update("/conf/ul/a", b"2".to_vec(), r).await?;
        ensure!(ds.get("/conf/ul/a").await?.0.map(|kv| kv.lease) == Some(lease));
        ds.put("/conf/ul/a", b"3".to_vec(), None).await?;
        ensure!(
            ds.get("/conf/ul/a").await?.0.map(|kv| kv.lease) == Some(0),
            "put detaches"
        );
        ds.lease_revoke(lease).await?;
        ensure!(
            ds.get("/conf/ul/a").await?.0.is_some(),
            "detached key deleted by revoke"
        );
        Ok(())
    }

    pub async fn lease_time_to_live_and_list_report_live_leases(
        ds: Arc<dyn Datastore>,
    ) -> Result<()> {
        let lease = ds.lease_grant(60).await?;
        let ttl = ds
            .lease_time_to_live(lease)
            .await?
            .context("no TTL for a live lease")?;
        ensure!(
            ttl.granted == 60 && (55..=60).contains(&ttl.remaining),
            "{ttl:?}"
        );
        ensure!(ds.leases().await?.contains(&lease));
        ds.lease_revoke(lease).await?;
        ensure!(ds.lease_time_to_live(lease).await?.is_none());
        ensure!(!ds.leases().await?.contains(&lease));
        Ok(())
    }

    pub async fn put_with_an_unknown_lease_fails(ds: Arc<dyn Datastore>) -> Result<()> {
        match ds.put("/conf/nolease/a", b"v".to_vec(), Some(0x7777)).await {
            Err(Error::LeaseNotFound(id)) => ensure!(id == 0x7777),
            other => bail!("put with an unknown lease: {other:?}"),
        }
        ensure!(ds.get("/conf/nolease/a").await?.0.is_none());
        Ok(())
    }
    pub async fn reads_and_compaction_in_the_future_fail(ds: Arc<dyn Datastore>) -> Result<()> {
        let r = ds.put("/conf/future/a", b"1".to_vec(), None).await?;
        match ds.list("/conf/future/", Some(r + 10)).await {
            Err(Error::Backend(_)) => {}
            other => bail!("list at a future revision: {other:?}"),
        }
        match ds.compact(r + 10).await {
            Err(Error::Backend(_)) => {}
            other => bail!("compaction at a future revision: {other:?}"),
        }
        let now = ds.list("/conf/future/", Some(r)).await?;
        ensure!(now.kvs.len() == 1, "history lost by a refused compaction");
        Ok(())
    }

    pub async fn watch_from_a_future_revision_waits_for_it(ds: Arc<dyn Datastore>) -> Result<()> {
        let r = ds.put("/conf/wf/a", b"0".to_vec(), None).await?;
        let mut ws = ds.watch("/conf/wf/", r + 3).await?;
        ds.put("/conf/wf/a", b"1".to_vec(), None).await?;
        ds.put("/conf/wf/a", b"2".to_vec(), None).await?;
        let r3 = ds.put("/conf/wf/a", b"3".to_vec(), None).await?;
        ensure!(r3 == r + 3);
        ensure!(summaries(&next_batch(&mut ws).await?) == [put("/conf/wf/a", "3", r3, Some("2"))]);
        Ok(())
    }

    /// A transaction of `n` puts under `prefix`, one key each.
    fn puts(prefix: &str, n: usize) -> Vec<TxnOp> {
        (0..n)
            .map(|i| TxnOp::Put {
                key: format!("{prefix}{i:03}"),
                value: b"v".to_vec(),
                lease: None,
            })
            .collect()
    }

    pub async fn txn_over_etcds_operation_limit_is_refused(ds: Arc<dyn Datastore>) -> Result<()> {
        let full = ds
            .txn(Txn {
                compare: vec![],
                success: puts("/conf/ops/full/", datastore::MAX_TXN_OPS),
                failure: vec![],
            })
            .await?;
        ensure!(full.succeeded && full.results.len() == datastore::MAX_TXN_OPS);
        let before = ds.get("/x").await?.1;
        let over = [
            Txn {
                compare: vec![],
                success: puts("/conf/ops/over/", datastore::MAX_TXN_OPS + 1),
                failure: vec![],
            },
            // etcd checks both branches before it evaluates the compares.
            Txn {
                compare: vec![],
                success: vec![],
                failure: puts("/conf/ops/over/", datastore::MAX_TXN_OPS + 1),
            },
            Txn {
                compare: (0..=datastore::MAX_TXN_OPS)
                    .map(|i| Compare::Absent(format!("/conf/ops/over/{i:03}")))
                    .collect(),
                success: puts("/conf/ops/over/", 1),
                failure: vec![],
            },
        ];
        for (i, txn) in over.into_iter().enumerate() {
            match ds.txn(txn).await {
                Err(Error::Backend(_)) => {}
                other => bail!("over-limit transaction {i}: {other:?}"),
            }
        }
        ensure!(ds.list("/conf/ops/over/", None).await?.kvs.is_empty());
        ensure!(
            ds.get("/x").await?.1 == before,
            "a refused transaction moved the revision"
        );
        Ok(())
    }

    pub async fn txn_writing_a_key_twice_is_refused_in_either_branch(
        ds: Arc<dyn Datastore>,
    ) -> Result<()> {
        let k = "/conf/dup/a";
        let r = ds.put(k, b"0".to_vec(), None).await?;
        let put = |v: &str| TxnOp::Put {
            key: k.into(),
            value: v.as_bytes().to_vec(),
            lease: None,
        };
        let delete = || TxnOp::Delete { key: k.into() };
        let refused = [
            (vec![put("1"), put("2")], vec![]),
            (vec![put("1"), delete()], vec![]),
            (vec![delete(), put("1")], vec![]),
            // The branch not taken is checked too.
            (vec![], vec![put("1"), put("2")]),
        ];
        for (i, (success, failure)) in refused.into_iter().enumerate() {
            match ds
                .txn(Txn {
                    compare: vec![],
                    success,
                    failure,
                })
                .await
            {
                Err(Error::Backend(_)) => {}
                other => bail!("transaction {i} writing {k} twice: {other:?}"),
            }
        }
        let (kv, rev) = ds.get(k).await?;
        ensure!(kv.map(|kv| kv.value) == Some(b"0".to_vec()) && rev == r);
        // Deleting one key twice is not a conflict: the second delete finds nothing.
        let resp = ds
            .txn(Txn {
                compare: vec![],
                success: vec![delete(), delete()],
                failure: vec![],
            })
            .await?;
        ensure!(resp.succeeded && resp.revision == r + 1, "{resp:?}");
        match resp.results.as_slice() {
            [
                TxnOpResult::Delete { deleted: Some(kv) },
                TxnOpResult::Delete { deleted: None },
            ] => ensure!(kv.value == b"0"),
            other => bail!("two deletes of one key: {other:?}"),
        }
        Ok(())
    }

    pub async fn a_request_over_etcds_size_limit_is_refused(ds: Arc<dyn Datastore>) -> Result<()> {
        const MIB: usize = 1024 * 1024;
        let r = ds.put("/conf/size/ok", vec![b'v'; MIB], None).await?;
        match ds
            .put("/conf/size/big", vec![b'v'; MIB * 7 / 4], None)
            .await
        {
            Err(Error::Backend(_)) => {}
            other => bail!("a put of 1.75 MiB: {other:?}"),
        }
        // Two values that each fit, in one transaction that does not.
        let txn = Txn {
            compare: vec![],
            success: ["/conf/size/t1", "/conf/size/t2"]
                .map(|key| TxnOp::Put {
                    key: key.into(),
                    value: vec![b'v'; MIB],
                    lease: None,
                })
                .into(),
            failure: vec![],
        };
        match ds.txn(txn).await {
            Err(Error::Backend(_)) => {}
            other => bail!("a transaction of 2 MiB: {other:?}"),
        }
        let left = ds.list("/conf/size/", None).await?;
        ensure!(
            left.kvs.len() == 1 && left.revision == r,
            "refused writes landed"
        );
        Ok(())
    }

    pub async fn the_empty_key_is_refused(ds: Arc<dyn Datastore>) -> Result<()> {
        let before = ds.get("/x").await?.1;
        let refused = [
            ds.put("", b"v".to_vec(), None).await.map(|_| ()),
            ds.create("", b"v".to_vec(), None).await.map(|_| ()),
            ds.update("", b"v".to_vec(), 1).await.map(|_| ()),
            ds.delete("", None).await.map(|_| ()),
            ds.get("").await.map(|_| ()),
            ds.txn(Txn {
                compare: vec![],
                success: vec![TxnOp::Put {
                    key: String::new(),
                    value: b"v".to_vec(),
                    lease: None,
                }],
                failure: vec![],
            })
            .await
            .map(|_| ()),
        ];
        for (i, result) in refused.into_iter().enumerate() {
            match result {
                Err(Error::Backend(_)) => {}
                other => bail!("operation {i} on the empty key: {other:?}"),
            }
        }
        ensure!(ds.get("/x").await?.1 == before);
        Ok(())
    }

    pub async fn a_short_lease_ttl_is_raised_to_etcds_minimum(
        ds: Arc<dyn Datastore>,
    ) -> Result<()> {
        let lease = ds.lease_grant(1).await?;
        let ttl = ds
            .lease_time_to_live(lease)
            .await?
            .context("no TTL for a live lease")?;
        ensure!(ttl.granted == 2, "{ttl:?}");
        ensure!(ds.lease_keep_alive(lease).await? == 2);
        ds.lease_revoke(lease).await?;
        Ok(())
    }
}

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
