//! Test scaffolding (feature `testing`; tests and the simulation only): [`Recorder`], a
//! stand-in for the Calculator that takes the Syncer's feed, keeps the view it implies, and
//! checks the feed's promises on the way; and the BgpManager's neighbours
//! ([`bgp::RouteRecorder`], [`bgp::StatusRecorder`]).

pub mod bgp;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use model::resources::Resource;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SpawnErr};
use tokio::time::Instant;

use crate::bus::{Addr, CalculatorMsg, Delivery, UpdateFeed};

/// What a [`Recorder`] saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    /// Key → resource, as the deliveries built it.
    pub view: BTreeMap<String, Resource>,
    pub in_sync: bool,
    pub deliveries: u64,
    pub updates: u64,
    /// Every delivery and update, in order: `delivery N +MS`, `put KEY @REV`, `delete KEY`,
    /// `in-sync` (MS: milliseconds of tokio time since the recorder started).
    pub trace: Vec<String>,
    /// Broken promises: a deletion of a key not held (a spurious delete), a put not newer
    /// than the value held, a second in-sync mark, an update before the in-sync mark that
    /// is not part of the delivery carrying it.
    pub violations: Vec<String>,
}

impl Recording {
    /// Applies one delivery, checking it.
    pub fn apply(&mut self, delivery: Delivery, elapsed: Duration) {
        self.deliveries += 1;
        self.trace.push(format!(
            "delivery {} +{}",
            self.deliveries,
            elapsed.as_millis()
        ));
        if !self.in_sync && !delivery.in_sync {
            self.violations.push(format!(
                "delivery {} came before the in-sync mark",
                self.deliveries
            ));
        }
        for update in delivery.updates {
            self.updates += 1;
            let revision = update.revision();
            match update.value {
                Some(r) => {
                    let held = self.view.get(&update.key).and_then(|h| {
                        h.metadata()
                            .resource_version
                            .as_deref()?
                            .parse::<i64>()
                            .ok()
                    });
                    if let (Some(held), Some(new)) = (held, revision)
                        && new <= held
                    {
                        self.violations.push(format!(
                            "put {} @{new} is not newer than the held @{held}",
                            update.key
                        ));
                    }
                    self.trace
                        .push(format!("put {} @{}", update.key, revision.unwrap_or(0)));
                    self.view.insert(update.key, r);
                }
                None => {
                    if self.view.remove(&update.key).is_none() {
                        self.violations
                            .push(format!("spurious delete of {} (not held)", update.key));
                    }
                    self.trace.push(format!("delete {}", update.key));
                }
            }
        }
        if delivery.in_sync {
            if self.in_sync {
                self.violations.push("a second in-sync mark".to_string());
            }
            self.in_sync = true;
            self.trace.push("in-sync".to_string());
        }
    }
}

/// A shared [`Recording`].
pub type SharedRecording = Arc<Mutex<Recording>>;

/// Reads a shared recording (a poisoned lock still holds what was recorded).
pub fn read<T>(recording: &SharedRecording, f: impl FnOnce(&Recording) -> T) -> T {
    f(&recording.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Waits on tokio's clock, checking every 10 ms, until `done` holds for the recording; the
/// error says `what` was awaited and what the recording holds.
pub async fn wait_for(
    recording: &SharedRecording,
    what: &str,
    within: Duration,
    done: impl Fn(&Recording) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        if read(recording, &done) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(read(recording, |r| {
                format!("no {what} within {within:?}; the recorder holds {r:#?}")
            }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A Calculator stand-in recording what its feed delivers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recorder;

/// What a [`Recorder`] is built from.
#[derive(Debug, Clone)]
pub struct RecorderArgs {
    pub feed: UpdateFeed,
    pub recording: SharedRecording,
    /// How long each delivery keeps the recorder busy (a slow consumer).
    pub busy_per_delivery: Duration,
}

/// The recorder's state.
pub struct RecorderState {
    args: RecorderArgs,
    started: Instant,
}

impl Recorder {
    /// Spawns a recorder (linked to `supervisor` when given), binds `addr` to it and sends it
    /// one notice, so it takes whatever waits in the feed.
    pub async fn start(
        args: RecorderArgs,
        addr: &Addr<CalculatorMsg>,
        supervisor: Option<ActorCell>,
    ) -> Result<ActorRef<CalculatorMsg>, SpawnErr> {
        let (actor, _) = match supervisor {
            Some(s) => Actor::spawn_linked(None, Recorder, args, s).await?,
            None => Actor::spawn(None, Recorder, args).await?,
        };
        addr.bind(actor.clone());
        addr.cast(CalculatorMsg::DatastoreReady);
        Ok(actor)
    }
}

impl Actor for Recorder {
    type Msg = CalculatorMsg;
    type State = RecorderState;
    type Arguments = RecorderArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<CalculatorMsg>,
        args: RecorderArgs,
    ) -> Result<RecorderState, ActorProcessingErr> {
        Ok(RecorderState {
            args,
            started: Instant::now(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<CalculatorMsg>,
        msg: CalculatorMsg,
        state: &mut RecorderState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CalculatorMsg::DatastoreReady => {
                if let Some(delivery) = state.args.feed.take() {
                    let elapsed = state.started.elapsed();
                    state
                        .args
                        .recording
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .apply(delivery, elapsed);
                    if !state.args.busy_per_delivery.is_zero() {
                        tokio::time::sleep(state.args.busy_per_delivery).await;
                    }
                }
            }
        }
        Ok(())
    }
}
