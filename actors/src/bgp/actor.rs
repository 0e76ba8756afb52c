//! The BgpManager actor: the I/O around [`ManagerCore`] — the speaker it owns, the listener,
//! the secrets, the event-draining task, and the reports to the StatusReporter.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bgp::codec::{AsPath, Origin, PathAttributes};
use bgp::rib::RouteAttributes;
use bgp::speaker::{self, Speaker, SpeakerStatus};
use calc::PeerIntent;
use model::status::BgpReport;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;

use super::WallClock;
use super::core::{ManagerCore, Readiness, SpeakerOp, SpeakerStart};
use super::drain::{Drain, InitialPhase};
use super::routes::NextHops;
use super::secrets::SecretsDir;
use super::transport::BgpTransport;
use crate::bus::{BgpIntentFeed, Bus, LearnedRouteFeed, StatusMsg};

/// How long a speaker is given to end after `stop` or `detach`, and to answer `status`.
const SPEAKER_WAIT: Duration = Duration::from_secs(5);

/// The BgpManager (see the [module docs](super)). Spawn it with no name.
pub struct BgpManager<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Default for BgpManager<T> {
    fn default() -> Self {
        BgpManager(std::marker::PhantomData)
    }
}

impl<T> BgpManager<T> {
    pub fn new() -> Self {
        Self::default()
    }
}

/// What a BgpManager is built from.
#[derive(Clone)]
pub struct BgpManagerArgs<T> {
    /// The network its speakers use.
    pub transport: T,
    /// The Calculator → BgpManager edge; it outlives the manager, so a restarted manager
    /// takes the whole configuration from it.
    pub intents: BgpIntentFeed,
    /// The BgpManager → RouteProgrammer edge: learned routes and their completeness.
    pub routes: LearnedRouteFeed,
    /// `bus.routes` is notified of learned routes, `bus.status` gets the reports.
    pub bus: Bus,
    /// Where the Secrets with BGP passwords are mounted.
    pub secrets: SecretsDir,
    /// How learned routes reach their next hops.
    pub next_hops: NextHops,
    /// Wall-clock time, for the sessions' `since`.
    pub wall_clock: WallClock,
    /// After a (re)start, how long the speaker waits for the peers' End-of-RIB at most
    /// (`bgp::speaker::SELECTION_DEFERRAL` by default).
    pub selection_deferral: Duration,
    /// How often the status is reported (and passwords read again) without a change; a
    /// session coming up or going down is reported at once.
    pub status_interval: Duration,
}

/// Messages to the BgpManager.
#[derive(Debug)]
pub enum BgpManagerMsg {
    /// The Calculator's [`BgpIntentFeed`] has intents (or the in-sync mark) waiting: take
    /// them.
    IntentsReady,
    /// Replies with the running speaker's status (`None`: no speaker runs).
    SpeakerStatus(RpcReplyPort<Option<SpeakerStatus>>),
    /// Replies with the report and readiness as they are now.
    Report(RpcReplyPort<(BgpReport, Readiness)>),
    /// One of the manager's own steps; only the manager and its tasks make these.
    Step(Step),
}

/// A step the manager or its tasks send it. Opaque.
#[derive(Debug)]
pub struct Step(StepKind);

#[derive(Debug)]
enum StepKind {
    /// A session came up or went down: report.
    Refresh,
    /// The periodic report (and password check).
    Tick,
    /// The speaker of this generation ended by itself.
    SpeakerEnded { generation: u64 },
}

pub(super) fn step_refresh() -> BgpManagerMsg {
    BgpManagerMsg::Step(Step(StepKind::Refresh))
}

pub(super) fn step_speaker_ended(generation: u64) -> BgpManagerMsg {
    BgpManagerMsg::Step(Step(StepKind::SpeakerEnded { generation }))
}

fn step_tick() -> BgpManagerMsg {
    BgpManagerMsg::Step(Step(StepKind::Tick))
}

