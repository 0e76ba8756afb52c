//! One node's calculation and programming under a supervisor, on twins: the Calculator and
//! the three programmers (and, over a datastore, the Syncer feeding them), a status
//! recorder in the StatusReporter's place, and twins that can be told to panic.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use actors::backoff::BackoffPolicy;
use actors::bus::{
    Addr, BgpManagerMsg, Bus, CalculatorMsg, CalculatorOutputs, ProgrammerMsg, RouteEdge,
    StatusMsg, Update, UpdateFeed,
};
use actors::calculator::{Calculator, CalculatorArgs};
use actors::observe::metrics::Metrics;
use actors::programmer::{
    Backend, LinkInput, LinkManager, PolicyInput, PolicyProgrammer, ProgrammerArgs,
    ProgrammerStatus, RouteInput, RouteProgrammer, SharedTwin,
};
use actors::supervisor::{
    ChildSpec, ChildStatus, Restart, Supervisor, SupervisorArgs, SupervisorMsg,
};
use actors::syncer::{Syncer, SyncerArgs};
use calc::CalcConfig;
use dataplane::links::{
    LinkBackend, LinkConfig, LinkError, LinkReconciler, LinkTwin, Observation, Op, OpError,
};
use dataplane::policy::observed::Observed;
use dataplane::policy::ops::Transaction;
use dataplane::policy::{PolicyBackend, PolicyConfig, PolicyError, PolicyReconciler, PolicyTwin};
use dataplane::routes::{
    KernelState, Links, OpFailure, RouteBackend, RouteConfig, RouteError, RouteOp, RouteReconciler,
    RouteTwin,
};
use datastore::Datastore;
use ipnet::IpNet;
use prometheus_client::registry::Registry;
use ractor::{Actor, ActorProcessingErr, ActorRef, call};
use tokio::time::Instant;

use super::NODE;

/// How long a test waits for anything (tokio time: paused, so this costs nothing).
pub const WITHIN: Duration = Duration::from_secs(120);

/// A twin that panics at its next read or write when told to (a programmer that fails).
#[derive(Debug, Default)]
pub struct Faulty<T> {
    pub twin: T,
    panic_next: Arc<AtomicBool>,
}

impl<T> Faulty<T> {
    pub fn new(twin: T) -> Self {
        Faulty {
            twin,
            panic_next: Arc::new(AtomicBool::new(false)),
        }
    }

    fn check(&self) {
        if self.panic_next.swap(false, Ordering::SeqCst) {
            panic!("the twin was told to fail");
        }
    }
}

impl<T: RouteBackend> RouteBackend for Faulty<T> {
    fn read(&mut self) -> Result<KernelState, RouteError> {
        self.check();
        self.twin.read()
    }

    fn read_links(&mut self) -> Result<Links, RouteError> {
        self.check();
        self.twin.read_links()
    }

    fn apply(&mut self, ops: &[RouteOp]) -> Result<Vec<OpFailure>, RouteError> {
        self.check();
        self.twin.apply(ops)
    }
}

impl<T: PolicyBackend> PolicyBackend for Faulty<T> {
    fn apply(&mut self, tx: &Transaction) -> Result<(), PolicyError> {
        self.check();
        self.twin.apply(tx)
    }

    fn read(&mut self) -> Result<Option<Observed>, PolicyError> {
        self.check();
        self.twin.read()
    }
}

impl<T: LinkBackend> LinkBackend for Faulty<T> {
    fn read(&mut self, names: &BTreeSet<String>) -> Result<Observation, LinkError> {
        self.check();
        self.twin.read(names)
    }

    fn apply(&mut self, ops: &[Op]) -> Vec<OpError> {
        self.check();
        self.twin.apply(ops)
    }
}

/// A shared faulty twin.
pub type Twin<T> = SharedTwin<Faulty<T>>;

/// Makes the twin's next read or write panic.
pub fn fail_next<T>(twin: &Twin<T>) {
    twin.lock().panic_next.store(true, Ordering::SeqCst);
}

/// A route backend whose every read and write waits while its gate is closed: synced on a
/// blocking thread, it holds its programmer busy for as long as the test wants.
#[derive(Clone, Default)]
pub struct Gate {
    state: Arc<(Mutex<bool>, Condvar)>,
    waiting: Arc<AtomicUsize>,
}

