//! A watch that survives its etcd member: [`open`] returns a stream that wraps etcd's watch and,
//! when that stream errors or ends (member killed, connection lost, member lost its leader),
//! re-creates it from the revision after the last delivered event — on another member if the
//! current one is unreachable — so the consumer sees no gap and no duplicate.
//!
//! Batches are split per revision (etcd packs many revisions into one response when replaying
//! history), so both backends deliver exactly one batch per revision. A watch whose start
//! revision has been compacted — at creation or on resumption — yields one
//! [`WatchEvent::Compacted`] and ends, as etcd cancels it with `compact_revision` set.

use std::collections::VecDeque;
use std::sync::Arc;

use etcd_client::{WatchOptions, WatchResponse};
use futures::StreamExt;
use tokio::time::Duration;

use super::members::{MAX_BACKOFF, MIN_BACKOFF, Members};
use super::reply;
use crate::{Error, Result, Revision, WatchEvent, WatchStream};

/// Watch responses can be large (a replay of many revisions); allow up to this many bytes.
pub(super) const MAX_MESSAGE_BYTES: usize = 512 * 1024 * 1024;

struct ResumingWatch {
    members: Arc<Members>,
    prefix: String,
    /// The revision the next event must have at least; 0 until etcd told us the start revision.
    next: Revision,
    stream: Option<etcd_client::WatchStream>,
    pending: VecDeque<Vec<WatchEvent>>,
    done: bool,
    backoff: Duration,
}

/// Opens a watch of `prefix` from `from_revision` (the next revision when `<= 0`). The first
/// creation is bounded by the request timeout and its failure is returned; later resumptions
/// retry with backoff for as long as the stream is polled.
pub(super) async fn open(
    members: Arc<Members>,
    prefix: &str,
    from_revision: Revision,
) -> Result<WatchStream> {
    let mut w = ResumingWatch {
        members,
        prefix: prefix.to_string(),
        next: from_revision.max(0),
        stream: None,
        pending: VecDeque::new(),
        done: false,
        backoff: MIN_BACKOFF,
    };
    w.create().await?;
    Ok(futures::stream::unfold(w, |mut w| async move {
        let item = w.next_batch().await?;
        Some((item, w))
    })
    .boxed())
}

impl ResumingWatch {
    /// Creates the etcd watch from `self.next` and handles its first (created) response.
    async fn create(&mut self) -> Result<()> {
        let next = self.next;
        let prefix = self.prefix.clone();
        let (stream, first) = self
            .members
            .call(&self.prefix, true, move |client| {
                let prefix = prefix.clone();
                async move {
                    let mut opts = WatchOptions::new().with_prefix().with_prev_key();
                    if next > 0 {
                        opts = opts.with_start_revision(next);
                    }
                    let mut ws = client
                        .watch_client()
                        .max_decoding_message_size(MAX_MESSAGE_BYTES)
                        .watch(prefix, Some(opts))
                        .await?;
                    match ws.message().await? {
                        Some(first) => Ok((ws, first)),
                        None => Err(etcd_client::Error::WatchError(
                            "watch stream closed before the watch was created".into(),
                        )),
                    }
                }
            })
            .await?;
        tracing::debug!(prefix = %self.prefix, revision = next,
            endpoint = %self.members.current_endpoint(), "etcd watch created");
        self.stream = Some(stream);
        self.handle(first);
        Ok(())
    }

    async fn next_batch(&mut self) -> Option<Result<Vec<WatchEvent>>> {
        loop {
            if let Some(batch) = self.pending.pop_front() {
                return Some(Ok(batch));
            }
            if self.done {
                return None;
            }
            let Some(stream) = self.stream.as_mut() else {
                match self.create().await {
                    Ok(()) => {}
                    Err(e @ Error::Unavailable { .. }) => {
                        tracing::warn!(prefix = %self.prefix, revision = self.next, error = %e,
                            retry_in = ?self.backoff, "etcd watch cannot resume yet");
                        tokio::time::sleep(self.backoff).await;
                        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                continue;
            };
            match stream.message().await {
                Ok(Some(resp)) => self.handle(resp),
                Ok(None) => {
                    tracing::info!(prefix = %self.prefix, revision = self.next,
                        "etcd watch stream ended; resuming");
                    self.stream = None;
                }
                Err(e) => {
                    tracing::info!(prefix = %self.prefix, revision = self.next, error = %e,
                        "etcd watch stream failed; resuming");
                    self.stream = None;
                }
            }
        }
    }

    fn handle(&mut self, resp: WatchResponse) {
        if resp.created() && self.next <= 0 {
            self.next = resp.header().map(|h| h.revision() + 1).unwrap_or(0);
        }
        let mut events = Vec::with_capacity(resp.events().len());
        for ev in resp.events() {
            match reply::watch_event(ev) {
                Ok(ev) if ev.revision() >= self.next => events.push(ev),
                Ok(ev) => {
                    tracing::debug!(
                        revision = ev.revision(),
                        next = self.next,
                        "dropping an etcd watch event already delivered"
                    );
                }
                Err(e) => tracing::warn!(prefix = %self.prefix, error = %e,
                    "skipping an undecodable etcd watch event"),
            }
        }
        if let Some(last) = events.last() {
            self.next = last.revision() + 1;
            self.backoff = MIN_BACKOFF;
        }
        self.pending.extend(reply::batches_by_revision(events));
        if resp.canceled() {
            let compact_revision = resp.compact_revision();
            if compact_revision > 0 {
                tracing::info!(prefix = %self.prefix, revision = self.next, compact_revision,
                    "etcd watch position compacted");
                self.pending
                    .push_back(vec![WatchEvent::Compacted { compact_revision }]);
                self.done = true;
            } else {
                tracing::info!(prefix = %self.prefix, reason = resp.cancel_reason(),
                    "etcd canceled the watch; resuming");
                self.stream = None;
            }
        }
    }
}
