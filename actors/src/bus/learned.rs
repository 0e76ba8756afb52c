//! The BgpManager → RouteProgrammer edge: routes learned over BGP, as desired state keyed by
//! destination, and whether they are complete.
//!
//! # What the producer promises
//!
//! - Every destination holds at most one route: the kernel route for the best path the
//!   speaker installs to that prefix (`dataplane::routes::Route` via the path's next hop,
//!   `onlink` out of a named device where the node assembly says the next hop is on-link;
//!   see `crate::bgp::NextHops`). The latest value wins: a destination changed many times
//!   between two takes is delivered once, and one learned and lost between two takes is not
//!   delivered at all.
//! - *Complete* means the routes the BGP peers are going to teach after a start are in: the
//!   configuration is complete (the Calculator's in-sync) and every peer the speaker started
//!   with has sent End-of-RIB for each of its families, or the selection deferral has passed
//!   (a peer that is down). It is set once and never unset. With `CALICO_NETWORKING_BACKEND=none` the feed is
//!   complete from the start ([`LearnedRouteFeed::without_bgp`]).
//!
//! # What the consumer (the RouteProgrammer) does
//!
//! - On start and on every restart: [`take_all`](LearnedRouteFeed::take_all), which hands it
//!   every learned route and the complete flag, whatever it took before.
//! - On each [`ProgrammerMsg::InputReady`](super::ProgrammerMsg) notice:
//!   [`take`](LearnedRouteFeed::take), and apply each [`RouteIntent`] with the route
//!   reconciler's `upsert` / `remove`. The edge holds at most one notice in the consumer's
//!   mailbox, and a lost notice loses nothing (the next take has it).
//! - The route reconciler's `set_complete` waits for both the datastore's in-sync (its
//!   Calculator edge) and `complete` here: until then it deletes nothing, so a restart of
//!   calico-node never removes routes learned over BGP before the peers have taught them
//!   again.
//! - Learned routes and the Calculator's local workload routes are disjoint: the speaker's
//!   install filter leaves out what this host originates.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use calc::RouteIntent;
use dataplane::routes::Route;
use ipnet::IpNet;

/// What the consumer takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LearnedBatch {
    /// Changes since the last take (or every route, from
    /// [`take_all`](LearnedRouteFeed::take_all)), by destination.
    pub changes: Vec<RouteIntent>,
    /// The learned routes are complete (see the module docs); stays true once it is.
    pub complete: bool,
}

/// Counts of what went through the edge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LearnedCounters {
    /// Route changes set by the producer.
    pub set: u64,
    /// Changes handed to the consumer (fewer than set when merged).
    pub delivered: u64,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Complete {
    #[default]
    NotYet,
    /// Set, not taken yet.
    Waiting,
    Taken,
}

#[derive(Default)]
struct State {
    routes: BTreeMap<IpNet, Route>,
    /// Destinations changed since the last take, with whether the consumer had a route there.
    pending: BTreeMap<IpNet, bool>,
    complete: Complete,
    notified: bool,
    counters: LearnedCounters,
}

/// The shared state of the BgpManager → RouteProgrammer edge. Cloning shares it.
#[derive(Clone, Default)]
pub struct LearnedRouteFeed {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for LearnedRouteFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("LearnedRouteFeed")
            .field("routes", &s.routes.len())
            .field("pending", &s.pending.len())
            .field("complete", &(s.complete != Complete::NotYet))
            .finish()
    }
}

impl LearnedRouteFeed {
    /// An empty feed; BGP will say when its routes are complete.
    pub fn new() -> Self {
        Self::default()
    }

