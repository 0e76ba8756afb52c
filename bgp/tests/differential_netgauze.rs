//! Differential test against netgauze-bgp-pkt 0.13.0 (an independent decoder): for
//! generated valid messages encoded by this crate, both decoders accept them and agree on
//! the content — for UPDATEs every prefix (with path ids), next hop and attribute value;
//! for the other types the main fields.
//!
//! netgauze knows no confederation segments and parses some attributes this crate keeps
//! raw (OTC, AIGP, BGP-LS, Prefix-SID, IPv6 extended communities), so generated UPDATEs
//! avoid those; extended communities are compared by count since netgauze types them.

mod strategy;

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bgp::codec::{self as ours, AddressFamily, CodecContext, Message, Prefix, SegmentType};
use netgauze_bgp_pkt::BgpMessage;
use netgauze_bgp_pkt::path_attribute::{
    Aggregator, AsPath, MpReach, MpUnreach, PathAttributeValue,
};
use netgauze_bgp_pkt::wire::deserializer::BgpParsingContext;
use netgauze_iana::address_family::AddressType;
use netgauze_parse_utils::reader::SliceReader;
use netgauze_parse_utils::traits::ParseFromWithOneInput;
use proptest::prelude::*;

type Routes = Vec<(Option<u32>, String)>;

/// The content both decoders must agree on.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    withdrawn: Routes,
    nlri: Routes,
    origin: Option<u8>,
    as_path: Option<Vec<(u8, Vec<u32>)>>,
    next_hop: Option<Ipv4Addr>,
    med: Option<u32>,
    local_pref: Option<u32>,
    atomic_aggregate: bool,
    aggregator: Option<(u32, Ipv4Addr)>,
    communities: Vec<u32>,
    originator_id: Option<Ipv4Addr>,
    cluster_list: Vec<Ipv4Addr>,
    extended_communities: usize,
    large_communities: Vec<(u32, u32, u32)>,
    as4_path: Option<Vec<(u8, Vec<u32>)>>,
    as4_aggregator: Option<(u32, Ipv4Addr)>,
    mp_reach: Option<(String, IpAddr, Option<Ipv6Addr>, Routes)>,
    mp_unreach: Option<(String, Routes)>,
    unknown: Vec<(u8, Vec<u8>)>,
}

fn family_name(f: AddressFamily) -> String {
    f.to_string()
}

fn our_routes(list: &[ours::Nlri]) -> Routes {
    list.iter()
        .map(|n| (n.path_id, n.prefix.to_string()))
        .collect()
}

fn our_path(p: &ours::AsPath) -> Vec<(u8, Vec<u32>)> {
    p.segments
        .iter()
        .map(|s| (s.segment_type.to_u8(), s.asns.clone()))
        .collect()
}

fn summarise_ours(u: &ours::Update) -> Summary {
    let a = &u.attributes;
    Summary {
        withdrawn: our_routes(&u.withdrawn),
        nlri: our_routes(&u.nlri),
        origin: a.origin.map(|o| o.to_u8()),
        as_path: a.as_path.as_ref().map(our_path),
        next_hop: a.next_hop,
        med: a.multi_exit_disc,
        local_pref: a.local_pref,
        atomic_aggregate: a.atomic_aggregate,
        aggregator: a.aggregator.map(|g| (g.asn, g.address)),
        communities: a.communities.iter().map(|c| c.0).collect(),
        originator_id: a.originator_id,
        cluster_list: a.cluster_list.clone(),
        extended_communities: a.extended_communities.len(),
        large_communities: a
            .large_communities
            .iter()
            .map(|c| (c.global_admin, c.local_data_1, c.local_data_2))
            .collect(),
        as4_path: a.as4_path.as_ref().map(our_path),
        as4_aggregator: a.as4_aggregator.map(|g| (g.asn, g.address)),
        mp_reach: u.mp_reach.as_ref().map(|mp| {
            let (nh, ll) = match mp.next_hop {
                ours::MpNextHop::Ipv4(a) => (IpAddr::V4(a), None),
                ours::MpNextHop::Ipv6 { global, link_local } => (IpAddr::V6(global), link_local),
            };
            (family_name(mp.family), nh, ll, our_routes(&mp.nlri))
        }),
        mp_unreach: u
            .mp_unreach
            .as_ref()
            .map(|mp| (family_name(mp.family), our_routes(&mp.withdrawn))),
        unknown: a
            .unknown
            .iter()
            .map(|r| (r.type_code.0, r.value.clone()))
            .collect(),
    }
}

