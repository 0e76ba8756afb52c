//! Malformed message headers and OPENs over real TCP (RFC 4271 §6.1, §6.2; RFC 5492,
//! RFC 6286, RFC 6793): cases 1–10 of the numbered malformed-input cases of
//! `bgp/tests/malformed_header_open.rs`, sent by the raw peer (`raw_peer/`) to our passive
//! session. Each case checks the NOTIFICATION the raw peer receives, then EOF, and our
//! session's events; case 10 checks that an unknown capability lets the session come up.
//!
//! Not exercised here: 10's "required capability absent" (our sessions require none).

mod raw_peer;

use std::net::Ipv4Addr;

use raw_peer::cases::{Stage, case, notify, notify_data, run, run_all};
use raw_peer::wire::{
    TWO_PREFIXES, cap_as4, header_only, keepalive, message, open_body, raw_open, with_attr,
};
use raw_peer::{HOLD, Harness, OUR_ID, PEER_AS, PEER_ID, Peer, announced};

// ---- Message header (RFC 4271 §6.1) --------------------------------------------------------

/// #1
#[tokio::test]
async fn c01_marker_not_all_ones_is_connection_not_synchronized() {
    let mut bad = keepalive();
    bad[3] = 0;
    let mut bad_open = Peer::Ebgp.open(HOLD);
    bad_open[0] = 0xfe;
    run_all([
        case("c01 KEEPALIVE with a broken marker", bad, notify(1, 1)),
        case(
            "c01 first OPEN with a broken marker",
            bad_open,
            notify(1, 1),
        )
        .stage(Stage::First),
    ])
    .await;
}

/// #2
#[tokio::test]
async fn c02_header_length_below_19_or_above_4096_is_bad_message_length() {
    run_all([
        case(
            "c02 length 18",
            header_only(18, 4),
            notify_data(1, 2, vec![0, 18]),
        ),
        case(
            "c02 UPDATE of length 4097 without Extended Message",
            header_only(4097, 2),
            notify_data(1, 2, vec![0x10, 0x01]),
        ),
        case(
            "c02 first message of length 4097",
            header_only(4097, 1),
            notify_data(1, 2, vec![0x10, 0x01]),
        )
        .stage(Stage::First),
    ])
    .await;
}

/// #3 (the NOTIFICATION length is #35)
#[tokio::test]
async fn c03_per_type_length_errors_are_bad_message_length() {
    let borr = message(5, &[0, 1, 1, 1, 0]);
    run_all([
        case(
            "c03 KEEPALIVE of 20",
            message(4, &[0]),
            notify_data(1, 2, vec![0, 20]),
        ),
        case(
            "c03 OPEN of 27 on the established session",
            message(1, &[4, 0, 1, 0, 90, 10, 0, 0]),
            notify_data(1, 2, vec![0, 27]),
        ),
        case(
            "c03 first OPEN of 27",
            message(1, &[4, 0, 1, 0, 90, 10, 0, 0]),
            notify_data(1, 2, vec![0, 27]),
        )
        .stage(Stage::First),
        case(
            "c03 UPDATE of 22",
            message(2, &[0, 0, 0]),
            notify_data(1, 2, vec![0, 22]),
        ),
        case(
            "c03 ROUTE-REFRESH of 22",
            message(5, &[0, 1, 0]),
            notify_data(1, 2, vec![0, 22]),
        ),
        case(
            "c03 BoRR ROUTE-REFRESH of 24 (RFC 7313 Invalid Message Length, data = message)",
            borr.clone(),
            notify_data(7, 1, borr),
        ),
    ])
    .await;
}

/// #4
#[tokio::test]
async fn c04_unknown_message_type_is_bad_message_type() {
    run_all([
        case("c04 type 9 on the established session", message(9, &[]), {
            notify_data(1, 3, vec![9])
        }),
        case(
            "c04 type 9 first",
            message(9, &[]),
            notify_data(1, 3, vec![9]),
        )
        .stage(Stage::First),
    ])
    .await;
}

