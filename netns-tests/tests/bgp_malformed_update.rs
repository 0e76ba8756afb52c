//! Malformed UPDATEs and ROUTE-REFRESHes over real TCP (RFC 4271 §6.3 as revised by
//! RFC 7606; RFC 4760, RFC 6793, RFC 4456; RFC 2918, RFC 7313): cases 13–34 of the numbered
//! malformed-input cases of `bgp/tests/malformed_update.rs`, sent by the raw peer
//! (`raw_peer/`) on an established session. Each case checks either the session reset (the
//! NOTIFICATION, EOF, `SessionEvent::Down`) or the RFC 7606 action our side delivers the
//! UPDATE with, and that the session stays up.
//!
//! Not exercised here: the RIB's own checks of rows 24 and 29 (a semantically bad next hop,
//! loop detection).

mod raw_peer;

use std::net::Ipv4Addr;

use bgp::codec::{Action, AddressFamily};
use raw_peer::cases::Expect::{Deliver, Ignored};
use raw_peer::cases::{Check, ad, case, notify, notify_data, run, run_all, taw};
use raw_peer::wire::{
    TWO_PREFIXES, as_path4, attr, local_pref, mandatory, message, mp_reach_v6, next_hop,
    origin_igp, two_prefixes, update, with_attr,
};
use raw_peer::{PEER_AS, Peer, announced};

// ---- UPDATE structure (RFC 4271 §6.3, RFC 7606 §3–§5) --------------------------------------

/// #13
#[tokio::test]
async fn c13_withdrawn_or_total_attribute_length_overrun_is_malformed_attribute_list() {
    let mut withdrawn = update(&[], &mandatory(), &two_prefixes());
    withdrawn[19..21].copy_from_slice(&200u16.to_be_bytes());
    let mut attrs = update(&[], &mandatory(), &[]);
    attrs[21..23].copy_from_slice(&200u16.to_be_bytes());
    run_all([
        case(
            "c13 Withdrawn Routes Length overrun",
            withdrawn,
            notify(3, 1),
        ),
        case(
            "c13 Total Path Attribute Length overrun",
            attrs,
            notify(3, 1),
        ),
    ])
    .await;
}

/// #14
#[tokio::test]
async fn c14_attribute_overrunning_its_section_is_treat_as_withdraw() {
    run_all([
        case(
            "c14 one stray octet",
            with_attr(Peer::Ebgp, vec![0x40]),
            taw(),
        ),
        case(
            "c14 two stray octets",
            with_attr(Peer::Ebgp, vec![0x40, 8]),
            taw(),
        ),
        case(
            "c14 attribute length past the section",
            with_attr(Peer::Ebgp, vec![0xc0, 8, 8, 0, 0, 0, 1]),
            taw(),
        ),
    ])
    .await;
}

/// #15 (inside MP_REACH_NLRI AFI/SAFI disable would be allowed; we reset)
#[tokio::test]
async fn c15_bad_or_truncated_prefix_is_invalid_network_field() {
    let mut mp = mp_reach_v6();
    let prefix_len_at = mp.len() - 7;
    mp[prefix_len_at] = 129;
    run_all([
        case(
            "c15 NLRI /33",
            update(&[], &mandatory(), &[33, 10, 0, 0, 0, 0]),
            notify(3, 10),
        ),
        case(
            "c15 truncated NLRI",
            update(&[], &mandatory(), &[24, 10, 0]),
            notify(3, 10),
        ),
        case(
            "c15 withdrawn /40",
            update(&[40, 1, 2, 3, 4, 5], &[], &[]),
            notify(3, 10),
        ),
        case(
            "c15 MP_REACH_NLRI /129",
            update(&[], &[origin_igp(), as_path4(&[PEER_AS]), mp].concat(), &[]),
            notify(3, 10),
        ),
    ])
    .await;
}