fn their_path(p: &AsPath) -> Vec<(u8, Vec<u32>)> {
    match p {
        AsPath::As2PathSegments(segs) => segs
            .iter()
            .map(|s| {
                let asns = s.as_numbers().iter().map(|&a| u32::from(a)).collect();
                (u8::from(s.segment_type()), asns)
            })
            .collect(),
        AsPath::As4PathSegments(segs) => segs
            .iter()
            .map(|s| (u8::from(s.segment_type()), s.as_numbers().to_vec()))
            .collect(),
    }
}

fn summarise_theirs(u: &netgauze_bgp_pkt::update::BgpUpdateMessage) -> Summary {
    let v4 = |list: &[netgauze_bgp_pkt::nlri::Ipv4UnicastAddress]| -> Routes {
        list.iter()
            .map(|n| (n.path_id(), n.network().address().to_string()))
            .collect()
    };
    let v6 = |list: &[netgauze_bgp_pkt::nlri::Ipv6UnicastAddress]| -> Routes {
        list.iter()
            .map(|n| (n.path_id(), n.network().address().to_string()))
            .collect()
    };
    let mut s = Summary {
        withdrawn: v4(u.withdraw_routes()),
        nlri: v4(u.nlri()),
        ..Summary::default()
    };
    for attr in u.path_attributes() {
        match attr.value() {
            PathAttributeValue::Origin(o) => s.origin = Some(*o as u8),
            PathAttributeValue::AsPath(p) => s.as_path = Some(their_path(p)),
            PathAttributeValue::As4Path(p) => {
                s.as4_path = Some(
                    p.segments()
                        .iter()
                        .map(|s| (u8::from(s.segment_type()), s.as_numbers().to_vec()))
                        .collect(),
                )
            }
            PathAttributeValue::NextHop(nh) => s.next_hop = Some(nh.next_hop()),
            PathAttributeValue::MultiExitDiscriminator(m) => s.med = Some(m.metric()),
            PathAttributeValue::LocalPreference(l) => s.local_pref = Some(l.metric()),
            PathAttributeValue::AtomicAggregate(_) => s.atomic_aggregate = true,
            PathAttributeValue::Aggregator(Aggregator::As2Aggregator(a)) => {
                s.aggregator = Some((u32::from(*a.asn()), a.origin()))
            }
            PathAttributeValue::Aggregator(Aggregator::As4Aggregator(a)) => {
                s.aggregator = Some((*a.asn(), a.origin()))
            }
            PathAttributeValue::Communities(c) => {
                s.communities = c.communities().iter().map(|c| c.value()).collect()
            }
            PathAttributeValue::ExtendedCommunities(c) => {
                s.extended_communities = c.communities().len()
            }
            PathAttributeValue::LargeCommunities(c) => {
                s.large_communities = c
                    .communities()
                    .iter()
                    .map(|c| (c.global_admin(), c.local_data1(), c.local_data2()))
                    .collect()
            }
            PathAttributeValue::Originator(o) => s.originator_id = Some(o.id()),
            PathAttributeValue::ClusterList(c) => {
                s.cluster_list = c.cluster_list().iter().map(|c| c.id()).collect()
            }
            PathAttributeValue::MpReach(MpReach::Ipv4Unicast {
                next_hop,
                next_hop_local,
                nlri,
            }) => {
                s.mp_reach = Some((
                    family_name(AddressFamily::IPV4_UNICAST),
                    *next_hop,
                    *next_hop_local,
                    v4(nlri),
                ))
            }
            PathAttributeValue::MpReach(MpReach::Ipv6Unicast {
                next_hop_global,
                next_hop_local,
                nlri,
            }) => {
                s.mp_reach = Some((
                    family_name(AddressFamily::IPV6_UNICAST),
                    IpAddr::V6(*next_hop_global),
                    *next_hop_local,
                    v6(nlri),
                ))
            }
            PathAttributeValue::MpUnreach(MpUnreach::Ipv4Unicast { nlri }) => {
                s.mp_unreach = Some((family_name(AddressFamily::IPV4_UNICAST), v4(nlri)))
            }
            PathAttributeValue::MpUnreach(MpUnreach::Ipv6Unicast { nlri }) => {
                s.mp_unreach = Some((family_name(AddressFamily::IPV6_UNICAST), v6(nlri)))
            }
            PathAttributeValue::UnknownAttribute(raw) if raw.code() == 18 => {
                let v = raw.value();
                if let (Some(asn), Some(addr)) = (v.get(..4), v.get(4..8)) {
                    let asn = u32::from_be_bytes(asn.try_into().expect("4 octets"));
                    let addr: [u8; 4] = addr.try_into().expect("4 octets");
                    s.as4_aggregator = Some((asn, Ipv4Addr::from(addr)));
                }
            }
            PathAttributeValue::UnknownAttribute(raw) => {
                s.unknown.push((raw.code(), raw.value().to_vec()))
            }
            other => panic!("unexpected attribute from netgauze: {other:?}"),
        }
    }
    s
}

