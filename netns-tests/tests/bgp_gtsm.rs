//! GTSM (RFC 5082) between the two namespaces of the BGP lab (`netns_tests::bgp_lab`), one veth hop
//! apart, where nothing decrements the TTL: a packet sent with TTL 255 arrives with 255.
//! With `ttl_security_hops = 1` our side sends with TTL 255 and drops whatever arrives with
//! less, so two of our speakers peer, while a peer that sends with TTL 250 gets no session:
//! its SYN-ACK is dropped when we connect, and its OPEN when it connected to us.
//!
//! Everything runs on one runtime in the speaker namespace; the lab side's sockets are
//! created in the lab namespace ([`NetnsRef::run`]) and used from there.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp::codec::{
    AddressFamily, AsPath, Capability, CodecContext, FamilySet, Ipv4Prefix, Message, Nlri, Open,
    Origin, PathAttributes, Update,
};
use bgp::session::transport::{set_listener_ttl_security, set_ttl_security};
use bgp::session::{
    Command, Listener, LocalSpeaker, PeerConfig, Session, SessionEvent, SessionHandle, State,
    TcpConnector, spawn,
};
use dataplane::netns::NetnsRef;
use netns_tests::bgp_lab::{LAB_V4, Lab, SPEAKER_V4, in_netns};
use testkit::require_root;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const SPEAKER_AS: u32 = 65001;
const LAB_AS: u32 = 65002;
/// How long a session that should not come up is given to come up anyway.
const NO_SESSION_WITHIN: Duration = Duration::from_secs(3);
/// How long a session that should come up may take.
const PATIENCE: Duration = Duration::from_secs(5);
/// The TTL of a peer further away than one hop, as it arrives.
const TOO_LOW_TTL: u32 = 250;

fn addr(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn speaker(asn: u32, router_id: &str) -> LocalSpeaker {
    LocalSpeaker {
        asn,
        router_id: router_id.parse().expect("router id"),
    }
}

/// A session to `address` in `peer_as` requiring the peer to be one hop away.
fn gtsm_peer(address: &str, peer_as: u32) -> PeerConfig {
    let mut p = PeerConfig::new(addr(address), peer_as);
    p.hold_time = 9;
    p.connect_retry_time = Duration::from_secs(1);
    p.families = FamilySet::IPV4_UNICAST;
    p.ttl_security_hops = Some(1);
    p
}

/// A listener on `address`:179 created in `ns`.
fn listen_in(ns: &NetnsRef, address: &str, ttl: Option<u32>) -> Result<TcpListener, String> {
    let at = SocketAddr::new(addr(address), 179);
    let std = ns
        .run(move || {
            let l = std::net::TcpListener::bind(at)?;
            if let Some(ttl) = ttl {
                l.set_ttl(ttl)?;
            }
            l.set_nonblocking(true)?;
            Ok(l)
        })
        .map_err(|e| format!("listening on {at}: {e}"))?;
    TcpListener::from_std(std).map_err(|e| e.to_string())
}

/// A connection from `ns` to `to`:179.
fn connect_from(ns: &NetnsRef, to: &str) -> Result<TcpStream, String> {
    let at = SocketAddr::new(addr(to), 179);
    let std = ns
        .run(move || {
            let s = std::net::TcpStream::connect_timeout(&at, Duration::from_secs(5))?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .map_err(|e| format!("connecting to {at}: {e}"))?;
    TcpStream::from_std(std).map_err(|e| e.to_string())
}

async fn send<S>(h: &SessionHandle<S>, cmd: Command<S>) -> Result<(), String> {
    h.commands
        .send(cmd)
        .await
        .map_err(|_| "session task gone".to_owned())
}

/// Waits up to `within` for `want` among the session's events; `Ok(false)` if it did not
/// come.
async fn wait_event<S>(
    h: &mut SessionHandle<S>,
    within: Duration,
    want: impl Fn(&SessionEvent) -> bool,
) -> Result<bool, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match timeout(left, h.events.recv()).await {
            Ok(Some(event)) if want(&event) => return Ok(true),
            Ok(Some(_)) => {}
            Ok(None) => return Err("session task ended".into()),
            Err(_) => return Ok(false),
        }
    }
}

fn is_up(e: &SessionEvent) -> bool {
    matches!(e, SessionEvent::Up(_))
}

/// The session changed to `state`.
fn reached(state: State) -> impl Fn(&SessionEvent) -> bool {
    move |e| matches!(e, SessionEvent::StateChanged { to, .. } if *to == state)
}

fn v4_update(prefix: &str, next_hop: &str) -> Update {
    let (a, len) = prefix.split_once('/').expect("prefix");
    Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([SPEAKER_AS])),
            next_hop: Some(next_hop.parse().expect("next hop")),
            ..PathAttributes::default()
        },
        nlri: vec![Nlri::new(
            Ipv4Prefix::new(a.parse().expect("addr"), len.parse().expect("len")).expect("prefix"),
        )],
        ..Update::default()
    }
}

