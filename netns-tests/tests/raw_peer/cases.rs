//! The case table: when the raw peer sends its malformed message ([`Stage`]), what our side
//! must do ([`Expect`]), and [`run`], which sets the session up, sends it and checks.

use bgp::codec::{Action, Update};
use bgp::session::{DownReason, SessionEvent, State};

use super::wire::{TWO_PREFIXES, keepalive};
use super::{HOLD, Harness, Peer, announced};

/// When the malformed message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// As the raw peer's first message (our side is in OpenSent).
    First,
    /// After the raw peer's OPEN, instead of its KEEPALIVE (our side is in OpenConfirm).
    OpenConfirm,
    /// On the established session, after the valid announcement.
    Established,
}

/// A check of the delivered UPDATE beyond its action.
pub type Check = fn(&Update) -> bool;

pub enum Expect {
    /// NOTIFICATION with this code/subcode (and data when given), then close.
    Notification((u8, u8), Option<Vec<u8>>),
    /// Close without a NOTIFICATION (a malformed NOTIFICATION cannot be answered); an
    /// established session reports the connection lost.
    CloseSilently,
    /// The UPDATE is delivered with this RFC 7606 action and passes the check; no
    /// NOTIFICATION; the session stays up.
    Deliver(Option<Action>, &'static str, Check),
    /// No NOTIFICATION, the session stays up; a ROUTE-REFRESH the owner must ignore may be
    /// reported.
    Ignored,
}

use Expect::*;

pub struct Case {
    name: &'static str,
    peer: Peer,
    stage: Stage,
    send: Vec<u8>,
    expect: Expect,
}

pub fn case(name: &'static str, send: Vec<u8>, expect: Expect) -> Case {
    Case {
        name,
        peer: Peer::Ebgp,
        stage: Stage::Established,
        send,
        expect,
    }
}

impl Case {
    pub fn peer(mut self, peer: Peer) -> Self {
        self.peer = peer;
        self
    }

    pub fn stage(mut self, stage: Stage) -> Self {
        self.stage = stage;
        self
    }
}

/// Treat-as-withdraw of an UPDATE re-announcing [`TWO_PREFIXES`]: the RIB withdraws both.
pub fn taw() -> Expect {
    Deliver(
        Some(Action::TreatAsWithdraw),
        "announces both prefixes, which the RIB withdraws",
        |u| announced(u) == TWO_PREFIXES,
    )
}

/// Attribute discard: the routes stay announced.
pub fn ad(what: &'static str, check: Check) -> Expect {
    Deliver(Some(Action::AttributeDiscard), what, check)
}

pub fn notify(code: u8, subcode: u8) -> Expect {
    Notification((code, subcode), None)
}

pub fn notify_data(code: u8, subcode: u8, data: Vec<u8>) -> Expect {
    Notification((code, subcode), Some(data))
}

pub async fn run(case: Case) {
    let Case {
        name,
        peer,
        stage,
        send,
        expect,
    } = case;
    let mut h = Harness::connect(name, peer, HOLD).await;
    match stage {
        Stage::First => {}
        Stage::OpenConfirm => {
            h.send(&peer.open(HOLD)).await;
            let frame = h.read_frame().await;
            assert_eq!(
                frame,
                Some(keepalive()),
                "{name}: our KEEPALIVE answers the OPEN"
            );
        }
        Stage::Established => h.establish(peer, HOLD).await,
    }
    h.send(&send).await;
    match expect {
        Notification(code, data) => {
            let (got_code, got_data) = h.expect_notification_and_close().await;
            assert_eq!(
                got_code, code,
                "{name}: NOTIFICATION code/subcode (data {got_data:02x?})"
            );
            if let Some(data) = data {
                assert_eq!(got_data, data, "{name}: NOTIFICATION data");
            }
            if stage == Stage::Established {
                match h.next_event().await {
                    SessionEvent::Down(DownReason::NotificationSent(n)) => {
                        assert_eq!((n.code_subcode(), n.data), (got_code, got_data), "{name}");
                    }
                    other => panic!("{name}: expected the session down, got {other:?}"),
                }
            } else {
                expect_idle(&mut h).await;
            }
        }
        CloseSilently => {
            assert_eq!(
                h.read_non_keepalive().await,
                None,
                "{name}: closed, no NOTIFICATION"
            );
            if stage == Stage::Established {
                let event = h.next_event().await;
                assert!(
                    matches!(
                        &event,
                        SessionEvent::Down(DownReason::MalformedNotificationReceived(_))
                    ),
                    "{name}: {event:?}"
                );
            } else {
                expect_idle(&mut h).await;
            }
        }
        Deliver(action, what, check) => {
            let (u, got) = h.expect_update().await;
            assert_eq!(
                got, action,
                "{name}: RFC 7606 action (errors {:?})",
                u.errors
            );
            assert!(check(&u), "{name}: the delivered UPDATE {what}: {u:?}");
            h.stays_up(peer, false).await;
        }
        Ignored => h.stays_up(peer, true).await,
    }
}

/// Before Established there is no Down event: the session just goes back to Idle.
async fn expect_idle(h: &mut Harness) {
    loop {
        match h.any_event().await {
            SessionEvent::StateChanged {
                to: State::Idle, ..
            } => return,
            SessionEvent::StateChanged { .. } => {}
            other => panic!(
                "{}: expected the session back in Idle, got {other:?}",
                h.name
            ),
        }
    }
}

pub async fn run_all(cases: impl IntoIterator<Item = Case>) {
    for c in cases {
        run(c).await;
    }
}