fn their_context(ctx: &CodecContext) -> BgpParsingContext {
    let mut add_path = HashMap::new();
    add_path.insert(
        AddressType::Ipv4Unicast,
        ctx.add_path_receive.contains(AddressFamily::IPV4_UNICAST),
    );
    add_path.insert(
        AddressType::Ipv6Unicast,
        ctx.add_path_receive.contains(AddressFamily::IPV6_UNICAST),
    );
    // Strict about NLRI and attributes; lenient about capability values netgauze cannot
    // type (unknown AFIs in Multiprotocol, ...), which this crate keeps as they are.
    BgpParsingContext::new(
        ctx.four_octet_as,
        HashMap::new(),
        add_path,
        true,
        true,
        false,
        true,
    )
}

fn parse_theirs(bytes: &[u8], ctx: &CodecContext) -> Result<BgpMessage, String> {
    BgpMessage::parse(&mut SliceReader::new(bytes), &mut their_context(ctx))
        .map_err(|e| format!("{e:?}"))
}

/// netgauze refuses unicast prefixes whose network or last host address is multicast or
/// broadcast; this crate leaves such semantic checks to the RIB.
fn netgauze_accepts(n: &ours::Nlri) -> bool {
    match n.prefix {
        Prefix::V4(p) => {
            let addr = u32::from(p.addr());
            let last = match p.prefix_len() {
                32 => addr,
                31 => addr | 1,
                len => (addr | (u32::MAX >> len)) - 1,
            };
            let bad = |a: u32| {
                let a = Ipv4Addr::from(a);
                a.is_broadcast() || a.is_multicast()
            };
            !bad(addr) && !bad(last)
        }
        Prefix::V6(p) => !p.addr().is_multicast(),
    }
}

