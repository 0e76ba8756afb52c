//! Event histories: what a watcher observed, what the store recorded, and the check that the
//! first equals the second exactly (same events, same order, no duplicate, no gap).

use std::fmt;

use datastore::memory::MemoryDatastore;
use datastore::{Datastore, Revision, WatchEvent};
use futures::{FutureExt, StreamExt};

/// Whether an event wrote or deleted its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Put,
    Delete,
}

/// One event of a key's history, as a watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub key: String,
    pub revision: Revision,
    pub change: Change,
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {} @{}", self.change, self.key, self.revision)
    }
}

impl Observed {
    /// The record of a put or delete; `None` for `Compacted`, which is not part of a history.
    pub fn of(event: &WatchEvent) -> Option<Observed> {
        match event {
            WatchEvent::Put { kv, .. } => Some(Observed {
                key: kv.key.clone(),
                revision: kv.mod_revision,
                change: Change::Put,
            }),
            WatchEvent::Delete { key, revision, .. } => Some(Observed {
                key: key.clone(),
                revision: *revision,
                change: Change::Delete,
            }),
            WatchEvent::Compacted { .. } => None,
        }
    }
}

/// The whole recorded history of the keys under `prefix`, read from the store's event log
/// (from revision 1, so the store must not have been compacted). Call it outside the simulation,
/// after the run.
pub fn store_history(store: &MemoryDatastore, prefix: &str) -> Result<Vec<Observed>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot build a runtime to read the store history: {e}"))?;
    rt.block_on(async {
        let mut events = store
            .watch(prefix, 1)
            .await
            .map_err(|e| format!("cannot replay the store history of {prefix}: {e}"))?;
        let mut history = Vec::new();
        // The log replays without waiting; the first pending poll means it is exhausted.
        while let Some(Some(batch)) = events.next().now_or_never() {
            let batch = batch.map_err(|e| format!("store history of {prefix} failed: {e}"))?;
            for event in &batch {
                match Observed::of(event) {
                    Some(o) => history.push(o),
                    None => return Err(format!("store history of {prefix} was compacted")),
                }
            }
        }
        Ok(history)
    })
}

/// Checks that `observed` is exactly `expected`; the error names the first difference.
pub fn check_same(who: &str, expected: &[Observed], observed: &[Observed]) -> Result<(), String> {
    let first_difference = expected
        .iter()
        .zip(observed)
        .position(|(e, o)| e != o)
        .or_else(|| (expected.len() != observed.len()).then(|| expected.len().min(observed.len())));
    let Some(i) = first_difference else {
        return Ok(());
    };
    let show = |events: &[Observed]| {
        events
            .get(i.saturating_sub(2)..(i + 3).min(events.len()))
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "{who} observed {} events, the store recorded {}; first difference at event {i}: \
         store [{}] vs {who} [{}]",
        observed.len(),
        expected.len(),
        show(expected),
        show(observed),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, revision: Revision) -> Observed {
        Observed {
            key: key.into(),
            revision,
            change: Change::Put,
        }
    }

    #[test]
    fn identical_histories_match() {
        let h = vec![put("/a", 2), put("/b", 3)];
        assert!(check_same("w", &h, &h).is_ok());
    }

    #[test]
    fn a_duplicate_is_reported_at_its_position() {
        let expected = vec![put("/a", 2), put("/b", 3)];
        let observed = vec![put("/a", 2), put("/a", 2), put("/b", 3)];
        let err = check_same("w", &expected, &observed)
            .err()
            .unwrap_or_default();
        assert!(err.contains("first difference at event 1"), "{err}");
    }

    #[test]
    fn a_missing_tail_is_reported() {
        let expected = vec![put("/a", 2), put("/b", 3)];
        let observed = vec![put("/a", 2)];
        let err = check_same("w", &expected, &observed)
            .err()
            .unwrap_or_default();
        assert!(err.contains("first difference at event 1"), "{err}");
    }
}