/// #16
#[tokio::test]
async fn c16_mp_reach_or_mp_unreach_twice_is_malformed_attribute_list() {
    let reach = [
        origin_igp(),
        as_path4(&[PEER_AS]),
        mp_reach_v6(),
        mp_reach_v6(),
    ]
    .concat();
    let unreach = attr(0x80, 15, &[0, 2, 1]);
    run_all([
        case(
            "c16 MP_REACH_NLRI twice",
            update(&[], &reach, &[]),
            notify(3, 1),
        ),
        case(
            "c16 MP_UNREACH_NLRI twice",
            update(&[], &[unreach.clone(), unreach].concat(), &[]),
            notify(3, 1),
        ),
    ])
    .await;
}

/// #17
#[tokio::test]
async fn c17_other_duplicate_attribute_keeps_the_first() {
    let meds = [
        attr(0x80, 4, &10u32.to_be_bytes()),
        attr(0x80, 4, &20u32.to_be_bytes()),
    ];
    run(case(
        "c17 two MEDs",
        with_attr(Peer::Ebgp, meds.concat()),
        ad("keeps the first MED", |u| {
            u.attributes.multi_exit_disc == Some(10) && announced(u) == TWO_PREFIXES
        }),
    ))
    .await;
}

/// #18
#[tokio::test]
async fn c18_flags_conflicting_with_type_use_the_attributes_own_rule() {
    let origin_optional = [attr(0xc0, 1, &[0]), as_path4(&[PEER_AS]), next_hop()].concat();
    let aggregator = attr(0x40, 7, &[0, 0, 0xfd, 0xe9, 10, 0, 0, 1]);
    run_all([
        case(
            "c18 ORIGIN marked optional",
            update(&[], &origin_optional, &two_prefixes()),
            taw(),
        ),
        case(
            "c18 AGGREGATOR marked well-known",
            with_attr(Peer::Ebgp, aggregator),
            ad("has no AGGREGATOR", |u| {
                u.attributes.aggregator.is_none() && announced(u) == TWO_PREFIXES
            }),
        ),
    ])
    .await;
}

/// #19
#[tokio::test]
async fn c19_missing_well_known_mandatory_attribute_is_treat_as_withdraw() {
    let without = |attrs: Vec<u8>| update(&[], &attrs, &two_prefixes());
    run_all([
        case(
            "c19 no ORIGIN",
            without([as_path4(&[PEER_AS]), next_hop()].concat()),
            taw(),
        ),
        case(
            "c19 no AS_PATH",
            without([origin_igp(), next_hop()].concat()),
            taw(),
        ),
        case(
            "c19 no NEXT_HOP",
            without([origin_igp(), as_path4(&[PEER_AS])].concat()),
            taw(),
        ),
        case("c19 no LOCAL_PREF on iBGP", without(mandatory()), taw()).peer(Peer::Ibgp),
    ])
    .await;
}

/// #20
#[tokio::test]
async fn c20_unrecognized_well_known_attribute_resets_with_the_attribute_as_data() {
    let unknown = attr(0x40, 99, &[1, 2]);
    run(case(
        "c20 well-known type 99",
        with_attr(Peer::Ebgp, unknown.clone()),
        notify_data(3, 2, unknown),
    ))
    .await;
}

/// #21
#[tokio::test]
async fn c21_unknown_optional_attributes_transitive_kept_partial_non_transitive_dropped() {
    run(case(
        "c21 unknown optional transitive 99 and non-transitive 98",
        with_attr(
            Peer::Ebgp,
            [attr(0xc0, 99, &[1, 2]), attr(0x80, 98, &[3])].concat(),
        ),
        Deliver(None, "keeps 99 with Partial and drops 98", |u| {
            let unknown = &u.attributes.unknown;
            unknown.len() == 1 && unknown[0].type_code.0 == 99 && unknown[0].flags.0 == 0xe0
        }),
    ))
    .await;
}

// ---- Individual attributes (RFC 7606 §7) ---------------------------------------------------

