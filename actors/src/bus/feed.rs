//! The Syncer → Calculator edge: datastore updates coalesced into latest-wins desired state.
//!
//! The Syncer [`push`](UpdateFeed::push)es each batch it emits; the feed merges it into what the
//! consumer has not taken yet (one entry per key, the latest value wins) and tells the Syncer
//! whether the consumer needs a notice. The consumer [`take`](UpdateFeed::take)s everything
//! waiting at once. A slow consumer therefore sees batches merged, never a backlog larger than
//! the number of keys.
//!
//! Merging never invents a deletion: for each waiting key the feed remembers whether the
//! consumer had it at its last take, so a key created and deleted between two takes is dropped
//! rather than delivered as a deletion of something the consumer never saw.
//!
//! The feed also keeps the keys (and mod revisions) the consumer has once it takes everything
//! waiting — its [`view`](UpdateFeed::view). It outlives the Syncer actor, so a restarted Syncer
//! diffs its first list against that view and emits exactly the difference.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use datastore::Revision;
use model::resources::Resource;

use super::Update;

/// What a consumer takes: every key changed since its previous take at its latest value, in key
/// order, and whether it is now in sync with the datastore.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub updates: Vec<Update>,
    /// `true` in exactly one delivery: the first one that includes the Syncer's initial list.
    /// After applying it the consumer holds a complete snapshot of the datastore.
    pub in_sync: bool,
}

/// Counts of what went through the feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounters {
    /// Updates pushed by the producer.
    pub pushed: u64,
    /// Updates handed to the consumer (fewer than pushed when merged).
    pub delivered: u64,
    /// Non-empty takes.
    pub deliveries: u64,
}

/// The shared state of one Syncer → consumer edge. Cloning shares it.
#[derive(Clone, Default)]
pub struct UpdateFeed {
    state: Arc<Mutex<FeedState>>,
}

impl std::fmt::Debug for UpdateFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("UpdateFeed")
            .field("keys", &s.view.len())
            .field("pending", &s.pending.len())
            .field("counters", &s.counters)
            .finish()
    }
}

#[derive(Default)]
struct FeedState {
    /// Keys present for the consumer once it takes everything pending, with mod revisions.
    view: BTreeMap<String, Revision>,
    pending: BTreeMap<String, Pending>,
    in_sync: InSync,
    /// A notice is on its way to the consumer (or it is taking right now).
    notified: bool,
    counters: FeedCounters,
}

struct Pending {
    value: Option<Resource>,
    /// Whether the consumer had the key at its last take.
    consumer_had: bool,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum InSync {
    #[default]
    NotYet,
    Waiting,
    Delivered,
}

impl UpdateFeed {
    /// An empty feed: the consumer has nothing, nothing is waiting.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Producer side: merges `updates` (in order) and, when `in_sync`, the in-sync mark (only
    /// the first one counts) into what waits for the consumer. Returns `true` when the consumer
    /// must be sent a notice: something is waiting and no notice is outstanding.
    pub fn push(&self, updates: impl IntoIterator<Item = Update>, in_sync: bool) -> bool {
        let mut s = self.lock();
        for update in updates {
            s.counters.pushed += 1;
            s.merge(update);
        }
        if in_sync && s.in_sync == InSync::NotYet {
            s.in_sync = InSync::Waiting;
        }
        let waiting = !s.pending.is_empty() || s.in_sync == InSync::Waiting;
        let notify = waiting && !s.notified;
        if notify {
            s.notified = true;
        }
        notify
    }

    /// Producer side: the notice [`push`](Self::push) asked for could not be delivered (the
    /// consumer is restarting). The next push asks again; the restarted consumer is sent a
    /// notice once its address is bound.
    pub fn notice_lost(&self) {
        self.lock().notified = false;
    }

    /// Consumer side: everything waiting, merged; `None` when nothing is.
    pub fn take(&self) -> Option<Delivery> {
        let mut s = self.lock();
        s.notified = false;
        let in_sync = s.in_sync == InSync::Waiting;
        if s.pending.is_empty() && !in_sync {
            return None;
        }
        if in_sync {
            s.in_sync = InSync::Delivered;
        }
        let updates: Vec<Update> = std::mem::take(&mut s.pending)
            .into_iter()
            .map(|(key, p)| Update {
                key,
                value: p.value,
            })
            .collect();
        s.counters.delivered += updates.len() as u64;
        s.counters.deliveries += 1;
        Some(Delivery { updates, in_sync })
    }

    /// The keys the consumer holds once it has taken everything waiting, with their mod
    /// revisions: what a restarted Syncer diffs its first list against.
    pub fn view(&self) -> BTreeMap<String, Revision> {
        self.lock().view.clone()
    }

