//! Codec throughput: one UPDATE carrying 1000 IPv4 /24 prefixes that share one attribute set
//! (ORIGIN, 4-octet AS_PATH of two ASes, NEXT_HOP) — the UPDATEs of the 1M-route ingest
//! benchmark (`netns-tests/benches/bgp_ingest.rs`). Throughput is reported per prefix, so
//! criterion's "time / 1000" is the cost per prefix. netgauze-bgp-pkt decodes the same octets
//! in the same run as a baseline. After criterion has measured, each figure is recorded as a
//! row in ns per prefix (`testkit::bench::record`), decoding against netgauze's with the goal
//! ARCHITECTURE.md states: about 4x faster (a ratio of at most 0.25).

use std::collections::HashMap;
use std::hint::black_box;
use std::net::Ipv4Addr;

use bgp::codec::{
    AddressFamily, AsPath, CodecContext, Ipv4Prefix, Message, Nlri, Origin, PathAttributes, Update,
    pack_announcements,
};
use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group};
use netgauze_bgp_pkt::BgpMessage;
use netgauze_bgp_pkt::wire::deserializer::BgpParsingContext;
use netgauze_parse_utils::reader::SliceReader;
use netgauze_parse_utils::traits::ParseFromWithOneInput;
use testkit::bench::{CriterionRun, Figure, Goal, Row, record};

const PREFIXES: u32 = 1000;

const GROUP: &str = "update_1000_ipv4_prefixes";

/// Our decode time over netgauze's: about 4x faster.
const DECODE_RATIO_GOAL: f64 = 0.25;

fn context() -> CodecContext {
    CodecContext {
        four_octet_as: true,
        ..CodecContext::default()
    }
}

fn attributes() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence([65001, 4_200_000_001])),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        ..PathAttributes::default()
    }
}

fn update() -> Update {
    let nlri = (0..PREFIXES)
        .map(|i| {
            let addr = Ipv4Addr::from(0x0a00_0000 + (i << 8));
            Nlri::new(Ipv4Prefix::new(addr, 24).expect("/24 is valid"))
        })
        .collect();
    Update {
        attributes: attributes(),
        nlri,
        ..Update::default()
    }
}

fn codec(c: &mut Criterion) {
    let ctx = context();
    let message = Message::Update(update());
    let bytes = message
        .to_bytes(&ctx)
        .expect("1000 /24s fit in 4096 octets");

    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Elements(u64::from(PREFIXES)));
    group.bench_function("decode", |b| {
        b.iter(|| Message::decode(black_box(&bytes), &ctx).expect("valid"))
    });
    let mut buf = BytesMut::with_capacity(4096);
    group.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&message).encode(&ctx, &mut buf).expect("fits");
        })
    });
    let routes = update().nlri;
    group.bench_function("pack_announcements", |b| {
        b.iter(|| {
            pack_announcements(
                AddressFamily::IPV4_UNICAST,
                black_box(&attributes()),
                None,
                black_box(&routes),
                &ctx,
            )
            .expect("packs")
        })
    });
    group.bench_function("netgauze_decode_baseline", |b| {
        b.iter(|| {
            let mut their_ctx = BgpParsingContext::new(
                true,
                HashMap::new(),
                HashMap::new(),
                true,
                true,
                true,
                true,
            );
            BgpMessage::parse(&mut SliceReader::new(black_box(&bytes)), &mut their_ctx)
                .expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, codec);

/// Runs the group as `criterion_main!` would, then records a row per figure measured.
fn main() {
    let run = CriterionRun::start();
    benches();
    Criterion::default().configure_from_args().final_summary();
    let per_prefix = |function: &str| {
        run.ns_per_iter(GROUP, function)
            .map(|ns| Figure::new(ns / f64::from(PREFIXES), "ns/prefix"))
    };
    if let Some(ours) = per_prefix("decode") {
        let row = Row::new(
            "codec",
            "UPDATE decode, 1,000 IPv4 /24s per message, one attribute set: ns/prefix",
            ours,
        )
        .goal(Goal::RatioAtMost(DECODE_RATIO_GOAL));
        record(&match per_prefix("netgauze_decode_baseline") {
            Some(theirs) => row.against("netgauze-bgp-pkt 0.13", theirs),
            None => row,
        });
    }
    let others = [
        (
            "encode",
            "UPDATE encode, 1,000 IPv4 /24s per message: ns/prefix",
        ),
        (
            "pack_announcements",
            "pack 1,000 announcements sharing attributes into UPDATEs: ns/prefix",
        ),
    ];
    for (function, what) in others {
        if let Some(ours) = per_prefix(function) {
            record(&Row::new("codec", what, ours));
        }
    }
}
