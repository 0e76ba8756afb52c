//! FSM unit tests: transitions (state × event → state, actions), hold-time negotiation, OPEN
//! checks, timers, passive mode and RFC 7606 actions. No sockets, no clock: instants are made
//! up.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::codec::{
    AS_TRANS, AddPathFamily, AddPathMode, AddressFamily, Capability, CodecContext, DecodeError,
    ErrorKind, FamilySet, GracefulRestart, GracefulRestartFamily, Message, Notification, Open,
    Update,
};

use super::*;

const OUR_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn speaker() -> LocalSpeaker {
    LocalSpeaker {
        asn: 65001,
        router_id: OUR_ID,
    }
}

fn config() -> PeerConfig {
    PeerConfig::new(IpAddr::V4(PEER_ID), 65002)
}

fn peer_open(hold_time: u16) -> Open {
    Open::new(65002, hold_time, PEER_ID, vec![])
}

/// A compact name for an action, for table comparisons.
fn kind(action: &Action) -> String {
    match action {
        Action::Connect => "Connect".into(),
        Action::Send(Message::Open(_)) => "Send OPEN".into(),
        Action::Send(Message::Keepalive) => "Send KEEPALIVE".into(),
        Action::Send(Message::Update(_)) => "Send UPDATE".into(),
        Action::Send(Message::RouteRefresh(_)) => "Send ROUTE-REFRESH".into(),
        Action::Send(Message::Notification(n)) => {
            let (code, subcode) = n.code_subcode();
            if n.data.is_empty() {
                format!("Send NOTIFICATION {code}/{subcode}")
            } else {
                format!("Send NOTIFICATION {code}/{subcode} {:02x?}", n.data)
            }
        }
        Action::SendEncoded(messages) => format!("Send {} encoded", messages.len()),
        Action::CloseConnection => "Close".into(),
        Action::SessionUp(_) => "Up".into(),
        Action::SessionDown(_) => "Down".into(),
        Action::DeliverUpdate { .. } => "Deliver".into(),
        Action::DeliverRouteRefresh(_) => "DeliverRouteRefresh".into(),
    }
}

fn kinds(actions: &[Action]) -> Vec<String> {
    actions.iter().map(kind).collect()
}

/// A session brought to `state` by the usual path, with `config`.
fn session_in(state: State, config: PeerConfig, now: Instant) -> Session {
    let mut s = Session::new(speaker(), config);
    let path: &[Event] = match state {
        State::Idle => &[],
        State::Connect => &[Event::ManualStart],
        State::Active => &[Event::ManualStart, Event::TcpConnectionFails],
        State::OpenSent => &[Event::ManualStart, Event::TcpConnectionConfirmed],
        State::OpenConfirm | State::Established => &[
            Event::ManualStart,
            Event::TcpConnectionConfirmed,
            Event::Message(Message::Open(peer_open(90))),
        ],
    };
    for event in path {
        s.handle(event.clone(), now);
    }
    if state == State::Established {
        s.handle(Event::Message(Message::Keepalive), now);
    }
    assert_eq!(s.state(), state, "setup reaches {state}");
    s
}

fn established(now: Instant) -> Session {
    session_in(State::Established, config(), now)
}

fn notification_sent(actions: &[Action]) -> Option<&Notification> {
    actions.iter().find_map(|a| match a {
        Action::Send(Message::Notification(n)) => Some(n),
        _ => None,
    })
}

