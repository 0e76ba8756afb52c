//! One calico-node, assembled: the actors of one host under one supervisor, with the edges
//! between them, from injected dependencies ([`NodeDeps`]: the datastore and the three
//! dataplane backends — and, as it joins, the BGP transport). The `calico-node` binary gives
//! the kernel's; the simulation gives twins, so it runs exactly this assembly on every
//! simulated host.
//!
//! The order of a start, as calico/node's: register the Node (see [`crate::startup`], done by
//! the caller before [`Node::start`]), start the StatusReporter, the three programmers, the
//! Calculator, then the Syncer that feeds it. Nothing is programmed before the datastore is in
//! sync (each reconciler's contract). Stopping the node stops its actors and leaves the
//! dataplane as it is.

use std::sync::Arc;

use datastore::Datastore;
use model::status::NodeStatusReport;
use ractor::{Actor, ActorRef};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use calc::CalcConfig;
use dataplane::links::{LinkConfig, LinkReconciler};
use dataplane::policy::{PolicyConfig, PolicyReconciler};
use dataplane::routes::{RouteConfig, RouteReconciler};

use crate::backoff::BackoffPolicy;
use crate::bus::{Bus, CalculatorOutputs, UpdateFeed};
use crate::calculator::{Calculator, CalculatorArgs};
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
pub struct NodeDeps {
    pub datastore: Arc<dyn Datastore>,
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
    /// BGP runs (`CALICO_NETWORKING_BACKEND=bird`): its health is part of readiness.
    pub bgp: bool,
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
    pub async fn start(spec: NodeSpec, deps: NodeDeps) -> Result<Node, ractor::SpawnErr> {
        let bus = Bus::new();
        let (metrics, registry) = Metrics::new();
        let core = StatusCore::new(&spec.node_name, &spec.version, COMPONENTS, spec.bgp);
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
        let programmer = |bus: &Bus| (bus.clone(), Some(metrics.clone()));
        let (routes_bus, routes_metrics) = programmer(&bus);
        let routes_child = RouteProgrammer::child(
            "routes",
            ProgrammerArgs {
                input: RouteInput::new(RouteConfig::default(), outputs.routes.clone()),
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
        let calculator_child = Calculator::child(
            "calculator",
            CalculatorArgs {
                config: CalcConfig::new(&spec.node_name),
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
                children: vec![
                    status_child,
                    routes_child,
                    policy_child,
                    links_child,
                    calculator_child,
                    syncer_child,
                ],
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
