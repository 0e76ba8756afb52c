//! Watch events as the datastore tests compare them: the next batch of a watch (within a
//! timeout), and each event as a compact, comparable tuple. Shared by the conformance suite
//! and the etcd server's own tests.

#![allow(dead_code, reason = "each test program uses part of it")]

use std::time::Duration;

use anyhow::{Result, bail};
use datastore::{Revision, WatchEvent, WatchStream};
use futures::StreamExt;

/// How long a case waits for a watch batch before failing.
pub const WATCH_WAIT: Duration = Duration::from_secs(10);

pub async fn next_batch(ws: &mut WatchStream) -> Result<Vec<WatchEvent>> {
    match tokio::time::timeout(WATCH_WAIT, ws.next()).await {
        Ok(Some(Ok(batch))) => Ok(batch),
        Ok(Some(Err(e))) => bail!("watch failed: {e}"),
        Ok(None) => bail!("watch ended"),
        Err(_) => bail!("no watch batch within {WATCH_WAIT:?}"),
    }
}

/// A compact, comparable view of an event: kind, key, value, revision, previous value.
pub fn summary(e: &WatchEvent) -> (String, String, String, Revision, Option<String>) {
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

pub fn put(
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

pub fn del(
    key: &str,
    rev: Revision,
    prev: &str,
) -> (String, String, String, Revision, Option<String>) {
    (
        "delete".into(),
        key.into(),
        String::new(),
        rev,
        Some(prev.into()),
    )
}

pub fn summaries(batch: &[WatchEvent]) -> Vec<(String, String, String, Revision, Option<String>)> {
    batch.iter().map(summary).collect()
}
