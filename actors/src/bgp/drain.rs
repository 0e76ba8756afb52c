//! The task that drains one speaker's events, all the time and into bounded places only
//! (the speaker stops reading from its peers while its event channel is full):
//!
//! - `Best`: the learned routes, translated ([`learned_route`]), into the
//!   [`LearnedRouteFeed`] (a map keyed by destination), the RouteProgrammer notified;
//! - `EndOfRib`: the speaker's initial phase is over when every peer it started with has sent
//!   End-of-RIB for each family configured (its routes are in), or when the selection
//!   deferral has passed since the start (a peer that is down, or sends none); a speaker
//!   started without peers is over at once. Then the feed's routes this speaker did not learn
//!   again are removed (they came from an earlier speaker, and no peer has them any more),
//!   and the feed is marked complete. (`DeferralOver` is the speaker's own wait for the same
//!   End-of-RIBs before announcing, which skips peers restarting with it; the routes wait
//!   for those too.)
//! - `PeerUp`, `PeerDown`, `DeferralOver`: the manager is asked to refresh its status report
//!   (one notice outstanding at most);
//! - the end of the channel (the speaker ended without being told to): the manager is told.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bgp::codec::FamilySet;
use bgp::speaker::Event;
use ipnet::IpNet;
use ractor::ActorRef;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::actor::{BgpManagerMsg, step_refresh, step_speaker_ended};
use super::routes::{NextHops, learned_route};
use crate::bus::{Addr, LearnedRouteFeed, ProgrammerMsg};

/// The speaker's initial phase: the End-of-RIBs still awaited, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct InitialPhase {
    /// Per peer the families whose End-of-RIB has not come.
    pub waiting: BTreeMap<IpAddr, FamilySet>,
    pub deadline: Instant,
}

pub(super) struct Drain {
    pub events: mpsc::Receiver<Event>,
    pub routes: LearnedRouteFeed,
    pub route_programmer: Addr<ProgrammerMsg>,
    pub manager: ActorRef<BgpManagerMsg>,
    /// A refresh notice is in the manager's mailbox.
    pub refresh_pending: Arc<AtomicBool>,
    pub next_hops: NextHops,
    /// The feed's destinations when the speaker started, not learned again yet.
    pub stale: BTreeSet<IpNet>,
    /// `None` once over.
    pub initial_phase: Option<InitialPhase>,
    /// The speaker's generation, for the manager to tell its speakers apart.
    pub generation: u64,
}

impl Drain {
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        if self
            .initial_phase
            .as_ref()
            .is_some_and(|p| p.waiting.is_empty())
        {
            self.initial_phase_over();
        }
        loop {
            let deadline = self.initial_phase.as_ref().map(|p| p.deadline);
            let event = tokio::select! {
                biased;
                event = self.events.recv() => event,
                () = sleep_until(deadline) => {
                    tracing::warn!(
                        waiting = ?self.initial_phase.as_ref().map(|p| p.waiting.keys().collect::<Vec<_>>()),
                        "BGP peers did not all send End-of-RIB within the selection deferral"
                    );
                    self.initial_phase_over();
                    continue;
                }
            };
            let Some(event) = event else {
                break;
            };
            match event {
                Event::Best(changes) => {
                    let routes: Vec<_> = changes
                        .iter()
                        .filter_map(|c| learned_route(c, &self.next_hops))
                        .collect();
                    for (dst, _) in &routes {
                        self.stale.remove(dst);
                    }
                    let notify = self.routes.set(routes);
                    self.notify_routes(notify);
                }
                Event::PeerUp { .. } | Event::PeerDown { .. } => self.refresh(),
                Event::EndOfRib {
                    address, family, ..
                } => {
                    let Some(phase) = self.initial_phase.as_mut() else {
                        continue;
                    };
                    if let Some(missing) = phase.waiting.get_mut(&address) {
                        missing.remove(family);
                        if missing.is_empty() {
                            phase.waiting.remove(&address);
                        }
                    }
                    if phase.waiting.is_empty() {
                        self.initial_phase_over();
                    }
                }
                Event::DeferralOver { timed_out } => {
                    if timed_out {
                        tracing::warn!(
                            "BGP selection deferral ran out before every peer sent End-of-RIB"
                        );
                    }
                    self.refresh();
                }
            }
        }
        tracing::warn!(generation = self.generation, "the BGP speaker ended");
        // Fails only when the manager is gone too.
        let _ = self.manager.cast(step_speaker_ended(self.generation));
    }

    fn initial_phase_over(&mut self) {
        if self.initial_phase.take().is_none() {
            return;
        }
        let stale = std::mem::take(&mut self.stale);
        if !stale.is_empty() {
            tracing::info!(
                routes = stale.len(),
                "learned routes not taught again since the speaker started: removed"
            );
        }
        let notify = self.routes.set(stale.into_iter().map(|dst| (dst, None)));
        self.notify_routes(notify);
        let notify = self.routes.set_complete();
        self.notify_routes(notify);
    }

    fn notify_routes(&self, notify: bool) {
        if notify && !self.route_programmer.cast(ProgrammerMsg::InputReady) {
            self.routes.notice_lost();
        }
    }

    fn refresh(&self) {
        if !self.refresh_pending.swap(true, Ordering::SeqCst)
            && self.manager.cast(step_refresh()).is_err()
        {
            self.refresh_pending.store(false, Ordering::SeqCst);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