/// One running speaker and the task draining its events. Dropping it (the manager failed)
/// detaches the speaker: peers keep our routes while the manager restarts.
struct Running<S> {
    speaker: Speaker<S>,
    drain: JoinHandle<()>,
    generation: u64,
    /// Resolved passwords given to the speaker, by peer address (never logged).
    passwords: BTreeMap<IpAddr, Option<String>>,
    ended: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// CEASE to every peer: they drop our routes.
    Stop,
    /// Connections closed without a NOTIFICATION: peers keep our routes (graceful restart).
    Detach,
}

impl<S> Running<S> {
    async fn end(mut self, how: End) {
        self.ended = true;
        // Late events of this speaker are of no use to anyone now.
        self.drain.abort();
        match how {
            End::Stop => self.speaker.stop(),
            End::Detach => self.speaker.detach(),
        }
        if tokio::time::timeout(SPEAKER_WAIT, &mut self.speaker.task)
            .await
            .is_err()
        {
            tracing::warn!(?how, "the BGP speaker did not end in time; abandoning it");
            self.speaker.task.abort();
        }
    }
}

impl<S> Drop for Running<S> {
    fn drop(&mut self) {
        if !self.ended {
            self.drain.abort();
            self.speaker.detach();
        }
    }
}

/// The BgpManager's state.
pub struct BgpManagerState<T: BgpTransport> {
    args: BgpManagerArgs<T>,
    core: ManagerCore,
    running: Option<Running<T::Stream>>,
    generation: u64,
    refresh_pending: Arc<AtomicBool>,
    /// Why the running speaker has no listener, if it has none.
    listen_error: Option<String>,
}

impl<T: BgpTransport> Actor for BgpManager<T> {
    type Msg = BgpManagerMsg;
    type State = BgpManagerState<T>;
    type Arguments = BgpManagerArgs<T>;

