//! Proptest strategies producing valid messages for a given session context.
//!
//! "Valid" means the message survives encode → decode unchanged: what the decoder
//! normalises (AS numbers above 65535 on 2-octet sessions, unknown attributes without the
//! Partial bit, over-long AS_PATH segments, ...) is not generated.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use bgp::codec::*;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

pub fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

pub fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

pub fn ipv4_prefix() -> impl Strategy<Value = Ipv4Prefix> {
    (ipv4(), 0u8..=32).prop_map(|(a, l)| Ipv4Prefix::new(a, l).expect("length <= 32"))
}

pub fn ipv6_prefix() -> impl Strategy<Value = Ipv6Prefix> {
    (ipv6(), 0u8..=128).prop_map(|(a, l)| Ipv6Prefix::new(a, l).expect("length <= 128"))
}

fn path_id(add_path: bool) -> BoxedStrategy<Option<u32>> {
    if add_path {
        any::<u32>().prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    }
}

pub fn nlri(family: AddressFamily, add_path: bool) -> BoxedStrategy<Nlri> {
    if family.afi == Afi::IPV6 {
        (ipv6_prefix(), path_id(add_path))
            .prop_map(|(p, path_id)| Nlri {
                path_id,
                prefix: p.into(),
            })
            .boxed()
    } else {
        (ipv4_prefix(), path_id(add_path))
            .prop_map(|(p, path_id)| Nlri {
                path_id,
                prefix: p.into(),
            })
            .boxed()
    }
}

pub fn unicast_family() -> impl Strategy<Value = AddressFamily> {
    prop_oneof![
        Just(AddressFamily::IPV4_UNICAST),
        Just(AddressFamily::IPV6_UNICAST)
    ]
}

/// Contexts of established sessions; ADD-PATH is symmetric so one context encodes and
/// decodes. Peers are internal so that every attribute is accepted.
pub fn context() -> impl Strategy<Value = CodecContext> {
    (any::<bool>(), any::<bool>(), 0u8..4).prop_map(|(four_octet_as, extended_message, ap)| {
        let mut add_path = FamilySet::EMPTY;
        if ap & 1 != 0 {
            add_path.insert(AddressFamily::IPV4_UNICAST);
        }
        if ap & 2 != 0 {
            add_path.insert(AddressFamily::IPV6_UNICAST);
        }
        CodecContext {
            four_octet_as,
            extended_message,
            families: FamilySet::ALL,
            add_path_receive: add_path,
            add_path_send: add_path,
            peer: PeerKind::Internal,
            peer_as: None,
        }
    })
}

fn asn(four_octet: bool) -> BoxedStrategy<u32> {
    if four_octet {
        any::<u32>().boxed()
    } else {
        (0u32..=0xffff).boxed()
    }
}

pub fn as_path(four_octet: bool, confederation: bool) -> impl Strategy<Value = AsPath> {
    let kinds = if confederation {
        vec![
            SegmentType::AsSet,
            SegmentType::AsSequence,
            SegmentType::AsConfedSequence,
            SegmentType::AsConfedSet,
        ]
    } else {
        vec![SegmentType::AsSet, SegmentType::AsSequence]
    };
    let segment = (proptest::sample::select(kinds), vec(asn(four_octet), 1..12))
        .prop_map(|(segment_type, asns)| AsPathSegment { segment_type, asns });
    vec(segment, 0..4).prop_map(|segments| AsPath { segments })
}

fn aggregator(four_octet: bool) -> impl Strategy<Value = Aggregator> {
    (asn(four_octet), ipv4()).prop_map(|(asn, address)| Aggregator { asn, address })
}

const KNOWN_ATTRIBUTES: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32];

fn unknown_attributes() -> impl Strategy<Value = Vec<RawAttribute>> {
    let code = any::<u8>().prop_filter("unknown type code", |c| !KNOWN_ATTRIBUTES.contains(c));
    btree_map(code, vec(any::<u8>(), 0..300), 0..3).prop_map(|m: BTreeMap<u8, Vec<u8>>| {
        m.into_iter()
            .map(|(code, value)| RawAttribute {
                flags: AttributeFlags(0xe0),
                type_code: AttributeType(code),
                value,
            })
            .collect()
    })
}

