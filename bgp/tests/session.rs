//! Two of our speakers over a real loopback TCP socket (tokio): they reach Established,
//! exchange an UPDATE each way, and a ManualStop on one side sends CEASE, which the other
//! sees as the session going down.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp::codec::{
    AsPath, CeaseSubcode, ErrorCode, Ipv4Prefix, Nlri, Origin, PathAttributes, Update,
};
use bgp::session::{
    Command, DownReason, Listener, LocalSpeaker, PeerConfig, Session, SessionEvent, SessionHandle,
    State, TcpConnector, spawn,
};
use tokio::net::TcpListener;
use tokio::time::timeout;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn update(asn: u32, prefix: Ipv4Addr) -> Update {
    Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([asn])),
            next_hop: Some(Ipv4Addr::LOCALHOST),
            ..PathAttributes::default()
        },
        nlri: vec![Nlri::new(Ipv4Prefix::new(prefix, 24).expect("valid /24"))],
        ..Update::default()
    }
}

/// The next event that is not a state change, within a deadline generous for a busy machine.
async fn next_event<S>(handle: &mut SessionHandle<S>) -> SessionEvent {
    loop {
        let event = timeout(Duration::from_secs(10), handle.events.recv())
            .await
            .expect("session event within 10 s")
            .expect("session task running");
        if !matches!(event, SessionEvent::StateChanged { .. }) {
            return event;
        }
    }
}

