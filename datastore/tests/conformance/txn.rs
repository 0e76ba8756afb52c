//! Transactions: both branches, one revision for all writes, and etcd's limits on them.

use super::*;

pub async fn txn_success_commits_all_writes_at_one_revision(ds: Arc<dyn Datastore>) -> Result<()> {
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