pub fn path_attributes(four_octet: bool) -> impl Strategy<Value = PathAttributes> {
    let well_known = (
        option::of(proptest::sample::select(vec![
            Origin::Igp,
            Origin::Egp,
            Origin::Incomplete,
        ])),
        option::of(as_path(four_octet, true)),
        option::of(ipv4()),
        option::of(any::<u32>()),
        option::of(any::<u32>()),
        any::<bool>(),
        option::of(aggregator(four_octet)),
    );
    let optional = (
        vec(any::<u32>().prop_map(Community), 0..5),
        option::of(ipv4()),
        vec(ipv4(), 0..4),
        vec(any::<[u8; 8]>().prop_map(ExtendedCommunity), 0..4),
        vec(
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(g, a, b)| LargeCommunity {
                global_admin: g,
                local_data_1: a,
                local_data_2: b,
            }),
            0..4,
        ),
        unknown_attributes(),
    );
    let as4 = if four_octet {
        Just((None, None)).boxed()
    } else {
        (
            option::of(as_path(true, false)),
            option::of(aggregator(true)),
        )
            .boxed()
    };
    (well_known, optional, as4).prop_map(
        |(
            (origin, as_path, next_hop, multi_exit_disc, local_pref, atomic_aggregate, aggregator),
            (communities, originator_id, cluster_list, extended_communities, large, unknown),
            (as4_path, as4_aggregator),
        )| PathAttributes {
            origin,
            as_path,
            next_hop,
            multi_exit_disc,
            local_pref,
            atomic_aggregate,
            aggregator,
            communities,
            originator_id,
            cluster_list,
            extended_communities,
            as4_path,
            as4_aggregator,
            large_communities: large,
            unknown,
        },
    )
}

fn mp_next_hop(family: AddressFamily) -> BoxedStrategy<MpNextHop> {
    let v6 = (ipv6(), option::of(ipv6()))
        .prop_map(|(global, link_local)| MpNextHop::Ipv6 { global, link_local });
    if family.afi == Afi::IPV4 {
        prop_oneof![ipv4().prop_map(MpNextHop::Ipv4), v6].boxed()
    } else {
        v6.boxed()
    }
}

fn mp_reach(ctx: &CodecContext) -> impl Strategy<Value = MpReachNlri> + use<> {
    let ctx = ctx.clone();
    unicast_family().prop_flat_map(move |family| {
        let add_path = ctx.add_path_send.contains(family);
        (mp_next_hop(family), vec(nlri(family, add_path), 0..20)).prop_map(
            move |(next_hop, nlri)| MpReachNlri {
                family,
                next_hop,
                nlri,
            },
        )
    })
}

fn mp_unreach(ctx: &CodecContext) -> impl Strategy<Value = MpUnreachNlri> + use<> {
    let ctx = ctx.clone();
    unicast_family().prop_flat_map(move |family| {
        let add_path = ctx.add_path_send.contains(family);
        vec(nlri(family, add_path), 0..20)
            .prop_map(move |withdrawn| MpUnreachNlri { family, withdrawn })
    })
}

/// A valid UPDATE: when it announces routes, the mandatory attributes are present.
pub fn update(ctx: &CodecContext) -> impl Strategy<Value = Update> + use<> {
    let ap4 = ctx.add_path_send.contains(AddressFamily::IPV4_UNICAST);
    let internal = ctx.peer == PeerKind::Internal;
    (
        vec(nlri(AddressFamily::IPV4_UNICAST, ap4), 0..20),
        path_attributes(ctx.four_octet_as),
        option::of(mp_reach(ctx)),
        option::of(mp_unreach(ctx)),
        vec(nlri(AddressFamily::IPV4_UNICAST, ap4), 0..20),
    )
        .prop_map(
            move |(withdrawn, mut attributes, mp_reach, mp_unreach, nlri)| {
                let announces =
                    !nlri.is_empty() || mp_reach.as_ref().is_some_and(|m| !m.nlri.is_empty());
                if announces {
                    attributes.origin.get_or_insert(Origin::Igp);
                    attributes.as_path.get_or_insert_with(AsPath::default);
                    if !nlri.is_empty() {
                        attributes
                            .next_hop
                            .get_or_insert(Ipv4Addr::new(192, 0, 2, 1));
                    }
                    if internal {
                        attributes.local_pref.get_or_insert(100);
                    }
                }
                Update {
                    withdrawn,
                    attributes,
                    mp_reach,
                    mp_unreach,
                    nlri,
                    errors: Vec::new(),
                }
            },
        )
}

