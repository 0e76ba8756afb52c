//! The Syncer actor: the I/O around [`SyncerCore`].

use std::sync::Arc;

use datastore::{Datastore, Revision, WatchEvent, WatchStream};
use futures::StreamExt;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::core::{Output, SyncerCore};
use crate::backoff::{Backoff, BackoffPolicy};
use crate::bus::{Bus, CalculatorMsg, StatusMsg, UpdateFeed};

/// The Syncer actor (see the [module docs](super)). Spawn it with [`Actor::spawn`] or
/// [`Actor::spawn_linked`] and no name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Syncer;

/// What a Syncer is built from.
#[derive(Clone)]
pub struct SyncerArgs {
    pub datastore: Arc<dyn Datastore>,
    /// This node's name: its block affinities are followed.
    pub node: String,
    /// The edge to the Calculator; it outlives the Syncer, so a restarted Syncer resumes from
    /// what the consumer holds.
    pub feed: UpdateFeed,
    /// The Calculator's address is notified when the feed has something waiting.
    pub bus: Bus,
    /// Retry timing after a failed list or watch.
    pub backoff: BackoffPolicy,
}

/// Counters of one Syncer (since it started).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncerStatus {
    /// The first list has been emitted.
    pub in_sync: bool,
    /// Successful lists (the first one and every re-list).
    pub lists: u64,
    /// Re-lists because a watch position was compacted.
    pub compactions: u64,
    /// Failed lists, failed watches and watches that ended.
    pub failures: u64,
    /// Keys emitted as present.
    pub keys: usize,
    /// Keys whose latest value is bad (treated as absent).
    pub bad_values: usize,
    /// The revision of the last list.
    pub list_revision: Revision,
}

/// Messages to the Syncer.
#[derive(Debug)]
pub enum SyncerMsg {
    /// Replies with the Syncer's counters.
    Status(RpcReplyPort<SyncerStatus>),
    /// One of the Syncer's own steps (a list attempt, a watch batch); only the Syncer makes
    /// these.
    Step(Step),
}

/// A step the Syncer sends itself. Opaque: other actors cannot forge watch batches.
#[derive(Debug)]
pub struct Step(StepKind);

#[derive(Debug)]
enum StepKind {
    /// List (again); stale when `attempt` is not the current one.
    List { attempt: u64 },
    /// A batch from one of the watches started after list `attempt`.
    Batch {
        attempt: u64,
        batch: datastore::Result<Vec<WatchEvent>>,
    },
    /// A watch started after list `attempt` ended.
    Ended { attempt: u64 },
}

fn step(kind: StepKind) -> SyncerMsg {
    SyncerMsg::Step(Step(kind))
}

/// The Syncer's state (built by [`Actor::pre_start`] from [`SyncerArgs`]).
pub struct SyncerState {
    datastore: Arc<dyn Datastore>,
    feed: UpdateFeed,
    bus: Bus,
    core: SyncerCore,
    backoff: Backoff,
    /// The current list attempt; steps of older attempts are dropped.
    attempt: u64,
    watches: Watches,
    status: SyncerStatus,
}

/// The tasks forwarding watch batches to the Syncer; aborted when replaced or dropped (also
/// when the actor fails, since its state is dropped then).
#[derive(Default)]
struct Watches(Vec<JoinHandle<()>>);