#[test]
fn transitions_follow_rfc4271_section_8() {
    use State::*;
    let open = || Event::Message(Message::Open(peer_open(90)));
    let keepalive = || Event::Message(Message::Keepalive);
    let update = || Event::Message(Message::Update(Update::default()));
    let notification = || {
        Event::Message(Message::Notification(Notification::new(
            crate::codec::CeaseSubcode::AdministrativeReset,
            Vec::new(),
        )))
    };
    let route_refresh = || {
        Event::Message(Message::RouteRefresh(crate::codec::RouteRefresh::request(
            AddressFamily::IPV4_UNICAST,
        )))
    };
    let send_update = || Event::SendUpdate(Update::default());
    let send_encoded = || {
        let messages: std::sync::Arc<[bytes::Bytes]> = vec![
            bytes::Bytes::from_static(b"a"),
            bytes::Bytes::from_static(b"b"),
        ]
        .into();
        Event::SendEncoded(messages)
    };
    #[rustfmt::skip]
    let table: Vec<(State, Event, State, &[&str])> = vec![
        (Idle, Event::ManualStart, Connect, &["Connect"]),
        (Idle, Event::AutomaticStart, Connect, &["Connect"]),
        (Idle, Event::ManualStartWithPassiveTcpEstablishment, Active, &[]),
        (Idle, Event::TcpConnectionConfirmed, Idle, &["Close"]),
        (Idle, keepalive(), Idle, &[]),
        (Idle, Event::ManualStop, Idle, &[]),
        (Connect, Event::TcpConnectionConfirmed, OpenSent, &["Send OPEN"]),
        (Connect, Event::TcpConnectionFails, Active, &["Close"]),
        (Connect, Event::ConnectRetryTimerExpires, Connect, &["Close", "Connect"]),
        (Connect, Event::ManualStart, Connect, &[]),
        (Connect, Event::ManualStop, Idle, &["Close"]),
        (Active, Event::ConnectRetryTimerExpires, Connect, &["Connect"]),
        (Active, Event::TcpConnectionConfirmed, OpenSent, &["Send OPEN"]),
        (Active, Event::ManualStop, Idle, &["Close"]),
        (OpenSent, open(), OpenConfirm, &["Send KEEPALIVE"]),
        (OpenSent, Event::TcpConnectionFails, Active, &["Close"]),
        (OpenSent, keepalive(), Idle, &["Send NOTIFICATION 5/1 [04]", "Close"]),
        (OpenSent, update(), Idle, &["Send NOTIFICATION 5/1 [02]", "Close"]),
        (OpenSent, notification(), Idle, &["Close"]),
        (OpenSent, Event::HoldTimerExpires, Idle, &["Send NOTIFICATION 4/0", "Close"]),
        (OpenSent, Event::ManualStop, Idle, &["Send NOTIFICATION 6/2", "Close"]),
        (OpenSent, send_update(), OpenSent, &[]),
        (OpenSent, send_encoded(), OpenSent, &[]),
        (OpenSent, Event::CollisionLost, Active, &["Send NOTIFICATION 6/7", "Close"]),
        (OpenConfirm, keepalive(), Established, &["Up"]),
        (OpenConfirm, Event::KeepaliveTimerExpires, OpenConfirm, &["Send KEEPALIVE"]),
        (OpenConfirm, open(), Idle, &["Send NOTIFICATION 5/2 [01]", "Close"]),
        (OpenConfirm, update(), Idle, &["Send NOTIFICATION 5/2 [02]", "Close"]),
        (OpenConfirm, route_refresh(), Idle, &["Send NOTIFICATION 5/2 [05]", "Close"]),
        (OpenConfirm, Event::HoldTimerExpires, Idle, &["Send NOTIFICATION 4/0", "Close"]),
        (OpenConfirm, Event::TcpConnectionFails, Idle, &["Close"]),
        (OpenConfirm, notification(), Idle, &["Close"]),
        (OpenConfirm, Event::ManualStop, Idle, &["Send NOTIFICATION 6/2", "Close"]),
        (Established, keepalive(), Established, &[]),
        (Established, update(), Established, &["Deliver"]),
        (Established, Event::KeepaliveTimerExpires, Established, &["Send KEEPALIVE"]),
        (Established, send_update(), Established, &["Send UPDATE"]),
        (Established, send_encoded(), Established, &["Send 2 encoded"]),
        (Established, open(), Idle, &["Send NOTIFICATION 5/3 [01]", "Close", "Down"]),
        (Established, notification(), Idle, &["Close", "Down"]),
        (Established, Event::TcpConnectionFails, Idle, &["Close", "Down"]),
        (Established, Event::HoldTimerExpires, Idle, &["Send NOTIFICATION 4/0", "Close", "Down"]),
        (Established, Event::ManualStop, Idle, &["Send NOTIFICATION 6/2", "Close", "Down"]),
        (Established, Event::CollisionLost, Active, &["Send NOTIFICATION 6/7", "Close", "Down"]),
    ];
    let now = Instant::now();
    for (from, event, to, expected) in table {
        let mut s = session_in(from, config(), now);
        let label = format!("{from} + {event:?}");
        let actions = s.handle(event, now);
        assert_eq!(s.state(), to, "{label}: next state");
        assert_eq!(kinds(&actions), expected, "{label}: actions");
    }
}

