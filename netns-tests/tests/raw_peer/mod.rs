//! The raw peer of the `bgp_malformed_*.rs` tests, which run the numbered malformed-input
//! cases of `bgp/tests/malformed_header_open.rs` and `malformed_update.rs` (header, OPEN,
//! UPDATE and NOTIFICATION errors of RFC 4271 §6 as RFC 7606 revises them for UPDATEs) over
//! real TCP against our session driver, not just the codec. The raw peer (a plain tokio
//! `TcpStream` in the test, [`Harness`]) connects to our passive session on loopback,
//! exchanges OPEN/KEEPALIVE, announces 10.0.0.0/24 and 10.0.1.0/24, then sends one malformed
//! message, hand-built by [`wire`]. Each case of the table in [`cases`] checks what our side
//! does on the wire and in its events:
//!
//! * session resets: the NOTIFICATION the raw peer receives (code/subcode, and the data where
//!   RFC 4271 §6 names it), then EOF, and `SessionEvent::Down` naming the same NOTIFICATION;
//! * a malformed NOTIFICATION: EOF with no reply, and
//!   `SessionEvent::Down(MalformedNotificationReceived)`;
//! * RFC 7606 softer actions: no NOTIFICATION, the UPDATE delivered with its action
//!   (treat-as-withdraw: the routes it announces are to be withdrawn; attribute discard: the
//!   attribute is gone), and the session still up: a KEEPALIVE and a further UPDATE are
//!   accepted and delivered.
//!
//! The ExaBGP test (`bgp_malformed_exabgp.rs`) shares the identities and the event helpers.
#![allow(dead_code, reason = "each test file uses a part of these")]

pub mod cases;
pub mod wire;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp::codec::{Action, FamilySet, Update};
use bgp::session::{
    Command, Listener, LocalSpeaker, Negotiated, PeerConfig, Session, SessionEvent, SessionHandle,
    TcpConnector, spawn,
};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use wire::{
    TWO_PREFIXES, as_path2, cap_as4, keepalive, local_pref, mandatory, next_hop, origin_igp,
    raw_open, update, with_attr,
};

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The raw peer's AS and identifier.
pub const PEER_AS: u32 = 65001;
pub const PEER_ID: Ipv4Addr = Ipv4Addr::new(1, 1, 1, 1);
/// Our AS on external sessions, and our identifier.
pub const OUR_AS: u32 = 65002;
pub const OUR_ID: Ipv4Addr = Ipv4Addr::new(2, 2, 2, 2);
/// Hold time of both sides, except in the hold-timer case: long enough that no timer fires
/// while a case runs on a busy machine.
pub const HOLD: u16 = 30;
/// How long to wait for anything our side should do.
const PATIENCE: Duration = Duration::from_secs(10);

// ---- The raw peer --------------------------------------------------------------------------

/// What kind of session the raw peer sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// External, 4-octet AS, IPv4 and IPv6 unicast.
    Ebgp,
    /// Internal (our side is in AS 65001 too), 4-octet AS, IPv4 and IPv6 unicast.
    Ibgp,
    /// External, without the 4-octet AS capability (2-octet AS_PATHs).
    TwoOctet,
    /// External, 4-octet AS, IPv4 unicast only.
    V4Only,
}

impl Peer {
    pub fn open(self, hold: u16) -> Vec<u8> {
        let mp = |afi: u8| vec![1, 4, 0, afi, 0, 1];
        let caps = match self {
            Self::Ebgp | Self::Ibgp => [mp(1), mp(2), cap_as4(PEER_AS)].concat(),
            Self::TwoOctet => [mp(1), mp(2)].concat(),
            Self::V4Only => [mp(1), cap_as4(PEER_AS)].concat(),
        };
        raw_open(PEER_AS as u16, hold, PEER_ID, &caps)
    }

    /// Attributes of a valid announcement from this peer.
    pub fn attributes(self) -> Vec<u8> {
        match self {
            Self::Ebgp | Self::V4Only => mandatory(),
            Self::Ibgp => [mandatory(), local_pref()].concat(),
            Self::TwoOctet => [origin_igp(), as_path2(), next_hop()].concat(),
        }
    }
}

