//! Watch streams of the in-memory store.
//!
//! Queueing choice: there is no per-watcher queue. Every watcher reads the shared event log from
//! its own position and is woken through a `tokio::sync::watch` channel when a revision is
//! committed. Writers therefore never wait for, nor buffer on behalf of, a slow watcher; a watcher
//! costs one position and one wake-up flag. A watcher that falls so far behind that compaction
//! removes its position gets [`WatchEvent::Compacted`] and its stream ends — what etcd does to a
//! slow watcher whose next revision was compacted.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::watch;

use super::Shared;
use super::store::WatchStep;
use crate::{Revision, WatchEvent, WatchStream};

struct Watcher {
    shared: Arc<Shared>,
    prefix: String,
    next: Revision,
    changed: watch::Receiver<Revision>,
    done: bool,
}

/// A stream of the events under `prefix` from revision `next` on.
pub(super) fn stream(shared: Arc<Shared>, prefix: String, next: Revision) -> WatchStream {
    let changed = shared.changed.subscribe();
    let watcher = Watcher {
        shared,
        prefix,
        next,
        changed,
        done: false,
    };
    futures::stream::unfold(watcher, |mut w| async move {
        if w.done {
            return None;
        }
        loop {
            // Mark the current revision as seen before reading, so that a commit racing with the
            // read wakes us again.
            w.changed.borrow_and_update();
            let step = w.shared.lock().store.next_watch_batch(&w.prefix, w.next);
            match step {
                WatchStep::Batch(events, next) => {
                    w.next = next;
                    return Some((Ok(events), w));
                }
                WatchStep::Compacted(compact_revision) => {
                    tracing::debug!(prefix = %w.prefix, revision = w.next, compact_revision,
                        "memory watch position compacted");
                    w.done = true;
                    return Some((Ok(vec![WatchEvent::Compacted { compact_revision }]), w));
                }
                WatchStep::Wait(next) => {
                    w.next = next;
                    if w.changed.changed().await.is_err() {
                        return None;
                    }
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;

    use crate::memory::MemoryDatastore;
    use crate::{Datastore, WatchEvent};

    #[tokio::test]
    async fn writers_never_wait_for_a_watcher_that_does_not_read() {
        let ds = MemoryDatastore::new();
        let mut ws = ds.watch("/slow/", 0).await.unwrap();
        for i in 0..10_000u32 {
            ds.put(&format!("/slow/{i}"), i.to_be_bytes().to_vec(), None)
                .await
                .unwrap();
        }
        // The first write is revision 2 (a fresh store is at 1).
        for rev in 2..10_002 {
            let batch = ws.next().await.unwrap().unwrap();
            assert_eq!(batch.len(), 1);
            assert_eq!(batch[0].revision(), rev, "events in revision order");
        }
    }

    #[tokio::test]
    async fn watcher_overtaken_by_compaction_gets_compacted() {
        let ds = MemoryDatastore::new();
        let mut ws = ds.watch("/c/", 0).await.unwrap();
        let r1 = ds.put("/c/a", b"1".to_vec(), None).await.unwrap();
        let r2 = ds.put("/c/a", b"2".to_vec(), None).await.unwrap();
        let first = ws.next().await.unwrap().unwrap();
        assert_eq!(first[0].revision(), r1);
        ds.put("/c/a", b"3".to_vec(), None).await.unwrap();
        ds.compact(r2 + 1).await.unwrap();
        let batch = ws.next().await.unwrap().unwrap();
        assert_eq!(
            batch,
            [WatchEvent::Compacted {
                compact_revision: r2 + 1
            }]
        );
        assert!(ws.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn lease_expiry_follows_tokio_time_without_other_traffic() {
        let ds = MemoryDatastore::new();
        let lease = ds.lease_grant(5).await.unwrap();
        let r = ds.put("/l/a", b"v".to_vec(), Some(lease)).await.unwrap();
        let mut ws = ds.watch("/l/", r + 1).await.unwrap();
        let start = tokio::time::Instant::now();
        let batch = ws.next().await.unwrap().unwrap();
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(5),
            "expired exactly at the TTL"
        );
        assert!(matches!(&batch[..], [WatchEvent::Delete { key, .. }] if key == "/l/a"));
    }
}