#[test]
fn hold_time_is_the_smaller_of_both_and_keepalive_a_third_of_it() {
    let now = Instant::now();
    for (ours, theirs, hold, keepalive) in [
        (90, 180, 90, 30),
        (90, 30, 30, 10),
        (90, 3, 3, 1),
        (0, 90, 0, 0),
        (90, 0, 0, 0),
    ] {
        let mut cfg = config();
        cfg.hold_time = ours;
        let mut s = session_in(State::OpenSent, cfg, now);
        s.handle(Event::Message(Message::Open(peer_open(theirs))), now);
        let n = s.negotiated().expect("negotiated after a valid OPEN");
        assert_eq!(n.hold_time, Duration::from_secs(hold), "{ours} vs {theirs}");
        assert_eq!(
            n.keepalive_time,
            Duration::from_secs(keepalive),
            "{ours} vs {theirs}"
        );
        s.handle(Event::Message(Message::Keepalive), now);
        assert_eq!(s.state(), State::Established);
        if hold == 0 {
            assert_eq!(s.next_deadline(), None, "no timers with hold time 0");
        } else {
            assert_eq!(
                s.next_deadline(),
                Some(now + Duration::from_secs(keepalive))
            );
        }
    }
}

#[test]
fn a_configured_keepalive_time_is_used_up_to_a_third_of_the_hold_time() {
    let now = Instant::now();
    for (configured, theirs, keepalive) in [
        (Some(10), 90, 10),
        (Some(60), 90, 30),
        (Some(0), 90, 30),
        (None, 240, 80),
        (Some(5), 0, 0),
    ] {
        let mut cfg = config();
        cfg.hold_time = 240;
        cfg.keepalive_time = configured;
        let mut s = session_in(State::OpenSent, cfg, now);
        s.handle(Event::Message(Message::Open(peer_open(theirs))), now);
        let n = s.negotiated().expect("negotiated after a valid OPEN");
        assert_eq!(
            n.keepalive_time,
            Duration::from_secs(keepalive),
            "{configured:?} with the peer's hold time {theirs}"
        );
    }
}

fn open_error(open: Open, cfg: PeerConfig) -> (u8, u8) {
    let now = Instant::now();
    let mut s = session_in(State::OpenSent, cfg, now);
    let actions = s.handle(Event::Message(Message::Open(open)), now);
    assert_eq!(s.state(), State::Idle);
    assert_eq!(actions.last().map(kind).as_deref(), Some("Close"));
    notification_sent(&actions)
        .expect("a NOTIFICATION is sent")
        .code_subcode()
}

#[test]
fn unacceptable_hold_times_1_and_2_are_rejected() {
    for hold in [1, 2] {
        assert_eq!(open_error(peer_open(hold), config()), (2, 6));
    }
}

#[test]
fn wrong_peer_as_is_rejected_with_bad_peer_as() {
    let open = Open::new(65003, 90, PEER_ID, vec![]);
    assert_eq!(open_error(open, config()), (2, 2));
}

#[test]
fn four_octet_peer_as_is_read_from_the_capability_behind_as_trans() {
    let now = Instant::now();
    let cfg = PeerConfig::new(IpAddr::V4(PEER_ID), 4_200_000_000);
    let mut s = session_in(State::OpenSent, cfg.clone(), now);
    let open = Open::new(4_200_000_000, 90, PEER_ID, vec![]);
    assert_eq!(u32::from(open.my_as), AS_TRANS);
    s.handle(Event::Message(Message::Open(open)), now);
    assert_eq!(s.state(), State::OpenConfirm);
    assert_eq!(s.negotiated().map(|n| n.peer_as), Some(4_200_000_000));

    // AS_TRANS without the capability is not a real AS.
    let mut cfg = cfg;
    cfg.peer_as = AS_TRANS;
    let bare = Open {
        my_as: AS_TRANS as u16,
        hold_time: 90,
        bgp_identifier: PEER_ID,
        capabilities: vec![],
    };
    assert_eq!(open_error(bare, cfg), (2, 2));
}