impl Watches {
    fn stop(&mut self) {
        for task in self.0.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Watches {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Actor for Syncer {
    type Msg = SyncerMsg;
    type State = SyncerState;
    type Arguments = SyncerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<SyncerMsg>,
        args: SyncerArgs,
    ) -> Result<SyncerState, ActorProcessingErr> {
        let core = SyncerCore::resume(args.node, args.feed.view());
        Ok(SyncerState {
            datastore: args.datastore,
            feed: args.feed,
            bus: args.bus,
            core,
            backoff: Backoff::new(args.backoff),
            attempt: 0,
            watches: Watches::default(),
            status: SyncerStatus::default(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<SyncerMsg>,
        state: &mut SyncerState,
    ) -> Result<(), ActorProcessingErr> {
        // Fails only if this actor is already stopping.
        let _ = myself.cast(step(StepKind::List {
            attempt: state.attempt,
        }));
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SyncerMsg>,
        msg: SyncerMsg,
        state: &mut SyncerState,
    ) -> Result<(), ActorProcessingErr> {
        let kind = match msg {
            SyncerMsg::Status(reply) => {
                // The caller may have given up waiting; nothing to do then.
                let _ = reply.send(state.status());
                return Ok(());
            }
            SyncerMsg::Step(Step(kind)) => kind,
        };
        match kind {
            StepKind::List { attempt } if attempt == state.attempt => {
                state.list_and_watch(&myself).await;
            }
            StepKind::Batch { attempt, batch } if attempt == state.attempt => match batch {
                Ok(events) => {
                    state.backoff.succeeded();
                    let out = state.core.watched(events);
                    if state.publish(out) {
                        tracing::info!(
                            node = state.core.node(),
                            "watch position compacted: listing again"
                        );
                        state.status.compactions += 1;
                        state.relist_now(&myself);
                    }
                }
                Err(e) => state.failed(&myself, &format!("watch failed: {e}")),
            },
            StepKind::Ended { attempt } if attempt == state.attempt => {
                state.failed(&myself, "watch ended");
            }
            stale => {
                tracing::trace!(
                    node = state.core.node(),
                    ?stale,
                    "step of an earlier list dropped"
                );
            }
        }
        Ok(())
    }
}

impl SyncerState {
    fn status(&self) -> SyncerStatus {
        SyncerStatus {
            in_sync: self.core.in_sync(),
            keys: self.core.present(),
            bad_values: self.core.bad(),
            ..self.status.clone()
        }
    }

    /// Lists every prefix at one revision, emits the difference, and watches on from there.
    async fn list_and_watch(&mut self, myself: &ActorRef<SyncerMsg>) {
        self.watches.stop();
        let [resources, ipam] = self.core.prefixes().map(str::to_owned);
        let first = match self.datastore.list(&resources, None).await {
            Ok(listed) => listed,
            Err(e) => return self.failed(myself, &format!("cannot list {resources}: {e}")),
        };
        let second = match self.datastore.list(&ipam, Some(first.revision)).await {
            Ok(listed) => listed,
            Err(e) => return self.failed(myself, &format!("cannot list {ipam}: {e}")),
        };
        let mut kvs = first.kvs;
        kvs.extend(second.kvs);
        let out = self.core.listed(kvs, first.revision);
        self.status.lists += 1;
        self.status.list_revision = first.revision;
        tracing::debug!(
            node = self.core.node(),
            revision = first.revision,
            updates = out.updates.len(),
            "listed"
        );
        self.publish(out);
        let from = self.core.watch_from();
        for prefix in [resources, ipam] {
            match self.datastore.watch(&prefix, from).await {
                Ok(stream) => self
                    .watches
                    .0
                    .push(forward(stream, myself.clone(), self.attempt)),
                Err(e) => {
                    return self.failed(myself, &format!("cannot watch {prefix} from {from}: {e}"));
                }
            }
        }
    }

    /// Reports bad values, hands the updates to the feed and notifies the consumer when the
    /// feed asks for it. Returns whether the core asks for a re-list.
    fn publish(&mut self, out: Output) -> bool {
        for bad in &out.bad {
            tracing::warn!(
                node = self.core.node(),
                key = %bad.key,
                revision = bad.revision,
                error = %bad.error,
                "bad datastore value treated as absent"
            );
        }
        if self.feed.push(out.updates, out.in_sync)
            && !self.bus.calculator.cast(CalculatorMsg::DatastoreReady)
        {
            self.feed.notice_lost();
        }
        if out.in_sync {
            self.report_health(format!("in sync ({} keys)", self.core.present()));
        }
        out.relist
    }

    /// Tells the StatusReporter how the sync stands: live while the actor runs, ready once
    /// the first list was emitted (a later interruption keeps the last state programmed, so
    /// the node stays ready while it re-lists).
    fn report_health(&self, detail: String) {
        self.bus.status.cast(StatusMsg::Component {
            name: "syncer",
            live: true,
            ready: self.core.in_sync(),
            detail,
        });
    }

    /// Lists again at once (the watch position was compacted: nothing is wrong).
    fn relist_now(&mut self, myself: &ActorRef<SyncerMsg>) {
        self.watches.stop();
        self.attempt += 1;
        let _ = myself.cast(step(StepKind::List {
            attempt: self.attempt,
        }));
    }

    /// Lists again after the backoff delay.
    fn failed(&mut self, myself: &ActorRef<SyncerMsg>, reason: &str) {
        self.watches.stop();
        self.status.failures += 1;
        self.attempt += 1;
        let delay = self.backoff.failed(Instant::now());
        self.report_health(format!("{reason}; listing again in {delay:?}"));
        tracing::warn!(
            node = self.core.node(),
            reason,
            retry_in = ?delay,
            failures = self.backoff.failures(),
            "datastore sync interrupted: listing again after a delay"
        );
        let attempt = self.attempt;
        myself.send_after(delay, move || step(StepKind::List { attempt }));
    }
}

/// Forwards the batches of `stream` to the Syncer, tagged with the list attempt they follow.
fn forward(mut stream: WatchStream, syncer: ActorRef<SyncerMsg>, attempt: u64) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(batch) = stream.next().await {
            if syncer
                .cast(step(StepKind::Batch { attempt, batch }))
                .is_err()
            {
                return;
            }
        }
        let _ = syncer.cast(step(StepKind::Ended { attempt }));
    })
}