/// Our passive session, the raw peer's connection to it, and the case's name for messages.
pub struct Harness {
    pub name: String,
    handle: SessionHandle<TcpStream>,
    wire: TcpStream,
    buf: BytesMut,
    pub negotiated: Option<Box<Negotiated>>,
    _listener: TcpListener,
}

impl Harness {
    /// Starts our passive session, connects the raw peer to it and reads our OPEN.
    pub async fn connect(name: &str, peer: Peer, hold: u16) -> Self {
        let listener = TcpListener::bind((LOOPBACK, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let asn = if peer == Peer::Ibgp { PEER_AS } else { OUR_AS };
        let speaker = LocalSpeaker {
            asn,
            router_id: OUR_ID,
        };
        let mut config = PeerConfig::new(LOOPBACK, PEER_AS);
        config.passive = true;
        config.hold_time = hold;
        config.families = FamilySet::ALL;
        config.idle_hold_time = Duration::from_secs(60);
        let handle = spawn(Session::new(speaker, config), TcpConnector);
        handle.commands.send(Command::Start).await.unwrap();
        let (wire, accepted) = tokio::join!(TcpStream::connect((LOOPBACK, port)), async {
            Listener::accept(&listener).await
        });
        let wire = wire.unwrap();
        wire.set_nodelay(true).unwrap();
        let (inbound, _) = accepted.unwrap();
        handle
            .commands
            .send(Command::Accept(inbound))
            .await
            .unwrap();
        let mut h = Self {
            name: name.to_owned(),
            handle,
            wire,
            buf: BytesMut::new(),
            negotiated: None,
            _listener: listener,
        };
        let open = h.read_frame().await;
        assert_eq!(open.map(|f| f[18]), Some(1), "{name}: our OPEN first");
        h
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.wire.write_all(bytes).await.unwrap();
        self.wire.flush().await.unwrap();
    }

    /// The next message our side sent, `None` at EOF (or a reset after everything sent was
    /// read).
    pub async fn read_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.buf.len() >= 19 {
                let len = usize::from(u16::from_be_bytes([self.buf[16], self.buf[17]]));
                assert!(len >= 19, "{}: our side sent a bad length {len}", self.name);
                if self.buf.len() >= len {
                    let frame = self.buf[..len].to_vec();
                    self.buf.advance(len);
                    return Some(frame);
                }
            }
            let read = timeout(PATIENCE, self.wire.read_buf(&mut self.buf))
                .await
                .unwrap_or_else(|_| {
                    panic!("{}: nothing from our side within {PATIENCE:?}", self.name)
                });
            match read {
                Ok(0) | Err(_) => {
                    assert!(
                        self.buf.is_empty(),
                        "{}: a partial message before EOF",
                        self.name
                    );
                    return None;
                }
                Ok(_) => {}
            }
        }
    }

    /// The next message that is not a KEEPALIVE.
    pub async fn read_non_keepalive(&mut self) -> Option<Vec<u8>> {
        loop {
            match self.read_frame().await {
                Some(f) if f[18] == 4 && f.len() == 19 => {}
                other => return other,
            }
        }
    }

    pub async fn next_event(&mut self) -> SessionEvent {
        next_event(&mut self.handle, &self.name).await
    }

    pub async fn any_event(&mut self) -> SessionEvent {
        any_event(&mut self.handle, &self.name).await
    }

    /// Sends `open` and a KEEPALIVE, reads our KEEPALIVE and waits for the session to be up.
    pub async fn establish_with(&mut self, open: &[u8]) {
        self.send(&[open, &keepalive()].concat()).await;
        let frame = self.read_frame().await;
        assert_eq!(
            frame.as_deref(),
            Some(&keepalive()[..]),
            "{}: our KEEPALIVE answers the OPEN",
            self.name
        );
        match self.next_event().await {
            SessionEvent::Up(n) => self.negotiated = Some(n),
            other => panic!("{}: expected the session up, got {other:?}", self.name),
        }
    }

