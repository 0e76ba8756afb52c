//! Reads and writes of single keys: revisions, compare-and-swap, ranges, history, compaction, and what etcd refuses.

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
    let keys = |l: datastore::ListResult| l.kvs.into_iter().map(|kv| kv.key).collect::<Vec<_>>();
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
