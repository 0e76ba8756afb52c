//! Malformed UPDATEs (RFC 4271 §6.3 as revised by RFC 7606 §§3–5 and §7; RFC 4760 §7,
//! RFC 6793, RFC 4456) and ROUTE-REFRESH (RFC 2918 §4, RFC 7313 §5): cases 13–34 of the
//! numbered malformed-input cases shared with `malformed_header_open.rs` (cases 1–12 and
//! 35) and netns-tests' `bgp_malformed_update.rs` (the same cases over TCP). One test per
//! case (`cNN_...`), each asserting the RFC 7606 action and, where one is sent, the
//! NOTIFICATION code/subcode and data.
//!
//! The semantic next-hop check of case 24 and the RFC 4456 loop check of case 29 belong to
//! the RIB; here they check that the codec passes those values through without an error.
//! Case 34 (ROUTE-REFRESH) is here because, like the UPDATE cases, it is about what the
//! receiver ignores rather than resets.

mod wire;

use std::net::Ipv4Addr;

use bgp::codec::{
    Action, AddressFamily, CodecContext, FamilySet, Message, Notification, RouteRefresh,
    RouteRefreshSubtype, Update,
};
use wire::*;

fn action(update: &Update) -> Option<Action> {
    update.action().cloned()
}

// ---- UPDATE structure (RFC 4271 §6.3, RFC 7606 §3–§5) --------------------------------------

/// #13
#[test]
fn c13_withdrawn_or_total_attribute_length_overrun_is_malformed_attribute_list() {
    let mut msg = update(&[], &mandatory(), &two_prefixes());
    msg[19..21].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(reset(&msg, &ebgp()).0, (3, 1));

    let mut msg = update(&[], &mandatory(), &[]);
    msg[21..23].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(reset(&msg, &ebgp()).0, (3, 1));
}

/// #14
#[test]
fn c14_attribute_overrunning_its_section_is_treat_as_withdraw_and_nlri_still_found() {
    // One and two stray octets at the end of the attribute section.
    for stray in [&[0x40][..], &[0x40, 8][..]] {
        let attrs = [mandatory(), stray.to_vec()].concat();
        let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
        assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
        assert_eq!(
            u.nlri.len(),
            2,
            "NLRI located from the Total Path Attribute Length"
        );
    }
    // An attribute whose length runs past the section.
    let attrs = [mandatory(), vec![0xc0, 8, 8, 0, 0, 0, 1]].concat();
    let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
    assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
    assert_eq!(u.nlri.len(), 2);
}

/// #15
#[test]
fn c15_bad_prefix_length_or_truncated_prefix_is_invalid_network_field() {
    let bad = update(&[], &mandatory(), &[33, 10, 0, 0, 0, 0]);
    assert_eq!(reset(&bad, &ebgp()).0, (3, 10));
    let truncated = update(&[], &mandatory(), &[24, 10, 0]);
    assert_eq!(reset(&truncated, &ebgp()).0, (3, 10));
    let withdrawn = update(&[40, 1, 2, 3, 4, 5], &[], &[]);
    assert_eq!(reset(&withdrawn, &ebgp()).0, (3, 10));
    // Inside MP_REACH_NLRI the error is confined to the family: AFI/SAFI disable allowed.
    let mut mp = mp_reach_v6();
    let prefix_len_at = mp.len() - 7;
    mp[prefix_len_at] = 129;
    let msg = update(&[], &[origin_igp(), as_path4(&[65001]), mp].concat(), &[]);
    let err = decode(&msg, &ebgp()).unwrap_err();
    assert_eq!(
        err.notification_to_send().map(Notification::code_subcode),
        Some((3, 10))
    );
    assert_eq!(err.family, Some(AddressFamily::IPV6_UNICAST));
}