#[tokio::test]
async fn two_speakers_establish_exchange_updates_and_stop_with_cease() {
    let listener = TcpListener::bind((LOOPBACK, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();

    // A connects to B; B is passive and gets A's connection from its listener.
    let a_speaker = LocalSpeaker {
        asn: 65001,
        router_id: Ipv4Addr::new(1, 1, 1, 1),
    };
    let b_speaker = LocalSpeaker {
        asn: 65002,
        router_id: Ipv4Addr::new(2, 2, 2, 2),
    };
    let mut a_config = PeerConfig::new(LOOPBACK, 65002);
    a_config.port = port;
    a_config.hold_time = 3;
    let mut b_config = PeerConfig::new(LOOPBACK, 65001);
    b_config.passive = true;
    b_config.hold_time = 3;
    b_config.idle_hold_time = Duration::from_millis(100);

    let mut a = spawn(Session::new(a_speaker, a_config), TcpConnector);
    let mut b = spawn(Session::new(b_speaker, b_config), TcpConnector);
    b.commands.send(Command::Start).await.unwrap();
    a.commands.send(Command::Start).await.unwrap();
    let (inbound, from) = Listener::accept(&listener).await.unwrap();
    assert_eq!(from.ip(), LOOPBACK);
    b.commands.send(Command::Accept(inbound)).await.unwrap();

    let SessionEvent::Up(a_negotiated) = next_event(&mut a).await else {
        panic!("A: expected the session up");
    };
    let SessionEvent::Up(b_negotiated) = next_event(&mut b).await else {
        panic!("B: expected the session up");
    };
    assert_eq!(a_negotiated.peer_as, 65002);
    assert_eq!(b_negotiated.peer_id, Ipv4Addr::new(1, 1, 1, 1));
    assert_eq!(a_negotiated.hold_time, Duration::from_secs(3));
    assert_eq!(b_negotiated.keepalive_time, Duration::from_secs(1));

    let from_a = update(65001, Ipv4Addr::new(10, 1, 0, 0));
    a.commands
        .send(Command::SendUpdate(from_a.clone()))
        .await
        .unwrap();
    let SessionEvent::Update {
        update: got,
        action,
    } = next_event(&mut b).await
    else {
        panic!("B: expected A's UPDATE");
    };
    assert_eq!((got, action), (from_a, None));

    let from_b = update(65002, Ipv4Addr::new(10, 2, 0, 0));
    b.commands
        .send(Command::SendUpdate(from_b.clone()))
        .await
        .unwrap();
    let SessionEvent::Update {
        update: got,
        action,
    } = next_event(&mut a).await
    else {
        panic!("A: expected B's UPDATE");
    };
    assert_eq!((got, action), (from_b, None));

    a.commands.send(Command::Stop).await.unwrap();
    assert_eq!(
        next_event(&mut a).await,
        SessionEvent::Down(DownReason::ManualStop)
    );
    let SessionEvent::Down(DownReason::NotificationReceived(n)) = next_event(&mut b).await else {
        panic!("B: expected the session down with A's NOTIFICATION");
    };
    assert_eq!(
        n.code,
        ErrorCode::Cease(CeaseSubcode::AdministrativeShutdown)
    );

    // B, passive, waits for A again after its idle hold time; A stays stopped.
    let b_state = loop {
        match timeout(Duration::from_secs(10), b.events.recv()).await {
            Ok(Some(SessionEvent::StateChanged { to, .. })) if to != State::Idle => break to,
            Ok(Some(_)) => {}
            other => panic!("B: expected a state change, got {other:?}"),
        }
    };
    assert_eq!(b_state, State::Active);
    drop(a.commands);
    drop(b.commands);
    a.task.await.unwrap();
    b.task.await.unwrap();
}

/// A connector handing out one end of an in-memory pipe: the driver is generic over the
/// stream, so the test can play the peer byte by byte.
struct PipeConnector(std::sync::Mutex<Option<tokio::io::DuplexStream>>);

impl bgp::session::Connector for PipeConnector {
    type Stream = tokio::io::DuplexStream;

    async fn connect(&self, _peer: &PeerConfig) -> std::io::Result<tokio::io::DuplexStream> {
        let stream = self.0.lock().expect("pipe connector lock poisoned").take();
        stream.ok_or_else(|| std::io::Error::other("the pipe was already used"))
    }
}

/// Reads the next message the session sent.
async fn read_message(
    stream: &mut tokio::io::DuplexStream,
    buf: &mut bytes::BytesMut,
) -> Option<bgp::codec::Message> {
    use tokio::io::AsyncReadExt;
    let ctx = bgp::codec::CodecContext::default();
    loop {
        if let Some(frame) = bgp::codec::split_frame(buf, &ctx).unwrap() {
            return Some(bgp::codec::Message::decode(&frame, &ctx).unwrap());
        }
        let n = timeout(Duration::from_secs(10), stream.read_buf(buf))
            .await
            .expect("bytes within 10 s")
            .unwrap();
        if n == 0 {
            return None;
        }
    }
}

#[tokio::test]
async fn driver_answers_a_malformed_message_with_its_notification_and_closes() {
    use bgp::codec::{CodecContext, Message, MessageHeaderError, Open};
    use tokio::io::AsyncWriteExt;

    let (ours, mut peer) = tokio::io::duplex(64 * 1024);
    let speaker = LocalSpeaker {
        asn: 65001,
        router_id: Ipv4Addr::new(1, 1, 1, 1),
    };
    let mut config = PeerConfig::new(LOOPBACK, 65002);
    config.hold_time = 3;
    let connector = PipeConnector(std::sync::Mutex::new(Some(ours)));
    let mut handle = spawn(Session::new(speaker, config), connector);
    handle.commands.send(Command::Start).await.unwrap();

    let mut buf = bytes::BytesMut::new();
    let Some(Message::Open(open)) = read_message(&mut peer, &mut buf).await else {
        panic!("expected our OPEN first");
    };
    assert_eq!(open.asn(), 65001);
    let ctx = CodecContext::default();
    let mut out = bytes::BytesMut::new();
    Message::Open(Open::new(65002, 3, Ipv4Addr::new(2, 2, 2, 2), vec![]))
        .encode(&ctx, &mut out)
        .unwrap();
    Message::Keepalive.encode(&ctx, &mut out).unwrap();
    peer.write_all(&out).await.unwrap();
    assert_eq!(
        read_message(&mut peer, &mut buf).await,
        Some(Message::Keepalive)
    );
    assert!(matches!(next_event(&mut handle).await, SessionEvent::Up(_)));

    // A KEEPALIVE with a broken marker: Message Header Error / Connection Not Synchronized.
    let mut bad = bytes::BytesMut::new();
    Message::Keepalive.encode(&ctx, &mut bad).unwrap();
    bad[3] = 0;
    peer.write_all(&bad).await.unwrap();
    let Some(Message::Notification(n)) = read_message(&mut peer, &mut buf).await else {
        panic!("expected a NOTIFICATION");
    };
    assert_eq!(
        n.code,
        ErrorCode::MessageHeader(MessageHeaderError::ConnectionNotSynchronized)
    );
    assert_eq!(read_message(&mut peer, &mut buf).await, None, "then EOF");
    assert_eq!(
        next_event(&mut handle).await,
        SessionEvent::Down(DownReason::NotificationSent(n))
    );
}