/// The lab side's OPEN and KEEPALIVE, as a raw peer sends them.
fn raw_open_and_keepalive() -> Vec<u8> {
    let ctx = CodecContext::default();
    let open = Open::new(
        LAB_AS,
        9,
        LAB_V4.parse::<Ipv4Addr>().expect("router id"),
        vec![Capability::Multiprotocol(AddressFamily::IPV4_UNICAST)],
    );
    let mut bytes = Message::Open(open).to_bytes(&ctx).expect("OPEN").to_vec();
    bytes.extend_from_slice(&Message::Keepalive.to_bytes(&ctx).expect("KEEPALIVE"));
    bytes
}

/// Reads until a whole OPEN (type 1) from our side is in; its total length.
async fn read_open(stream: &mut TcpStream) -> Result<usize, String> {
    let mut buf = Vec::new();
    let read = async {
        loop {
            if buf.len() >= 19 {
                let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
                if buf[18] != 1 {
                    return Err(format!("expected our OPEN, got {buf:02x?}"));
                }
                if buf.len() >= len {
                    return Ok(len);
                }
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) => return Err("closed before our OPEN".to_owned()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    timeout(PATIENCE, read)
        .await
        .map_err(|_| "no OPEN from our side".to_owned())?
}

/// Two of our speakers, each requiring the other to be one hop away, peer across the veth
/// and an UPDATE goes through: both send with TTL 255 and accept 255.
#[test]
fn gtsm_session_comes_up_between_two_of_our_speakers_one_hop_apart() {
    if !require_root("gtsm_session_comes_up_between_two_of_our_speakers_one_hop_apart") {
        return;
    }
    let lab = Lab::new("bgp-gtsm").unwrap();
    let lab_ns = lab.lab.as_ref();
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        // The lab side: passive, its listener in the lab namespace.
        let listener = listen_in(&lab_ns, LAB_V4, None)?;
        // SYN-ACKs to the speaker side must leave with TTL 255 too.
        set_listener_ttl_security(&listener).map_err(|e| e.to_string())?;
        let mut passive = spawn(
            Session::new(speaker(LAB_AS, LAB_V4), gtsm_peer(SPEAKER_V4, SPEAKER_AS)),
            TcpConnector,
        );
        send(&passive, Command::StartPassive).await?;
        // The speaker side connects.
        let mut active = spawn(
            Session::new(speaker(SPEAKER_AS, SPEAKER_V4), gtsm_peer(LAB_V4, LAB_AS)),
            TcpConnector,
        );
        send(&active, Command::Start).await?;
        let (stream, from) = timeout(PATIENCE, Listener::accept(&listener))
            .await
            .map_err(|_| "the speaker side never connected".to_owned())?
            .map_err(|e| e.to_string())?;
        set_ttl_security(&stream, from.ip(), 1).map_err(|e| e.to_string())?;
        send(&passive, Command::Accept(stream)).await?;
        if !wait_event(&mut active, PATIENCE, is_up).await? {
            return Err("the connecting side never came up".into());
        }
        if !wait_event(&mut passive, PATIENCE, is_up).await? {
            return Err("the accepting side never came up".into());
        }
        send(
            &active,
            Command::SendUpdate(v4_update("10.33.0.0/24", SPEAKER_V4)),
        )
        .await?;
        let got = wait_event(&mut passive, PATIENCE, |e| {
            matches!(e, SessionEvent::Update { update, .. }
                if update.nlri.iter().any(|n| n.prefix.to_string() == "10.33.0.0/24"))
        })
        .await?;
        Ok::<_, String>(got)
    });
    assert_eq!(result, Ok(true), "the UPDATE crossed the GTSM session");
}

/// A peer that connected to us and sends with TTL 250 while we require 255: its OPEN is
/// dropped by the kernel, so our session never leaves OpenSent. The same raw peer sending
/// with TTL 255 gets a session, so the TTL is the only difference.
#[test]
fn gtsm_drops_the_open_of_a_peer_that_connected_with_too_low_a_ttl() {
    if !require_root("gtsm_drops_the_open_of_a_peer_that_connected_with_too_low_a_ttl") {
        return;
    }
    let lab = Lab::new("bgp-gtsma").unwrap();
    let lab_ns = lab.lab.as_ref();
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let listener = TcpListener::bind((addr(SPEAKER_V4), 179))
            .await
            .map_err(|e| e.to_string())?;
        set_listener_ttl_security(&listener).map_err(|e| e.to_string())?;
        let mut outcomes = Vec::new();
        for ttl in [255, TOO_LOW_TTL] {
            let mut ours = spawn(
                Session::new(speaker(SPEAKER_AS, SPEAKER_V4), gtsm_peer(LAB_V4, LAB_AS)),
                TcpConnector,
            );
            send(&ours, Command::StartPassive).await?;
            let mut raw = connect_from(&lab_ns, SPEAKER_V4)?;
            let (stream, from) = timeout(PATIENCE, Listener::accept(&listener))
                .await
                .map_err(|_| "no connection to accept".to_owned())?
                .map_err(|e| e.to_string())?;
            set_ttl_security(&stream, from.ip(), 1).map_err(|e| e.to_string())?;
            send(&ours, Command::Accept(stream)).await?;
            // Our OPEN comes after the option is set: only then does the raw peer answer.
            read_open(&mut raw).await?;
            raw.set_ttl(ttl).map_err(|e| e.to_string())?;
            raw.write_all(&raw_open_and_keepalive())
                .await
                .map_err(|e| e.to_string())?;
            let within = if ttl == 255 {
                PATIENCE
            } else {
                NO_SESSION_WITHIN
            };
            let open_seen = wait_event(&mut ours, within, reached(State::OpenConfirm)).await?;
            outcomes.push((ttl, open_seen));
            ours.task.abort();
        }
        Ok::<_, String>(outcomes)
    });
    assert_eq!(
        result,
        Ok(vec![(255, true), (TOO_LOW_TTL, false)]),
        "(TTL the raw peer sends with, whether our side processed its OPEN)"
    );
}