/// #16
#[test]
fn c16_mp_reach_or_mp_unreach_twice_is_malformed_attribute_list() {
    let attrs = [
        origin_igp(),
        as_path4(&[65001]),
        mp_reach_v6(),
        mp_reach_v6(),
    ]
    .concat();
    assert_eq!(reset(&update(&[], &attrs, &[]), &ebgp()).0, (3, 1));
    let unreach = attr(0x80, 15, &[0, 2, 1]);
    let attrs = [unreach.clone(), unreach].concat();
    assert_eq!(reset(&update(&[], &attrs, &[]), &ebgp()).0, (3, 1));
}

/// #17
#[test]
fn c17_other_duplicate_attribute_keeps_the_first_and_discards_the_rest() {
    let attrs = [
        mandatory(),
        attr(0x80, 4, &10u32.to_be_bytes()),
        attr(0x80, 4, &20u32.to_be_bytes()),
    ]
    .concat();
    let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
    assert_eq!(action(&u), Some(Action::AttributeDiscard));
    assert_eq!(u.attributes.multi_exit_disc, Some(10));
}

/// #18
#[test]
fn c18_flags_conflicting_with_type_use_the_attributes_own_handling() {
    let attrs = [attr(0xc0, 1, &[0]), as_path4(&[65001]), next_hop()].concat();
    let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
    assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
    // AGGREGATOR is attribute-discard by its own rule (RFC 7606 §7.7).
    let aggregator = attr(0x40, 7, &[0, 0, 0xfd, 0xe9, 10, 0, 0, 1]);
    let u = decode_update(
        &update(&[], &[mandatory(), aggregator].concat(), &two_prefixes()),
        &ebgp(),
    );
    assert_eq!(action(&u), Some(Action::AttributeDiscard));
    assert_eq!(u.attributes.aggregator, None);
}

/// #19
#[test]
fn c19_missing_well_known_mandatory_attribute_is_treat_as_withdraw() {
    let cases = [
        [as_path4(&[65001]), next_hop()].concat(),
        [origin_igp(), next_hop()].concat(),
        [origin_igp(), as_path4(&[65001])].concat(),
    ];
    for attrs in cases {
        let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
        assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
    }
    // LOCAL_PREF is mandatory on internal sessions only.
    let u = decode_update(&update(&[], &mandatory(), &two_prefixes()), &ibgp());
    assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
    let attrs = [mandatory(), local_pref()].concat();
    assert_eq!(
        action(&decode_update(
            &update(&[], &attrs, &two_prefixes()),
            &ibgp()
        )),
        None
    );
    // NEXT_HOP is not needed when the routes are in MP_REACH_NLRI, nor anything without NLRI.
    let attrs = [origin_igp(), as_path4(&[65001]), mp_reach_v6()].concat();
    assert_eq!(
        action(&decode_update(&update(&[], &attrs, &[]), &ebgp())),
        None
    );
    assert_eq!(
        action(&decode_update(&update(&[24, 10, 0, 0], &[], &[]), &ebgp())),
        None
    );
}

/// #20
#[test]
fn c20_unrecognized_well_known_attribute_resets_with_the_attribute_as_data() {
    let unknown = attr(0x40, 99, &[1, 2]);
    let msg = update(
        &[],
        &[mandatory(), unknown.clone()].concat(),
        &two_prefixes(),
    );
    assert_eq!(reset(&msg, &ebgp()), ((3, 2), unknown));
}

/// #21
#[test]
fn c21_unknown_optional_transitive_is_kept_with_partial_and_non_transitive_dropped() {
    let attrs = [mandatory(), attr(0xc0, 99, &[1, 2]), attr(0x80, 98, &[3])].concat();
    let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
    assert_eq!(action(&u), None);
    assert_eq!(u.attributes.unknown.len(), 1);
    assert_eq!(u.attributes.unknown[0].type_code.0, 99);
    assert_eq!(u.attributes.unknown[0].flags.0, 0xe0);
    let bytes = Message::Update(u).to_bytes(&ebgp()).unwrap();
    assert!(bytes.windows(5).any(|w| w == [0xe0, 99, 2, 1, 2]));
}

// ---- Individual attributes (RFC 7606 §7) ---------------------------------------------------

