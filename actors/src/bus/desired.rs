//! [`DesiredEdge`]: a coalescing edge carrying one producer's whole desired state, keyed (route
//! destination → route, interface name → configuration), to one consumer.
//!
//! The edge holds the producer's desired state in full, not only what changed: a consumer
//! that (re)starts [`snapshot`](DesiredEdge::snapshot)s everything, and from then on
//! [`take`](DesiredEdge::take)s what changed since. Between two takes changes merge per key,
//! the latest wins, and a key that ends where the consumer had it (created and deleted, or
//! changed and changed back) is not delivered at all, so a slow consumer sees one merged batch
//! never larger than its keys.
//!
//! Beside the map the edge carries one flag, `complete`: the producer says its desired state
//! is whole (the datastore is in sync; for learned BGP routes, End-of-RIB or the selection
//! deferral is over). It only goes from false to true.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::FeedCounters;

/// What a consumer takes: each key changed since its previous take (or, from
/// [`DesiredEdge::snapshot`], every key held) with its value now, `None` when it is no longer
/// desired; and whether the desired state is whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes<K, V> {
    pub changes: Vec<(K, Option<V>)>,
    pub complete: bool,
}

/// One producer's desired state, shared with its consumer. Cloning shares it.
pub struct DesiredEdge<K, V> {
    state: Arc<Mutex<EdgeState<K, V>>>,
}

impl<K, V> Clone for DesiredEdge<K, V> {
    fn clone(&self) -> Self {
        DesiredEdge {
            state: Arc::clone(&self.state),
        }
    }
}

impl<K, V> Default for DesiredEdge<K, V> {
    fn default() -> Self {
        DesiredEdge {
            state: Arc::new(Mutex::new(EdgeState {
                desired: BTreeMap::new(),
                pending: BTreeMap::new(),
                complete: false,
                complete_taken: false,
                notified: false,
                counters: FeedCounters::default(),
            })),
        }
    }
}

impl<K, V> std::fmt::Debug for DesiredEdge<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("DesiredEdge")
            .field("desired", &s.desired.len())
            .field("pending", &s.pending.len())
            .field("complete", &s.complete)
            .field("counters", &s.counters)
            .finish()
    }
}

struct EdgeState<K, V> {
    /// The producer's whole desired state.
    desired: BTreeMap<K, V>,
    /// Keys changed since the consumer's last take, with what the consumer had then.
    pending: BTreeMap<K, Option<V>>,
    complete: bool,
    /// The consumer has seen `complete`.
    complete_taken: bool,
    /// A notice is on its way to the consumer (or it is taking right now).
    notified: bool,
    counters: FeedCounters,
}

impl<K: Ord + Clone, V: Clone + PartialEq> DesiredEdge<K, V> {
    /// An empty edge: nothing desired, not complete.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, EdgeState<K, V>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Producer side: each key's new value (`None`: no longer desired), in order, and whether
    /// the desired state is now whole (once true, it stays). Returns `true` when the consumer
    /// must be sent a notice: something is waiting and no notice is outstanding.
    pub fn push(&self, changes: impl IntoIterator<Item = (K, Option<V>)>, complete: bool) -> bool {
        let mut s = self.lock();
        for (key, value) in changes {
            s.counters.pushed += 1;
            s.merge(key, value);
        }
        s.complete |= complete;
        let waiting = !s.pending.is_empty() || (s.complete && !s.complete_taken);
        let notify = waiting && !s.notified;
        if notify {
            s.notified = true;
        }
        notify
    }

    /// Producer side: the notice [`push`](Self::push) asked for could not be delivered (the
    /// consumer is restarting). The next push asks again; a restarted consumer is sent a
    /// notice once its address is bound.
    pub fn notice_lost(&self) {
        self.lock().notified = false;
    }

    /// Consumer side: what changed since the previous take or snapshot, merged; `None` when
    /// nothing did.
    pub fn take(&self) -> Option<Changes<K, V>> {
        let mut s = self.lock();
        s.notified = false;
        let complete_news = s.complete && !s.complete_taken;
        if s.pending.is_empty() && !complete_news {
            return None;
        }
        s.complete_taken = s.complete;
        let pending = std::mem::take(&mut s.pending);
        let changes: Vec<(K, Option<V>)> = pending
            .into_keys()
            .map(|k| {
                let v = s.desired.get(&k).cloned();
                (k, v)
            })
            .collect();
        s.counters.delivered += changes.len() as u64;
        s.counters.deliveries += 1;
        Some(Changes {
            changes,
            complete: s.complete,
        })
    }

    /// Consumer side, at (re)start: the whole desired state (every key with `Some` value) and
    /// whether it is whole. What waited is included, so the next take has only what changes
    /// after this.
    pub fn snapshot(&self) -> Changes<K, V> {
        let mut s = self.lock();
        s.notified = false;
        s.pending.clear();
        s.complete_taken = s.complete;
        Changes {
            changes: s
                .desired
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
            complete: s.complete,
        }
    }

