//! One calico-node, assembled: the actors of one host under one supervisor, with the edges
//! between them, from injected dependencies ([`NodeDeps`]: the datastore, the three dataplane
//! backends, the BGP transport and the wall clock). The `calico-node` binary gives the
//! kernel's and TCP; the simulation gives twins and simulated TCP, so it runs exactly this
//! assembly on every simulated host.
//!
//! The order of a start, as calico/node's: register the Node (see [`crate::startup`], done by
//! the caller before [`Node::start`]), start the StatusReporter, the three programmers, the
//! BgpManager (unless `CALICO_NETWORKING_BACKEND=none`), the Calculator, then the Syncer that
//! feeds it. Nothing is programmed before the datastore is in sync, and the route reconciler
//! also waits for BGP's End-of-RIB (each reconciler's contract). Stopping the node stops its
//! actors: the dataplane stays as it is and the BGP speaker detaches, so peers keep this
//! host's routes (graceful restart).

use std::sync::Arc;

use datastore::Datastore;
use model::status::NodeStatusReport;
use ractor::{Actor, ActorRef};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use std::path::PathBuf;
use std::time::Duration;

use calc::CalcConfig;
use dataplane::links::{LinkConfig, LinkReconciler};
use dataplane::policy::{PolicyConfig, PolicyReconciler};
use dataplane::routes::{RouteConfig, RouteReconciler};
use model::bgp::PeeringOptions;

use crate::backoff::BackoffPolicy;
use crate::bgp::{
    BgpManager, BgpManagerArgs, BgpTransport, NextHops, SecretsDir, WallClock, learned_route_feed,
    runs_bgp,
};
use crate::bus::{Bus, CalculatorOutputs, UpdateFeed};
use crate::calculator::{Calculator, CalculatorArgs};
use crate::config::Networking;
use crate::observe::health::HealthStatus;
use crate::observe::metrics::Metrics;
use crate::programmer::{
    Backend, LinkInput, LinkManager, PolicyInput, PolicyProgrammer, ProgrammerArgs, RouteInput,
    RouteProgrammer,
};
use crate::status::{StatusCore, StatusReporter, StatusReporterArgs};
use crate::supervisor::{ChildSpec, Supervisor, SupervisorArgs, SupervisorMsg};
use crate::syncer::{Syncer, SyncerArgs};

/// What differs between a real host and a simulated one.
#[derive(Clone)]
pub struct NodeDeps<T> {
    pub datastore: Arc<dyn Datastore>,
    /// The network the BGP speaker uses (TCP, or the simulation's).
    pub transport: T,
    /// Wall-clock time for the BGP sessions' `since`.
    pub wall_clock: WallClock,
    /// Where routes, the `calico` table and the workload interfaces are programmed: the
    /// kernel ([`crate::programmer::kernel_routes`] and its siblings) or twins.
    pub routes: Backend<RouteReconciler>,
    pub policy: Backend<PolicyReconciler>,
    pub links: Backend<LinkReconciler>,
}

/// What a node is started with besides its dependencies.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub node_name: String,
    pub version: String,
    /// BGP runs (`bird`) or not (`none`); when it runs its health is part of readiness.
    pub networking: Networking,
    /// How the BGP router ID is chosen (`CALICO_ROUTER_ID`).
    pub peering: PeeringOptions,
    /// Where the Secrets holding BGP passwords are (`<dir>/<secret>/<key>`).
    pub secrets_dir: Option<PathBuf>,
    /// After a (re)start, how long BGP waits for the peers' End-of-RIB at most.
    pub selection_deferral: Duration,
    /// Restart delays of failed actors.
    pub restart: BackoffPolicy,
}

/// A running node: its supervisor, and what it publishes.
pub struct Node {
    supervisor: ActorRef<SupervisorMsg>,
    handle: JoinHandle<()>,
    /// Health snapshots (for `/liveness`, `/readiness`).
    pub health: watch::Receiver<HealthStatus>,
    /// The node's report (for the status socket).
    pub report: watch::Receiver<NodeStatusReport>,
    pub metrics: Metrics,
    pub registry: Arc<prometheus_client::registry::Registry>,
}

/// The components whose readiness makes the node ready (BGP's is added when it runs).
pub const COMPONENTS: &[&str] = &["syncer", "calculator", "routes", "policy", "links"];