/// We connect to a peer whose SYN-ACK arrives with TTL 250 while we require 255: the kernel
/// drops it before the handshake completes, so the peer never accepts a connection and our
/// session never sends an OPEN. Once the peer's listener sends with TTL 255, our next
/// attempt gets through.
#[test]
fn gtsm_never_connects_to_a_peer_whose_syn_ack_ttl_is_too_low() {
    if !require_root("gtsm_never_connects_to_a_peer_whose_syn_ack_ttl_is_too_low") {
        return;
    }
    let lab = Lab::new("bgp-gtsmc").unwrap();
    let lab_ns = lab.lab.as_ref();
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let listener = listen_in(&lab_ns, LAB_V4, Some(TOO_LOW_TTL))?;
        let mut ours = spawn(
            Session::new(speaker(SPEAKER_AS, SPEAKER_V4), gtsm_peer(LAB_V4, LAB_AS)),
            TcpConnector,
        );
        send(&ours, Command::Start).await?;
        let low = timeout(NO_SESSION_WITHIN, Listener::accept(&listener)).await;
        let accepted_low = low.is_ok();
        // Nothing reached OpenSent meanwhile: the events so far hold no such change.
        let open_sent_low = wait_event(&mut ours, Duration::ZERO, reached(State::OpenSent)).await?;
        if accepted_low {
            return Ok((accepted_low, open_sent_low));
        }
        listener.set_ttl(255).map_err(|e| e.to_string())?;
        let (mut stream, _) = timeout(PATIENCE, Listener::accept(&listener))
            .await
            .map_err(|_| "no connection with the listener at TTL 255".to_owned())?
            .map_err(|e| e.to_string())?;
        read_open(&mut stream).await?;
        Ok::<_, String>((accepted_low, open_sent_low))
    });
    assert_eq!(
        result,
        Ok((false, false)),
        "(accepted, our session in OpenSent) while the SYN-ACK had TTL {TOO_LOW_TTL}"
    );
}
