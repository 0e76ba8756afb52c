//! Property tests of the planner against the twin: from any kernel table (routes of ours and
//! of others, in any slot) and any desired set, applying `plan(desired, actual)` to `actual`
//! gives the desired routes on our protocol, leaves every other route alone (except a
//! foreign route on our own interface that a desired route takes over), is accepted
//! operation by operation, and a second plan is empty.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use proptest::prelude::*;

use super::backend::RouteBackend;
use super::op::RouteOp;
use super::plan::{Ownership, plan};
use super::problem::RouteProblem;
use super::route::{KernelRoute, Route, RouteTarget, protocol};
use super::table::RouteTable;
use super::twin::RouteTwin;

const OURS: u8 = 80;

fn dsts() -> Vec<IpNet> {
    [
        "10.65.0.1/32",
        "10.65.0.2/32",
        "10.65.0.3/32",
        "10.65.0.0/26",
        "10.66.0.0/26",
        "10.67.0.0/24",
        "fd00::1/128",
        "fd00::2/128",
        "fd00::/122",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect()
}

fn target(v4: bool) -> impl Strategy<Value = RouteTarget> {
    let iface = prop_oneof![
        Just("cali1"),
        Just("cali2"),
        Just("eth0"),
        Just("cali9") // does not exist
    ]
    .prop_map(|s| RouteTarget::Interface(s.to_owned()));
    let blackhole = Just(RouteTarget::Blackhole);
    if v4 {
        let gw = (1u8..4, any::<bool>()).prop_map(|(h, dev)| RouteTarget::Gateway {
            via: IpAddr::from([192, 168, 1, h]),
            dev: dev.then(|| "eth0".to_owned()),
            onlink: false,
        });
        let onlink = Just(RouteTarget::Gateway {
            via: IpAddr::from([172, 16, 0, 1]),
            dev: Some("eth0".to_owned()),
            onlink: true,
        });
        prop_oneof![iface, blackhole, gw, onlink].boxed()
    } else {
        prop_oneof![iface, blackhole].boxed()
    }
}

/// A route of anybody's to `dst`: target, protocol, whether in the default slot.
fn existing(dst: IpNet) -> impl Strategy<Value = (RouteTarget, u8, bool)> {
    (
        target(matches!(dst, IpNet::V4(_))),
        prop_oneof![Just(OURS), Just(protocol::STATIC), Just(protocol::BOOT)],
        prop::bool::weighted(0.8),
    )
}

#[allow(clippy::type_complexity)]
fn case() -> impl Strategy<Value = (Vec<Option<RouteTarget>>, Vec<Vec<(RouteTarget, u8, bool)>>)> {
    let per_dst: Vec<_> = dsts()
        .into_iter()
        .map(|d| {
            (
                prop::option::of(target(matches!(d, IpNet::V4(_)))),
                prop::collection::vec(existing(d), 0..3),
            )
        })
        .collect();
    per_dst.prop_map(|v| v.into_iter().unzip())
}

fn host() -> RouteTwin {
    let mut t = RouteTwin::new();
    for l in ["eth0", "cali1", "cali2"] {
        t.add_link(l);
    }
    t.add_route(
        &Route::new(
            "192.168.1.0/24".parse().unwrap(),
            RouteTarget::Interface("eth0".into()),
        ),
        protocol::KERNEL,
    )
    .unwrap();
    t
}

fn ours_at(t: &RouteTable, dst: &IpNet) -> Vec<KernelRoute> {
    t.at(dst)
        .iter()
        .filter(|k| k.protocol == OURS)
        .cloned()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn applying_the_plan_reaches_the_desired_routes_and_spares_the_others(
        (want, have) in case()
    ) {
        let mut twin = host();
        for (dst, routes) in dsts().into_iter().zip(&have) {
            for (target, proto, default_slot) in routes {
                let route = Route::new(dst, target.clone());
                let oif = route.interface().and_then(|i| twin.links().index(i));
                let mut k = route.to_kernel(*proto, oif);
                if !default_slot {
                    k.metric += 7;
                }
                let _ = twin.apply_op(&RouteOp::Add(k)); // EEXIST, ENODEV: not in the table
            }
        }
        let before = twin.read().unwrap();
        let desired: BTreeMap<IpNet, Route> = dsts()
            .into_iter()
            .zip(want)
            .filter_map(|(d, t)| t.map(|t| (d, Route::new(d, t))))
            .collect();
        let prefixes = vec!["cali".to_owned()];
        let own = Ownership { protocol: OURS, interface_prefixes: &prefixes };
        let actual = RouteTable::from_routes(before.routes.clone());
        let p = plan(&desired, &actual, &before.links, own);

        let failures = twin.apply(&p.ops).unwrap();
        prop_assert!(failures.is_empty(), "refused: {:?} in {:?}", failures, p.ops);
        let after = RouteTable::from_routes(twin.read().unwrap().routes);

        for dst in dsts() {
            let ours = ours_at(&after, &dst);
            let problem = p.problems.iter().find(|pr| match pr {
                RouteProblem::MissingInterface { route, .. } | RouteProblem::Conflict { route, .. } => route.dst == dst,
                RouteProblem::Kernel { .. } => false,
            });
            match (desired.get(&dst), problem) {
                (Some(r), None) => {
                    prop_assert_eq!(ours.len(), 1, "{}: {:?}", dst, ours);
                    prop_assert!(r.is_satisfied_by(&ours[0]) && ours[0].in_default_slot(), "{} vs {}", r, ours[0]);
                }
                (Some(_), Some(RouteProblem::Conflict { existing, .. })) => {
                    prop_assert!(ours.is_empty());
                    prop_assert!(existing.protocol != OURS && !existing.dev.as_deref().is_some_and(|d| d.starts_with("cali")));
                }
                _ => prop_assert!(ours.is_empty(), "{}: {:?}", dst, ours),
            }
        }
        // Every route that is not ours survives, unless a desired route took over its slot
        // on one of our interfaces.
        for k in before.routes.iter().filter(|k| k.protocol != OURS) {
            let taken_over = desired.contains_key(&k.dst)
                && k.in_default_slot()
                && k.dev.as_deref().is_some_and(|d| d.starts_with("cali"));
            if !taken_over {
                prop_assert!(after.at(&k.dst).contains(k), "foreign route {} was touched", k);
            }
        }
        let again = plan(&desired, &after, &before.links, own);
        prop_assert!(again.ops.is_empty(), "second plan: {:?}", again.ops);
        prop_assert_eq!(again.problems.len(), p.problems.len());
    }
}
