//! Watches: replay from a revision, following, compaction, prefixes.

use super::*;

pub async fn watch_replays_history_then_follows(ds: Arc<dyn Datastore>) -> Result<()> {
    let p = "/conf/watch/";
    let r1 = ds.put("/conf/watch/a", b"1".to_vec(), None).await?;
    ds.put("/conf/other", b"x".to_vec(), None).await?;
    let r3 = ds.put("/conf/watch/a", b"2".to_vec(), None).await?;
    let r4 = ds.delete("/conf/watch/a", None).await?.mod_revision + 1;
    let mut ws = ds.watch(p, r1).await?;
    ensure!(summaries(&next_batch(&mut ws).await?) == [put("/conf/watch/a", "1", r1, None)]);
    ensure!(summaries(&next_batch(&mut ws).await?) == [put("/conf/watch/a", "2", r3, Some("1"))]);
    ensure!(summaries(&next_batch(&mut ws).await?) == [del("/conf/watch/a", r4, "2")]);
    let r5 = ds.put("/conf/watch/b", b"live".to_vec(), None).await?;
    ensure!(summaries(&next_batch(&mut ws).await?) == [put("/conf/watch/b", "live", r5, None)]);
    Ok(())
}

pub async fn watch_from_now_sees_only_new_events(ds: Arc<dyn Datastore>) -> Result<()> {
    ds.put("/conf/now/a", b"old".to_vec(), None).await?;
    let mut ws = ds.watch("/conf/now/", 0).await?;
    let r = ds.put("/conf/now/a", b"new".to_vec(), None).await?;
    ensure!(summaries(&next_batch(&mut ws).await?) == [put("/conf/now/a", "new", r, Some("old"))]);
    Ok(())
}

pub async fn watch_of_a_compacted_revision_yields_compacted(ds: Arc<dyn Datastore>) -> Result<()> {
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
