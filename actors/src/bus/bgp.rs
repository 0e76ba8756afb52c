//! [`BgpFeed`]: the Calculator → BgpManager edge, a coalescing queue of
//! [`calc::BgpIntent`]s: what this host's speaker should announce.
//!
//! Intents are coalesced per prefix, as desired state: between two takes an `Originate` and a
//! `Withdraw` of one prefix cancel out, and a prefix is delivered only when the consumer's
//! view of it changed (an `Originate` of a prefix it did not have, a `Withdraw` of one it
//! had). The feed keeps every prefix originated, so a consumer that (re)starts takes them all
//! ([`BgpFeed::snapshot`]) and continues with what follows.
//!
//! Intents of kinds the feed does not know (`BgpIntent` is `#[non_exhaustive]`: peer settings
//! and export policy will join it) are not keyed: they are queued in order and delivered
//! with the next take, not kept for a snapshot.
//!
//! The consumer is notified through a [`Notice`](super::Notice) (the BgpManager's address
//! and message, bound when the node is assembled); until a BgpManager runs, nobody takes.

use std::sync::{Arc, Mutex, PoisonError};

use bgp::codec::Prefix;
use calc::BgpIntent;

use super::FeedCounters;
use super::desired::DesiredEdge;

/// What a consumer takes: the intents since its previous take (or, from a snapshot, an
/// `Originate` of every prefix), and whether they are whole (the datastore is in sync).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpBatch {
    pub intents: Vec<BgpIntent>,
    pub complete: bool,
}

/// The shared state of the BGP intents edge. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct BgpFeed {
    originated: DesiredEdge<Prefix, ()>,
    /// Intents that are not about one prefix, in order, until taken.
    unkeyed: Arc<Mutex<Vec<BgpIntent>>>,
}

impl BgpFeed {
    /// An empty feed: nothing originated, not complete.
    pub fn new() -> Self {
        Self::default()
    }

    /// Producer side: `intents` in order, and whether they are now whole (once true, it
    /// stays). Returns `true` when the consumer must be sent a notice.
    pub fn push(&self, intents: impl IntoIterator<Item = BgpIntent>, complete: bool) -> bool {
        let mut keyed = Vec::new();
        let mut unkeyed = Vec::new();
        for intent in intents {
            match intent {
                BgpIntent::Originate(p) => keyed.push((p, Some(()))),
                BgpIntent::Withdraw(p) => keyed.push((p, None)),
                other => unkeyed.push(other),
            }
        }
        let has_unkeyed = !unkeyed.is_empty();
        if has_unkeyed {
            self.unkeyed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(unkeyed);
        }
        // An unkeyed intent is news even when no prefix changed: the edge's notice flag is the
        // one that says whether a notice is outstanding.
        let notify = self.originated.push(keyed, complete);
        if has_unkeyed && !notify {
            return self.originated.push_notice();
        }
        notify
    }

    /// Producer side: the notice could not be delivered; the next push asks again.
    pub fn notice_lost(&self) {
        self.originated.notice_lost();
    }

    /// Consumer side: the prefixes whose announcement changed since the previous take
    /// (withdrawals first, then originations, each in prefix order), then the unkeyed
    /// intents in order; `None` when nothing changed.
    pub fn take(&self) -> Option<BgpBatch> {
        let unkeyed =
            std::mem::take(&mut *self.unkeyed.lock().unwrap_or_else(PoisonError::into_inner));
        let changes = self.originated.take();
        if changes.is_none() && unkeyed.is_empty() {
            return None;
        }
        let complete = self.originated.is_complete();
        let changes = changes.map(|c| c.changes).unwrap_or_default();
        let withdrawn = changes
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(p, _)| BgpIntent::Withdraw(*p));
        let originated = changes
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(p, _)| BgpIntent::Originate(*p));
        Some(BgpBatch {
            intents: withdrawn.chain(originated).chain(unkeyed).collect(),
            complete,
        })
    }

    /// Consumer side, at (re)start: an `Originate` of every prefix originated now.
    pub fn snapshot(&self) -> BgpBatch {
        self.unkeyed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let s = self.originated.snapshot();
        BgpBatch {
            intents: s
                .changes
                .into_iter()
                .map(|(p, _)| BgpIntent::Originate(p))
                .collect(),
            complete: s.complete,
        }
    }

    /// Prefixes originated now.
    pub fn len(&self) -> usize {
        self.originated.len()
    }

    /// Whether no prefix is originated.
    pub fn is_empty(&self) -> bool {
        self.originated.is_empty()
    }

    /// Counts of pushed and delivered prefix intents.
    pub fn counters(&self) -> FeedCounters {
        self.originated.counters()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use bgp::codec::Ipv4Prefix;

    use super::*;

    fn p(last: u8) -> Prefix {
        match Ipv4Prefix::new(Ipv4Addr::new(10, 65, 0, last), 32) {
            Some(p) => Prefix::V4(p),
            None => panic!("a /32 is a prefix"),
        }
    }

    #[test]
    fn originate_and_withdraw_of_one_prefix_between_takes_cancel_out() {
        let feed = BgpFeed::new();
        assert!(feed.push(
            [BgpIntent::Originate(p(1)), BgpIntent::Originate(p(2))],
            true
        ));
        assert_eq!(
            feed.take(),
            Some(BgpBatch {
                intents: vec![BgpIntent::Originate(p(1)), BgpIntent::Originate(p(2))],
                complete: true
            })
        );
        assert!(feed.push([BgpIntent::Originate(p(3))], true));
        assert!(!feed.push(
            [
                BgpIntent::Withdraw(p(3)),
                BgpIntent::Withdraw(p(1)),
                BgpIntent::Originate(p(1)),
                BgpIntent::Withdraw(p(2)),
            ],
            true
        ));
        assert_eq!(
            feed.take(),
            Some(BgpBatch {
                intents: vec![BgpIntent::Withdraw(p(2))],
                complete: true
            }),
            "3 came and went unseen, 1 is as the consumer has it"
        );
        assert_eq!(feed.take(), None);
    }

    #[test]
    fn a_restarted_consumer_takes_every_prefix_originated() {
        let feed = BgpFeed::new();
        feed.push((1..=3).map(|i| BgpIntent::Originate(p(i))), false);
        assert!(feed.take().is_some());
        feed.push([BgpIntent::Withdraw(p(2))], true);
        assert_eq!(
            feed.snapshot(),
            BgpBatch {
                intents: vec![BgpIntent::Originate(p(1)), BgpIntent::Originate(p(3))],
                complete: true
            }
        );
        assert_eq!(feed.take(), None);
        assert_eq!(feed.len(), 2);
    }
}