// ---- OPEN as the first message (RFC 4271 §6.2, RFC 5492, RFC 6286, RFC 6793) ---------------

/// #5
#[tokio::test]
async fn c05_open_version_3_is_unsupported_version() {
    let open = message(
        1,
        &open_body(3, PEER_AS as u16, HOLD, PEER_ID.octets(), &[]),
    );
    run(case("c05 OPEN version 3", open, notify_data(2, 1, vec![0, 4])).stage(Stage::First)).await;
}

/// #6
#[tokio::test]
async fn c06_open_from_another_as_is_bad_peer_as() {
    let first = |name, open| case(name, open, notify(2, 2)).stage(Stage::First);
    run_all([
        first(
            "c06 OPEN from AS 65003",
            raw_open(65003, HOLD, PEER_ID, &cap_as4(65003)),
        ),
        first(
            "c06 My AS right but 4-octet AS capability 65003",
            raw_open(PEER_AS as u16, HOLD, PEER_ID, &cap_as4(65003)),
        ),
        first(
            "c06 AS_TRANS in My AS without the 4-octet AS capability",
            raw_open(23456, HOLD, PEER_ID, &[1, 4, 0, 1, 0, 1]),
        ),
    ])
    .await;
}

/// #7
#[tokio::test]
async fn c07_hold_time_1_or_2_is_unacceptable_hold_time() {
    run_all([1, 2].map(|hold| {
        let name = if hold == 1 {
            "c07 hold time 1"
        } else {
            "c07 hold time 2"
        };
        case(
            name,
            raw_open(PEER_AS as u16, hold, PEER_ID, &cap_as4(PEER_AS)),
            notify(2, 6),
        )
        .stage(Stage::First)
    }))
    .await;
}

/// #8
#[tokio::test]
async fn c08_zero_or_our_own_internal_identifier_is_bad_bgp_identifier() {
    run_all([
        case(
            "c08 identifier 0.0.0.0",
            raw_open(
                PEER_AS as u16,
                HOLD,
                Ipv4Addr::UNSPECIFIED,
                &cap_as4(PEER_AS),
            ),
            notify(2, 3),
        )
        .stage(Stage::First),
        case(
            "c08 our identifier on iBGP",
            raw_open(PEER_AS as u16, HOLD, OUR_ID, &cap_as4(PEER_AS)),
            notify(2, 3),
        )
        .peer(Peer::Ibgp)
        .stage(Stage::First),
    ])
    .await;
}

/// #9
#[tokio::test]
async fn c09_optional_parameter_other_than_capabilities_is_unsupported_optional_parameter() {
    let open = message(
        1,
        &open_body(4, PEER_AS as u16, HOLD, PEER_ID.octets(), &[1, 1, 0]),
    );
    run(case("c09 optional parameter type 1", open, notify(2, 4)).stage(Stage::First)).await;
}

/// #10: unknown capabilities (GoBGP's FQDN, 73) are ignored: the session comes up.
#[tokio::test]
async fn c10_unknown_capability_is_ignored_and_the_session_comes_up() {
    let name = "c10 OPEN with capability 73";
    let caps = [
        vec![73, 5, 3, b'g', b'o', b'b', 0],
        vec![1, 4, 0, 1, 0, 1],
        cap_as4(PEER_AS),
    ];
    let open = raw_open(PEER_AS as u16, HOLD, PEER_ID, &caps.concat());
    let mut h = Harness::connect(name, Peer::Ebgp, HOLD).await;
    h.establish_with(&open).await;
    let n = h.negotiated.as_ref().expect("negotiated");
    assert_eq!((n.peer_as, n.peer_id), (PEER_AS, PEER_ID), "{name}");
    h.send(&with_attr(Peer::Ebgp, Vec::new())).await;
    let (u, action) = h.expect_update().await;
    assert_eq!(
        (announced(&u), action),
        (TWO_PREFIXES.map(String::from).to_vec(), None),
        "{name}"
    );
    h.stays_up(Peer::Ebgp, false).await;
}
