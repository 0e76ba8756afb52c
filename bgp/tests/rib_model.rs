//! Property test of the RIB against a brute-force recomputation of the best paths.

mod common;

use common::*;

/// Brute-force model for the property test: every Adj-RIB-In as a plain map, and the best
/// path recomputed from scratch with the RFC 4271 §9.1.2.2 elimination rules.
mod model {
    use std::collections::BTreeMap;

    use super::common::*;
    use proptest::prelude::*;

    const PREFIXES: [&str; 3] = ["10.0.0.0/24", "10.0.1.0/24", "2001:db8::/32"];
    /// (id, AS): two eBGP peers in different ASes, one more in the first AS, two iBGP.
    const PEERS: [(u32, u32); 5] = [
        (1, 65001),
        (2, 65002),
        (3, 65001),
        (4, LOCAL_AS),
        (5, LOCAL_AS),
    ];

    fn peer_config(id: u32, asn: u32) -> PeerConfig {
        let mut cfg = peer(id, asn);
        // Router IDs in reverse order of addresses so both tie-breakers matter.
        cfg.router_id = Ipv4Addr::new(10, 1, 0, 10 - u8::try_from(id).unwrap());
        cfg
    }

    #[derive(Debug, Clone)]
    enum Op {
        Announce(usize, usize, PathAttributes),
        Withdraw(usize, usize),
        PeerDown(usize),
        RestartThenEndOfRib(usize),
        Originate(usize, PathAttributes),
        WithdrawLocal(usize),
    }

    fn arb_attrs() -> impl Strategy<Value = PathAttributes> {
        (
            prop::option::of(prop::sample::select(vec![50u32, 100, 200])),
            prop::sample::select(vec![65001u32, 65002, 65003]),
            0usize..3,
            prop::sample::select(vec![Origin::Igp, Origin::Egp, Origin::Incomplete]),
            prop::option::of(prop::sample::select(vec![0u32, 5, 10])),
            prop::option::of(1u8..4),
            0usize..3,
        )
            .prop_map(|(lp, first, extra, origin, med, orig, clusters)| {
                let mut path = vec![first];
                path.extend((0..extra).map(|i| 64600 + u32::try_from(i).unwrap()));
                PathAttributes {
                    origin: Some(origin),
                    as_path: Some(AsPath::from_sequence(path)),
                    next_hop: Some(Ipv4Addr::new(192, 0, 2, 99)),
                    local_pref: lp,
                    multi_exit_disc: med,
                    originator_id: orig.map(|o| Ipv4Addr::new(10, 1, 0, o)),
                    cluster_list: (0..clusters)
                        .map(|c| Ipv4Addr::new(10, 3, 0, u8::try_from(c).unwrap()))
                        .collect(),
                    ..Default::default()
                }
            })
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        let p = 0..PEERS.len();
        let x = 0..PREFIXES.len();
        prop_oneof![
            6 => (p.clone(), x.clone(), arb_attrs()).prop_map(|(p, x, a)| Op::Announce(p, x, a)),
            3 => (p.clone(), x.clone()).prop_map(|(p, x)| Op::Withdraw(p, x)),
            1 => p.clone().prop_map(Op::PeerDown),
            1 => p.prop_map(Op::RestartThenEndOfRib),
            1 => (x.clone(), arb_attrs()).prop_map(|(x, a)| Op::Originate(x, a)),
            1 => x.prop_map(Op::WithdrawLocal),
        ]
    }

    /// Source of a model route: `None` is local.
    type Key = (usize, Option<usize>);

    fn update_for(prefix: Prefix, attributes: PathAttributes) -> Update {
        match prefix {
            Prefix::V4(_) => Update {
                attributes,
                nlri: vec![Nlri::new(prefix)],
                ..Update::default()
            },
            Prefix::V6(_) => Update {
                attributes: PathAttributes {
                    next_hop: None,
                    ..attributes
                },
                mp_reach: Some(bgp::codec::MpReachNlri {
                    family: AddressFamily::IPV6_UNICAST,
                    next_hop: bgp::codec::MpNextHop::Ipv6 {
                        global: "2001:db8::99".parse().unwrap(),
                        link_local: None,
                    },
                    nlri: vec![Nlri::new(prefix)],
                }),
                ..Update::default()
            },
        }
    }

    fn withdraw_for(prefix: Prefix) -> Update {
        match prefix {
            Prefix::V4(_) => Update {
                withdrawn: vec![Nlri::new(prefix)],
                ..Update::default()
            },
            Prefix::V6(_) => Update {
                mp_unreach: Some(bgp::codec::MpUnreachNlri {
                    family: AddressFamily::IPV6_UNICAST,
                    withdrawn: vec![Nlri::new(prefix)],
                }),
                ..Update::default()
            },
        }
    }