fn with_attr(extra: Vec<u8>, ctx: &CodecContext) -> Update {
    decode_update(
        &update(&[], &[mandatory(), extra].concat(), &two_prefixes()),
        ctx,
    )
}

/// #22
#[test]
fn c22_origin_of_wrong_length_or_undefined_value_is_treat_as_withdraw() {
    for origin in [attr(0x40, 1, &[0, 0]), attr(0x40, 1, &[3])] {
        let attrs = [origin, as_path4(&[65001]), next_hop()].concat();
        let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
        assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
    }
}

/// #23
#[test]
fn c23_malformed_as_path_is_treat_as_withdraw() {
    let bodies: [&[u8]; 4] = [
        &[2, 2, 0, 0, 0xfd, 0xe9],
        &[2, 1, 0, 0, 0xfd, 0xe9, 2],
        &[2, 0],
        &[7, 1, 0, 0, 0xfd, 0xe9],
    ];
    for body in bodies {
        let attrs = [origin_igp(), attr(0x40, 2, body), next_hop()].concat();
        let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
        assert_eq!(action(&u), Some(Action::TreatAsWithdraw), "{body:?}");
    }
    // Confederation segments from a non-confederation external peer.
    let confed = attr(0x40, 2, &[3, 1, 0, 0, 0xfc, 0, 2, 1, 0, 0, 0xfd, 0xe9]);
    let confed_attrs = [origin_igp(), confed, next_hop()].concat();
    let msg = update(&[], &confed_attrs, &two_prefixes());
    assert_eq!(
        action(&decode_update(&msg, &ebgp())),
        Some(Action::TreatAsWithdraw)
    );
    let msg = update(&[], &[confed_attrs, local_pref()].concat(), &two_prefixes());
    assert_eq!(
        action(&decode_update(&msg, &ibgp())),
        None,
        "fine from internal peers"
    );
    // First AS must be the peer's AS when configured; AS_TRANS stands in on 2-octet sessions.
    let ctx = CodecContext {
        peer_as: Some(65002),
        ..ebgp()
    };
    let u = decode_update(&update(&[], &mandatory(), &two_prefixes()), &ctx);
    assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
    let two_octet = CodecContext {
        four_octet_as: false,
        peer_as: Some(4_200_000_000),
        ..ebgp()
    };
    let path = attr(0x40, 2, &[2, 1, 0x5b, 0xa0]);
    let attrs = [origin_igp(), path, next_hop()].concat();
    let u = decode_update(&update(&[], &attrs, &two_prefixes()), &two_octet);
    assert_eq!(action(&u), None);
}

/// #24
#[test]
fn c24_next_hop_of_wrong_length_is_treat_as_withdraw_and_bad_addresses_pass_through() {
    let attrs = [origin_igp(), as_path4(&[65001]), attr(0x40, 3, &[10, 0, 0])].concat();
    let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
    assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
    // 127.0.0.1 is syntactically fine; ignoring the route is the RIB's job (RFC 4271 §6.3).
    let attrs = [
        origin_igp(),
        as_path4(&[65001]),
        attr(0x40, 3, &[127, 0, 0, 1]),
    ]
    .concat();
    let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
    assert_eq!(action(&u), None);
    assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::LOCALHOST));
}

/// #25
#[test]
fn c25_med_of_wrong_length_is_treat_as_withdraw() {
    let u = with_attr(attr(0x80, 4, &[0, 0, 1]), &ebgp());
    assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
}

/// #26
#[test]
fn c26_local_pref_is_discarded_from_external_peers_and_checked_from_internal_ones() {
    let u = with_attr(local_pref(), &ebgp());
    assert_eq!(action(&u), Some(Action::AttributeDiscard));
    assert_eq!(u.attributes.local_pref, None);
    let u = with_attr(attr(0x40, 5, &[0, 0, 100]), &ibgp());
    assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
}