    async fn pre_start(
        &self,
        _myself: ActorRef<BgpManagerMsg>,
        args: BgpManagerArgs<T>,
    ) -> Result<BgpManagerState<T>, ActorProcessingErr> {
        let core = ManagerCore::new(args.selection_deferral);
        Ok(BgpManagerState {
            args,
            core,
            running: None,
            generation: 0,
            refresh_pending: Arc::new(AtomicBool::new(false)),
            listen_error: None,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<BgpManagerMsg>,
        state: &mut BgpManagerState<T>,
    ) -> Result<(), ActorProcessingErr> {
        // Whatever this manager's previous incarnation had taken, this one starts from the
        // whole configuration.
        let ops = state.core.apply(state.args.intents.take_all());
        state.execute(&myself, ops).await;
        state.report().await;
        myself.send_after(state.args.status_interval, step_tick);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<BgpManagerMsg>,
        msg: BgpManagerMsg,
        state: &mut BgpManagerState<T>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BgpManagerMsg::IntentsReady => {
                if let Some(delivery) = state.args.intents.take() {
                    let ops = state.core.apply(delivery);
                    let changed = !ops.is_empty();
                    state.execute(&myself, ops).await;
                    if changed || !state.core.running() {
                        state.report().await;
                    }
                }
            }
            BgpManagerMsg::SpeakerStatus(reply) => {
                let _ = reply.send(state.speaker_status().await);
            }
            BgpManagerMsg::Report(reply) => {
                let status = state.speaker_status().await;
                let report = state
                    .core
                    .report(status.as_ref(), state.args.wall_clock.now());
                let _ = reply.send((report, state.readiness(status.as_ref())));
            }
            BgpManagerMsg::Step(Step(StepKind::Refresh)) => {
                state.refresh_pending.store(false, Ordering::SeqCst);
                state.report().await;
            }
            BgpManagerMsg::Step(Step(StepKind::Tick)) => {
                state.check_passwords().await;
                state.report().await;
                myself.send_after(state.args.status_interval, step_tick);
            }
            BgpManagerMsg::Step(Step(StepKind::SpeakerEnded { generation })) => {
                if state.running.as_ref().map(|r| r.generation) == Some(generation) {
                    tracing::error!("the BGP speaker ended by itself; starting a new one");
                    if let Some(mut r) = state.running.take() {
                        r.ended = true;
                    }
                    let ops = state.core.speaker_lost();
                    state.execute(&myself, ops).await;
                    state.report().await;
                }
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<BgpManagerMsg>,
        state: &mut BgpManagerState<T>,
    ) -> Result<(), ActorProcessingErr> {
        // calico-node stopping (SIGTERM) or the node's supervisor stopping it: peers keep our
        // routes for our restart time (graceful restart), and the kernel keeps theirs.
        if let Some(running) = state.running.take() {
            tracing::info!("BGP manager stopping: detaching the speaker (graceful restart)");
            running.end(End::Detach).await;
        }
        Ok(())
    }
}

impl<T: BgpTransport> BgpManagerState<T> {
    async fn execute(&mut self, myself: &ActorRef<BgpManagerMsg>, ops: Vec<SpeakerOp>) {
        for op in ops {
            match op {
                SpeakerOp::Start(start) => self.start(myself, *start).await,
                SpeakerOp::Stop => {
                    if let Some(running) = self.running.take() {
                        tracing::info!("no usable BGP identity: stopping the speaker");
                        running.end(End::Stop).await;
                    }
                    // No speaker, no learned routes; nothing more will come.
                    let routes = &self.args.routes;
                    let gone = routes.destinations().into_iter().map(|d| (d, None));
                    let notify = routes.set(gone) | routes.set_complete();
                    self.notify_routes(notify);
                }
                SpeakerOp::SetPolicy(policy) => {
                    if let Some(r) = &self.running {
                        tracing::info!("BGP policy replaced");
                        r.speaker.set_policy(policy);
                    }
                }
                SpeakerOp::Originate(prefix) => {
                    if let Some(r) = &self.running {
                        r.speaker.originate(prefix, originated());
                    }
                }
                SpeakerOp::Withdraw(prefix) => {
                    if let Some(r) = &self.running {
                        r.speaker.withdraw(prefix);
                    }
                }
                SpeakerOp::AddPeer(peer) => {
                    if let Some(mut r) = self.running.take() {
                        self.add_peer(&mut r, *peer).await;
                        self.running = Some(r);
                    }
                }
                SpeakerOp::RemovePeer(address) => {
                    if let Some(r) = &mut self.running {
                        tracing::info!(peer = %address, "BGP peer removed");
                        r.speaker.remove_peer(address);
                        r.passwords.remove(&address);
                    }
                }
            }
        }
    }

    /// Detaches the running speaker, if any, and starts one.
    async fn start(&mut self, myself: &ActorRef<BgpManagerMsg>, start: SpeakerStart) {
        if let Some(old) = self.running.take() {
            tracing::info!(
                router_id = %start.config.local.router_id,
                asn = start.config.local.asn,
                "BGP identity changed: detaching the speaker and starting a new one"
            );
            old.end(End::Detach).await;
        }
        self.generation += 1;
        let listener = match self
            .args
            .transport
            .listen(start.listen_port, &start.listen_addresses)
            .await
        {
            Ok(l) => {
                self.listen_error = None;
                Some(l)
            }
            Err(e) => {
                tracing::error!(error = %e, "BGP: cannot listen; sessions connect out only");
                self.listen_error = Some(format!("cannot listen: {e}"));
                None
            }
        };
        tracing::info!(
            router_id = %start.config.local.router_id,
            asn = start.config.local.asn,
            peers = start.peers.len(),
            prefixes = start.prefixes.len(),
            "starting the BGP speaker"
        );
        let deferral = start.config.selection_deferral;
        let mut speaker = speaker::spawn(
            start.config,
            start.policy,
            self.args.transport.connector(),
            listener,
        );
        // Originated before the peers are added: each peer's first table has them.
        for prefix in start.prefixes {
            speaker.originate(prefix, originated());
        }
        let (_, closed) = tokio::sync::mpsc::channel(1);
        let events = std::mem::replace(&mut speaker.events, closed);
        let initial_phase = InitialPhase {
            waiting: start
                .peers
                .iter()
                .map(|p| (p.key.address, p.settings.session.families))
                .collect(),
            deadline: tokio::time::Instant::now() + deferral,
        };
        let drain = Drain {
            events,
            routes: self.args.routes.clone(),
            route_programmer: self.args.bus.routes.clone(),
            manager: myself.clone(),
            refresh_pending: Arc::clone(&self.refresh_pending),
            next_hops: self.args.next_hops.clone(),
            stale: self.args.routes.destinations(),
            initial_phase: Some(initial_phase),
            generation: self.generation,
        };
        let mut running = Running {
            speaker,
            drain: drain.spawn(),
            generation: self.generation,
            passwords: BTreeMap::new(),
            ended: false,
        };
        for peer in start.peers {
            self.add_peer(&mut running, peer).await;
        }
        self.running = Some(running);
    }

    /// Adds `peer` with its password read from the secrets (as confd does, a password that
    /// cannot be read leaves the session without one).
    async fn add_peer(&self, running: &mut Running<T::Stream>, mut peer: PeerIntent) {
        let password = self.password(&peer).await;
        peer.settings.session.password.clone_from(&password);
        tracing::info!(
            peer = %peer.name,
            address = %peer.key.address,
            restarting = peer.settings.session.restarting,
            password = password.is_some(),
            "BGP peer added"
        );
        running.passwords.insert(peer.key.address, password);
        running.speaker.add_peer(peer.settings);
    }

    async fn password(&self, peer: &PeerIntent) -> Option<String> {
        let selector = peer.password.as_ref()?;
        match self.args.secrets.read(selector).await {
            Ok(p) => Some(p.expose().to_owned()),
            Err(e) => {
                tracing::warn!(peer = %peer.name, error = %e, "BGP password unavailable: the session goes without one");
                None
            }
        }
    }

    /// Reads the running peers' passwords again; a peer whose password changed is removed
    /// and added with the new one (Secrets are rotated in place).
    async fn check_passwords(&mut self) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        let peers: Vec<PeerIntent> = self
            .core
            .running_peers()
            .filter(|p| p.password.is_some())
            .cloned()
            .collect();
        for peer in peers {
            let now = self.password(&peer).await;
            if running.passwords.get(&peer.key.address) != Some(&now) {
                tracing::info!(peer = %peer.name, "BGP password changed: re-adding the peer");
                running.speaker.remove_peer(peer.key.address);
                self.add_peer(&mut running, peer).await;
            }
        }
        self.running = Some(running);
    }

    async fn speaker_status(&self) -> Option<SpeakerStatus> {
        let running = self.running.as_ref()?;
        tokio::time::timeout(SPEAKER_WAIT, running.speaker.status())
            .await
            .ok()
            .flatten()
    }

    fn readiness(&self, status: Option<&SpeakerStatus>) -> Readiness {
        let mut r = self.core.readiness(status);
        if let Some(e) = &self.listen_error {
            r.detail = format!("{}; {e}", r.detail);
        }
        r
    }

    /// Reports the sessions and the component's health to the StatusReporter.
    async fn report(&mut self) {
        let status = self.speaker_status().await;
        let report = self
            .core
            .report(status.as_ref(), self.args.wall_clock.now());
        let r = self.readiness(status.as_ref());
        self.args.bus.status.cast(StatusMsg::Bgp(report));
        self.args.bus.status.cast(StatusMsg::Component {
            name: "bgp",
            live: true,
            ready: r.ready,
            detail: r.detail,
        });
    }

    fn notify_routes(&self, notify: bool) {
        if notify
            && !self
                .args
                .bus
                .routes
                .cast(crate::bus::ProgrammerMsg::InputReady)
        {
            self.args.routes.notice_lost();
        }
    }
}

/// The attributes of a route this host originates: IGP origin, an empty AS path, no next hop
/// (each session's export sets ours).
fn originated() -> RouteAttributes {
    RouteAttributes::from(PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        ..PathAttributes::default()
    })
}