#[test]
fn bad_identifiers_are_rejected_with_bad_bgp_identifier() {
    let zero = Open::new(65002, 90, Ipv4Addr::UNSPECIFIED, vec![]);
    assert_eq!(open_error(zero, config()), (2, 3));

    let ibgp = PeerConfig::new(IpAddr::V4(PEER_ID), 65001);
    let same_as_ours = Open::new(65001, 90, OUR_ID, vec![]);
    assert_eq!(open_error(same_as_ours.clone(), ibgp), (2, 3));

    // eBGP peers may share our identifier (RFC 6286 §2.2).
    let now = Instant::now();
    let mut s = session_in(State::OpenSent, config(), now);
    let ebgp = Open::new(65002, 90, OUR_ID, vec![]);
    s.handle(Event::Message(Message::Open(ebgp)), now);
    assert_eq!(s.state(), State::OpenConfirm);
}

#[test]
fn unsupported_version_from_the_decoder_is_answered_with_its_notification() {
    let mut buf = BytesMut::new();
    Message::Open(peer_open(90))
        .encode(&CodecContext::default(), &mut buf)
        .unwrap();
    buf[crate::codec::HEADER_LEN] = 3;
    let err = Message::decode(&buf, &CodecContext::default()).unwrap_err();
    let now = Instant::now();
    let mut s = session_in(State::OpenSent, config(), now);
    let actions = s.handle(Event::DecodeError(err), now);
    let n = notification_sent(&actions).expect("NOTIFICATION sent");
    assert_eq!(n.code_subcode(), (2, 1));
    assert_eq!(n.data, [0, 4], "data carries the version we support");
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn hold_timer_expiry_sends_hold_timer_expired_and_reports_the_session_down() {
    let t0 = Instant::now();
    let mut s = established(t0);
    assert!(
        s.handle(Event::Tick, t0 + Duration::from_secs(29))
            .is_empty()
    );
    // Keepalives are due every 30 s; the peer sends none.
    let mut actions = Vec::new();
    for secs in [30, 60, 90] {
        actions = s.handle(Event::Tick, t0 + Duration::from_secs(secs));
    }
    assert_eq!(
        kinds(&actions),
        ["Send NOTIFICATION 4/0", "Close", "Down"],
        "at 90 s the hold timer fires before the keepalive timer"
    );
    assert!(actions.contains(&Action::SessionDown(DownReason::HoldTimerExpired)));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn keepalives_are_sent_every_third_of_the_hold_time_and_after_each_update() {
    let t0 = Instant::now();
    let secs = |s: u64| t0 + Duration::from_secs(s);
    let mut s = established(t0);
    assert_eq!(s.next_deadline(), Some(secs(30)));
    assert_eq!(kinds(&s.handle(Event::Tick, secs(30))), ["Send KEEPALIVE"]);
    assert_eq!(s.next_deadline(), Some(secs(60)));
    // An UPDATE sent at 40 s restarts the keepalive timer.
    s.handle(Event::SendUpdate(Update::default()), secs(40));
    assert_eq!(s.next_deadline(), Some(secs(70)));
    // A KEEPALIVE received restarts the hold timer, not the keepalive timer.
    s.handle(Event::Message(Message::Keepalive), secs(50));
    assert_eq!(s.next_deadline(), Some(secs(70)));
    assert!(s.handle(Event::Tick, secs(69)).is_empty());
    assert_eq!(kinds(&s.handle(Event::Tick, secs(70))), ["Send KEEPALIVE"]);
    // Hold timer now runs to 50 + 90 = 140 s.
    assert_eq!(kinds(&s.handle(Event::Tick, secs(100))), ["Send KEEPALIVE"]);
    assert_eq!(kinds(&s.handle(Event::Tick, secs(130))), ["Send KEEPALIVE"]);
    assert_eq!(s.state(), State::Established);
    assert_eq!(
        kinds(&s.handle(Event::Tick, secs(140))),
        ["Send NOTIFICATION 4/0", "Close", "Down"]
    );
}

#[test]
fn connect_retry_timer_retries_the_connection() {
    let t0 = Instant::now();
    let mut s = session_in(State::Connect, config(), t0);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(120)));
    let actions = s.handle(Event::Tick, t0 + Duration::from_secs(120));
    assert_eq!(kinds(&actions), ["Close", "Connect"]);
    assert_eq!(s.state(), State::Connect);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(240)));
}

