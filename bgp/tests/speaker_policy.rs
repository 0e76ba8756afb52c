//! The speaker's policy as a value replaced over live sessions: what a peer is sent follows
//! the new export filter (withdrawn when no longer allowed, announced again when allowed),
//! and what the embedder is told to install follows the new install filter.

mod loopback;

use std::collections::HashMap;

use bgp::rib::{Filter, Policy, PrefixRange, Rule, SourceMatch};
use bgp::speaker::Event;
use loopback::*;

/// What Calico exports: this host's blocks (here prefix 1) and nothing else; learned routes
/// installed, our own not.
fn blocks_only() -> Policy {
    Policy {
        default_export: Filter::reject_all()
            .then(Rule::accept(PrefixRange::exact(prefix(1))).from(SourceMatch::Local)),
        install: Filter::accept_all().then(Rule::reject_source(SourceMatch::Local)),
        ..Policy::default()
    }
}

#[tokio::test]
async fn a_new_policy_withdraws_a_route_from_the_peer_and_the_old_one_announces_it_again() {
    let mut a = node(121, 65001).await;
    let mut b = node(122, 65002).await;
    a.speaker.originate(prefix(1), route(ip(121)));
    a.speaker.originate(prefix(2), route(ip(121)));
    peer(&a, &b);
    let mut held = std::collections::HashSet::new();
    until(&mut b, |e| {
        if let Event::Best(c) = e {
            held.extend(c.iter().filter(|c| c.best.is_some()).map(|c| c.prefix));
        }
        held.len() == 2
    })
    .await;

    // Prefix 2 is no longer allowed: B loses it, keeps prefix 1; A no longer reports its own
    // routes for installing.
    a.speaker.set_policy(blocks_only());
    let seen = until_best(&mut b, prefix(2), false).await;
    assert_eq!(seen.prefix, prefix(2));
    let status = b.speaker.status().await.unwrap();
    assert_eq!(status.prefixes, 1, "{status:?}");
    let mut installed_at_a: HashMap<_, bool> = HashMap::new();
    until(&mut a, |e| {
        if let Event::Best(changes) = e {
            for c in changes {
                installed_at_a.insert(c.prefix, c.best.is_some());
            }
        }
        installed_at_a.get(&prefix(1)) == Some(&false)
            && installed_at_a.get(&prefix(2)) == Some(&false)
    })
    .await;
    let status = a.speaker.status().await.unwrap();
    assert_eq!(status.peers[0].routes_sent, 1, "{status:?}");

    // Everything allowed again: prefix 2 is announced again, and A reports both again.
    a.speaker.set_policy(Policy::accept_all());
    let back = until_best(&mut b, prefix(2), true).await;
    assert!(back.best.is_some_and(|r| !r.stale));
    until(&mut a, |e| {
        if let Event::Best(changes) = e {
            for c in changes {
                installed_at_a.insert(c.prefix, c.best.is_some());
            }
        }
        installed_at_a.values().all(|installed| *installed)
    })
    .await;
    let status = b.speaker.status().await.unwrap();
    assert_eq!(status.prefixes, 2, "{status:?}");
}
