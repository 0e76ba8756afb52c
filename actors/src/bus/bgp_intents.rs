//! The Calculator → BgpManager edge: the speaker's configuration (identity, policy,
//! originated prefixes, peers) coalesced into latest-wins desired state.
//!
//! The Calculator [`push`](BgpIntentFeed::push)es each flush's [`BgpIntent`]s; the feed
//! applies them to the desired configuration it keeps ([`BgpDesired`]) and remembers which
//! keys changed since the consumer's last take — the identity, the policy, each prefix and
//! each peer ([`PeerKey`]). The BgpManager [`take`](BgpIntentFeed::take)s the differences at
//! once: a prefix originated and withdrawn between two takes is not delivered at all, a peer
//! changed five times is delivered once with its latest settings. A restarted BgpManager
//! [`take_all`](BgpIntentFeed::take_all)s the whole configuration instead.
//!
//! The in-sync mark travels with the intents, as on the Syncer's edge: the BgpManager
//! starts its speaker only once the configuration is complete, so a restart of calico-node
//! never announces, nor waits for, a partial set of peers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bgp::codec::Prefix;
use bgp::rib::Policy;
use calc::{BgpIdentity, BgpIntent, PeerIntent, PeerKey};

/// The speaker's whole desired configuration, as the intents so far make it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BgpDesired {
    /// `None` until the Calculator says, and while this host has no Node resource.
    pub identity: Option<BgpIdentity>,
    /// `None` until the Calculator's first flush.
    pub policy: Option<Policy>,
    pub prefixes: BTreeSet<Prefix>,
    pub peers: BTreeMap<PeerKey, PeerIntent>,
}

impl BgpDesired {
    /// Applies one intent.
    pub fn apply(&mut self, intent: BgpIntent) {
        match intent {
            BgpIntent::Originate(p) => {
                self.prefixes.insert(p);
            }
            BgpIntent::Withdraw(p) => {
                self.prefixes.remove(&p);
            }
            BgpIntent::Identity(id) => self.identity = id,
            BgpIntent::Policy(p) => self.policy = Some(p),
            BgpIntent::PeerUpserted(p) => {
                self.peers.insert(p.key, *p);
            }
            BgpIntent::PeerRemoved(k) => {
                self.peers.remove(&k);
            }
            other => tracing::warn!(intent = ?other, "BGP intent of an unknown kind ignored"),
        }
    }

    /// The configuration as intents that build it from nothing: identity, policy, prefixes,
    /// peers.
    pub fn to_intents(&self) -> Vec<BgpIntent> {
        let mut out = vec![BgpIntent::Identity(self.identity.clone())];
        out.extend(self.policy.clone().map(BgpIntent::Policy));
        out.extend(self.prefixes.iter().copied().map(BgpIntent::Originate));
        out.extend(
            self.peers
                .values()
                .map(|p| BgpIntent::PeerUpserted(Box::new(p.clone()))),
        );
        out
    }

    fn has(&self, key: &Key) -> bool {
        match key {
            Key::Identity => self.identity.is_some(),
            Key::Policy => self.policy.is_some(),
            Key::Prefix(p) => self.prefixes.contains(p),
            Key::Peer(k) => self.peers.contains_key(k),
        }
    }
}

/// What the consumer takes: the changes since its last take, in the order to apply them
/// (identity, policy, withdrawn and originated prefixes, removed peers, added and changed
/// peers), and whether the configuration is now complete.
#[derive(Clone, Debug, PartialEq)]
pub struct BgpDelivery {
    pub intents: Vec<BgpIntent>,
    /// `true` in exactly one delivery (and in every [`BgpIntentFeed::take_all`] after the
    /// mark): with it applied the consumer holds the whole configuration.
    pub in_sync: bool,
}

/// What changed, by key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Identity,
    Policy,
    Prefix(Prefix),
    Peer(PeerKey),
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum InSync {
    #[default]
    NotYet,
    Waiting,
    Delivered,
}

#[derive(Default)]
struct State {
    desired: BgpDesired,
    /// Keys changed since the last take, with whether the consumer had them then.
    pending: BTreeMap<Key, bool>,
    in_sync: InSync,
    notified: bool,
}

/// The shared state of the Calculator → BgpManager edge. Cloning shares it.
#[derive(Clone, Default)]
pub struct BgpIntentFeed {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for BgpIntentFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("BgpIntentFeed")
            .field("peers", &s.desired.peers.len())
            .field("prefixes", &s.desired.prefixes.len())
            .field("pending", &s.pending.len())
            .finish()
    }
}

