//! etcd's Watch service: one bidirectional stream per client carrying many watches.
//!
//! Each stream is a session task that owns the outbound channel: it answers create, cancel and
//! progress requests, and relays the batches that one forwarder task per watch reads from
//! [`Datastore::watch`]. Only the session writes to the client, so a watch's `created` response
//! always comes before its events, and nothing of a watch follows its `canceled` response.
//!
//! As in etcd 3.4: watch IDs are assigned from 0 unless the client picks one; a start revision
//! of 0 means "after the current revision"; a compacted start revision gets `created`, then a
//! response with `canceled = true` and `compact_revision` set, and the watch ends while the
//! stream stays usable; a client that half-closes its side keeps its watches. Progress
//! notifications on request are answered with `watch_id = -1`; periodic ones (`progress_notify`)
//! and fragmentation are not implemented.

use std::collections::HashMap;
use std::sync::Arc;

use etcd_client::proto::{
    PbEvent, PbWatchRequest, PbWatchRequestUnion, PbWatchResponse, PbWatchService,
};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert::{EVENT_DELETE, EVENT_PUT, event_to_pb, header};
use super::current_revision;
use super::key_range::KeyRange;
use crate::{Datastore, Error, Revision, WatchEvent, WatchStream};

/// Responses buffered towards one client before the session waits for it.
const OUTBOUND_BUFFER: usize = 64;
/// Batches buffered between the forwarders of one stream and its session.
const RELAY_BUFFER: usize = 16;
/// etcd's `WatchCreateRequest.FilterType` values.
const FILTER_NOPUT: i32 = 0;
const FILTER_NODELETE: i32 = 1;
/// The watch ID etcd puts on responses that belong to no watch (progress notifications).
const NO_WATCH: i64 = -1;

/// The Watch service of one etcd server.
pub(crate) struct WatchService {
    store: Arc<dyn Datastore>,
}

impl WatchService {
    pub(crate) fn new(store: Arc<dyn Datastore>) -> Self {
        WatchService { store }
    }
}

#[tonic::async_trait]
impl PbWatchService for WatchService {
    type WatchStream = ReceiverStream<Result<PbWatchResponse, Status>>;

