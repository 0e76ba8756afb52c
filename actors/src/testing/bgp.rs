//! Stand-ins around the BgpManager: [`RouteRecorder`] (the RouteProgrammer's place on the
//! learned-routes edge) and [`StatusRecorder`] (the StatusReporter's).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use calc::RouteIntent;
use dataplane::routes::Route;
use ipnet::IpNet;
use model::status::BgpReport;
use ractor::{Actor, ActorProcessingErr, ActorRef, SpawnErr};
use tokio::time::Instant;

use crate::bus::{Addr, LearnedBatch, LearnedRouteFeed, ProgrammerMsg, StatusMsg};

/// What a [`RouteRecorder`] holds and saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearnedRecording {
    pub routes: BTreeMap<IpNet, Route>,
    pub complete: bool,
    /// Every change in order, with the milliseconds of tokio time since the recorder
    /// started: `@MS +DST TARGET`, `@MS -DST`, `@MS complete`.
    pub trace: Vec<String>,
    /// Broken promises: a removal of a destination not held, `complete` going back.
    pub violations: Vec<String>,
}

impl LearnedRecording {
    fn apply(&mut self, taken: LearnedBatch, elapsed: Duration) {
        let at = elapsed.as_millis();
        for change in taken.changes {
            match change {
                RouteIntent::Upsert(r) => {
                    self.trace.push(format!("@{at} +{} {:?}", r.dst, r.target));
                    self.routes.insert(r.dst, r);
                }
                RouteIntent::Remove(dst) => {
                    if self.routes.remove(&dst).is_none() {
                        self.violations.push(format!("removal of {dst}, not held"));
                    }
                    self.trace.push(format!("@{at} -{dst}"));
                }
            }
        }
        if self.complete && !taken.complete {
            self.violations.push("complete went back".into());
        }
        if taken.complete && !self.complete {
            self.trace.push(format!("@{at} complete"));
        }
        self.complete = taken.complete;
    }
}

pub type SharedLearned = Arc<Mutex<LearnedRecording>>;

/// Reads a shared value (a poisoned lock still holds what was recorded).
pub fn read_shared<T, R>(shared: &Arc<Mutex<T>>, f: impl FnOnce(&T) -> R) -> R {
    f(&shared.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Waits on tokio's clock, checking every 10 ms, until `done` holds; the error says `what`
/// was awaited and shows the value.
pub async fn wait_shared<T: std::fmt::Debug>(
    shared: &Arc<Mutex<T>>,
    what: &str,
    within: Duration,
    done: impl Fn(&T) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        if read_shared(shared, &done) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(read_shared(shared, |v| {
                format!("no {what} within {within:?}; holding {v:#?}")
            }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A RouteProgrammer stand-in: takes the learned-routes edge as the RouteProgrammer does
/// (everything at start, then on each notice) and records it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteRecorder;

#[derive(Debug, Clone)]
pub struct RouteRecorderArgs {
    pub feed: LearnedRouteFeed,
    pub recording: SharedLearned,
}

impl RouteRecorder {
    /// Spawns one and binds `addr` to it.
    pub async fn start(
        args: RouteRecorderArgs,
        addr: &Addr<ProgrammerMsg>,
    ) -> Result<ActorRef<ProgrammerMsg>, SpawnErr> {
        let (actor, _) = Actor::spawn(None, RouteRecorder, args).await?;
        addr.bind(actor.clone());
        Ok(actor)
    }
}

/// A [`RouteRecorder`]'s state.
pub struct RouteRecorderState {
    args: RouteRecorderArgs,
    started: Instant,
}

impl Actor for RouteRecorder {
    type Msg = ProgrammerMsg;
    type State = RouteRecorderState;
    type Arguments = RouteRecorderArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<ProgrammerMsg>,
        args: RouteRecorderArgs,
    ) -> Result<RouteRecorderState, ActorProcessingErr> {
        let all = args.feed.take_all();
        args.recording
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .apply(all, Duration::ZERO);
        Ok(RouteRecorderState {
            args,
            started: Instant::now(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<ProgrammerMsg>,
        msg: ProgrammerMsg,
        state: &mut RouteRecorderState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ProgrammerMsg::InputReady => {
                if let Some(taken) = state.args.feed.take() {
                    state
                        .args
                        .recording
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .apply(taken, state.started.elapsed());
                }
            }
            // A recorder has no counters to give and schedules nothing.
            ProgrammerMsg::Status(_) | ProgrammerMsg::Wakeup(_) => {}
        }
        Ok(())
    }
}

/// What a [`StatusRecorder`] was last told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusRecording {
    pub bgp: Option<BgpReport>,
    /// Per component: (live, ready, detail).
    pub components: BTreeMap<String, (bool, bool, String)>,
    pub reports: u64,
}

impl StatusRecording {
    /// Whether the component reported ready last.
    pub fn ready(&self, name: &str) -> bool {
        self.components.get(name).is_some_and(|c| c.1)
    }

    /// The last reported state of the session to `address`, by its first row.
    pub fn peer_state(&self, address: std::net::IpAddr) -> Option<&str> {
        self.bgp
            .as_ref()?
            .peers
            .iter()
            .find(|p| p.address == address)
            .map(|p| p.state.as_str())
    }
}

pub type SharedStatus = Arc<Mutex<StatusRecording>>;

/// A StatusReporter stand-in keeping the last report of each kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusRecorder;

impl StatusRecorder {
    /// Spawns one and binds `addr` to it.
    pub async fn start(
        recording: SharedStatus,
        addr: &Addr<StatusMsg>,
    ) -> Result<ActorRef<StatusMsg>, SpawnErr> {
        let (actor, _) = Actor::spawn(None, StatusRecorder, recording).await?;
        addr.bind(actor.clone());
        Ok(actor)
    }
}

impl Actor for StatusRecorder {
    type Msg = StatusMsg;
    type State = SharedStatus;
    type Arguments = SharedStatus;

    async fn pre_start(
        &self,
        _myself: ActorRef<StatusMsg>,
        recording: SharedStatus,
    ) -> Result<SharedStatus, ActorProcessingErr> {
        Ok(recording)
    }

    async fn handle(
        &self,
        _myself: ActorRef<StatusMsg>,
        msg: StatusMsg,
        state: &mut SharedStatus,
    ) -> Result<(), ActorProcessingErr> {
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        s.reports += 1;
        match msg {
            StatusMsg::Bgp(report) => s.bgp = Some(report),
            StatusMsg::Component {
                name,
                live,
                ready,
                detail,
            } => {
                s.components.insert(name.to_owned(), (live, ready, detail));
            }
            StatusMsg::Tick(_) => {}
        }
        Ok(())
    }
}