/// Restricts a generated UPDATE to what both implementations model.
fn comparable(mut u: ours::Update) -> ours::Update {
    u.withdrawn.retain(netgauze_accepts);
    u.nlri.retain(netgauze_accepts);
    if let Some(mp) = &mut u.mp_reach {
        mp.nlri.retain(netgauze_accepts);
    }
    if let Some(mp) = &mut u.mp_unreach {
        mp.withdrawn.retain(netgauze_accepts);
    }
    for path in [&mut u.attributes.as_path, &mut u.attributes.as4_path]
        .into_iter()
        .flatten()
    {
        path.segments.retain(|s| {
            !matches!(
                s.segment_type,
                SegmentType::AsConfedSequence | SegmentType::AsConfedSet
            )
        });
    }
    let mut codes = BTreeSet::new();
    u.attributes.unknown.retain_mut(|raw| {
        raw.type_code = ours::AttributeType(100 + raw.type_code.0 % 150);
        codes.insert(raw.type_code.0)
    });
    u
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn netgauze_agrees_on_every_route_and_attribute_of_updates(
        (ctx, update) in strategy::context_and_update()
    ) {
        let update = comparable(update);
        let bytes = Message::Update(update.clone()).to_bytes(&ctx)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let theirs = parse_theirs(&bytes, &ctx).map_err(TestCaseError::fail)?;
        let BgpMessage::Update(theirs) = theirs else {
            return Err(TestCaseError::fail("netgauze decoded another message type"));
        };
        let Ok(Message::Update(ours)) = Message::decode(&bytes, &ctx) else {
            return Err(TestCaseError::fail("we failed to decode our own UPDATE"));
        };
        prop_assert_eq!(summarise_ours(&ours), summarise_theirs(&theirs));
    }

    #[test]
    fn netgauze_agrees_on_other_messages(
        (ctx, message) in strategy::context_and_message()
            .prop_filter("UPDATEs have their own test", |(_, m)| !matches!(m, Message::Update(_)))
    ) {
        let bytes = message.to_bytes(&ctx).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let theirs = parse_theirs(&bytes, &ctx);
        match (&message, theirs) {
            (Message::Open(open), Ok(BgpMessage::Open(o))) => {
                prop_assert_eq!(
                    (open.my_as, open.hold_time, open.bgp_identifier),
                    (o.my_as(), o.hold_time(), o.bgp_id())
                );
                // netgauze drops capabilities it cannot type: unknown families, and codes it
                // knows (extended next hop, multiple labels, ...) with values it rejects.
                if netgauze_types_all_capabilities(open) {
                    prop_assert_eq!(open.capabilities.len(), o.capabilities().len());
                }
            }
            // netgauze applies RFC 4271's "valid unicast host address" rule to the BGP
            // Identifier; RFC 6286 §2.1 relaxed it to any non-zero value, as we do.
            (Message::Open(o), Err(_))
                if o.bgp_identifier.is_multicast() || o.bgp_identifier.is_broadcast() => {}
            (Message::Keepalive, Ok(BgpMessage::KeepAlive)) => {}
            (Message::Notification(_), Ok(BgpMessage::Notification(_))) => {}
            // netgauze rejects error codes and subcodes it does not define; we keep them
            // (RFC 4271 §6.4: a received NOTIFICATION is never answered with an error).
            (Message::Notification(n), Err(_)) if !is_named(n.code) => {}
            (Message::RouteRefresh(rr), Ok(BgpMessage::RouteRefresh(r))) => {
                prop_assert_eq!(rr.subtype.to_u8(), r.operation_type() as u8);
            }
            // netgauze rejects families and subtypes it does not know; we decode them.
            (Message::RouteRefresh(_), Err(_)) => {}
            (m, theirs) => prop_assert!(false, "disagreement on {m:?}: netgauze {theirs:?}"),
        }
    }
}

fn netgauze_types_all_capabilities(open: &ours::Open) -> bool {
    use ours::Capability as C;
    open.capabilities.iter().all(|c| match c {
        C::Multiprotocol(f) => f.is_supported(),
        C::GracefulRestart(gr) => gr.families.iter().all(|f| f.family.is_supported()),
        C::AddPath(families) => families.iter().all(|f| f.family.is_supported()),
        C::Unknown { .. } => false,
        _ => true,
    })
}

fn is_named(code: ours::ErrorCode) -> bool {
    use ours::ErrorCode as E;
    !matches!(
        code,
        E::Other { .. }
            | E::MessageHeader(ours::MessageHeaderError::Other(_))
            | E::OpenMessage(ours::OpenMessageError::Other(_))
            | E::UpdateMessage(ours::UpdateMessageError::Other(_))
            | E::FiniteStateMachine(ours::FsmError::Other(_))
            | E::Cease(ours::CeaseSubcode::Other(_))
            // RFC 4486 starts Cease subcodes at 1; netgauze refuses 0, which RFC 4271 uses
            // for a Cease without a reason.
            | E::Cease(ours::CeaseSubcode::Unspecific)
            | E::RouteRefreshMessage(ours::RouteRefreshError::Other(_))
    )
}

/// A fixed UPDATE both decoders must read identically, as a readable example.
#[test]
fn netgauze_reads_a_typical_calico_announcement_like_we_do() {
    let ctx = CodecContext {
        four_octet_as: true,
        families: ours::FamilySet::ALL,
        ..CodecContext::default()
    };
    let update = ours::Update {
        attributes: ours::PathAttributes {
            origin: Some(ours::Origin::Igp),
            as_path: Some(ours::AsPath::from_sequence([64512])),
            next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
            communities: vec![ours::Community::new(64512, 100)],
            ..Default::default()
        },
        nlri: ["192.168.10.0/26", "192.168.10.64/26"]
            .iter()
            .map(|p| ours::Nlri::new(p.parse::<Prefix>().expect("literal")))
            .collect(),
        ..Default::default()
    };
    let bytes = Message::Update(update.clone())
        .to_bytes(&ctx)
        .expect("encodes");
    let Ok(BgpMessage::Update(theirs)) = parse_theirs(&bytes, &ctx) else {
        panic!("netgauze failed");
    };
    assert_eq!(summarise_ours(&update), summarise_theirs(&theirs));
}
