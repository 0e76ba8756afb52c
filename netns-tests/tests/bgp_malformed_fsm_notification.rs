//! Session-FSM errors and malformed NOTIFICATIONs over real TCP: cases 11, 12 and 35 of the
//! numbered malformed-input cases of `bgp/tests/malformed_header_open.rs`, sent by the raw
//! peer (`raw_peer/`) to our passive session. Unexpected messages by state and the hold timer
//! (RFC 4271 §8, RFC 6608) reset the session with a NOTIFICATION; a NOTIFICATION whose code
//! and subcode cannot be read closes the connection with no reply.

mod raw_peer;

use std::time::Duration;

use bgp::session::{DownReason, SessionEvent};
use raw_peer::cases::Expect::CloseSilently;
use raw_peer::cases::{Stage, case, notify_data, run_all};
use raw_peer::wire::{header_only, keepalive, message, with_attr};
use raw_peer::{HOLD, Harness, Peer};

// ---- FSM (RFC 4271 §8, RFC 6608) -----------------------------------------------------------

/// #11 (and OPEN on an established session, (5,3)). The data is the type of the unexpected
/// message (RFC 6608 §3).
#[tokio::test]
async fn c11_unexpected_messages_are_fsm_errors_by_state_with_the_message_type() {
    let valid_update = || with_attr(Peer::Ebgp, Vec::new());
    let route_refresh = || message(5, &[0, 1, 0, 1]);
    run_all([
        case(
            "c11 KEEPALIVE in OpenSent",
            keepalive(),
            notify_data(5, 1, vec![4]),
        )
        .stage(Stage::First),
        case(
            "c11 UPDATE in OpenSent",
            valid_update(),
            notify_data(5, 1, vec![2]),
        )
        .stage(Stage::First),
        case(
            "c11 UPDATE in OpenConfirm",
            valid_update(),
            notify_data(5, 2, vec![2]),
        )
        .stage(Stage::OpenConfirm),
        case(
            "c11 ROUTE-REFRESH in OpenConfirm",
            route_refresh(),
            notify_data(5, 2, vec![5]),
        )
        .stage(Stage::OpenConfirm),
        case(
            "c11 OPEN when Established",
            Peer::Ebgp.open(HOLD),
            notify_data(5, 3, vec![1]),
        ),
    ])
    .await;
}

/// #12
#[tokio::test]
async fn c12_silence_for_the_hold_time_is_hold_timer_expired() {
    let name = "c12 no KEEPALIVE for 3 s";
    let mut h = Harness::connect(name, Peer::Ebgp, 3).await;
    h.establish(Peer::Ebgp, 3).await;
    let started = tokio::time::Instant::now();
    let (code, data) = h.expect_notification_and_close().await;
    assert_eq!((code, data), ((4, 0), vec![]), "{name}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2),
        "{name}: expired after only {waited:?}"
    );
    assert_eq!(
        h.next_event().await,
        SessionEvent::Down(DownReason::HoldTimerExpired),
        "{name}"
    );
}

// ---- Malformed NOTIFICATION -----------------------------------------------------------------

/// #35 (and #3's NOTIFICATION < 21, or with a header length out of bounds): neither code
/// nor subcode can be read; nothing is sent back, and our side reports a malformed
/// NOTIFICATION rather than one the peer did not send.
#[tokio::test]
async fn c35_malformed_notification_closes_without_replying() {
    run_all([
        case("c35 NOTIFICATION of 20", message(3, &[6]), CloseSilently),
        case("c35 NOTIFICATION of 19", message(3, &[]), CloseSilently),
        case(
            "c35 NOTIFICATION whose header says 18 octets",
            header_only(18, 3),
            CloseSilently,
        ),
        case(
            "c35 NOTIFICATION whose header says 5000 octets",
            header_only(5000, 3),
            CloseSilently,
        ),
        case(
            "c35 first message a NOTIFICATION of 20",
            message(3, &[6]),
            CloseSilently,
        )
        .stage(Stage::First),
        case(
            "c35 first message a NOTIFICATION whose header says 18 octets",
            header_only(18, 3),
            CloseSilently,
        )
        .stage(Stage::First),
        case(
            "c35 first message a NOTIFICATION whose header says 5000 octets",
            header_only(5000, 3),
            CloseSilently,
        )
        .stage(Stage::First),
        case(
            "c35 NOTIFICATION of 20 in OpenConfirm",
            message(3, &[6]),
            CloseSilently,
        )
        .stage(Stage::OpenConfirm),
        case(
            "c35 NOTIFICATION whose header says 18 octets in OpenConfirm",
            header_only(18, 3),
            CloseSilently,
        )
        .stage(Stage::OpenConfirm),
        case(
            "c35 NOTIFICATION whose header says 5000 octets in OpenConfirm",
            header_only(5000, 3),
            CloseSilently,
        )
        .stage(Stage::OpenConfirm),
    ])
    .await;
}