    async fn watch(
        &self,
        request: Request<Streaming<PbWatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let (outbound, rx) = mpsc::channel(OUTBOUND_BUFFER);
        let session = Session::new(Arc::clone(&self.store), outbound);
        tokio::spawn(session.run(request.into_inner()));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// What a forwarder relays to its session.
enum Relay {
    Events(Vec<PbEvent>),
    Compacted(Revision),
    /// The datastore's stream failed or ended: the watch is over.
    Ended(String),
}

struct Session {
    store: Arc<dyn Datastore>,
    outbound: mpsc::Sender<Result<PbWatchResponse, Status>>,
    relay_tx: mpsc::Sender<(i64, Relay)>,
    relay_rx: mpsc::Receiver<(i64, Relay)>,
    watches: HashMap<i64, AbortHandle>,
    next_id: i64,
}

/// The client is gone: stop the session.
struct Gone;

impl Session {
    fn new(
        store: Arc<dyn Datastore>,
        outbound: mpsc::Sender<Result<PbWatchResponse, Status>>,
    ) -> Self {
        let (relay_tx, relay_rx) = mpsc::channel(RELAY_BUFFER);
        Session {
            store,
            outbound,
            relay_tx,
            relay_rx,
            watches: HashMap::new(),
            next_id: 0,
        }
    }

    async fn run(mut self, mut inbound: Streaming<PbWatchRequest>) {
        let mut inbound_open = true;
        loop {
            let step = tokio::select! {
                biased;
                _ = self.outbound.closed() => Err(Gone),
                Some((id, relay)) = self.relay_rx.recv() => self.relay(id, relay).await,
                request = inbound.next(), if inbound_open => match request {
                    Some(Ok(request)) => self.handle(request).await,
                    Some(Err(status)) => {
                        tracing::debug!(%status, "etcd server: watch stream broke");
                        Err(Gone)
                    }
                    None => {
                        // Half-closed: the watches live on until the client goes away.
                        inbound_open = false;
                        Ok(())
                    }
                },
            };
            if step.is_err() {
                break;
            }
        }
        for (_, watch) in self.watches.drain() {
            watch.abort();
        }
    }

    async fn send(&self, response: PbWatchResponse) -> Result<(), Gone> {
        self.outbound.send(Ok(response)).await.map_err(|_| Gone)
    }

    async fn handle(&mut self, request: PbWatchRequest) -> Result<(), Gone> {
        match request.request_union {
            Some(PbWatchRequestUnion::CreateRequest(create)) => {
                let spec = WatchSpec {
                    range: KeyRange::new(&create.key, &create.range_end),
                    prev_kv: create.prev_kv,
                    no_put: create.filters.contains(&FILTER_NOPUT),
                    no_delete: create.filters.contains(&FILTER_NODELETE),
                };
                self.create(create.watch_id, create.start_revision, spec)
                    .await
            }
            Some(PbWatchRequestUnion::CancelRequest(cancel)) => {
                // etcd answers only the cancellation of a watch that exists.
                if let Some(watch) = self.watches.remove(&cancel.watch_id) {
                    watch.abort();
                    let revision = self.revision().await;
                    self.send(PbWatchResponse {
                        header: header(revision),
                        watch_id: cancel.watch_id,
                        canceled: true,
                        ..PbWatchResponse::default()
                    })
                    .await?;
                }
                Ok(())
            }
            Some(PbWatchRequestUnion::ProgressRequest(_)) => {
                let revision = self.revision().await;
                self.send(PbWatchResponse {
                    header: header(revision),
                    watch_id: NO_WATCH,
                    ..PbWatchResponse::default()
                })
                .await
            }
            None => Ok(()),
        }
    }

    async fn create(
        &mut self,
        requested_id: i64,
        start: Revision,
        spec: WatchSpec,
    ) -> Result<(), Gone> {
        let revision = self.revision().await;
        let id = if requested_id != 0 {
            requested_id
        } else {
            self.free_id()
        };
        if self.watches.contains_key(&id) {
            return self
                .refuse(
                    id,
                    revision,
                    "mvcc: duplicate watch ID provided on the WatchStream",
                )
                .await;
        }
        let start = if start > 0 { start } else { revision + 1 };
        let events = match self.store.watch(spec.range.list_prefix(), start).await {
            Ok(events) => events,
            Err(Error::Compacted {
                compact_revision, ..
            }) => {
                self.send(created(id, revision)).await?;
                return self.compacted(id, compact_revision).await;
            }
            Err(e) => return self.refuse(id, revision, &e.to_string()).await,
        };
        tracing::debug!(
            watch_id = id,
            prefix = spec.range.list_prefix(),
            start,
            "etcd server: watch created"
        );
        self.send(created(id, revision)).await?;
        let relay = self.relay_tx.clone();
        let task = tokio::spawn(forward(id, events, spec, relay));
        self.watches.insert(id, task.abort_handle());
        Ok(())
    }

    /// Answers a create request that cannot be served, as etcd does: created and canceled at once.
    async fn refuse(&self, id: i64, revision: Revision, reason: &str) -> Result<(), Gone> {
        tracing::debug!(watch_id = id, reason, "etcd server: watch refused");
        self.send(PbWatchResponse {
            header: header(revision),
            watch_id: id,
            created: true,
            canceled: true,
            cancel_reason: reason.to_string(),
            ..PbWatchResponse::default()
        })
        .await
    }

    async fn relay(&mut self, id: i64, relay: Relay) -> Result<(), Gone> {
        if !self.watches.contains_key(&id) {
            // Canceled while the batch was in flight.
            return Ok(());
        }
        match relay {
            Relay::Events(events) => {
                let revision = events
                    .iter()
                    .filter_map(|e| e.kv.as_ref().map(|kv| kv.mod_revision))
                    .max()
                    .unwrap_or_default();
                self.send(PbWatchResponse {
                    header: header(revision),
                    watch_id: id,
                    events,
                    ..PbWatchResponse::default()
                })
                .await
            }
            Relay::Compacted(compact_revision) => {
                self.watches.remove(&id);
                self.compacted(id, compact_revision).await
            }
            Relay::Ended(reason) => {
                self.watches.remove(&id);
                let revision = self.revision().await;
                tracing::debug!(
                    watch_id = id,
                    reason,
                    "etcd server: watch ended by the datastore"
                );
                self.send(PbWatchResponse {
                    header: header(revision),
                    watch_id: id,
                    canceled: true,
                    cancel_reason: reason,
                    ..PbWatchResponse::default()
                })
                .await
            }
        }
    }

    /// Ends a watch whose next revision was compacted away, as etcd does: canceled, with the
    /// compaction revision, and no reason.
    async fn compacted(&self, id: i64, compact_revision: Revision) -> Result<(), Gone> {
        let revision = self.revision().await;
        tracing::debug!(
            watch_id = id,
            compact_revision,
            "etcd server: watch start compacted"
        );
        self.send(PbWatchResponse {
            header: header(revision),
            watch_id: id,
            canceled: true,
            compact_revision,
            ..PbWatchResponse::default()
        })
        .await
    }

    /// The lowest watch ID not in use, as etcd allocates them.
    fn free_id(&mut self) -> i64 {
        while self.watches.contains_key(&self.next_id) {
            self.next_id += 1;
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The current store revision for response headers (0 if the store cannot say).
    async fn revision(&self) -> Revision {
        current_revision(&*self.store).await.unwrap_or_default()
    }
}

fn created(id: i64, revision: Revision) -> PbWatchResponse {
    PbWatchResponse {
        header: header(revision),
        watch_id: id,
        created: true,
        ..PbWatchResponse::default()
    }
}

/// Which events of the datastore's prefix watch one etcd watch wants.
struct WatchSpec {
    range: KeyRange,
    prev_kv: bool,
    no_put: bool,
    no_delete: bool,
}

impl WatchSpec {
    fn wants(&self, event: &PbEvent) -> bool {
        let key = event
            .kv
            .as_ref()
            .map(|kv| kv.key.as_slice())
            .unwrap_or_default();
        let in_range = std::str::from_utf8(key).is_ok_and(|k| self.range.contains(k));
        in_range
            && !(self.no_put && event.r#type == EVENT_PUT)
            && !(self.no_delete && event.r#type == EVENT_DELETE)
    }
}

/// Reads one datastore watch and relays its batches, filtered to the watch's range.
async fn forward(
    id: i64,
    mut events: WatchStream,
    spec: WatchSpec,
    relay: mpsc::Sender<(i64, Relay)>,
) {
    let end = loop {
        match events.next().await {
            Some(Ok(batch)) => {
                let mut out = Vec::with_capacity(batch.len());
                for event in batch {
                    if let WatchEvent::Compacted { compact_revision } = event {
                        let _ = relay.send((id, Relay::Compacted(compact_revision))).await;
                        return;
                    }
                    if let Some(event) = event_to_pb(event, spec.prev_kv)
                        && spec.wants(&event)
                    {
                        out.push(event);
                    }
                }
                if !out.is_empty() && relay.send((id, Relay::Events(out))).await.is_err() {
                    return;
                }
            }
            Some(Err(e)) => break e.to_string(),
            None => break "the datastore ended the watch".to_string(),
        }
    };
    let _ = relay.send((id, Relay::Ended(end))).await;
}
