//! The task that drains one speaker's events, all the time and into bounded places only
//! (the speaker stops reading from its peers while its event channel is full):
//!
//! - `Best`: the learned routes, translated ([`learned_route`]), into the
//!   [`LearnedRouteFeed`] (a map keyed by destination), the RouteProgrammer notified;
//! - `DeferralOver` (the speaker's own end of its initial phase: every restarting peer sent
//!   End-of-RIB, or the selection deferral ran out): the feed's routes this speaker did not
//!   learn again are removed (they came from an earlier speaker, and no peer has them any
//!   more), and the feed is marked complete. A speaker started without restarting peers
//!   ends its initial phase at once;
//! - `PeerUp`, `PeerDown`, `DeferralOver`: the manager is asked to refresh its status report
//!   (one notice outstanding at most);
//! - the end of the channel (the speaker ended without being told to): the manager is told.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bgp::speaker::Event;
use ipnet::IpNet;
use ractor::ActorRef;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::actor::{BgpManagerMsg, step_refresh, step_speaker_ended};
use super::routes::{NextHops, learned_route};
use crate::bus::{Addr, LearnedRouteFeed, RouteProgrammerMsg};

/// When the speaker's initial phase ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum InitialPhase {
    /// At once: no restarting peer to wait for.
    EndsAtStart,
    /// At the speaker's `DeferralOver`.
    EndsAtDeferralOver,
}

pub(super) struct Drain {
    pub events: mpsc::Receiver<Event>,
    pub routes: LearnedRouteFeed,
    pub route_programmer: Addr<RouteProgrammerMsg>,
    pub manager: ActorRef<BgpManagerMsg>,
    /// A refresh notice is in the manager's mailbox.
    pub refresh_pending: Arc<AtomicBool>,
    pub next_hops: NextHops,
    /// The feed's destinations when the speaker started, not learned again yet.
    pub stale: BTreeSet<IpNet>,
    pub initial_phase: InitialPhase,
    /// The speaker's generation, for the manager to tell its speakers apart.
    pub generation: u64,
}

impl Drain {
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        if self.initial_phase == InitialPhase::EndsAtStart {
            self.initial_phase_over();
        }
        while let Some(event) = self.events.recv().await {
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
                Event::EndOfRib { .. } => {}
                Event::DeferralOver { timed_out } => {
                    if timed_out {
                        tracing::warn!(
                            "BGP selection deferral ran out before every peer sent End-of-RIB"
                        );
                    }
                    if self.initial_phase == InitialPhase::EndsAtDeferralOver {
                        self.initial_phase_over();
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
        if notify
            && !self
                .route_programmer
                .cast(RouteProgrammerMsg::LearnedRoutesReady)
        {
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