    /// Establishes the session and has the raw peer announce [`TWO_PREFIXES`].
    pub async fn establish(&mut self, peer: Peer, hold: u16) {
        self.establish_with(&peer.open(hold)).await;
        let valid = with_attr(peer, Vec::new());
        self.send(&valid).await;
        let (u, action) = self.expect_update().await;
        assert_eq!(action, None, "{}: the first, valid UPDATE", self.name);
        assert_eq!(
            announced(&u),
            TWO_PREFIXES,
            "{}: the first UPDATE",
            self.name
        );
    }

    pub async fn expect_update(&mut self) -> (Update, Option<Action>) {
        match self.next_event().await {
            SessionEvent::Update { update, action } => (update, action),
            other => panic!("{}: expected an UPDATE event, got {other:?}", self.name),
        }
    }

    /// Reads our NOTIFICATION (after any KEEPALIVEs) and then EOF; returns code, subcode, data.
    pub async fn expect_notification_and_close(&mut self) -> ((u8, u8), Vec<u8>) {
        let frame = self.read_non_keepalive().await;
        let Some(frame) = frame else {
            panic!("{}: connection closed without a NOTIFICATION", self.name);
        };
        assert_eq!(
            frame[18], 3,
            "{}: expected a NOTIFICATION, got {frame:02x?}",
            self.name
        );
        let got = ((frame[19], frame[20]), frame[21..].to_vec());
        assert_eq!(
            self.read_frame().await,
            None,
            "{}: EOF after the NOTIFICATION",
            self.name
        );
        got
    }

    /// The session stays up: a KEEPALIVE and a further valid UPDATE are accepted and the
    /// UPDATE is delivered, with no state change and no NOTIFICATION on the way.
    /// `route_refresh_ok`: a ROUTE-REFRESH event the owner must ignore may come first.
    pub async fn stays_up(&mut self, peer: Peer, route_refresh_ok: bool) {
        let further = update(&[], &peer.attributes(), &[24, 10, 0, 9]);
        self.send(&[keepalive(), further].concat()).await;
        loop {
            match self.any_event().await {
                SessionEvent::Update { update, action } => {
                    assert_eq!(action, None, "{}: the further UPDATE's action", self.name);
                    assert_eq!(
                        announced(&update),
                        ["10.0.9.0/24"],
                        "{}: further UPDATE",
                        self.name
                    );
                    break;
                }
                SessionEvent::RouteRefresh(rr) if route_refresh_ok => {
                    let ctx = &self.negotiated.as_ref().expect("negotiated").codec;
                    assert!(rr.must_ignore(ctx), "{}: {rr:?} must be ignored", self.name);
                }
                other => panic!("{}: expected the further UPDATE, got {other:?}", self.name),
            }
        }
        // Whatever our side sent meanwhile is KEEPALIVEs only; the connection is open.
        loop {
            match timeout(Duration::from_millis(200), self.read_frame()).await {
                Err(_) => break,
                Ok(Some(f)) if f == keepalive() => {}
                Ok(other) => panic!(
                    "{}: expected the session to stay up, got {other:02x?}",
                    self.name
                ),
            }
        }
    }
}

pub async fn any_event<S>(handle: &mut SessionHandle<S>, name: &str) -> SessionEvent {
    timeout(PATIENCE, handle.events.recv())
        .await
        .unwrap_or_else(|_| panic!("{name}: no session event within {PATIENCE:?}"))
        .unwrap_or_else(|| panic!("{name}: session task gone"))
}

/// The next session event that is not a state change.
pub async fn next_event<S>(handle: &mut SessionHandle<S>, name: &str) -> SessionEvent {
    loop {
        let event = any_event(handle, name).await;
        if !matches!(event, SessionEvent::StateChanged { .. }) {
            return event;
        }
    }
}

pub fn announced(u: &Update) -> Vec<String> {
    u.announced().map(|(_, n)| n.to_string()).collect()
}
