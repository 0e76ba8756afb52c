//! Malformed message headers, OPENs and NOTIFICATIONs (RFC 4271 §6.1, §6.2, §6.4–§6.6;
//! RFC 5492; RFC 6608): cases 1–12 and 35 of the numbered malformed-input cases that these
//! tests, `malformed_update.rs` (cases 13–34) and netns-tests' `bgp_malformed_*.rs` (the same
//! cases over TCP; these in `bgp_malformed_header_open.rs` and
//! `bgp_malformed_fsm_notification.rs`) share. One test per case (`cNN_...`), each asserting
//! the session reset and the NOTIFICATION code/subcode and data.
//!
//! Cases 11 and 12 are session-FSM behaviour; here they only check that the codec names and
//! encodes the NOTIFICATIONs the FSM will send.

mod wire;

use std::net::Ipv4Addr;

use bgp::codec::{
    AS_TRANS, AddressFamily, Capability, CeaseSubcode, CodecContext, FsmError, Message,
    Notification, Open,
};
use wire::*;

// ---- Message header (RFC 4271 §6.1) --------------------------------------------------------

/// #1
#[test]
fn c01_marker_not_all_ones_resets_with_connection_not_synchronized() {
    let mut msg = message(4, &[]);
    msg[3] = 0;
    assert_eq!(reset(&msg, &ebgp()).0, (1, 1));
}

/// #2
#[test]
fn c02_header_length_below_19_or_above_4096_resets_with_bad_message_length() {
    let mut short = message(4, &[]);
    short[16..18].copy_from_slice(&18u16.to_be_bytes());
    assert_eq!(reset(&short, &ebgp()), ((1, 2), vec![0, 18]));

    let mut long = update(&[], &[], &[]);
    long[16..18].copy_from_slice(&4097u16.to_be_bytes());
    long.resize(4097, 0);
    assert_eq!(reset(&long, &ebgp()), ((1, 2), vec![0x10, 0x01]));
    // With RFC 8654 negotiated the same length is fine (the body is then just zeros that
    // fail later, but not on length).
    let ctx = CodecContext {
        extended_message: true,
        ..ebgp()
    };
    assert!(bgp::codec::Header::decode(&long, &ctx).is_ok());
}

/// #3
#[test]
fn c03_per_type_length_errors_reset_with_bad_message_length() {
    let keepalive = message(4, &[0]);
    assert_eq!(reset(&keepalive, &ebgp()), ((1, 2), vec![0, 20]));
    let open = message(1, &[4, 0, 1, 0, 90, 10, 0, 0]);
    assert_eq!(reset(&open, &ebgp()), ((1, 2), vec![0, 27]));
    let update = message(2, &[0, 0, 0]);
    assert_eq!(reset(&update, &ebgp()), ((1, 2), vec![0, 22]));
    let route_refresh = message(5, &[0, 1, 0]);
    assert_eq!(reset(&route_refresh, &ebgp()), ((1, 2), vec![0, 22]));
    // RFC 7313 §5: a too-long BoRR/EoRR is ROUTE-REFRESH Message Error / Invalid Message
    // Length carrying the whole message.
    let borr = message(5, &[0, 1, 1, 1, 0]);
    assert_eq!(reset(&borr, &ebgp()), ((7, 1), borr.clone()));
}

/// #3 (NOTIFICATION) and #35
#[test]
fn c35_malformed_notification_closes_without_replying() {
    let short = message(3, &[6]);
    let err = decode(&short, &ebgp()).unwrap_err();
    assert!(err.action.notification().is_some());
    assert_eq!(err.notification_to_send(), None);
}

/// #4
#[test]
fn c04_unknown_message_type_resets_with_bad_message_type() {
    assert_eq!(reset(&message(9, &[]), &ebgp()), ((1, 3), vec![9]));
}

// ---- OPEN (RFC 4271 §6.2, RFC 5492, RFC 6286) ---------------------------------------------

fn open_body(version: u8, my_as: u16, hold: u16, id: [u8; 4], params: &[u8]) -> Vec<u8> {
    let mut v = vec![version];
    v.extend_from_slice(&my_as.to_be_bytes());
    v.extend_from_slice(&hold.to_be_bytes());
    v.extend_from_slice(&id);
    v.push(params.len() as u8);
    v.extend_from_slice(params);
    v
}

/// #5
#[test]
fn c05_open_version_other_than_4_resets_with_unsupported_version() {
    let msg = message(1, &open_body(3, 65001, 90, [10, 0, 0, 1], &[]));
    assert_eq!(reset(&msg, &ebgp()), ((2, 1), vec![0, 4]));
}