impl Node {
    /// Starts the node's actors on the current tokio runtime.
    pub async fn start<T: BgpTransport + Clone>(
        spec: NodeSpec,
        deps: NodeDeps<T>,
    ) -> Result<Node, ractor::SpawnErr> {
        let bus = Bus::new();
        let (metrics, registry) = Metrics::new();
        let bgp = runs_bgp(spec.networking);
        let core = StatusCore::new(&spec.node_name, &spec.version, COMPONENTS, bgp);
        let now = tokio::time::Instant::now();
        let (health_tx, health) = watch::channel(core.health(now));
        let (report_tx, report) = watch::channel(core.report(now));
        let reporter_args = StatusReporterArgs {
            core,
            health: health_tx,
            report: report_tx,
            metrics: Some(metrics.clone()),
            datastore: Some(deps.datastore.clone()),
        };
        let reporter_bus = bus.clone();
        let status_child = ChildSpec::new("status", move |sup| {
            let (bus, args) = (reporter_bus.clone(), reporter_args.clone());
            async move {
                let (actor, _) = Actor::spawn_linked(None, StatusReporter, args, sup).await?;
                bus.status.bind(actor.clone());
                Ok(actor.get_cell())
            }
        });
        let feed = UpdateFeed::new();
        let outputs = CalculatorOutputs::new(&spec.node_name);
        let learned = learned_route_feed(spec.networking);
        let programmer = |bus: &Bus| (bus.clone(), Some(metrics.clone()));
        let (routes_bus, routes_metrics) = programmer(&bus);
        let routes_child = RouteProgrammer::child(
            "routes",
            ProgrammerArgs {
                input: RouteInput::new(RouteConfig::default(), outputs.routes.clone())
                    .with_learned(Arc::new(learned.clone())),
                backend: deps.routes.clone(),
                bus: routes_bus,
                metrics: routes_metrics,
            },
            bus.routes.clone(),
        );
        let (policy_bus, policy_metrics) = programmer(&bus);
        let policy_child = PolicyProgrammer::child(
            "policy",
            ProgrammerArgs {
                input: PolicyInput::new(PolicyConfig::default(), outputs.policy.clone()),
                backend: deps.policy.clone(),
                bus: policy_bus,
                metrics: policy_metrics,
            },
            bus.policy.clone(),
        );
        let (links_bus, links_metrics) = programmer(&bus);
        let links_child = LinkManager::child(
            "links",
            ProgrammerArgs {
                input: LinkInput::new(LinkConfig::default(), outputs.interfaces.clone()),
                backend: deps.links.clone(),
                bus: links_bus,
                metrics: links_metrics,
            },
            bus.links.clone(),
        );
        let bgp_child = bgp.then(|| {
            let args = BgpManagerArgs {
                transport: deps.transport.clone(),
                intents: outputs.bgp.clone(),
                routes: learned.clone(),
                bus: bus.clone(),
                secrets: spec
                    .secrets_dir
                    .clone()
                    .map_or_else(SecretsDir::none, SecretsDir::new),
                next_hops: NextHops::default(),
                wall_clock: deps.wall_clock.clone(),
                selection_deferral: spec.selection_deferral,
                status_interval: Duration::from_secs(10),
            };
            let bus = bus.clone();
            ChildSpec::new("bgp", move |sup| {
                let (args, bus) = (args.clone(), bus.clone());
                async move {
                    let (actor, _) =
                        Actor::spawn_linked(None, BgpManager::<T>::new(), args, sup).await?;
                    bus.bgp.bind(actor.clone());
                    // Whatever waits on the intents edge is taken at once.
                    let _ = actor.cast(crate::bus::BgpManagerMsg::IntentsReady);
                    Ok(actor.get_cell())
                }
            })
        });
        let mut config = CalcConfig::new(&spec.node_name);
        config.peering = spec.peering;
        let calculator_child = Calculator::child(
            "calculator",
            CalculatorArgs {
                config,
                feed: feed.clone(),
                outputs,
                bus: bus.clone(),
            },
        );
        let syncer_args = SyncerArgs {
            datastore: deps.datastore.clone(),
            node: spec.node_name.clone(),
            feed,
            bus: bus.clone(),
            backoff: BackoffPolicy::default(),
        };
        let syncer_child = ChildSpec::new("syncer", move |sup| {
            let args = syncer_args.clone();
            async move {
                let (actor, _) = Actor::spawn_linked(None, Syncer, args, sup).await?;
                Ok(actor.get_cell())
            }
        });
        let (supervisor, handle) = Actor::spawn(
            None,
            Supervisor,
            SupervisorArgs {
                children: [status_child, routes_child, policy_child, links_child]
                    .into_iter()
                    .chain(bgp_child)
                    .chain([calculator_child, syncer_child])
                    .collect(),
                backoff: spec.restart,
                on_restart: None,
            },
        )
        .await?;
        Ok(Node {
            supervisor,
            handle,
            health,
            report,
            metrics,
            registry: Arc::new(registry),
        })
    }

    /// Stops every actor; the dataplane is left as it is.
    pub async fn stop(self) {
        self.supervisor.stop(None);
        let _ = self.handle.await;
    }
}