    /// Keys waiting for the consumer.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// Counts of pushed and delivered updates.
    pub fn counters(&self) -> FeedCounters {
        self.lock().counters
    }
}

impl FeedState {
    fn merge(&mut self, update: Update) {
        let revision = update.revision();
        let Update { key, value } = update;
        let consumer_had = match self.pending.get(&key) {
            Some(p) => p.consumer_had,
            None => self.view.contains_key(&key),
        };
        match &value {
            Some(_) => {
                self.view.insert(key.clone(), revision.unwrap_or(0));
            }
            None => {
                self.view.remove(&key);
            }
        }
        if value.is_none() && !consumer_had {
            // Created and deleted between two takes (or a deletion of a key the consumer never
            // had): nothing to tell.
            self.pending.remove(&key);
        } else {
            self.pending.insert(
                key,
                Pending {
                    value,
                    consumer_had,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use model::resources::{GlobalNetworkSet, ObjectMeta, Resource};

    use super::*;

    fn put(key: &str, revision: Revision) -> Update {
        let mut meta = ObjectMeta {
            name: key.trim_start_matches('/').to_string(),
            ..ObjectMeta::default()
        };
        meta.resource_version = Some(revision.to_string());
        Update {
            key: key.to_string(),
            value: Some(Resource::GlobalNetworkSet(GlobalNetworkSet {
                metadata: meta,
                ..GlobalNetworkSet::default()
            })),
        }
    }

    fn delete(key: &str) -> Update {
        Update {
            key: key.to_string(),
            value: None,
        }
    }

    fn revisions(d: &Delivery) -> Vec<(String, Option<Revision>)> {
        d.updates
            .iter()
            .map(|u| (u.key.clone(), u.revision()))
            .collect()
    }

    #[test]
    fn a_slow_consumer_gets_one_notice_and_the_latest_value_per_key() {
        let feed = UpdateFeed::new();
        let mut notices = 0;
        for revision in 1..=1000 {
            let key = format!("/k{}", revision % 10);
            notices += usize::from(feed.push([put(&key, revision)], revision == 1));
        }
        assert_eq!(notices, 1, "one notice while nothing was taken");
        assert_eq!(feed.pending(), 10);
        let Some(d) = feed.take() else {
            panic!("a delivery is waiting");
        };
        assert!(d.in_sync);
        assert_eq!(d.updates.len(), 10);
        for (key, revision) in revisions(&d) {
            let latest = (991..=1000).find(|r| format!("/k{}", r % 10) == key);
            assert_eq!(revision, latest, "{key}");
        }
        assert_eq!(
            feed.counters(),
            FeedCounters {
                pushed: 1000,
                delivered: 10,
                deliveries: 1
            }
        );
        assert_eq!(feed.take(), None);
    }

    #[test]
    fn a_key_created_and_deleted_between_takes_is_not_delivered() {
        let feed = UpdateFeed::new();
        assert!(feed.push([put("/a", 2), put("/b", 3)], true));
        assert!(feed.take().is_some());
        assert!(feed.push([put("/c", 4)], false));
        assert!(!feed.push([delete("/c"), delete("/b")], false));
        let Some(d) = feed.take() else {
            panic!("the deletion of /b is waiting");
        };
        assert_eq!(revisions(&d), vec![("/b".to_string(), None)]);
        assert!(!d.in_sync, "in sync is delivered once");
        assert_eq!(feed.view(), BTreeMap::from([("/a".to_string(), 2)]));
    }

    #[test]
    fn a_key_deleted_and_recreated_between_takes_is_delivered_as_its_new_value() {
        let feed = UpdateFeed::new();
        feed.push([put("/a", 2)], true);
        feed.take();
        feed.push([delete("/a"), put("/a", 5)], false);
        let d = feed.take().map(|d| revisions(&d));
        assert_eq!(d, Some(vec![("/a".to_string(), Some(5))]));
    }

    #[test]
    fn a_lost_notice_is_asked_for_again_on_the_next_push() {
        let feed = UpdateFeed::new();
        assert!(feed.push([put("/a", 2)], false));
        assert!(!feed.push([put("/b", 3)], false));
        feed.notice_lost();
        assert!(feed.push([put("/c", 4)], false));
        assert_eq!(feed.take().map(|d| d.updates.len()), Some(3));
    }

    #[test]
    fn the_in_sync_mark_alone_asks_for_a_notice() {
        let feed = UpdateFeed::new();
        assert!(feed.push([], true));
        let d = feed.take();
        assert_eq!(
            d,
            Some(Delivery {
                updates: vec![],
                in_sync: true
            })
        );
        assert!(!feed.push([], true), "a second in-sync mark is not news");
    }
}