/// #22
#[tokio::test]
async fn c22_bad_origin_is_treat_as_withdraw() {
    let with_origin = |origin| {
        update(
            &[],
            &[origin, as_path4(&[PEER_AS]), next_hop()].concat(),
            &two_prefixes(),
        )
    };
    run_all([
        case(
            "c22 ORIGIN of 2 octets",
            with_origin(attr(0x40, 1, &[0, 0])),
            taw(),
        ),
        case(
            "c22 ORIGIN value 3",
            with_origin(attr(0x40, 1, &[3])),
            taw(),
        ),
    ])
    .await;
}

/// #23
#[tokio::test]
async fn c23_malformed_as_path_is_treat_as_withdraw() {
    let with_path = |body: &[u8]| {
        update(
            &[],
            &[origin_igp(), attr(0x40, 2, body), next_hop()].concat(),
            &two_prefixes(),
        )
    };
    run_all([
        case(
            "c23 segment overrun",
            with_path(&[2, 2, 0, 0, 0xfd, 0xe9]),
            taw(),
        ),
        case(
            "c23 segment underrun",
            with_path(&[2, 1, 0, 0, 0xfd, 0xe9, 2]),
            taw(),
        ),
        case("c23 segment length 0", with_path(&[2, 0]), taw()),
        case(
            "c23 segment type 7",
            with_path(&[7, 1, 0, 0, 0xfd, 0xe9]),
            taw(),
        ),
        case(
            "c23 AS_CONFED_SEQUENCE from a non-confederation eBGP peer",
            with_path(&[3, 1, 0, 0, 0xfc, 0, 2, 1, 0, 0, 0xfd, 0xe9]),
            taw(),
        ),
        case(
            "c23 first AS not the peer's",
            update(
                &[],
                &[origin_igp(), as_path4(&[65003]), next_hop()].concat(),
                &two_prefixes(),
            ),
            taw(),
        ),
    ])
    .await;
}

/// #24 (a semantically bad next hop is the RIB's to ignore: delivered without an action)
#[tokio::test]
async fn c24_next_hop_of_wrong_length_is_treat_as_withdraw() {
    let with_nh = |nh: &[u8]| {
        update(
            &[],
            &[origin_igp(), as_path4(&[PEER_AS]), attr(0x40, 3, nh)].concat(),
            &two_prefixes(),
        )
    };
    run_all([
        case("c24 NEXT_HOP of 3 octets", with_nh(&[10, 0, 0]), taw()),
        case(
            "c24 NEXT_HOP 127.0.0.1 passes to the RIB",
            with_nh(&[127, 0, 0, 1]),
            Deliver(None, "carries next hop 127.0.0.1", |u| {
                u.attributes.next_hop == Some(Ipv4Addr::LOCALHOST)
            }),
        ),
    ])
    .await;
}

/// #25
#[tokio::test]
async fn c25_med_of_wrong_length_is_treat_as_withdraw() {
    run(case(
        "c25 MED of 3 octets",
        with_attr(Peer::Ebgp, attr(0x80, 4, &[0, 0, 1])),
        taw(),
    ))
    .await;
}

/// #26
#[tokio::test]
async fn c26_local_pref_discarded_from_ebgp_and_checked_on_ibgp() {
    let ibgp_bad = update(
        &[],
        &[mandatory(), attr(0x40, 5, &[0, 0, 100])].concat(),
        &two_prefixes(),
    );
    run_all([
        case(
            "c26 LOCAL_PREF from eBGP",
            with_attr(Peer::Ebgp, local_pref()),
            ad("has no LOCAL_PREF", |u| {
                u.attributes.local_pref.is_none() && announced(u) == TWO_PREFIXES
            }),
        ),
        case("c26 LOCAL_PREF of 3 octets on iBGP", ibgp_bad, taw()).peer(Peer::Ibgp),
    ])
    .await;
}

