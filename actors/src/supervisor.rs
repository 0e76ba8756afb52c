//! A supervisor for one node's actors: it starts its children, restarts a child that fails
//! (a handler returned an error or panicked, or the child could not start) after an
//! exponential backoff on tokio's clock, and reports every restart.
//!
//! Children are given as start closures ([`ChildSpec`]), never by name: a closure spawns its
//! actor linked to the supervisor (`Actor::spawn_linked(None, ..)`), binds the actor's
//! [`Addr`](crate::bus::Addr) if others send to it, and returns the actor's cell. A restart
//! calls the closure again, so the child is built afresh from what the closure captured.
//!
//! # What a restart keeps
//!
//! A restarted child loses its in-memory state, never the inputs that matter; each actor keeps
//! them outside itself or re-reads them:
//! - the Syncer re-lists the datastore and diffs the list against the view its consumer holds
//!   (kept in the [`UpdateFeed`](crate::bus::UpdateFeed), which outlives it): downstream sees
//!   exactly what changed meanwhile;
//! - a consumer of a coalescing edge is sent one notice after its address is re-bound and
//!   takes whatever is waiting; what it had taken before comes back from the edge: the
//!   programmers' edges keep the Calculator's whole desired state, and a restarted programmer
//!   starts from a snapshot of it ([`crate::programmer`]). The Calculator's own input is not
//!   kept whole by the Syncer's feed: a restarted Calculator will need its feed's view cleared
//!   and a re-list (still to come);
//! - the reconcilers (routes, policy, links) re-read the kernel and converge on the desired
//!   state they are handed again; they never flush what they find (`dataplane`'s contract), so
//!   a restart does not interrupt traffic.
//!
//! A child that stops on its own (not a failure) is not restarted. When the supervisor stops,
//! its children are stopped with it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr,
    SupervisionEvent,
};
use tokio::time::Instant;

use crate::backoff::{Backoff, BackoffPolicy};

/// Starts one child linked to the supervisor cell it is given; returns the child's cell.
pub type StartChild =
    Arc<dyn Fn(ActorCell) -> BoxFuture<'static, Result<ActorCell, SpawnErr>> + Send + Sync>;

/// Called with every restart the supervisor schedules.
pub type RestartHook = Arc<dyn Fn(&Restart) + Send + Sync>;

/// One child: a label for logs and reports (not a registry name) and how to start it.
#[derive(Clone)]
pub struct ChildSpec {
    pub label: String,
    pub start: StartChild,
}

impl ChildSpec {
    /// A child started by `start`, which is given the supervisor's cell to link to.
    pub fn new<F, Fut>(label: impl Into<String>, start: F) -> Self
    where
        F: Fn(ActorCell) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorCell, SpawnErr>> + Send + 'static,
    {
        ChildSpec {
            label: label.into(),
            start: Arc::new(move |supervisor| start(supervisor).boxed()),
        }
    }
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// A restart the supervisor scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    /// The child's position in [`SupervisorArgs::children`].
    pub child: usize,
    pub label: String,
    /// Consecutive failures, this one included.
    pub failures: u32,
    /// How long the supervisor waits before starting the child again.
    pub delay: Duration,
    /// What failed.
    pub reason: String,
}

/// What a supervisor is built from.
#[derive(Clone)]
pub struct SupervisorArgs {
    /// Started in order.
    pub children: Vec<ChildSpec>,
    /// Restart delays; a child that ran for longer than `reset_after` since its previous
    /// failure starts again from `initial`.
    pub backoff: BackoffPolicy,
    /// Told of every restart (a status reporter, a test).
    pub on_restart: Option<RestartHook>,
}

/// One child's state, as [`SupervisorMsg::Children`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildStatus {
    pub label: String,
    pub running: bool,
    /// Restarts since the supervisor started.
    pub restarts: u32,
}

/// Messages to a supervisor.
#[derive(Debug)]
pub enum SupervisorMsg {
    /// Replies with every child's state, in order.
    Children(RpcReplyPort<Vec<ChildStatus>>),
    /// A restart that is due (the supervisor sends these to itself).
    Due(Due),
}

/// A due restart. Opaque: only the supervisor schedules them.
#[derive(Debug)]
pub struct Due {
    child: usize,
    generation: u64,
}

/// The supervisor actor. Spawn it with no name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Supervisor;

/// The supervisor's state.
pub struct SupervisorState {
    children: Vec<Child>,
    /// Running children by actor ID (IDs are only compared, never shown or assumed).
    running: HashMap<ActorId, usize>,
    on_restart: Option<RestartHook>,
}

struct Child {
    spec: ChildSpec,
    backoff: Backoff,
    restarts: u32,
    running: bool,
    /// Bumped with every scheduled restart; a due restart of another generation is stale.
    generation: u64,
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<SupervisorMsg>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        Ok(SupervisorState {
            children: args
                .children
                .into_iter()
                .map(|spec| Child {
                    spec,
                    backoff: Backoff::new(args.backoff),
                    restarts: 0,
                    running: false,
                    generation: 0,
                })
                .collect(),
            running: HashMap::new(),
            on_restart: args.on_restart,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<SupervisorMsg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        for child in 0..state.children.len() {
            state.start(&myself, child).await;
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        msg: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Children(reply) => {
                let _ = reply.send(
                    state
                        .children
                        .iter()
                        .map(|c| ChildStatus {
                            label: c.spec.label.clone(),
                            running: c.running,
                            restarts: c.restarts,
                        })
                        .collect(),
                );
            }
            SupervisorMsg::Due(Due { child, generation }) => {
                let current = state
                    .children
                    .get(child)
                    .is_some_and(|c| c.generation == generation && !c.running);
                if current {
                    state.start(&myself, child).await;
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, error) => {
                if let Some(child) = state.running.remove(&cell.get_id()) {
                    state.children[child].running = false;
                    state.schedule_restart(&myself, child, format!("failed: {error}"));
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                if let Some(child) = state.running.remove(&cell.get_id()) {
                    state.children[child].running = false;
                    tracing::info!(
                        child = %state.children[child].spec.label,
                        reason = reason.as_deref().unwrap_or("none given"),
                        "child stopped; not restarted"
                    );
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl SupervisorState {
    /// Starts `child`; a child that cannot start is retried like one that failed.
    async fn start(&mut self, myself: &ActorRef<SupervisorMsg>, child: usize) {
        let Some(c) = self.children.get(child) else {
            return;
        };
        let start = Arc::clone(&c.spec.start);
        match start(myself.get_cell()).await {
            Ok(cell) => {
                self.running.insert(cell.get_id(), child);
                self.children[child].running = true;
                tracing::debug!(child = %self.children[child].spec.label, "child started");
            }
            Err(e) => self.schedule_restart(myself, child, format!("could not start: {e}")),
        }
    }

    fn schedule_restart(&mut self, myself: &ActorRef<SupervisorMsg>, child: usize, reason: String) {
        let c = &mut self.children[child];
        let delay = c.backoff.failed(Instant::now());
        c.restarts += 1;
        c.generation += 1;
        let restart = Restart {
            child,
            label: c.spec.label.clone(),
            failures: c.backoff.failures(),
            delay,
            reason,
        };
        tracing::warn!(
            child = %restart.label,
            failures = restart.failures,
            delay = ?restart.delay,
            reason = %restart.reason,
            "child failed: restarting after a delay"
        );
        if let Some(hook) = &self.on_restart {
            hook(&restart);
        }
        let generation = c.generation;
        myself.send_after(delay, move || SupervisorMsg::Due(Due { child, generation }));
    }
}