/// #6
#[test]
fn c06_peer_as_mismatch_is_bad_peer_as_and_as_trans_defers_to_the_capability() {
    let open = Open::new(65002, 90, Ipv4Addr::new(10, 0, 0, 2), vec![]);
    assert_eq!(
        open.check_peer_as(65001).unwrap_err().code_subcode(),
        (2, 2)
    );
    let big = Open::new(4_200_000_000, 90, Ipv4Addr::new(10, 0, 0, 2), vec![]);
    assert_eq!(u32::from(big.my_as), AS_TRANS);
    assert!(big.check_peer_as(4_200_000_000).is_ok());
    assert_eq!(
        big.check_peer_as(AS_TRANS).unwrap_err().code_subcode(),
        (2, 2)
    );
}

/// #7
#[test]
fn c07_hold_time_1_or_2_resets_with_unacceptable_hold_time() {
    for hold in [1, 2] {
        let msg = message(1, &open_body(4, 65001, hold, [10, 0, 0, 1], &[]));
        assert_eq!(reset(&msg, &ebgp()).0, (2, 6));
    }
    for hold in [0, 3, 65535] {
        let msg = message(1, &open_body(4, 65001, hold, [10, 0, 0, 1], &[]));
        assert!(decode(&msg, &ebgp()).is_ok());
    }
}

/// #8
#[test]
fn c08_zero_or_own_internal_identifier_is_bad_bgp_identifier() {
    let msg = message(1, &open_body(4, 65001, 90, [0, 0, 0, 0], &[]));
    assert_eq!(reset(&msg, &ebgp()).0, (2, 3));
    let id = Ipv4Addr::new(10, 0, 0, 1);
    let open = Open::new(65001, 90, id, vec![]);
    assert_eq!(
        open.check_bgp_identifier(id, true)
            .unwrap_err()
            .code_subcode(),
        (2, 3)
    );
    assert!(open.check_bgp_identifier(id, false).is_ok());
}

/// #9
#[test]
fn c09_optional_parameter_other_than_capabilities_is_unsupported_optional_parameter() {
    let msg = message(1, &open_body(4, 65001, 90, [10, 0, 0, 1], &[1, 1, 0]));
    assert_eq!(reset(&msg, &ebgp()).0, (2, 4));
}

/// #10
#[test]
fn c10_unknown_capabilities_are_ignored_and_only_required_ones_are_enforced() {
    // FQDN (73) as GoBGP sends it, then route refresh.
    let params = [2, 9, 73, 5, 3, b'g', b'o', b'b', 0, 2, 0];
    let msg = message(1, &open_body(4, 65001, 90, [10, 0, 0, 1], &params));
    let Ok(Message::Open(open)) = decode(&msg, &ebgp()) else {
        panic!("OPEN with an unknown capability must decode");
    };
    assert_eq!(open.capabilities.len(), 2);
    assert!(matches!(
        open.capabilities[0],
        Capability::Unknown { code: 73, .. }
    ));
    let required = [Capability::Multiprotocol(AddressFamily::IPV6_UNICAST)];
    let n = open.check_required_capabilities(&required).unwrap_err();
    assert_eq!((n.code_subcode(), n.data), ((2, 7), vec![1, 4, 0, 2, 0, 1]));
}

/// #11
#[test]
fn c11_unexpected_message_notifications_use_rfc6608_subcodes() {
    for (subcode, expected) in [
        (FsmError::UnexpectedMessageInOpenSent, (5, 1)),
        (FsmError::UnexpectedMessageInOpenConfirm, (5, 2)),
        (FsmError::UnexpectedMessageInEstablished, (5, 3)),
    ] {
        let n = Notification::new(subcode, vec![2]);
        let bytes = Message::Notification(n.clone()).to_bytes(&ebgp()).unwrap();
        assert_eq!((bytes[19], bytes[20]), expected);
        assert_eq!(decode(&bytes, &ebgp()), Ok(Message::Notification(n)));
    }
}

/// #12
#[test]
fn c12_hold_timer_expired_notification_is_code_4() {
    let n = Notification::new(bgp::codec::ErrorCode::HoldTimerExpired(0), vec![]);
    let bytes = Message::Notification(n).to_bytes(&ebgp()).unwrap();
    assert_eq!(&bytes[18..], &[3, 4, 0]);
    let cease =
        Notification::cease_with_message(CeaseSubcode::AdministrativeShutdown, "maintenance");
    let bytes = Message::Notification(cease.clone())
        .to_bytes(&ebgp())
        .unwrap();
    assert_eq!(decode(&bytes, &ebgp()), Ok(Message::Notification(cease)));
}