impl BgpIntentFeed {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Producer side: applies `intents` (one flush's, in order) and, when `in_sync`, the
    /// in-sync mark (the first one counts). Returns `true` when the consumer must be sent a
    /// notice: something is waiting and no notice is outstanding.
    pub fn push(&self, intents: impl IntoIterator<Item = BgpIntent>, in_sync: bool) -> bool {
        let mut s = self.lock();
        for intent in intents {
            let key = match &intent {
                BgpIntent::Originate(p) | BgpIntent::Withdraw(p) => Key::Prefix(*p),
                BgpIntent::Identity(_) => Key::Identity,
                BgpIntent::Policy(_) => Key::Policy,
                BgpIntent::PeerUpserted(p) => Key::Peer(p.key),
                BgpIntent::PeerRemoved(k) => Key::Peer(*k),
                _ => {
                    // A kind this edge does not know: `apply` reports it.
                    s.desired.apply(intent);
                    continue;
                }
            };
            let had = s.desired.has(&key);
            s.pending.entry(key).or_insert(had);
            s.desired.apply(intent);
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

    /// Producer side: the notice [`push`](Self::push) asked for could not be delivered; the
    /// next push asks again.
    pub fn notice_lost(&self) {
        self.lock().notified = false;
    }

    /// Consumer side: the changes since the last take, merged; `None` when nothing waits.
    pub fn take(&self) -> Option<BgpDelivery> {
        let mut s = self.lock();
        s.notified = false;
        let in_sync = s.in_sync == InSync::Waiting;
        if s.pending.is_empty() && !in_sync {
            return None;
        }
        if in_sync {
            s.in_sync = InSync::Delivered;
        }
        let pending = std::mem::take(&mut s.pending);
        let d = &s.desired;
        let (mut head, mut prefixes, mut removed, mut upserted) = (vec![], vec![], vec![], vec![]);
        for (key, had) in pending {
            let has = d.has(&key);
            match key {
                Key::Identity => head.push(BgpIntent::Identity(d.identity.clone())),
                Key::Policy => head.extend(d.policy.clone().map(BgpIntent::Policy)),
                Key::Prefix(p) if has && !had => prefixes.push(BgpIntent::Originate(p)),
                Key::Prefix(p) if had && !has => prefixes.push(BgpIntent::Withdraw(p)),
                Key::Prefix(_) => {}
                Key::Peer(k) => match d.peers.get(&k) {
                    Some(p) => upserted.push(BgpIntent::PeerUpserted(Box::new(p.clone()))),
                    None if had => removed.push(BgpIntent::PeerRemoved(k)),
                    None => {}
                },
            }
        }
        let mut intents = head;
        intents.extend(prefixes);
        intents.extend(removed);
        intents.extend(upserted);
        Some(BgpDelivery { intents, in_sync })
    }

    /// Consumer side, for a consumer that (re)starts and holds nothing: the whole
    /// configuration, and whether it is complete (the in-sync mark was pushed).
    pub fn take_all(&self) -> BgpDelivery {
        let mut s = self.lock();
        s.notified = false;
        s.pending.clear();
        let in_sync = s.in_sync != InSync::NotYet;
        if in_sync {
            s.in_sync = InSync::Delivered;
        }
        BgpDelivery {
            intents: s.desired.to_intents(),
            in_sync,
        }
    }

    /// The configuration as the producer has pushed it.
    pub fn desired(&self) -> BgpDesired {
        self.lock().desired.clone()
    }
}

#[cfg(test)]
mod tests {
    use bgp::speaker::PeerSettings;
    use model::bgp::SessionKind;

    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    fn peer(last: u8, hold: u16) -> PeerIntent {
        let address = std::net::IpAddr::from([10, 0, 0, last]);
        let mut session = bgp::session::PeerConfig::new(address, 64512);
        session.hold_time = hold;
        PeerIntent {
            key: PeerKey {
                address,
                kind: SessionKind::Mesh,
                port: 179,
            },
            name: format!("Mesh_10_0_0_{last}"),
            settings: PeerSettings::new(session),
            password: None,
        }
    }

    #[test]
    fn changes_between_takes_are_merged_to_the_latest_per_key() {
        let feed = BgpIntentFeed::new();
        assert!(feed.push(
            [
                BgpIntent::Originate(p("10.65.0.1/32")),
                BgpIntent::PeerUpserted(Box::new(peer(2, 90))),
                BgpIntent::PeerUpserted(Box::new(peer(3, 90))),
            ],
            true,
        ));
        let first = feed.take().expect("waiting");
        assert!(first.in_sync);
        assert_eq!(first.intents.len(), 3);

        // Between two takes: a prefix comes and goes, another goes, a peer changes twice,
        // another is removed and a third added and removed.
        let pushes = [
            BgpIntent::Originate(p("10.65.0.2/32")),
            BgpIntent::Withdraw(p("10.65.0.2/32")),
            BgpIntent::Withdraw(p("10.65.0.1/32")),
            BgpIntent::PeerUpserted(Box::new(peer(2, 30))),
            BgpIntent::PeerUpserted(Box::new(peer(2, 60))),
            BgpIntent::PeerRemoved(peer(3, 90).key),
            BgpIntent::PeerUpserted(Box::new(peer(4, 90))),
            BgpIntent::PeerRemoved(peer(4, 90).key),
        ];
        assert!(feed.push(pushes.iter().take(3).cloned(), false));
        assert!(
            !feed.push(pushes.iter().skip(3).cloned(), false),
            "one notice"
        );
        let second = feed.take().expect("waiting");
        assert!(!second.in_sync);
        assert_eq!(
            second.intents,
            vec![
                BgpIntent::Withdraw(p("10.65.0.1/32")),
                BgpIntent::PeerRemoved(peer(3, 90).key),
                BgpIntent::PeerUpserted(Box::new(peer(2, 60))),
            ]
        );
        assert_eq!(feed.take(), None);
    }

    #[test]
    fn a_restarted_consumer_takes_the_whole_configuration() {
        let feed = BgpIntentFeed::new();
        let policy = Policy::accept_all();
        feed.push(
            [
                BgpIntent::Policy(policy.clone()),
                BgpIntent::Originate(p("10.65.0.1/32")),
                BgpIntent::PeerUpserted(Box::new(peer(2, 90))),
            ],
            false,
        );
        let all = feed.take_all();
        assert!(!all.in_sync, "not in sync yet");
        assert_eq!(
            all.intents,
            vec![
                BgpIntent::Identity(None),
                BgpIntent::Policy(policy),
                BgpIntent::Originate(p("10.65.0.1/32")),
                BgpIntent::PeerUpserted(Box::new(peer(2, 90))),
            ]
        );
        assert_eq!(feed.take(), None, "take_all took what waited");
        assert!(feed.push([], true));
        assert!(feed.take_all().in_sync);
        assert_eq!(feed.take(), None, "the mark went with take_all");
    }
}
