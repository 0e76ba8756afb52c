//! [`Programmer`]: the one actor around a `dataplane` reconciler, generic over its
//! [`Input`].

use std::marker::PhantomData;
use std::time::Duration;

use dataplane::{Reconciler, SyncReport};
use ractor::{
    Actor, ActorCell, ActorProcessingErr, ActorRef, MessagingErr, RpcReplyPort, SpawnErr,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::backend::{Backend, OpenedBackend};
use super::input::Input;
use crate::bus::{Addr, Bus, StatusMsg};
use crate::observe::metrics::Metrics;
use crate::supervisor::ChildSpec;

/// When a reconciler names a wake-up no later than the sync that just ran (so that sync
/// already did what was due), the next look is this much later instead of at once.
pub const STALE_WAKEUP_DELAY: Duration = Duration::from_secs(1);

/// Only after a blocking sync that panicked (the actor fails then, and is restarted).
const LOST: &str = "the reconciler or its backend was lost in a blocking sync";

/// A programmer: the RouteProgrammer, the PolicyProgrammer or the LinkManager, by its input.
/// Spawn it with no name ([`Programmer::start`], or [`Programmer::child`] under a
/// supervisor).
pub struct Programmer<I>(PhantomData<fn() -> I>);

impl<I> Default for Programmer<I> {
    fn default() -> Self {
        Programmer(PhantomData)
    }
}

impl<I> std::fmt::Debug for Programmer<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Programmer")
    }
}

/// Messages to a programmer.
#[derive(Debug)]
pub enum ProgrammerMsg {
    /// One of the programmer's edges has something waiting: it takes everything waiting on
    /// all its edges, then syncs once. Sent by the edges' producers (the Calculator, the
    /// BgpManager) when an edge goes from taken to waiting.
    InputReady,
    /// Replies with the programmer's counters.
    Status(RpcReplyPort<ProgrammerStatus>),
    /// A wake-up the programmer scheduled for itself (opaque: only it makes these).
    Wakeup(Wakeup),
}

/// A scheduled wake-up; stale when another was scheduled since.
#[derive(Debug)]
pub struct Wakeup(u64);

/// What a programmer is built from. Cloned for every (re)start.
pub struct ProgrammerArgs<I: Input> {
    /// The edges it reads and how they become the reconciler's desired state.
    pub input: I,
    /// Where it programs, and whether `sync` runs on a blocking thread.
    pub backend: Backend<I::Reconciler>,
    /// Its health goes to `bus.status`.
    pub bus: Bus,
    pub metrics: Option<Metrics>,
}