/// #27
#[test]
fn c27_bad_atomic_aggregate_or_aggregator_length_is_attribute_discard() {
    let u = with_attr(attr(0x40, 6, &[0]), &ebgp());
    assert_eq!(action(&u), Some(Action::AttributeDiscard));
    assert!(!u.attributes.atomic_aggregate);
    // 8 octets are right on 4-octet sessions, 6 on 2-octet ones.
    let agg8 = attr(0xc0, 7, &[0, 0, 0xfd, 0xe9, 10, 0, 0, 1]);
    let agg6 = attr(0xc0, 7, &[0xfd, 0xe9, 10, 0, 0, 1]);
    assert_eq!(action(&with_attr(agg8.clone(), &ebgp())), None);
    assert_eq!(
        action(&with_attr(agg6.clone(), &ebgp())),
        Some(Action::AttributeDiscard)
    );
    let two_octet = CodecContext {
        four_octet_as: false,
        ..ebgp()
    };
    let path2 = attr(0x40, 2, &[2, 1, 0xfd, 0xe9]);
    for (agg, expected) in [(agg6, None), (agg8, Some(Action::AttributeDiscard))] {
        let attrs = [origin_igp(), path2.clone(), next_hop(), agg].concat();
        let u = decode_update(&update(&[], &attrs, &two_prefixes()), &two_octet);
        assert_eq!(action(&u), expected);
    }
}

/// #28
#[test]
fn c28_community_lists_of_wrong_length_are_treat_as_withdraw() {
    for bad in [
        attr(0xc0, 8, &[0, 0, 1]),
        attr(0xc0, 8, &[]),
        attr(0xc0, 16, &[0; 7]),
        attr(0xc0, 32, &[0; 11]),
    ] {
        assert_eq!(
            action(&with_attr(bad, &ebgp())),
            Some(Action::TreatAsWithdraw)
        );
    }
}

/// #29
#[test]
fn c29_route_reflector_attributes_are_discarded_from_external_peers_and_checked_internally() {
    let originator = attr(0x80, 9, &[10, 0, 0, 9]);
    let cluster = attr(0x80, 10, &[10, 0, 0, 1, 10, 0, 0, 2]);
    for a in [originator.clone(), cluster.clone()] {
        let u = with_attr(a, &ebgp());
        assert_eq!(action(&u), Some(Action::AttributeDiscard));
    }
    let internal = |extra: Vec<u8>| with_attr([local_pref(), extra].concat(), &ibgp());
    assert_eq!(
        action(&internal(attr(0x80, 9, &[10, 0, 0]))),
        Some(Action::TreatAsWithdraw)
    );
    assert_eq!(
        action(&internal(attr(0x80, 10, &[10, 0, 0, 1, 2]))),
        Some(Action::TreatAsWithdraw)
    );
    // Valid ones pass; loop detection against our own ids is the RIB's job (RFC 4456 §8).
    let u = internal([originator, cluster].concat());
    assert_eq!(action(&u), None);
    assert_eq!(u.attributes.originator_id, Some(Ipv4Addr::new(10, 0, 0, 9)));
    assert_eq!(u.attributes.cluster_list.len(), 2);
}

/// #30
#[test]
fn c30_bad_mp_next_hop_length_or_unnegotiated_family_resets_with_optional_attribute_error() {
    let mut v = vec![0, 2, 1, 8];
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&[0, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]);
    let mp = attr(0x80, 14, &v);
    let msg = update(
        &[],
        &[origin_igp(), as_path4(&[65001]), mp.clone()].concat(),
        &[],
    );
    let err = decode(&msg, &ebgp()).unwrap_err();
    let n = err.notification_to_send().unwrap();
    assert_eq!((n.code_subcode(), n.data.clone()), ((3, 9), mp));
    assert_eq!(err.family, Some(AddressFamily::IPV6_UNICAST));

    let v4_only = CodecContext {
        families: FamilySet::IPV4_UNICAST,
        ..ebgp()
    };
    let msg = update(
        &[],
        &[origin_igp(), as_path4(&[65001]), mp_reach_v6()].concat(),
        &[],
    );
    let err = decode(&msg, &v4_only).unwrap_err();
    assert_eq!(
        err.notification_to_send().map(Notification::code_subcode),
        Some((3, 9))
    );
    assert_eq!(err.family, Some(AddressFamily::IPV6_UNICAST));

    let truncated = attr(0x80, 14, &[0, 2, 1, 16, 0, 0]);
    let msg = update(&[], &truncated, &[]);
    assert_eq!(reset(&msg, &ebgp()).0, (3, 9));
}