#[test]
fn passive_session_waits_in_active_and_never_connects() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.passive = true;
    let mut s = Session::new(speaker(), cfg);
    assert!(s.handle(Event::ManualStart, t0).is_empty());
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.next_deadline(), None, "no ConnectRetryTimer");
    let actions = s.handle(Event::TcpConnectionConfirmed, t0);
    assert_eq!(kinds(&actions), ["Send OPEN"]);
    let actions = s.handle(Event::TcpConnectionFails, t0);
    assert_eq!(kinds(&actions), ["Close"]);
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.next_deadline(), None);
    assert!(s.handle(Event::ConnectRetryTimerExpires, t0).is_empty());
}

#[test]
fn session_restarts_itself_after_an_error_but_not_after_manual_stop() {
    let t0 = Instant::now();
    let mut s = established(t0);
    s.handle(Event::TcpConnectionFails, t0);
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.last_error(), Some(&DownReason::ConnectionLost));
    let restart = t0 + s.config().idle_hold_time;
    assert_eq!(s.next_deadline(), Some(restart));
    assert_eq!(kinds(&s.handle(Event::Tick, restart)), ["Connect"]);
    assert_eq!(s.state(), State::Connect);

    let mut s = established(t0);
    s.handle(Event::ManualStop, t0);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn negotiation_keeps_what_both_sides_offer() {
    let now = Instant::now();
    let mut cfg = config();
    cfg.families = FamilySet::ALL;
    cfg.graceful_restart_time = Some(120);
    cfg.add_path = vec![AddPathFamily {
        family: AddressFamily::IPV4_UNICAST,
        mode: AddPathMode::Both,
    }];
    let mut s = session_in(State::OpenSent, cfg, now);
    let theirs = Open::new(
        65002,
        90,
        PEER_ID,
        vec![
            Capability::Multiprotocol(AddressFamily::IPV4_UNICAST),
            Capability::RouteRefresh,
            Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                notification: false,
                restart_time: 60,
                families: vec![GracefulRestartFamily {
                    family: AddressFamily::IPV4_UNICAST,
                    forwarding_preserved: true,
                }],
            }),
            Capability::AddPath(vec![AddPathFamily {
                family: AddressFamily::IPV4_UNICAST,
                mode: AddPathMode::Receive,
            }]),
        ],
    );
    s.handle(Event::Message(Message::Open(theirs)), now);
    let n = s.negotiated().expect("negotiated");
    assert_eq!(n.families, FamilySet::IPV4_UNICAST);
    assert!(n.four_octet_as);
    assert!(n.route_refresh);
    assert!(!n.enhanced_route_refresh);
    let gr = n.graceful_restart.as_ref().expect("both offered GR");
    assert_eq!(gr.restart_time, Duration::from_secs(60));
    assert!(gr.restarting);
    assert_eq!(gr.families.len(), 1);
    assert!(gr.families[0].forwarding_preserved);
    assert_eq!(n.add_path_send, FamilySet::IPV4_UNICAST);
    assert_eq!(n.add_path_receive, FamilySet::EMPTY);
    assert_eq!(s.codec().add_path_send, FamilySet::IPV4_UNICAST);
}