impl<I: Input> Clone for ProgrammerArgs<I> {
    fn clone(&self) -> Self {
        ProgrammerArgs {
            input: self.input.clone(),
            backend: self.backend.clone(),
            bus: self.bus.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// A programmer's counters, since this incarnation started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgrammerStatus {
    /// `routes`, `policy` or `links`.
    pub name: &'static str,
    /// The reconciler was told `set_complete`.
    pub complete: bool,
    /// What the desired state still waits for (`the datastore`, `BGP`).
    pub waiting_for: Option<&'static str>,
    /// The backend holds the desired state, as far as the reconciler knows.
    pub in_sync: bool,
    /// Objects desired: routes, chains, interfaces.
    pub desired: usize,
    /// Batches taken from the edges (the snapshot taken at start is not counted).
    pub batches: u64,
    /// `sync` rounds run.
    pub syncs: u64,
    /// Operations sent to the backend.
    pub ops: u64,
    /// Failed syncs, and operations the backend refused.
    pub failures: u64,
    /// The last failure, while the reconciler is not in sync.
    pub last_error: Option<String>,
    /// What the last sync did.
    pub last: Option<SyncReport>,
}

/// A wake-up's timer task (ractor's `send_after`).
type Timer = JoinHandle<Result<(), MessagingErr<ProgrammerMsg>>>;

/// A programmer's state (built by [`Actor::pre_start`] from [`ProgrammerArgs`]).
pub struct ProgrammerState<I: Input> {
    input: I,
    /// Out only while a blocking `sync` holds it.
    reconciler: Option<I::Reconciler>,
    backend: Option<OpenedBackend<I::Reconciler>>,
    blocking: bool,
    bus: Bus,
    metrics: Option<Metrics>,
    /// The wake-up scheduled: its number, instant and timer task.
    timer: Option<(u64, Instant, Timer)>,
    timers: u64,
    status: ProgrammerStatus,
}

impl<I: Input> Actor for Programmer<I> {
    type Msg = ProgrammerMsg;
    type State = ProgrammerState<I>;
    type Arguments = ProgrammerArgs<I>;

    async fn pre_start(
        &self,
        _myself: ActorRef<ProgrammerMsg>,
        args: ProgrammerArgs<I>,
    ) -> Result<ProgrammerState<I>, ActorProcessingErr> {
        let backend = args.backend.open().await?;
        let mut input = args.input;
        let reconciler = input.load();
        info!(
            programmer = I::NAME,
            backend = args.backend.what(),
            desired = input.desired(&reconciler),
            "programmer starts: reading the kernel, nothing changed before the desired state is complete"
        );
        Ok(ProgrammerState {
            input,
            reconciler: Some(reconciler),
            backend: Some(backend),
            blocking: args.backend.is_blocking(),
            bus: args.bus,
            metrics: args.metrics,
            timer: None,
            timers: 0,
            status: ProgrammerStatus {
                name: I::NAME,
                ..ProgrammerStatus::default()
            },
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<ProgrammerMsg>,
        state: &mut ProgrammerState<I>,
    ) -> Result<(), ActorProcessingErr> {
        state.run(&myself).await
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ProgrammerMsg>,
        state: &mut ProgrammerState<I>,
    ) -> Result<(), ActorProcessingErr> {
        if let Some((_, _, timer)) = state.timer.take() {
            timer.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<ProgrammerMsg>,
        msg: ProgrammerMsg,
        state: &mut ProgrammerState<I>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ProgrammerMsg::InputReady => {
                let Some(rec) = state.reconciler.as_mut() else {
                    return Err(LOST.into());
                };
                if state.input.take(rec) {
                    state.status.batches += 1;
                    state.run(&myself).await?;
                }
            }
            ProgrammerMsg::Wakeup(Wakeup(n)) => {
                if state
                    .timer
                    .as_ref()
                    .is_some_and(|(current, _, _)| *current == n)
                {
                    state.timer = None;
                    state.run(&myself).await?;
                }
            }
            ProgrammerMsg::Status(reply) => {
                // The caller may have given up waiting; nothing to do then.
                let _ = reply.send(state.status_now());
            }
        }
        Ok(())
    }
}

impl<I: Input> Programmer<I> {
    /// Spawns a programmer (linked to `supervisor` when given), binds `addr` to it and sends
    /// it one notice, so it takes whatever its edges received while it was starting.
    pub async fn start(
        args: ProgrammerArgs<I>,
        addr: &Addr<ProgrammerMsg>,
        supervisor: Option<ActorCell>,
    ) -> Result<ActorRef<ProgrammerMsg>, SpawnErr> {
        let (actor, _) = match supervisor {
            Some(s) => Actor::spawn_linked(None, Programmer::<I>::default(), args, s).await?,
            None => Actor::spawn(None, Programmer::<I>::default(), args).await?,
        };
        addr.bind(actor.clone());
        addr.cast(ProgrammerMsg::InputReady);
        Ok(actor)
    }

    /// A supervisor's child: every (re)start is [`Programmer::start`] with a clone of `args`,
    /// so a restarted programmer rebuilds its reconciler from the edges' whole desired state
    /// and re-reads the kernel.
    pub fn child(
        label: impl Into<String>,
        args: ProgrammerArgs<I>,
        addr: Addr<ProgrammerMsg>,
    ) -> ChildSpec {
        ChildSpec::new(label, move |supervisor| {
            let (args, addr) = (args.clone(), addr.clone());
            async move {
                Programmer::<I>::start(args, &addr, Some(supervisor))
                    .await
                    .map(|a| a.get_cell())
            }
        })
    }
}

impl<I: Input> ProgrammerState<I> {
    fn reconciler(&mut self) -> Result<&mut I::Reconciler, ActorProcessingErr> {
        self.reconciler.as_mut().ok_or_else(|| LOST.into())
    }

    /// One round: `set_complete` when the input is whole, one `sync`, the outcome recorded
    /// and reported, the next wake-up scheduled.
    async fn run(&mut self, myself: &ActorRef<ProgrammerMsg>) -> Result<(), ActorProcessingErr> {
        let whole = self.input.waiting_for().is_none();
        let rec = self.reconciler()?;
        if whole && !rec.is_complete() {
            rec.set_complete();
            info!(programmer = I::NAME, "desired state complete: programming");
        }
        let started = Instant::now();
        let result = self.sync(started).await?;
        let took = started.elapsed();
        self.record(result, took);
        self.schedule(myself, started);
        self.report();
        Ok(())
    }

    /// `sync` at `now`: on a blocking thread with the reconciler and the backend moved in
    /// and back out, or inline. A blocking sync that panicked fails the actor (its
    /// supervisor restarts it, and the new incarnation re-reads the kernel).
    async fn sync(
        &mut self,
        now: Instant,
    ) -> Result<Result<SyncReport, <I::Reconciler as Reconciler>::Error>, ActorProcessingErr> {
        let (Some(mut rec), Some(mut backend)) = (self.reconciler.take(), self.backend.take())
        else {
            return Err(LOST.into());
        };
        let now_std = now.into_std();
        if self.blocking {
            let (rec, backend, result) = tokio::task::spawn_blocking(move || {
                let result = rec.sync(backend.backend(), now_std);
                (rec, backend, result)
            })
            .await
            .map_err(|e| format!("{} sync panicked: {e}", I::NAME))?;
            self.reconciler = Some(rec);
            self.backend = Some(backend);
            Ok(result)
        } else {
            let result = rec.sync(backend.backend(), now_std);
            self.reconciler = Some(rec);
            self.backend = Some(backend);
            Ok(result)
        }
    }

    fn record(
        &mut self,
        result: Result<SyncReport, <I::Reconciler as Reconciler>::Error>,
        took: Duration,
    ) {
        self.status.syncs += 1;
        match result {
            Ok(report) => {
                self.status.ops += report.ops as u64;
                self.status.failures += report.failures.len() as u64;
                if let Some(m) = &self.metrics {
                    if report.ops > 0 {
                        m.observe_apply(I::NAME, took.as_secs_f64());
                        m.count_apply_operations(I::NAME, report.ops);
                    }
                    for _ in &report.failures {
                        m.count_apply_failure(I::NAME);
                    }
                }
                if let Some(first) = report.failures.first() {
                    self.status.last_error = Some(first.clone());
                }
                if report.ops > 0 || report.read.is_some() {
                    debug!(programmer = I::NAME, ?report, ?took, "synced");
                }
                self.status.last = Some(report);
            }
            Err(e) => {
                // Already logged and scheduled for a retry by the reconciler.
                self.status.failures += 1;
                self.status.last_error = Some(e.to_string());
                if let Some(m) = &self.metrics {
                    m.count_apply_failure(I::NAME);
                }
                self.status.last = None;
            }
        }
        if let Some(rec) = &self.reconciler {
            if rec.in_sync() {
                self.status.last_error = None;
            }
            if let Some(m) = &self.metrics {
                self.input.record(rec, m);
            }
        }
    }

    /// Schedules the reconciler's next wake-up (replacing the one scheduled, if it differs).
    fn schedule(&mut self, myself: &ActorRef<ProgrammerMsg>, synced_at: Instant) {
        let next = self
            .reconciler
            .as_ref()
            .and_then(Reconciler::next_wakeup)
            .map(|t| {
                let t = Instant::from_std(t);
                if t <= synced_at {
                    synced_at + STALE_WAKEUP_DELAY
                } else {
                    t
                }
            });
        if next == self.timer.as_ref().map(|(_, t, _)| *t) {
            return;
        }
        if let Some((_, _, timer)) = self.timer.take() {
            timer.abort();
        }
        if let Some(at) = next {
            self.timers += 1;
            let n = self.timers;
            let delay = at.saturating_duration_since(Instant::now());
            let timer = myself.send_after(delay, move || ProgrammerMsg::Wakeup(Wakeup(n)));
            self.timer = Some((n, at, timer));
        }
    }

    /// Reports health: live, ready when the backend holds the desired state.
    fn report(&mut self) {
        let status = self.status_now();
        let detail = match (&status.waiting_for, status.in_sync, &status.last_error) {
            (Some(what), _, _) => format!(
                "{} desired; waiting for {what} before programming",
                status.desired
            ),
            (None, true, _) => format!("{} desired; in sync", status.desired),
            (None, false, Some(e)) => format!("{} desired; retrying after: {e}", status.desired),
            (None, false, None) => format!("{} desired; programming", status.desired),
        };
        if !status.in_sync && status.waiting_for.is_none() && status.last_error.is_some() {
            warn!(programmer = I::NAME, %detail, "not in sync");
        }
        self.bus.status.cast(StatusMsg::Component {
            name: I::NAME,
            live: true,
            ready: status.in_sync,
            detail,
        });
    }

    fn status_now(&self) -> ProgrammerStatus {
        let mut s = self.status.clone();
        s.waiting_for = self.input.waiting_for();
        if let Some(rec) = &self.reconciler {
            s.complete = rec.is_complete();
            s.in_sync = rec.in_sync();
            s.desired = self.input.desired(rec);
        }
        s
    }
}