/// #31
#[test]
fn c31_as4_attributes_malformed_or_from_four_octet_peers_are_attribute_discard() {
    let two_octet = CodecContext {
        four_octet_as: false,
        ..ebgp()
    };
    let base = [origin_igp(), attr(0x40, 2, &[2, 1, 0xfd, 0xe9]), next_hop()].concat();
    for bad in [
        attr(0xc0, 17, &[2, 2, 0, 0, 0, 1]),
        attr(0xc0, 18, &[0, 0, 1, 10, 0, 0]),
    ] {
        let u = decode_update(
            &update(&[], &[base.clone(), bad].concat(), &two_prefixes()),
            &two_octet,
        );
        assert_eq!(action(&u), Some(Action::AttributeDiscard));
    }
    let good = attr(0xc0, 17, &[2, 1, 0xfa, 0x56, 0xea, 0]);
    let u = decode_update(
        &update(&[], &[base, good.clone()].concat(), &two_prefixes()),
        &two_octet,
    );
    assert_eq!(action(&u), None);
    assert!(u.attributes.as4_path.is_some());
    let u = with_attr(good, &ebgp());
    assert_eq!(action(&u), Some(Action::AttributeDiscard));
    assert_eq!(u.attributes.as4_path, None);
}

/// #32
#[test]
fn c32_strongest_action_wins_when_one_update_has_several_problems() {
    let attrs = [mandatory(), attr(0x40, 6, &[1]), attr(0x80, 4, &[1])].concat();
    let u = decode_update(&update(&[], &attrs, &two_prefixes()), &ebgp());
    assert_eq!(u.errors.len(), 2);
    assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
    // A session-reset error anywhere overrides both.
    let msg = update(&[], &attrs, &[33, 1, 2, 3, 4, 5]);
    assert_eq!(reset(&msg, &ebgp()).0, (3, 10));
}

/// #33
#[test]
fn c33_malformed_attribute_without_nlri_is_a_treat_as_withdraw_with_nothing_to_withdraw() {
    let u = decode_update(&update(&[], &attr(0x80, 4, &[1]), &[]), &ebgp());
    assert_eq!(action(&u), Some(Action::TreatAsWithdraw));
    assert_eq!(u.announced().count(), 0);
    assert_eq!(u.end_of_rib_family(), None, "not an End-of-RIB marker");
    // End-of-RIB markers are valid.
    let eor = decode_update(&update(&[], &[], &[]), &ebgp());
    assert_eq!(
        (action(&eor), eor.end_of_rib_family()),
        (None, Some(AddressFamily::IPV4_UNICAST))
    );
    let eor6 = decode_update(&update(&[], &attr(0x80, 15, &[0, 2, 1]), &[]), &ebgp());
    assert_eq!(eor6.end_of_rib_family(), Some(AddressFamily::IPV6_UNICAST));
}

/// #34
#[test]
fn c34_route_refresh_with_unknown_subtype_or_unnegotiated_family_is_ignored() {
    let Ok(Message::RouteRefresh(rr)) = decode(&message(5, &[0, 1, 9, 1, 0xaa]), &ebgp()) else {
        panic!("unknown subtype must decode");
    };
    assert_eq!(rr.subtype, RouteRefreshSubtype::Unknown(9));
    assert!(rr.must_ignore(&ebgp()));
    let rr = RouteRefresh::request(AddressFamily::IPV6_UNICAST);
    let v4_only = CodecContext::default();
    assert!(rr.must_ignore(&v4_only));
    assert!(!rr.must_ignore(&ebgp()));
}
