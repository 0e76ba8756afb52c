//! Learned best routes as kernel routes (pure): the speaker's [`BestChange`] for a prefix
//! becomes the route to that destination through the best path's next hop, or no route.

use std::net::IpAddr;

use bgp::codec::{MpNextHop, Prefix};
use bgp::rib::BestChange;
use dataplane::routes::Route;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// How next hops are reached from this host: a next hop inside one of `on_link` goes out of
/// that device with `onlink` (the kernel takes it as directly reachable although no connected
/// subnet covers it: a peer on the same link in another subnet, or a tunnel); any other next
/// hop is left to the kernel's connected routes (`via` alone). The node assembly fills it
/// from the host's interfaces; empty is right for nodes whose peers share a subnet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NextHops {
    pub on_link: Vec<OnLink>,
}

/// Next hops inside `within` are on the link of `dev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnLink {
    pub within: IpNet,
    pub dev: String,
}

/// The destination of a BGP prefix.
pub fn destination(prefix: Prefix) -> Option<IpNet> {
    match prefix {
        Prefix::V4(p) => Ipv4Net::new(p.addr(), p.prefix_len()).ok().map(IpNet::V4),
        Prefix::V6(p) => Ipv6Net::new(p.addr(), p.prefix_len()).ok().map(IpNet::V6),
    }
}

/// The kernel route for one Loc-RIB change: `None` when the prefix has no installed best
/// route, or when its next hop cannot be used (none, unspecified, or of the other family).
pub fn learned_route(change: &BestChange, next_hops: &NextHops) -> Option<(IpNet, Option<Route>)> {
    let dst = destination(change.prefix)?;
    let Some(best) = &change.best else {
        return Some((dst, None));
    };
    let attrs = &best.attributes;
    let via: Option<IpAddr> = match (change.prefix, attrs.mp_next_hop) {
        (Prefix::V4(_), Some(MpNextHop::Ipv4(a))) => Some(a.into()),
        (Prefix::V4(_), _) => attrs.path.next_hop.map(IpAddr::from),
        (Prefix::V6(_), Some(MpNextHop::Ipv6 { global, .. })) => Some(global.into()),
        (Prefix::V6(_), _) => None,
    };
    let route = via.filter(|a| !a.is_unspecified()).map(|via| {
        match next_hops.on_link.iter().find(|l| l.within.contains(&via)) {
            Some(l) => Route::via_dev(dst, via, l.dev.clone(), true),
            None => Route::via(dst, via),
        }
    });
    if route.is_none() {
        tracing::debug!(%dst, "learned route without a usable next hop: not installed");
    }
    Some((dst, route))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    use bgp::codec::PathAttributes;
    use bgp::rib::{PeerId, Route as RibRoute, RouteAttributes, RouteSource};

    use super::*;

    fn change(prefix: &str, attrs: Option<RouteAttributes>) -> BestChange {
        BestChange {
            prefix: prefix.parse().unwrap(),
            best: attrs.map(|a| RibRoute {
                source: RouteSource::Peer(PeerId(1)),
                attributes: Arc::new(a),
                stale: false,
            }),
        }
    }

    fn v4(next_hop: [u8; 4]) -> RouteAttributes {
        RouteAttributes::from(PathAttributes {
            next_hop: Some(Ipv4Addr::from(next_hop)),
            ..PathAttributes::default()
        })
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn a_best_route_goes_via_its_next_hop_and_a_lost_one_is_removed() {
        let hops = NextHops::default();
        assert_eq!(
            learned_route(&change("10.65.1.0/26", Some(v4([10, 0, 0, 2]))), &hops),
            Some((
                net("10.65.1.0/26"),
                Some(Route::via(net("10.65.1.0/26"), IpAddr::from([10, 0, 0, 2])))
            ))
        );
        assert_eq!(
            learned_route(&change("10.65.1.0/26", None), &hops),
            Some((net("10.65.1.0/26"), None))
        );
    }

    #[test]
    fn a_next_hop_on_a_named_link_goes_onlink_out_of_it() {
        let hops = NextHops {
            on_link: vec![OnLink {
                within: net("192.0.2.0/24"),
                dev: "eth0".into(),
            }],
        };
        let (_, route) =
            learned_route(&change("10.65.1.7/32", Some(v4([192, 0, 2, 9]))), &hops).unwrap();
        assert_eq!(
            route,
            Some(Route::via_dev(
                net("10.65.1.7/32"),
                IpAddr::from([192, 0, 2, 9]),
                "eth0",
                true
            ))
        );
    }

    #[test]
    fn ipv6_routes_use_the_global_next_hop_and_unusable_next_hops_install_nothing() {
        let hops = NextHops::default();
        let attrs = RouteAttributes {
            path: PathAttributes::default(),
            mp_next_hop: Some(MpNextHop::Ipv6 {
                global: "fd10::2".parse().unwrap(),
                link_local: Some("fe80::2".parse().unwrap()),
            }),
        };
        let (_, route) = learned_route(&change("fd00:1::/122", Some(attrs)), &hops).unwrap();
        assert_eq!(
            route,
            Some(Route::via(net("fd00:1::/122"), "fd10::2".parse().unwrap()))
        );
        let none = RouteAttributes::from(PathAttributes::default());
        assert_eq!(
            learned_route(&change("fd00:1::/122", Some(none)), &hops),
            Some((net("fd00:1::/122"), None))
        );
        assert_eq!(
            learned_route(&change("10.65.1.0/26", Some(v4([0, 0, 0, 0]))), &hops),
            Some((net("10.65.1.0/26"), None))
        );
    }
}