    /// A feed for a node that runs no BGP (`CALICO_NETWORKING_BACKEND=none`): no route will
    /// ever come, so it is complete from the start.
    pub fn without_bgp() -> Self {
        let feed = Self::default();
        feed.lock().complete = Complete::Waiting;
        feed
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Producer side: the route to each destination is now the given one (`None`: no
    /// route). Returns `true` when the consumer must be sent a notice.
    pub fn set(&self, changes: impl IntoIterator<Item = (IpNet, Option<Route>)>) -> bool {
        let mut s = self.lock();
        for (dst, route) in changes {
            s.counters.set += 1;
            let had = s.routes.contains_key(&dst);
            let unchanged = s.routes.get(&dst) == route.as_ref();
            if unchanged {
                continue;
            }
            s.pending.entry(dst).or_insert(had);
            match route {
                Some(r) => s.routes.insert(dst, r),
                None => s.routes.remove(&dst),
            };
        }
        s.wants_notice()
    }

    /// Producer side: the learned routes are complete. Returns `true` when the consumer must
    /// be sent a notice.
    pub fn set_complete(&self) -> bool {
        let mut s = self.lock();
        if s.complete == Complete::NotYet {
            s.complete = Complete::Waiting;
        }
        s.wants_notice()
    }

    /// Producer side: a notice could not be delivered; the next change asks again.
    pub fn notice_lost(&self) {
        self.lock().notified = false;
    }

    /// The destinations with a route now.
    pub fn destinations(&self) -> BTreeSet<IpNet> {
        self.lock().routes.keys().copied().collect()
    }

    /// Whether the learned routes are complete.
    pub fn is_complete(&self) -> bool {
        self.lock().complete != Complete::NotYet
    }

    /// Counts of what went through.
    pub fn counters(&self) -> LearnedCounters {
        self.lock().counters
    }

    /// Consumer side: the changes since the last take; `None` when nothing waits.
    pub fn take(&self) -> Option<LearnedBatch> {
        let mut s = self.lock();
        s.notified = false;
        let newly_complete = s.complete == Complete::Waiting;
        if s.pending.is_empty() && !newly_complete {
            return None;
        }
        if newly_complete {
            s.complete = Complete::Taken;
        }
        let pending = std::mem::take(&mut s.pending);
        let mut changes = Vec::with_capacity(pending.len());
        for (dst, had) in pending {
            match s.routes.get(&dst) {
                Some(r) => changes.push(RouteIntent::Upsert(r.clone())),
                None if had => changes.push(RouteIntent::Remove(dst)),
                None => {}
            }
        }
        s.counters.delivered += changes.len() as u64;
        Some(LearnedBatch {
            changes,
            complete: s.complete != Complete::NotYet,
        })
    }

    /// Consumer side, for a consumer that (re)starts: every learned route, and the flag.
    pub fn take_all(&self) -> LearnedBatch {
        let mut s = self.lock();
        s.notified = false;
        s.pending.clear();
        if s.complete == Complete::Waiting {
            s.complete = Complete::Taken;
        }
        let changes: Vec<RouteIntent> = s
            .routes
            .values()
            .cloned()
            .map(RouteIntent::Upsert)
            .collect();
        s.counters.delivered += changes.len() as u64;
        LearnedBatch {
            changes,
            complete: s.complete != Complete::NotYet,
        }
    }
}

impl State {
    fn wants_notice(&mut self) -> bool {
        let waiting = !self.pending.is_empty() || self.complete == Complete::Waiting;
        let notify = waiting && !self.notified;
        if notify {
            self.notified = true;
        }
        notify
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dst(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn via(d: &str, gw: [u8; 4]) -> Route {
        Route::via(dst(d), std::net::IpAddr::from(gw))
    }

    #[test]
    fn a_destination_changed_many_times_is_delivered_once_at_its_latest() {
        let feed = LearnedRouteFeed::new();
        let mut notices = 0;
        for i in 0..100u8 {
            notices += usize::from(feed.set([(
                dst("10.65.1.0/26"),
                Some(via("10.65.1.0/26", [10, 0, 0, i])),
            )]));
        }
        assert_eq!(notices, 1);
        let taken = feed.take().expect("waiting");
        assert_eq!(
            taken.changes,
            vec![RouteIntent::Upsert(via("10.65.1.0/26", [10, 0, 0, 99]))]
        );
        assert!(!taken.complete);
        assert_eq!(
            feed.counters(),
            LearnedCounters {
                set: 100,
                delivered: 1
            }
        );
    }

    #[test]
    fn a_route_learned_and_lost_between_takes_is_not_delivered() {
        let feed = LearnedRouteFeed::new();
        feed.set([(
            dst("10.65.1.0/26"),
            Some(via("10.65.1.0/26", [10, 0, 0, 1])),
        )]);
        feed.take();
        feed.set([
            (
                dst("10.65.2.0/26"),
                Some(via("10.65.2.0/26", [10, 0, 0, 2])),
            ),
            (dst("10.65.2.0/26"), None),
            (dst("10.65.1.0/26"), None),
        ]);
        let taken = feed.take().expect("waiting");
        assert_eq!(
            taken.changes,
            vec![RouteIntent::Remove(dst("10.65.1.0/26"))]
        );
        assert!(feed.destinations().is_empty());
    }

    #[test]
    fn complete_is_a_notice_of_its_own_and_stays_set() {
        let feed = LearnedRouteFeed::new();
        assert!(feed.set_complete());
        assert!(!feed.set_complete(), "one notice");
        assert_eq!(
            feed.take(),
            Some(LearnedBatch {
                changes: vec![],
                complete: true
            })
        );
        assert_eq!(feed.take(), None);
        feed.set([(
            dst("10.65.1.0/26"),
            Some(via("10.65.1.0/26", [10, 0, 0, 1])),
        )]);
        assert!(feed.take().expect("waiting").complete);
    }

    #[test]
    fn without_bgp_the_routes_are_complete_from_the_start() {
        let feed = LearnedRouteFeed::without_bgp();
        assert!(feed.is_complete());
        let all = feed.take_all();
        assert!(all.complete && all.changes.is_empty());
    }

    #[test]
    fn a_restarted_consumer_takes_every_route() {
        let feed = LearnedRouteFeed::new();
        feed.set([
            (
                dst("10.65.1.0/26"),
                Some(via("10.65.1.0/26", [10, 0, 0, 1])),
            ),
            (
                dst("10.65.2.0/26"),
                Some(via("10.65.2.0/26", [10, 0, 0, 2])),
            ),
        ]);
        feed.take();
        let all = feed.take_all();
        assert_eq!(all.changes.len(), 2);
        assert_eq!(feed.take(), None);
    }
}