    /// The winner among `routes` (all to one prefix), from scratch.
    fn reference_best(routes: &[(Option<usize>, PathAttributes)]) -> Option<Option<usize>> {
        let internal = |s: Option<usize>| s.is_some_and(|i| PEERS[i].1 == LOCAL_AS);
        let lp = |a: &PathAttributes| a.local_pref.unwrap_or(100);
        let mut c: Vec<&(Option<usize>, PathAttributes)> = routes.iter().collect();
        if c.iter().any(|(s, _)| s.is_none()) {
            c.retain(|(s, _)| s.is_none());
        }
        let max_lp = c.iter().map(|(_, a)| lp(a)).max()?;
        c.retain(|(_, a)| lp(a) == max_lp);
        let len = |a: &PathAttributes| a.as_path.as_ref().map_or(0, |p| p.path_length());
        let min_len = c.iter().map(|(_, a)| len(a)).min()?;
        c.retain(|(_, a)| len(a) == min_len);
        let min_origin = c.iter().map(|(_, a)| a.origin).min()?;
        c.retain(|(_, a)| a.origin == min_origin);
        let nas = |a: &PathAttributes| {
            a.as_path
                .as_ref()
                .and_then(|p| p.first_as())
                .unwrap_or(LOCAL_AS)
        };
        let med = |a: &PathAttributes| a.multi_exit_disc.unwrap_or(0);
        let before = c.clone();
        c.retain(|(_, a)| {
            before
                .iter()
                .filter(|(_, b)| nas(b) == nas(a))
                .all(|(_, b)| med(b) >= med(a))
        });
        if c.iter().any(|(s, _)| !internal(*s)) {
            c.retain(|(s, _)| !internal(*s));
        }
        let rid = |s: Option<usize>, a: &PathAttributes| {
            a.originator_id.unwrap_or_else(|| {
                s.map_or(Ipv4Addr::UNSPECIFIED, |i| {
                    peer_config(PEERS[i].0, PEERS[i].1).router_id
                })
            })
        };
        let min_rid = c.iter().map(|(s, a)| rid(*s, a)).min()?;
        c.retain(|(s, a)| rid(*s, a) == min_rid);
        let min_cl = c.iter().map(|(_, a)| a.cluster_list.len()).min()?;
        c.retain(|(_, a)| a.cluster_list.len() == min_cl);
        c.iter()
            .min_by_key(|(s, _)| s.map(|i| peer_config(PEERS[i].0, PEERS[i].1).address))
            .map(|(s, _)| *s)
    }

    fn source_of(s: Option<usize>) -> RouteSource {
        s.map_or(RouteSource::Local, |i| {
            RouteSource::Peer(PeerId(PEERS[i].0))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn loc_rib_best_equals_brute_force_recomputation(ops in prop::collection::vec(arb_op(), 1..40)) {
            let mut rib = super::rib();
            for (id, asn) in PEERS {
                rib.add_peer(peer_config(id, asn)).unwrap();
                let mut ctx = codec(asn == LOCAL_AS);
                ctx.families = ctx.families.with(AddressFamily::IPV6_UNICAST);
                rib.peer_up(PeerId(id), ctx).unwrap();
            }
            let mut model: BTreeMap<Key, PathAttributes> = BTreeMap::new();
            let mut reported: BTreeMap<Prefix, Option<Route>> = BTreeMap::new();
            for op in ops {
                let changes = match op {
                    Op::Announce(p, x, mut a) => {
                        let prefix = pfx(PREFIXES[x]);
                        let changes = rib.apply_update(PeerId(PEERS[p].0), update_for(prefix, a.clone())).unwrap();
                        if PEERS[p].1 != LOCAL_AS {
                            a.local_pref = None;
                        }
                        model.insert((x, Some(p)), a);
                        changes
                    }
                    Op::Withdraw(p, x) => {
                        model.remove(&(x, Some(p)));
                        rib.apply_update(PeerId(PEERS[p].0), withdraw_for(pfx(PREFIXES[x]))).unwrap()
                    }
                    Op::PeerDown(p) => {
                        model.retain(|(_, s), _| *s != Some(p));
                        let id = PeerId(PEERS[p].0);
                        let changes = rib.peer_down(id, None).unwrap();
                        rib.peer_up(id, codec(PEERS[p].1 == LOCAL_AS)).unwrap();
                        changes
                    }
                    Op::RestartThenEndOfRib(p) => {
                        model.retain(|(_, s), _| *s != Some(p));
                        let id = PeerId(PEERS[p].0);
                        let deadline = Instant::now() + Duration::from_secs(60);
                        let mut changes = rib.peer_down(id, Some(deadline)).unwrap();
                        prop_assert!(changes.is_empty());
                        let mut ctx = codec(PEERS[p].1 == LOCAL_AS);
                        ctx.families = ctx.families.with(AddressFamily::IPV6_UNICAST);
                        rib.peer_up(id, ctx).unwrap();
                        for family in [AddressFamily::IPV4_UNICAST, AddressFamily::IPV6_UNICAST] {
                            changes.extend(rib.apply_update(id, Update::end_of_rib(family)).unwrap());
                        }
                        changes
                    }
                    Op::Originate(x, a) => {
                        let prefix = pfx(PREFIXES[x]);
                        model.insert((x, None), a.clone());
                        rib.originate(prefix, a.into())
                    }
                    Op::WithdrawLocal(x) => {
                        model.remove(&(x, None));
                        rib.withdraw_local(pfx(PREFIXES[x]))
                    }
                };
                for change in changes {
                    reported.insert(change.prefix, change.best);
                }
                rib.flush_updates();
                for (x, text) in PREFIXES.iter().enumerate() {
                    let prefix = pfx(text);
                    let routes: Vec<(Option<usize>, PathAttributes)> = model
                        .iter()
                        .filter(|((mx, _), _)| *mx == x)
                        .map(|((_, s), a)| (*s, a.clone()))
                        .collect();
                    let expected = reference_best(&routes).map(source_of);
                    let actual = rib.best(prefix);
                    prop_assert_eq!(actual.as_ref().map(|r| r.source), expected, "prefix {}", text);
                    let last = reported.get(&prefix).cloned().flatten();
                    prop_assert_eq!(last.map(|r| r.source), expected, "reported changes for {}", text);
                }
                for (i, (id, _)) in PEERS.iter().enumerate() {
                    let n = model.keys().filter(|(_, s)| *s == Some(i)).count();
                    prop_assert_eq!(rib.peer_route_count(PeerId(*id)), Some(n));
                }
            }
        }
    }
}
