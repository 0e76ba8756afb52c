//! The session driver's write path: a peer that stops reading does not hold up the session
//! (incoming messages are still processed, timers still run), and loses the connection once
//! our queued messages have made no progress for the hold time.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bgp::codec::{
    AsPath, Capability, CodecContext, Ipv4Prefix, Message, Nlri, Open, Origin, PathAttributes,
    Update, split_frame,
};
use bgp::session::{
    Command, Connector, DownReason, LocalSpeaker, PeerConfig, Session, SessionEvent, spawn,
};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

/// Hands out one in-memory pipe.
struct Pipe(Mutex<Option<DuplexStream>>);

impl Connector for Pipe {
    type Stream = DuplexStream;

    async fn connect(&self, _peer: &PeerConfig) -> std::io::Result<DuplexStream> {
        self.0
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| std::io::Error::other("only one connection"))
    }
}

fn encode(m: Message) -> Bytes {
    m.to_bytes(&CodecContext::default()).unwrap()
}

/// Reads from `stream` until one whole message has arrived.
async fn read_message(stream: &mut DuplexStream, buf: &mut BytesMut) -> Message {
    let ctx = CodecContext::default();
    loop {
        if let Some(frame) = split_frame(buf, &ctx).unwrap() {
            return Message::decode(&frame, &ctx).unwrap();
        }
        stream.read_buf(buf).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_reading_is_dropped_after_the_hold_time_and_never_stalls_us() {
    let (ours, mut peer) = tokio::io::duplex(4096);
    let speaker = LocalSpeaker {
        asn: 65001,
        router_id: Ipv4Addr::new(1, 1, 1, 1),
    };
    let mut config = PeerConfig::new(PEER, 65002);
    config.hold_time = 30;
    let mut handle = spawn(Session::new(speaker, config), Pipe(Mutex::new(Some(ours))));
    handle.commands.send(Command::Start).await.unwrap();

    // The peer's side of the OPEN exchange, with a 30 s hold time.
    let mut buf = BytesMut::new();
    assert!(matches!(
        read_message(&mut peer, &mut buf).await,
        Message::Open(_)
    ));
    let open = Open::new(
        65002,
        30,
        Ipv4Addr::new(2, 2, 2, 2),
        vec![Capability::FourOctetAs(65002)],
    );
    peer.write_all(&encode(Message::Open(open))).await.unwrap();
    peer.write_all(&encode(Message::Keepalive)).await.unwrap();
    assert!(matches!(
        read_message(&mut peer, &mut buf).await,
        Message::Keepalive
    ));
    loop {
        match handle.events.recv().await.unwrap() {
            SessionEvent::Up(_) => break,
            SessionEvent::StateChanged { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    // 4 MB queued for a peer that reads nothing more: far beyond the pipe's 4 KB.
    let chunk = encode(Message::Keepalive);
    let messages: Arc<[Bytes]> = vec![chunk; 4 << 20 >> 4].into();
    handle
        .commands
        .send(Command::SendEncoded(messages))
        .await
        .unwrap();

    // The session still reads: an UPDATE from the peer is delivered, and its keepalives
    // keep the hold timer from expiring for a minute.
    let update = Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([65002])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 2)),
            ..PathAttributes::default()
        },
        nlri: vec![Nlri::new(
            Ipv4Prefix::new(Ipv4Addr::new(10, 9, 0, 0), 16).unwrap(),
        )],
        ..Update::default()
    };
    peer.write_all(&encode(Message::Update(update.clone())))
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let mut delivered = false;
    let down = loop {
        tokio::select! {
            event = handle.events.recv() => match event.unwrap() {
                SessionEvent::Update { update: got, .. } => {
                    assert_eq!(got.nlri, update.nlri);
                    delivered = true;
                }
                SessionEvent::Down(reason) => break reason,
                _ => {}
            },
            () = tokio::time::sleep(Duration::from_secs(10)) => {
                // Keepalives from the peer every 10 s: the hold timer never expires.
                peer.write_all(&encode(Message::Keepalive)).await.unwrap();
            }
        }
    };
    let elapsed = start.elapsed();
    assert!(
        delivered,
        "the UPDATE was processed while our writes were blocked"
    );
    assert_eq!(down, DownReason::ConnectionLost);
    assert!(
        elapsed >= Duration::from_secs(29) && elapsed <= Duration::from_secs(31),
        "dropped after the 30 s hold time without write progress, not {elapsed:?}"
    );
}