#[test]
fn decode_error_with_session_reset_sends_its_notification_and_closes() {
    let now = Instant::now();
    let mut s = established(now);
    let mut frame = BytesMut::new();
    Message::Keepalive
        .encode(&CodecContext::default(), &mut frame)
        .unwrap();
    frame[0] = 0; // broken marker
    let err = Message::decode(&frame, &CodecContext::default()).unwrap_err();
    let expected = err.notification_to_send().cloned().expect("reset");
    let actions = s.handle(Event::DecodeError(err), now);
    assert_eq!(notification_sent(&actions), Some(&expected));
    assert_eq!(expected.code_subcode(), (1, 1));
    assert_eq!(kinds(&actions)[1..], ["Close", "Down"]);
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn treat_as_withdraw_and_attribute_discard_keep_the_session_and_deliver_the_update() {
    for error in [
        DecodeError::treat_as_withdraw(ErrorKind::InvalidOrigin(9)),
        DecodeError::attribute_discard(ErrorKind::InvalidOrigin(9)),
    ] {
        let now = Instant::now();
        let mut s = established(now);
        let expected = error.action.clone();
        let update = Update {
            errors: vec![error],
            ..Update::default()
        };
        let actions = s.handle(Event::Message(Message::Update(update.clone())), now);
        assert_eq!(
            actions,
            [Action::DeliverUpdate {
                update,
                action: Some(expected.clone())
            }],
            "{expected}"
        );
        assert_eq!(s.state(), State::Established);
    }
}

#[test]
fn update_errors_calling_for_session_reset_reset_the_session() {
    let now = Instant::now();
    let mut s = established(now);
    let n = Notification::new(
        crate::codec::UpdateMessageError::MalformedAttributeList,
        Vec::new(),
    );
    let update = Update {
        errors: vec![DecodeError::session_reset(
            ErrorKind::AttributeSectionOverrun,
            n.clone(),
        )],
        ..Update::default()
    };
    let actions = s.handle(Event::Message(Message::Update(update)), now);
    assert_eq!(notification_sent(&actions), Some(&n));
    assert!(matches!(
        actions.last(),
        Some(Action::SessionDown(DownReason::NotificationSent(_)))
    ));
}

#[test]
fn unexpected_messages_are_answered_with_their_type_as_fsm_error_data() {
    let now = Instant::now();
    let rr = || {
        Message::RouteRefresh(crate::codec::RouteRefresh::request(
            AddressFamily::IPV4_UNICAST,
        ))
    };
    for (state, message, subcode, type_code) in [
        (State::OpenSent, Message::Keepalive, 1, 4),
        (State::OpenSent, Message::Update(Update::default()), 1, 2),
        (State::OpenSent, rr(), 1, 5),
        (State::OpenConfirm, Message::Open(peer_open(90)), 2, 1),
        (State::OpenConfirm, rr(), 2, 5),
        (State::Established, Message::Open(peer_open(90)), 3, 1),
    ] {
        let mut s = session_in(state, config(), now);
        let label = format!("{state} + {:?}", message.message_type());
        let actions = s.handle(Event::Message(message), now);
        let n = notification_sent(&actions).expect("a NOTIFICATION is sent");
        assert_eq!(n.code_subcode(), (5, subcode), "{label}");
        assert_eq!(n.data, [type_code], "{label}: RFC 6608 §3 data");
        if state == State::Established {
            let sent = Action::SessionDown(DownReason::NotificationSent(n.clone()));
            assert_eq!(actions.last(), Some(&sent), "{label}");
        }
    }
}

/// A NOTIFICATION of 20 octets: the header is readable, the code/subcode pair is not.
fn short_notification_error() -> DecodeError {
    let mut frame = BytesMut::new();
    frame.extend_from_slice(&crate::codec::MARKER);
    frame.extend_from_slice(&20u16.to_be_bytes());
    frame.extend_from_slice(&[3, 6]);
    let err = crate::codec::frame_length(&frame, &CodecContext::default()).unwrap_err();
    assert_eq!(
        err.message_type,
        Some(crate::codec::MessageType::Notification)
    );
    err
}

#[test]
fn malformed_notification_is_not_answered_and_reported_as_such() {
    let now = Instant::now();
    for state in [State::OpenSent, State::OpenConfirm, State::Established] {
        let mut s = session_in(state, config(), now);
        let error = short_notification_error();
        let reason = DownReason::MalformedNotificationReceived(error.kind.to_string());
        let actions = s.handle(Event::DecodeError(error), now);
        assert_eq!(notification_sent(&actions), None, "{state}: no reply");
        let mut expected = vec![Action::CloseConnection];
        if state == State::Established {
            expected.push(Action::SessionDown(reason.clone()));
        }
        assert_eq!(actions, expected, "{state}");
        assert_eq!(s.last_error(), Some(&reason), "{state}");
        assert_eq!(s.state(), State::Idle, "{state}");
    }
}

/// The graceful-restart capability of an OPEN.
fn graceful_restart_of(open: &Open) -> Option<&GracefulRestart> {
    open.capabilities.iter().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr),
        _ => None,
    })
}