pub fn capability() -> impl Strategy<Value = Capability> {
    let family = (any::<u16>(), any::<u8>()).prop_map(|(a, s)| AddressFamily::new(Afi(a), Safi(s)));
    let mode = proptest::sample::select(vec![
        AddPathMode::Receive,
        AddPathMode::Send,
        AddPathMode::Both,
    ]);
    let gr_family = (family.clone(), any::<bool>()).prop_map(|(family, forwarding_preserved)| {
        GracefulRestartFamily {
            family,
            forwarding_preserved,
        }
    });
    let known = [1u8, 2, 6, 64, 65, 69, 70];
    prop_oneof![
        family.clone().prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        Just(Capability::ExtendedMessage),
        (
            any::<bool>(),
            any::<bool>(),
            0u16..=4095,
            vec(gr_family, 0..4)
        )
            .prop_map(|(restart_state, notification, restart_time, families)| {
                Capability::GracefulRestart(GracefulRestart {
                    restart_state,
                    notification,
                    restart_time,
                    families,
                })
            }),
        any::<u32>().prop_map(Capability::FourOctetAs),
        vec(
            (family, mode).prop_map(|(family, mode)| AddPathFamily { family, mode }),
            1..4
        )
        .prop_map(Capability::AddPath),
        Just(Capability::EnhancedRouteRefresh),
        (
            any::<u8>().prop_filter("unknown capability code", move |c| !known.contains(c)),
            vec(any::<u8>(), 0..40)
        )
            .prop_map(|(code, value)| Capability::Unknown { code, value }),
    ]
}

pub fn open() -> impl Strategy<Value = Open> {
    (
        any::<u16>(),
        prop_oneof![Just(0u16), 3u16..=u16::MAX],
        (1u32..=u32::MAX).prop_map(Ipv4Addr::from),
        vec(capability(), 0..12),
    )
        .prop_map(|(my_as, hold_time, bgp_identifier, capabilities)| Open {
            my_as,
            hold_time,
            bgp_identifier,
            capabilities,
        })
}

pub fn notification() -> impl Strategy<Value = Notification> {
    (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..100)).prop_map(|(code, subcode, data)| {
        Notification {
            code: ErrorCode::from_u8(code, subcode),
            data,
        }
    })
}

pub fn route_refresh() -> impl Strategy<Value = RouteRefresh> {
    (any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(afi, subtype, safi)| RouteRefresh {
        family: AddressFamily::new(Afi(afi), Safi(safi)),
        subtype: RouteRefreshSubtype::from_u8(subtype),
    })
}

pub fn message(ctx: &CodecContext) -> impl Strategy<Value = Message> + use<> {
    prop_oneof![
        open().prop_map(Message::Open),
        update(ctx).prop_map(Message::Update),
        notification().prop_map(Message::Notification),
        Just(Message::Keepalive),
        route_refresh().prop_map(Message::RouteRefresh),
    ]
}

/// A context together with a valid message for it.
pub fn context_and_message() -> impl Strategy<Value = (CodecContext, Message)> {
    context().prop_flat_map(|ctx| (Just(ctx.clone()), message(&ctx)))
}

/// A context together with a valid UPDATE for it.
pub fn context_and_update() -> impl Strategy<Value = (CodecContext, Update)> {
    context().prop_flat_map(|ctx| (Just(ctx.clone()), update(&ctx)))
}