/// #27
#[tokio::test]
async fn c27_bad_atomic_aggregate_or_aggregator_length_is_attribute_discard() {
    let no_aggregator: Check =
        |u| u.attributes.aggregator.is_none() && announced(u) == TWO_PREFIXES;
    run_all([
        case(
            "c27 ATOMIC_AGGREGATE of 1 octet",
            with_attr(Peer::Ebgp, attr(0x40, 6, &[0])),
            ad("has no ATOMIC_AGGREGATE", |u| {
                !u.attributes.atomic_aggregate && announced(u) == TWO_PREFIXES
            }),
        ),
        case(
            "c27 AGGREGATOR of 6 octets on a 4-octet session",
            with_attr(Peer::Ebgp, attr(0xc0, 7, &[0xfd, 0xe9, 10, 0, 0, 1])),
            ad("has no AGGREGATOR", no_aggregator),
        ),
        case(
            "c27 AGGREGATOR of 8 octets on a 2-octet session",
            with_attr(
                Peer::TwoOctet,
                attr(0xc0, 7, &[0, 0, 0xfd, 0xe9, 10, 0, 0, 1]),
            ),
            ad("has no AGGREGATOR", no_aggregator),
        )
        .peer(Peer::TwoOctet),
    ])
    .await;
}

/// #28
#[tokio::test]
async fn c28_community_lists_of_wrong_length_are_treat_as_withdraw() {
    run_all([
        case(
            "c28 COMMUNITIES of 3",
            with_attr(Peer::Ebgp, attr(0xc0, 8, &[0, 0, 1])),
            taw(),
        ),
        case(
            "c28 COMMUNITIES empty",
            with_attr(Peer::Ebgp, attr(0xc0, 8, &[])),
            taw(),
        ),
        case(
            "c28 EXT_COMMUNITIES of 7",
            with_attr(Peer::Ebgp, attr(0xc0, 16, &[0; 7])),
            taw(),
        ),
        case(
            "c28 LARGE_COMMUNITY of 11",
            with_attr(Peer::Ebgp, attr(0xc0, 32, &[0; 11])),
            taw(),
        ),
    ])
    .await;
}

/// #29
#[tokio::test]
async fn c29_route_reflector_attributes_discarded_from_ebgp_and_checked_on_ibgp() {
    run_all([
        case(
            "c29 ORIGINATOR_ID from eBGP",
            with_attr(Peer::Ebgp, attr(0x80, 9, &[10, 0, 0, 9])),
            ad("has no ORIGINATOR_ID", |u| {
                u.attributes.originator_id.is_none() && announced(u) == TWO_PREFIXES
            }),
        ),
        case(
            "c29 CLUSTER_LIST from eBGP",
            with_attr(Peer::Ebgp, attr(0x80, 10, &[10, 0, 0, 1, 10, 0, 0, 2])),
            ad("has no CLUSTER_LIST", |u| {
                u.attributes.cluster_list.is_empty() && announced(u) == TWO_PREFIXES
            }),
        ),
        case(
            "c29 ORIGINATOR_ID of 3 octets on iBGP",
            with_attr(Peer::Ibgp, attr(0x80, 9, &[10, 0, 0])),
            taw(),
        )
        .peer(Peer::Ibgp),
        case(
            "c29 CLUSTER_LIST of 5 octets on iBGP",
            with_attr(Peer::Ibgp, attr(0x80, 10, &[10, 0, 0, 1, 2])),
            taw(),
        )
        .peer(Peer::Ibgp),
    ])
    .await;
}

/// #30 (AFI/SAFI disable would be allowed; we reset with Optional Attribute Error)
#[tokio::test]
async fn c30_bad_mp_next_hop_or_unnegotiated_family_is_optional_attribute_error() {
    let mut v = vec![0, 2, 1, 8];
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&[0, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]);
    let bad_nh = attr(0x80, 14, &v);
    let base = || [origin_igp(), as_path4(&[PEER_AS])].concat();
    run_all([
        case(
            "c30 IPv6 next hop of 8 octets",
            update(&[], &[base(), bad_nh.clone()].concat(), &[]),
            notify_data(3, 9, bad_nh),
        ),
        case(
            "c30 IPv6 routes on an IPv4-only session",
            update(&[], &[base(), mp_reach_v6()].concat(), &[]),
            notify(3, 9),
        )
        .peer(Peer::V4Only),
        case(
            "c30 truncated MP_REACH_NLRI",
            update(&[], &attr(0x80, 14, &[0, 2, 1, 16, 0, 0]), &[]),
            notify(3, 9),
        ),
    ])
    .await;
}