    /// Keys desired now.
    pub fn len(&self) -> usize {
        self.lock().desired.len()
    }

    /// Whether nothing is desired.
    pub fn is_empty(&self) -> bool {
        self.lock().desired.is_empty()
    }

    /// A key's desired value now.
    pub fn get(&self, key: &K) -> Option<V> {
        self.lock().desired.get(key).cloned()
    }

    /// Whether the producer said its desired state is whole.
    pub fn is_complete(&self) -> bool {
        self.lock().complete
    }

    /// Keys waiting for the consumer.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// Counts of pushed and delivered changes.
    pub fn counters(&self) -> FeedCounters {
        self.lock().counters
    }
}

impl<K: Ord + Clone, V: Clone + PartialEq> EdgeState<K, V> {
    fn merge(&mut self, key: K, value: Option<V>) {
        if self.desired.get(&key) == value.as_ref() {
            return;
        }
        let before = match &value {
            Some(v) => self.desired.insert(key.clone(), v.clone()),
            None => self.desired.remove(&key),
        };
        let consumer_had = match self.pending.remove(&key) {
            Some(had) => had,
            None => before,
        };
        if consumer_had != value {
            self.pending.insert(key, consumer_had);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: u32) -> (String, Option<u32>) {
        (k.to_owned(), Some(v))
    }

    fn del(k: &str) -> (String, Option<u32>) {
        (k.to_owned(), None)
    }

    #[test]
    fn a_slow_consumer_gets_one_notice_and_the_latest_value_per_key() {
        let edge = DesiredEdge::new();
        let mut notices = 0;
        for i in 0..1000u32 {
            notices += usize::from(edge.push([put(&format!("k{}", i % 10), i)], false));
        }
        assert_eq!(notices, 1);
        let Some(c) = edge.take() else {
            panic!("changes are waiting");
        };
        assert_eq!(c.changes.len(), 10);
        assert!(c.changes.iter().all(|(k, v)| {
            let last = (990..1000).find(|i| format!("k{}", i % 10) == *k);
            *v == last
        }));
        assert!(!c.complete);
        assert_eq!(
            edge.counters(),
            FeedCounters {
                pushed: 1000,
                delivered: 10,
                deliveries: 1
            }
        );
        assert_eq!(edge.take(), None);
    }

    #[test]
    fn a_key_that_ends_as_the_consumer_had_it_is_not_delivered() {
        let edge = DesiredEdge::new();
        edge.push([put("a", 1), put("b", 2)], true);
        assert!(edge.take().is_some());
        // Created and deleted, changed and changed back, deleted and re-created as it was.
        edge.push([put("c", 3), del("c"), put("a", 7), put("a", 1)], true);
        edge.push([del("b"), put("b", 2)], true);
        assert_eq!(edge.take(), None);
        edge.push([del("b")], true);
        assert_eq!(
            edge.take(),
            Some(Changes {
                changes: vec![del("b")],
                complete: true
            })
        );
    }

    #[test]
    fn the_complete_flag_alone_asks_for_a_notice_once_and_stays() {
        let edge: DesiredEdge<String, u32> = DesiredEdge::new();
        assert!(!edge.push([], false), "nothing waits");
        assert!(edge.push([], true));
        assert_eq!(
            edge.take(),
            Some(Changes {
                changes: vec![],
                complete: true
            })
        );
        assert!(!edge.push([], false), "complete is not news twice");
        assert!(edge.is_complete(), "and it stays");
    }

    #[test]
    fn a_snapshot_holds_everything_desired_and_the_next_take_only_what_follows() {
        let edge = DesiredEdge::new();
        edge.push([put("a", 1), put("b", 2)], false);
        assert!(edge.take().is_some());
        edge.push([put("c", 3), del("a")], true);
        // The consumer restarts: it had taken a and b; it gets everything desired now.
        let s = edge.snapshot();
        assert_eq!(s.changes, vec![put("b", 2), put("c", 3)]);
        assert!(s.complete);
        assert_eq!(edge.take(), None, "what waited was in the snapshot");
        assert!(
            edge.push([put("d", 4)], true),
            "the snapshot cleared the notice"
        );
        assert_eq!(edge.take().map(|c| c.changes), Some(vec![put("d", 4)]));
    }

    #[test]
    fn a_lost_notice_is_asked_for_again_on_the_next_push() {
        let edge = DesiredEdge::new();
        assert!(edge.push([put("a", 1)], false));
        assert!(!edge.push([put("b", 1)], false));
        edge.notice_lost();
        assert!(edge.push([put("c", 1)], false));
        assert_eq!(edge.take().map(|c| c.changes.len()), Some(3));
    }
}
