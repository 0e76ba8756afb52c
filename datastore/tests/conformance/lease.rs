//! Leases: expiry, keep-alive, revocation, TTLs, and keys attached to them.

use super::*;

pub async fn lease_expiry_deletes_the_key_and_emits_delete(ds: Arc<dyn Datastore>) -> Result<()> {
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

pub async fn lease_time_to_live_and_list_report_live_leases(ds: Arc<dyn Datastore>) -> Result<()> {
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

pub async fn a_short_lease_ttl_is_raised_to_etcds_minimum(ds: Arc<dyn Datastore>) -> Result<()> {
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