impl Gate {
    pub fn open(&self) -> bool {
        *self.state.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set(&self, open: bool) {
        *self.state.0.lock().unwrap_or_else(PoisonError::into_inner) = open;
        self.state.1.notify_all();
    }

    /// Threads waiting at the gate now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    fn pass(&self) {
        let mut open = self.state.0.lock().unwrap_or_else(PoisonError::into_inner);
        self.waiting.fetch_add(1, Ordering::SeqCst);
        while !*open {
            open = self
                .state
                .1
                .wait(open)
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A shared route twin behind a gate.
pub struct Gated {
    pub twin: Twin<RouteTwin>,
    pub gate: Gate,
}

impl RouteBackend for Gated {
    fn read(&mut self) -> Result<KernelState, RouteError> {
        self.gate.pass();
        self.twin.lock().read()
    }

    fn read_links(&mut self) -> Result<Links, RouteError> {
        self.gate.pass();
        self.twin.lock().read_links()
    }

    fn apply(&mut self, ops: &[RouteOp]) -> Result<Vec<OpFailure>, RouteError> {
        self.gate.pass();
        self.twin.lock().apply(ops)
    }
}

/// The last health report of each component.
pub type Health = Arc<Mutex<BTreeMap<&'static str, (bool, bool, String)>>>;

/// Stands in for the StatusReporter: keeps each component's last report.
pub struct StatusRecorder;

impl Actor for StatusRecorder {
    type Msg = StatusMsg;
    type State = Health;
    type Arguments = Health;

    async fn pre_start(
        &self,
        _: ActorRef<StatusMsg>,
        h: Health,
    ) -> Result<Health, ActorProcessingErr> {
        Ok(h)
    }

    async fn handle(
        &self,
        _: ActorRef<StatusMsg>,
        msg: StatusMsg,
        h: &mut Health,
    ) -> Result<(), ActorProcessingErr> {
        if let StatusMsg::Component {
            name,
            live,
            ready,
            detail,
        } = msg
        {
            h.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name, (live, ready, detail));
        }
        Ok(())
    }
}

/// What a node is built with.
#[derive(Default)]
pub struct Options {
    /// A Syncer over this datastore feeds the Calculator; without one the test delivers
    /// updates itself ([`Node::deliver`]).
    pub datastore: Option<Arc<dyn Datastore>>,
    /// The BgpManager's learned routes, standing in for it.
    pub learned: Option<RouteEdge>,
    /// The programmers' backends, instead of the twins.
    pub route_backend: Option<Backend<RouteReconciler>>,
    pub policy_backend: Option<Backend<PolicyReconciler>>,
    pub link_backend: Option<Backend<LinkReconciler>>,
    /// The route reconciler's configuration, instead of the default.
    pub route_config: Option<RouteConfig>,
    /// Who the Calculator tells about BGP intents (nobody by default): a BgpManager's
    /// stand-in.
    pub bgp: Option<Addr<BgpManagerMsg>>,
}

/// One node (see the module docs).
pub struct Node {
    pub feed: UpdateFeed,
    pub outputs: CalculatorOutputs,
    pub bus: Bus,
    pub routes: Twin<RouteTwin>,
    pub policy: Twin<PolicyTwin>,
    pub links: Twin<LinkTwin>,
    pub health: Health,
    pub metrics: Registry,
    pub restarts: Arc<Mutex<Vec<Restart>>>,
    pub supervisor: ActorRef<SupervisorMsg>,
    status: ActorRef<StatusMsg>,
}

/// Twins as this node's kernel holds them before calico-node starts: the uplink and the
/// two local workloads' veths exist (the CNI plugin made them).
pub fn kernel_twins() -> (Twin<RouteTwin>, Twin<PolicyTwin>, Twin<LinkTwin>) {
    let mut routes = RouteTwin::new();
    for link in ["eth0", "cali1", "cali2"] {
        routes.add_link(link);
    }
    let mut links = LinkTwin::new();
    for link in ["cali1", "cali2"] {
        links.add_interface(link);
    }
    (
        SharedTwin::new(Faulty::new(routes)),
        SharedTwin::new(Faulty::new(PolicyTwin::new())),
        SharedTwin::new(Faulty::new(links)),
    )
}

impl Node {
    pub async fn start(options: Options) -> Node {
        let (routes, policy, links) = kernel_twins();
        Node::start_on(options, routes, policy, links).await
    }

    pub async fn start_on(
        options: Options,
        routes: Twin<RouteTwin>,
        policy: Twin<PolicyTwin>,
        links: Twin<LinkTwin>,
    ) -> Node {
        let feed = UpdateFeed::new();
        let outputs = CalculatorOutputs::new(NODE);
        let mut bus = Bus::new();
        if let Some(bgp) = options.bgp {
            bus.bgp = bgp;
        }
        let health = Health::default();
        let (status, _) = Actor::spawn(None, StatusRecorder, Arc::clone(&health))
            .await
            .unwrap_or_else(|e| panic!("the status recorder does not start: {e}"));
        bus.status.bind(status.clone());
        let (metrics, registry) = Metrics::new();

        let route_config = options.route_config.unwrap_or_default();
        let mut route_input = RouteInput::new(route_config, outputs.routes.clone());
        if let Some(learned) = &options.learned {
            route_input = route_input.with_learned(Arc::new(learned.clone()));
        }
        let route_backend = options
            .route_backend
            .unwrap_or_else(|| Backend::twin(&routes));
        let mut children = vec![
            RouteProgrammer::child(
                "routes",
                ProgrammerArgs {
                    input: route_input,
                    backend: route_backend,
                    bus: bus.clone(),
                    metrics: Some(metrics.clone()),
                },
                bus.routes.clone(),
            ),
            PolicyProgrammer::child(
                "policy",
                ProgrammerArgs {
                    input: PolicyInput::new(PolicyConfig::default(), outputs.policy.clone()),
                    backend: options
                        .policy_backend
                        .unwrap_or_else(|| Backend::twin(&policy)),
                    bus: bus.clone(),
                    metrics: Some(metrics.clone()),
                },
                bus.policy.clone(),
            ),
            LinkManager::child(
                "links",
                ProgrammerArgs {
                    input: LinkInput::new(LinkConfig::default(), outputs.interfaces.clone()),
                    backend: options
                        .link_backend
                        .unwrap_or_else(|| Backend::twin(&links)),
                    bus: bus.clone(),
                    metrics: Some(metrics.clone()),
                },
                bus.links.clone(),
            ),
            Calculator::child(
                "calculator",
                CalculatorArgs {
                    config: CalcConfig::new(NODE),
                    feed: feed.clone(),
                    outputs: outputs.clone(),
                    bus: bus.clone(),
                },
            ),
        ];
        if let Some(datastore) = options.datastore {
            children.push(syncer_child(datastore, &feed, &bus));
        }
        let restarts = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&restarts);
        let (supervisor, _) = Actor::spawn(
            None,
            Supervisor,
            SupervisorArgs {
                children,
                backoff: BackoffPolicy {
                    initial: Duration::from_millis(100),
                    max: Duration::from_secs(2),
                    reset_after: Duration::from_secs(60),
                },
                on_restart: Some(Arc::new(move |r: &Restart| {
                    log.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(r.clone());
                })),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("the supervisor does not start: {e}"));
        // The supervisor starts its children after it started itself.
        eventually("the children bound", || async {
            bus.routes.get().is_some()
                && bus.policy.get().is_some()
                && bus.links.get().is_some()
                && bus.calculator.get().is_some()
        })
        .await;
        Node {
            feed,
            outputs,
            bus,
            routes,
            policy,
            links,
            health,
            metrics: registry,
            restarts,
            supervisor,
            status,
        }
    }

    /// Hands the Calculator `updates` (and the in-sync mark) as the Syncer would.
    pub fn deliver(&self, updates: Vec<Update>, in_sync: bool) {
        if self.feed.push(updates, in_sync)
            && !self.bus.calculator.cast(CalculatorMsg::DatastoreReady)
        {
            self.feed.notice_lost();
        }
    }

    /// A programmer's counters.
    pub async fn status(&self, addr: &Addr<ProgrammerMsg>) -> ProgrammerStatus {
        let Some(actor) = addr.get() else {
            panic!("the programmer is not bound");
        };
        call!(actor, ProgrammerMsg::Status)
            .unwrap_or_else(|e| panic!("the programmer does not answer: {e}"))
    }

    /// The three programmers' counters: routes, policy, links.
    pub async fn statuses(&self) -> [ProgrammerStatus; 3] {
        [
            self.status(&self.bus.routes).await,
            self.status(&self.bus.policy).await,
            self.status(&self.bus.links).await,
        ]
    }

    /// Whether all three programmers are in sync.
    pub async fn in_sync(&self) -> bool {
        for addr in [&self.bus.routes, &self.bus.policy, &self.bus.links] {
            let Some(actor) = addr.get() else {
                return false;
            };
            match call!(actor, ProgrammerMsg::Status) {
                Ok(s) if s.in_sync => {}
                _ => return false,
            }
        }
        true
    }

    pub async fn children(&self) -> Vec<ChildStatus> {
        call!(self.supervisor, SupervisorMsg::Children)
            .unwrap_or_else(|e| panic!("the supervisor does not answer: {e}"))
    }

    /// Our routes in the route twin (protocol 80): destination → interface or gateway.
    pub fn our_routes(&self) -> BTreeMap<IpNet, String> {
        our_routes(&self.routes)
    }

    /// The permanent neighbours on a workload interface of the link twin, and whether the
    /// interface is up.
    pub fn interface(&self, name: &str) -> (bool, BTreeMap<IpAddr, bool>) {
        self.links.with(|l| match l.twin.interface(name) {
            Some(i) => (
                i.up,
                i.neighbours
                    .iter()
                    .map(|(ip, n)| (*ip, n.permanent))
                    .collect(),
            ),
            None => (false, BTreeMap::new()),
        })
    }

    /// The policy twin's table.
    pub fn table(&self) -> Option<dataplane::policy::ir::Table> {
        self.policy.with(|p| p.twin.table().cloned())
    }

    pub fn report(&self, name: &str) -> Option<(bool, bool, String)> {
        self.health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    pub fn restarts(&self) -> Vec<Restart> {
        self.restarts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn stop(&self) {
        self.supervisor.stop(None);
        self.status.stop(None);
    }
}

/// Our routes (protocol 80) in a route twin: destination → interface or gateway.
pub fn our_routes(twin: &Twin<RouteTwin>) -> BTreeMap<IpNet, String> {
    twin.with(|t| {
        let state = match t.twin.read() {
            Ok(s) => s,
            Err(e) => panic!("the route twin does not read: {e}"),
        };
        state
            .routes
            .into_iter()
            .filter(|r| r.protocol == dataplane::routes::DEFAULT_PROTOCOL)
            .map(|r| {
                let to = match (r.dev, r.gateway) {
                    (_, Some(gw)) => format!("via {gw}"),
                    (Some(dev), None) => dev,
                    (None, None) => "blackhole".to_owned(),
                };
                (r.dst, to)
            })
            .collect()
    })
}

/// A supervisor child running the Syncer over `datastore`.
pub fn syncer_child(datastore: Arc<dyn Datastore>, feed: &UpdateFeed, bus: &Bus) -> ChildSpec {
    let args = SyncerArgs {
        datastore,
        node: NODE.to_owned(),
        feed: feed.clone(),
        bus: bus.clone(),
        backoff: BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            reset_after: Duration::from_secs(60),
        },
    };
    ChildSpec::new("syncer", move |supervisor| {
        let args = args.clone();
        async move {
            Actor::spawn_linked(None, Syncer, args, supervisor)
                .await
                .map(|(a, _)| a.get_cell())
        }
    })
}

/// Waits on tokio's clock, checking every 10 ms, until `check` holds; panics naming `what`.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WITHIN;
    loop {
        if check().await {
            return;
        }
        if Instant::now() >= deadline {
            panic!("no {what} within {WITHIN:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Yields to the runtime (no time passes) until `check` holds; for when a blocking task
/// holds tokio's paused clock still.
pub async fn settle(what: &str, check: impl Fn() -> bool) {
    for _ in 0..100_000 {
        if check() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("no {what} after 100,000 yields");
}

/// The update that puts `r` at its key.
pub fn put(r: &model::resources::Resource) -> Update {
    Update::put(r.clone())
}
