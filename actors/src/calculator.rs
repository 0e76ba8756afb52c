//! The Calculator actor: the thin actor around the pure [`calc::Calculator`]. On
//! [`CalculatorMsg::DatastoreReady`] it takes everything the Syncer's [`UpdateFeed`] holds,
//! applies it, marks the calculator in sync with the delivery that carries the mark, flushes,
//! and hands each consumer its intents on its own edge ([`CalculatorOutputs`]):
//!
//! - policy deltas, in order, to the PolicyProgrammer ([`PolicyFeed`](crate::bus::PolicyFeed));
//! - local workload routes to the RouteProgrammer ([`RouteEdge`](crate::bus::RouteEdge));
//! - workload interfaces to the LinkManager ([`InterfaceEdge`](crate::bus::InterfaceEdge));
//! - prefixes to originate to the BgpManager ([`BgpFeed`](crate::bus::BgpFeed)).
//!
//! Every edge is marked complete with the first flush after in-sync, and stays so; a consumer
//! whose edge went from taken to waiting is sent a notice (its address on the [`Bus`]).
//! Health: `calculator`, ready once in sync.
//!
//! A restarted Calculator starts from an empty calculator, and the feed delivers only what
//! changes after: rebuilding it needs the whole snapshot again (its feed's view cleared and a
//! re-list by the Syncer), which is still to come; until then a restart is logged as such.

use std::sync::Arc;

use calc::{CalcConfig, Intents, InterfaceIntent, RouteIntent};
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SpawnErr};
use tracing::{debug, info, warn};

use crate::bus::{
    Addr, Bus, CalculatorMsg, CalculatorOutputs, ProgrammerMsg, StatusMsg, UpdateFeed,
};
use crate::supervisor::ChildSpec;

/// The Calculator actor (see the module docs). Spawn it with no name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Calculator;

/// What a Calculator is built from. Cloned for every (re)start.
#[derive(Debug, Clone)]
pub struct CalculatorArgs {
    pub config: CalcConfig,
    /// The Syncer's edge.
    pub feed: UpdateFeed,
    /// The edges to the programmers and the BgpManager.
    pub outputs: CalculatorOutputs,
    /// The consumers' addresses (`routes`, `policy`, `links`, `bgp`) and `status`.
    pub bus: Bus,
}

/// The Calculator's state.
pub struct CalculatorState {
    calc: calc::Calculator,
    feed: UpdateFeed,
    outputs: CalculatorOutputs,
    bus: Bus,
    /// The datastore is in sync and the outputs say so.
    in_sync: bool,
    deliveries: u64,
}

impl Actor for Calculator {
    type Msg = CalculatorMsg;
    type State = CalculatorState;
    type Arguments = CalculatorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<CalculatorMsg>,
        args: CalculatorArgs,
    ) -> Result<CalculatorState, ActorProcessingErr> {
        if !args.feed.view().is_empty() {
            warn!(
                host = %args.config.hostname,
                "calculator restarted over a feed it had taken from: it holds only what \
                 changes from now on until the datastore is listed again"
            );
        }
        Ok(CalculatorState {
            calc: calc::Calculator::new(args.config),
            feed: args.feed,
            outputs: args.outputs,
            bus: args.bus,
            in_sync: false,
            deliveries: 0,
        })
    }

    async fn post_start(
        &self,
        _myself: ActorRef<CalculatorMsg>,
        state: &mut CalculatorState,
    ) -> Result<(), ActorProcessingErr> {
        state.report();
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<CalculatorMsg>,
        msg: CalculatorMsg,
        state: &mut CalculatorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CalculatorMsg::DatastoreReady => {
                if let Some(delivery) = state.feed.take() {
                    state.deliveries += 1;
                    for update in &delivery.updates {
                        state.calc.apply(update);
                    }
                    if delivery.in_sync {
                        state.calc.in_sync();
                    }
                    let intents = state.calc.flush();
                    debug!(
                        updates = delivery.updates.len(),
                        policy = intents.policy.len(),
                        routes = intents.routes.len(),
                        interfaces = intents.interfaces.len(),
                        bgp = intents.bgp.len(),
                        in_sync = intents.in_sync,
                        "calculated"
                    );
                    state.publish(intents);
                    state.report();
                }
            }
        }
        Ok(())
    }
}

impl Calculator {
    /// Spawns a Calculator (linked to `supervisor` when given), binds `addr` to it and sends
    /// it one notice, so it takes whatever waits in its feed.
    pub async fn start(
        args: CalculatorArgs,
        addr: &Addr<CalculatorMsg>,
        supervisor: Option<ActorCell>,
    ) -> Result<ActorRef<CalculatorMsg>, SpawnErr> {
        let (actor, _) = match supervisor {
            Some(s) => Actor::spawn_linked(None, Calculator, args, s).await?,
            None => Actor::spawn(None, Calculator, args).await?,
        };
        addr.bind(actor.clone());
        addr.cast(CalculatorMsg::DatastoreReady);
        Ok(actor)
    }

    /// A supervisor's child: every (re)start is [`Calculator::start`] with a clone of `args`,
    /// bound to `bus.calculator`.
    pub fn child(label: impl Into<String>, args: CalculatorArgs) -> ChildSpec {
        let args = Arc::new(args);
        ChildSpec::new(label, move |supervisor| {
            let args = CalculatorArgs::clone(&args);
            async move {
                let addr = args.bus.calculator.clone();
                Calculator::start(args, &addr, Some(supervisor))
                    .await
                    .map(|a| a.get_cell())
            }
        })
    }
}

impl CalculatorState {
    /// Hands each consumer its intents and notifies those whose edge now waits.
    fn publish(&mut self, intents: Intents) {
        if intents.in_sync && !self.in_sync {
            info!(host = %self.calc.config().hostname, "datastore in sync: the outputs are complete");
        }
        self.in_sync |= intents.in_sync;
        let complete = self.in_sync;
        let out = &self.outputs;
        if out.policy.push(intents.policy, complete) && !notify(&self.bus.policy) {
            out.policy.notice_lost();
        }
        let routes = intents.routes.into_iter().map(|r| match r {
            RouteIntent::Upsert(route) => (route.dst.trunc(), Some(route)),
            RouteIntent::Remove(dst) => (dst.trunc(), None),
        });
        if out.routes.push(routes, complete) && !notify(&self.bus.routes) {
            out.routes.notice_lost();
        }
        let interfaces = intents.interfaces.into_iter().map(|i| match i {
            InterfaceIntent::Upsert(cfg) => (cfg.name.clone(), Some(cfg)),
            InterfaceIntent::Remove(name) => (name, None),
        });
        if out.interfaces.push(interfaces, complete) && !notify(&self.bus.links) {
            out.interfaces.notice_lost();
        }
        if out.bgp.push(intents.bgp, complete)
            && !self.bus.bgp.cast(crate::bus::BgpManagerMsg::IntentsReady)
        {
            out.bgp.notice_lost();
        }
    }

    fn report(&self) {
        let ready = self.calc.is_in_sync();
        let detail = if ready {
            format!("in sync; {} deliveries", self.deliveries)
        } else {
            "waiting for the datastore's first list".to_owned()
        };
        self.bus.status.cast(StatusMsg::Component {
            name: "calculator",
            live: true,
            ready,
            detail,
        });
    }
}

fn notify(addr: &Addr<ProgrammerMsg>) -> bool {
    addr.cast(ProgrammerMsg::InputReady)
}
