//! [`PolicyFeed`]: the Calculator → PolicyProgrammer edge. The calculator's policy output is
//! a sequence of [`PolicyDelta`]s that must be applied in order (a set before the rule that
//! uses it, an endpoint's removal before its policies'), so the edge is a queue drained whole
//! rather than a map: the consumer takes every delta waiting at once, applies them in order,
//! and syncs once; the reconciler's own dirty tracking merges what the deltas touch, so the
//! kernel work of a batch is that of its net change.
//!
//! The edge also keeps the model the deltas build (every delta ever pushed, applied to an
//! empty [`HostPolicy`]), so a consumer that (re)starts takes the whole policy
//! ([`PolicyFeed::snapshot`]) and continues with the deltas that follow.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use model::policy::{HostPolicy, PolicyDelta};

use super::FeedCounters;

/// What a consumer takes: the deltas pushed since its previous take, in order, and whether
/// the policy is whole (the datastore is in sync).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyBatch {
    pub deltas: Vec<PolicyDelta>,
    pub complete: bool,
}

/// The whole policy, for a consumer that (re)starts.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySnapshot {
    pub policy: HostPolicy,
    pub complete: bool,
}

/// The shared state of the policy edge. Cloning shares it.
#[derive(Clone)]
pub struct PolicyFeed {
    state: Arc<Mutex<PolicyState>>,
}

struct PolicyState {
    /// Every delta pushed, applied in order.
    model: HostPolicy,
    /// Deltas not taken yet, in order.
    queue: Vec<PolicyDelta>,
    complete: bool,
    complete_taken: bool,
    notified: bool,
    counters: FeedCounters,
}

impl std::fmt::Debug for PolicyFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("PolicyFeed")
            .field("host", &s.model.host)
            .field("queued", &s.queue.len())
            .field("complete", &s.complete)
            .field("counters", &s.counters)
            .finish()
    }
}

impl PolicyFeed {
    /// An empty edge for `host`: its policy holds nothing yet, and is not complete.
    pub fn new(host: &str) -> Self {
        PolicyFeed {
            state: Arc::new(Mutex::new(PolicyState {
                model: HostPolicy::new(host),
                queue: Vec::new(),
                complete: false,
                complete_taken: false,
                notified: false,
                counters: FeedCounters::default(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PolicyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Producer side: `deltas` in the order to apply them, and whether the policy is now whole
    /// (once true, it stays). Returns `true` when the consumer must be sent a notice.
    pub fn push(&self, deltas: impl IntoIterator<Item = PolicyDelta>, complete: bool) -> bool {
        let mut s = self.lock();
        for d in deltas {
            s.counters.pushed += 1;
            s.model.apply(&d);
            s.queue.push(d);
        }
        s.complete |= complete;
        let waiting = !s.queue.is_empty() || (s.complete && !s.complete_taken);
        let notify = waiting && !s.notified;
        if notify {
            s.notified = true;
        }
        notify
    }

    /// Producer side: the notice could not be delivered; the next push asks again.
    pub fn notice_lost(&self) {
        self.lock().notified = false;
    }

    /// Consumer side: every delta waiting, in order; `None` when nothing is.
    pub fn take(&self) -> Option<PolicyBatch> {
        let mut s = self.lock();
        s.notified = false;
        let complete_news = s.complete && !s.complete_taken;
        if s.queue.is_empty() && !complete_news {
            return None;
        }
        s.complete_taken = s.complete;
        let deltas = std::mem::take(&mut s.queue);
        s.counters.delivered += deltas.len() as u64;
        s.counters.deliveries += 1;
        Some(PolicyBatch {
            deltas,
            complete: s.complete,
        })
    }

    /// Consumer side, at (re)start: the whole policy the deltas built; the queue is dropped
    /// (the snapshot includes it).
    pub fn snapshot(&self) -> PolicySnapshot {
        let mut s = self.lock();
        s.notified = false;
        s.queue.clear();
        s.complete_taken = s.complete;
        PolicySnapshot {
            policy: s.model.clone(),
            complete: s.complete,
        }
    }

    /// The policy as every delta pushed so far makes it.
    pub fn policy(&self) -> HostPolicy {
        self.lock().model.clone()
    }

    /// Whether the producer said the policy is whole.
    pub fn is_complete(&self) -> bool {
        self.lock().complete
    }

    /// Deltas waiting for the consumer.
    pub fn pending(&self) -> usize {
        self.lock().queue.len()
    }

    /// Counts of pushed and delivered deltas.
    pub fn counters(&self) -> FeedCounters {
        self.lock().counters
    }
}

#[cfg(test)]
mod tests {
    use model::policy::{HostSettings, IpSet, IpSetKind};

    use super::*;

    fn set(id: &str, nets: &[&str]) -> PolicyDelta {
        PolicyDelta::SetUpserted {
            id: id.to_owned(),
            set: IpSet {
                selector: String::new(),
                kind: IpSetKind::Nets(nets.iter().filter_map(|n| n.parse().ok()).collect()),
            },
        }
    }

    #[test]
    fn deltas_are_taken_whole_in_order_with_one_notice() {
        let feed = PolicyFeed::new("h1");
        let mut notices = 0;
        let pushed: Vec<PolicyDelta> = (0..20)
            .map(|i| set(&format!("s:{}", i % 3), &[&format!("10.0.0.{i}/32")]))
            .collect();
        for d in &pushed {
            notices += usize::from(feed.push([d.clone()], false));
        }
        assert_eq!(notices, 1);
        let Some(b) = feed.take() else {
            panic!("deltas are waiting");
        };
        assert_eq!(b.deltas, pushed, "every delta, in order");
        assert!(!b.complete);
        assert_eq!(feed.take(), None);
        assert!(feed.push([], true), "complete alone is news");
        assert_eq!(
            feed.take().map(|b| (b.deltas.len(), b.complete)),
            Some((0, true))
        );
    }

    #[test]
    fn a_snapshot_is_every_delta_applied_and_the_queue_is_dropped() {
        let feed = PolicyFeed::new("h1");
        let deltas = vec![
            set("s:a", &["10.0.0.1/32"]),
            PolicyDelta::Settings(HostSettings::default()),
            set("s:b", &["10.0.0.2/32"]),
            PolicyDelta::SetRemoved { id: "s:a".into() },
        ];
        feed.push(deltas[..2].to_vec(), false);
        assert!(feed.take().is_some());
        feed.push(deltas[2..].to_vec(), true);
        let mut want = HostPolicy::new("h1");
        for d in &deltas {
            want.apply(d);
        }
        assert_eq!(
            feed.snapshot(),
            PolicySnapshot {
                policy: want,
                complete: true
            }
        );
        assert_eq!(feed.take(), None);
    }
}