fn graceful_restart_config(restarting: bool, forwarding_preserved: bool) -> PeerConfig {
    let mut cfg = config();
    cfg.families = FamilySet::ALL;
    cfg.graceful_restart_time = Some(120);
    cfg.restarting = restarting;
    cfg.forwarding_preserved = forwarding_preserved;
    cfg
}

/// The OPEN sent by a session brought from Idle to OpenSent.
fn open_sent(s: &mut Session, now: Instant) -> Open {
    let mut actions = s.handle(Event::ManualStart, now);
    actions.extend(s.handle(Event::TcpConnectionConfirmed, now));
    actions
        .into_iter()
        .find_map(|a| match a {
            Action::Send(Message::Open(open)) => Some(open),
            _ => None,
        })
        .expect("an OPEN is sent")
}

#[test]
fn graceful_restart_bits_follow_the_config() {
    for (restarting, forwarding) in [(false, false), (true, false), (false, true), (true, true)] {
        let open = local_open(&speaker(), &graceful_restart_config(restarting, forwarding));
        let gr = graceful_restart_of(&open).expect("graceful restart offered");
        assert_eq!(gr.restart_state, restarting, "R bit");
        assert_eq!(gr.restart_time, 120);
        assert!(!gr.notification);
        let families: Vec<_> = gr.families.iter().map(|f| f.family).collect();
        assert_eq!(families, FamilySet::ALL.iter().collect::<Vec<_>>());
        assert!(
            gr.families
                .iter()
                .all(|f| f.forwarding_preserved == forwarding),
            "F bit of every family is {forwarding}: {gr:?}"
        );
    }
    // Without graceful restart neither bit has anywhere to go.
    let mut cfg = graceful_restart_config(true, true);
    cfg.graceful_restart_time = None;
    assert_eq!(graceful_restart_of(&local_open(&speaker(), &cfg)), None);
}

#[test]
fn restart_state_bit_is_sent_until_the_first_session_is_established() {
    let now = Instant::now();
    let mut s = Session::new(speaker(), graceful_restart_config(true, true));
    let first = open_sent(&mut s, now);
    assert!(graceful_restart_of(&first).expect("GR").restart_state);

    // A connection that fails before Established leaves it set for the next attempt.
    s.handle(Event::Message(Message::Open(peer_open(90))), now);
    assert_eq!(s.state(), State::OpenConfirm);
    s.handle(Event::TcpConnectionFails, now);
    assert_eq!(s.state(), State::Idle);
    let retry = open_sent(&mut s, now);
    assert!(graceful_restart_of(&retry).expect("GR").restart_state);
    assert!(s.config().restarting);

    // Established: cleared, for this and every later connection.
    s.handle(Event::Message(Message::Open(peer_open(90))), now);
    s.handle(Event::Message(Message::Keepalive), now);
    assert_eq!(s.state(), State::Established);
    assert!(!s.config().restarting);
    let gr = graceful_restart_of(s.local_open()).expect("GR");
    assert!(!gr.restart_state, "R cleared once established");
    assert!(
        gr.families.iter().all(|f| f.forwarding_preserved),
        "F bits stay"
    );
    s.handle(Event::TcpConnectionFails, now);
    let after = open_sent(&mut s, now);
    let gr = graceful_restart_of(&after).expect("GR");
    assert!(!gr.restart_state, "a reconnection is not a restart");
    assert!(gr.families.iter().all(|f| f.forwarding_preserved));
}
