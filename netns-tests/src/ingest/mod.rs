//! The ingest workload: a replaying sender in the speaker namespace of the lab
//! ([`crate::bgp_lab`]) pushes pre-encoded UPDATEs (IPv4 /24s sharing one attribute set, eBGP
//! from AS [`SENDER_AS`]) to a receiver in the lab namespace (AS [`RECEIVER_AS`]), which is
//! polled through its own status interface until it holds them all.
//!
//! [`measure`] times from the first byte sent until the first poll that sees every prefix
//! held, polling every [`Limits::poll`] (the wait between one poll's answer and the next
//! poll), and reads the receiver's RSS from `/proc` before the first byte and at that poll.
//! The receivers:
//!
//! * ours: the `bgp-receiver` program (our speaker in a process of its own), polled over its
//!   stdin/stdout ([`OurReceiver`], protocol in [`protocol`]); it also reports the heap it
//!   holds, counted by its global allocator;
//! * BIRD2, GoBGP and FRR's bgpd ([`crate::daemons`]) with the configs of [`crate::bgp_lab`].

pub mod protocol;
mod receiver;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bgp::codec::{AsPath, CodecContext, Ipv4Prefix, Message, Nlri, Origin, PathAttributes, Update};
use bytes::BytesMut;

use crate::bgp_lab::{LAB_V4, Lab, Replayer, SPEAKER_V4};
use crate::daemons::rss_kib;

pub use receiver::OurReceiver;

/// The sender's AS.
pub const SENDER_AS: u32 = 65001;
/// The receiver's AS.
pub const RECEIVER_AS: u32 = 65002;
/// Prefixes per UPDATE.
pub const PER_UPDATE: u32 = 1000;

/// `count` UPDATEs of `per_update` IPv4 /24 prefixes (from 10.0.0.0/24 on) sharing one
/// attribute set (ORIGIN IGP, AS_PATH `[asn]`, NEXT_HOP `next_hop`), encoded for a
/// 4-octet-AS session (RFC 6793).
pub fn ingest_updates(count: u32, per_update: u32, asn: u32, next_hop: Ipv4Addr) -> Vec<u8> {
    let ctx = CodecContext {
        four_octet_as: true,
        ..CodecContext::default()
    };
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence([asn])),
        next_hop: Some(next_hop),
        ..PathAttributes::default()
    };
    let mut buf = BytesMut::with_capacity((count * (per_update * 4 + 64)) as usize);
    for u in 0..count {
        let nlri = (0..per_update)
            .filter_map(|i| {
                let n = u * per_update + i;
                Ipv4Prefix::new(Ipv4Addr::from(0x0a00_0000 + (n << 8)), 24)
            })
            .map(Nlri::new)
            .collect();
        let update = Update {
            attributes: attributes.clone(),
            nlri,
            ..Update::default()
        };
        // 1000 /24s and three attributes fit in one 4096-octet message.
        if Message::Update(update).encode(&ctx, &mut buf).is_err() {
            break;
        }
    }
    buf.to_vec()
}

/// The workload of `prefixes` (rounded down to whole UPDATEs of [`PER_UPDATE`]): the encoded
/// UPDATEs and the number of prefixes in them.
pub fn workload(prefixes: u32) -> (Vec<u8>, u64) {
    let updates = prefixes / PER_UPDATE;
    let next_hop: Ipv4Addr = SPEAKER_V4
        .parse()
        .expect("invariant: SPEAKER_V4 is an IPv4 address");
    (
        ingest_updates(updates, PER_UPDATE, SENDER_AS, next_hop),
        u64::from(updates * PER_UPDATE),
    )
}

/// What one poll of a receiver found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Prefixes held, as the receiver's status interface counts them.
    pub routes: u64,
    /// Heap bytes the receiver holds, when it can count them (ours only).
    pub heap_bytes: Option<u64>,
}

impl Held {
    /// Routes only (a foreign daemon).
    pub fn routes(routes: u64) -> Held {
        Held {
            routes,
            heap_bytes: None,
        }
    }
}

/// How [`measure`] polls.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The wait between one poll's answer and the next poll.
    pub poll: Duration,
    /// How long from the first byte until the receiver must hold everything.
    pub timeout: Duration,
}