/// #31
#[tokio::test]
async fn c31_as4_attributes_malformed_or_from_four_octet_peers_are_attribute_discard() {
    let good_as4_path = attr(0xc0, 17, &[2, 1, 0xfa, 0x56, 0xea, 0]);
    run_all([
        case(
            "c31 AS4_PATH from a 4-octet peer",
            with_attr(Peer::Ebgp, good_as4_path),
            ad("has no AS4_PATH", |u| {
                u.attributes.as4_path.is_none() && announced(u) == TWO_PREFIXES
            }),
        ),
        case(
            "c31 malformed AS4_PATH on a 2-octet session",
            with_attr(Peer::TwoOctet, attr(0xc0, 17, &[2, 2, 0, 0, 0, 1])),
            ad("has no AS4_PATH", |u| {
                u.attributes.as4_path.is_none() && announced(u) == TWO_PREFIXES
            }),
        )
        .peer(Peer::TwoOctet),
        case(
            "c31 AS4_AGGREGATOR of 6 octets on a 2-octet session",
            with_attr(Peer::TwoOctet, attr(0xc0, 18, &[0, 0, 1, 10, 0, 0])),
            ad("still announces both prefixes", |u| {
                announced(u) == TWO_PREFIXES
            }),
        )
        .peer(Peer::TwoOctet),
    ])
    .await;
}

/// #32
#[tokio::test]
async fn c32_strongest_action_wins() {
    let two_problems = [mandatory(), attr(0x40, 6, &[1]), attr(0x80, 4, &[1])].concat();
    run_all([
        case(
            "c32 attribute discard and treat-as-withdraw",
            update(&[], &two_problems, &two_prefixes()),
            Deliver(Some(Action::TreatAsWithdraw), "lists both errors", |u| {
                u.errors.len() == 2 && announced(u) == TWO_PREFIXES
            }),
        ),
        case(
            "c32 the same with an invalid prefix",
            update(&[], &two_problems, &[33, 1, 2, 3, 4, 5]),
            notify(3, 10),
        ),
    ])
    .await;
}

/// #33
#[tokio::test]
async fn c33_malformed_attribute_without_nlri_withdraws_nothing_and_end_of_rib_is_valid() {
    run_all([
        case(
            "c33 bad MED and no NLRI",
            update(&[], &attr(0x80, 4, &[1]), &[]),
            Deliver(
                Some(Action::TreatAsWithdraw),
                "announces nothing, is no End-of-RIB",
                |u| u.announced().count() == 0 && u.end_of_rib_family().is_none(),
            ),
        ),
        case(
            "c33 IPv4 End-of-RIB",
            update(&[], &[], &[]),
            Deliver(None, "is the IPv4 End-of-RIB", |u| {
                u.end_of_rib_family() == Some(AddressFamily::IPV4_UNICAST)
            }),
        ),
    ])
    .await;
}

/// #34: the driver reports the ROUTE-REFRESH; the owner must ignore it. No NOTIFICATION.
#[tokio::test]
async fn c34_route_refresh_with_unknown_subtype_or_unnegotiated_family_is_ignored() {
    run_all([
        case(
            "c34 ROUTE-REFRESH subtype 9",
            message(5, &[0, 1, 9, 1]),
            Ignored,
        ),
        case(
            "c34 ROUTE-REFRESH for IPv6 on an IPv4-only session",
            message(5, &[0, 2, 0, 1]),
            Ignored,
        )
        .peer(Peer::V4Only),
    ])
    .await;
}
