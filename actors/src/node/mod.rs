//! One calico-node, assembled: the actors of one host under one supervisor, with the edges
//! between them, from injected dependencies ([`NodeDeps`]: the datastore, and — as they join —
//! the dataplane backends and the BGP transport). The `calico-node` binary gives the real
//! ones; the simulation gives twins and simulated sockets, so it runs exactly this assembly
//! on every simulated host.
//!
//! The order of a start, as calico/node's: register the Node (see [`crate::startup`], done by
//! the caller before [`Node::start`]), start the StatusReporter, then the Syncer and the actors
//! it feeds. Nothing is programmed before the datastore is in sync (each reconciler's
//! contract). Stopping the node stops its actors and leaves the dataplane as it is.

use std::sync::Arc;

use datastore::Datastore;
use model::status::NodeStatusReport;
use ractor::{Actor, ActorRef};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backoff::BackoffPolicy;
use crate::bus::{Bus, UpdateFeed};
use crate::observe::health::HealthStatus;
use crate::observe::metrics::Metrics;
use crate::status::{StatusCore, StatusReporter, StatusReporterArgs};
use crate::supervisor::{ChildSpec, Supervisor, SupervisorArgs, SupervisorMsg};
use crate::syncer::{Syncer, SyncerArgs};

/// What differs between a real host and a simulated one.
#[derive(Clone)]
pub struct NodeDeps {
    pub datastore: Arc<dyn Datastore>,
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
pub const COMPONENTS: &[&str] = &["syncer"];

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
                children: vec![status_child, syncer_child],
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