/// What [`measure`] found.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    /// Prefixes sent.
    pub total: u64,
    /// From the first byte sent until the answer of the first poll that saw `total` held.
    pub elapsed: Duration,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    /// Heap held before the first byte and at that poll (ours only).
    pub heap_before: Option<u64>,
    pub heap_after: Option<u64>,
    /// Polls made after the first byte, and the time they took in all.
    pub polls: u32,
    pub poll_time: Duration,
}

impl IngestOutcome {
    /// RSS growth from before the first byte to the final poll, per prefix.
    pub fn rss_bytes_per_route(&self) -> f64 {
        (self.rss_after_kib.saturating_sub(self.rss_before_kib) * 1024) as f64 / self.total as f64
    }

    /// Heap growth over the same interval, per prefix, when the receiver counts its heap.
    pub fn heap_bytes_per_route(&self) -> Option<f64> {
        let (before, after) = (self.heap_before?, self.heap_after?);
        Some(after.saturating_sub(before) as f64 / self.total as f64)
    }

    /// How long one poll took on average.
    pub fn mean_poll(&self) -> Duration {
        self.poll_time / self.polls.max(1)
    }
}

/// Opens the sender's session with the receiver at [`LAB_V4`] (process `pid`), then sends
/// `updates` (holding `total` prefixes) and polls `poll` until it reports `total` held.
/// Fails, naming `name`, when the session cannot be opened, the receiver exits, or `total`
/// is not held within [`Limits::timeout`].
pub fn measure(
    name: &str,
    lab: &Lab,
    pid: u32,
    poll: &mut dyn FnMut() -> Result<Held, String>,
    (updates, total): (&[u8], u64),
    limits: Limits,
) -> Result<IngestOutcome, String> {
    let peer = SocketAddr::new(LAB_V4.parse().map_err(|e| format!("{LAB_V4}: {e}"))?, 179);
    let router_id: Ipv4Addr = SPEAKER_V4
        .parse()
        .map_err(|e| format!("{SPEAKER_V4}: {e}"))?;
    let mut tx = Replayer::connect(&lab.speaker.as_ref(), peer, SENDER_AS, router_id)
        .map_err(|e| format!("{name}: opening the sender's session: {e}"))?;
    tx.set_write_timeout(limits.timeout)
        .map_err(|e| format!("{name}: {e}"))?;
    let before = poll().map_err(|e| format!("{name}: first poll: {e}"))?;
    let rss_before_kib = rss_kib(pid).ok_or_else(|| format!("{name}: process {pid} is gone"))?;

    let t0 = Instant::now();
    tx.send(updates).map_err(|e| sending_failed(name, e))?;
    let mut polls = 0;
    let mut poll_time = Duration::ZERO;
    loop {
        let start = Instant::now();
        let held = poll();
        let answered = Instant::now();
        polls += 1;
        poll_time += answered - start;
        match &held {
            Ok(h) if h.routes >= total => {
                let rss_after_kib =
                    rss_kib(pid).ok_or_else(|| format!("{name}: process {pid} is gone"))?;
                return Ok(IngestOutcome {
                    total,
                    elapsed: answered - t0,
                    rss_before_kib,
                    rss_after_kib,
                    heap_before: before.heap_bytes,
                    heap_after: h.heap_bytes,
                    polls,
                    poll_time,
                });
            }
            Ok(_) => {}
            Err(e) if rss_kib(pid).is_none() => {
                return Err(format!("{name}: process {pid} exited ({e})"));
            }
            Err(_) => {}
        }
        if answered - t0 >= limits.timeout {
            let last = match held {
                Ok(h) => format!("last poll: {} held", h.routes),
                Err(e) => format!("last poll failed: {e}"),
            };
            return Err(format!(
                "{name}: did not hold {total} prefixes within {:?} ({last})",
                limits.timeout
            ));
        }
        std::thread::sleep(limits.poll);
    }
}

fn sending_failed(name: &str, e: io::Error) -> String {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        format!("{name}: stopped reading: the UPDATEs could not all be sent within the timeout")
    } else {
        format!("{name}: sending the UPDATEs: {e}")
    }
}
