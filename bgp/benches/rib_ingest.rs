//! RIB ingest: 1000 UPDATEs of 1000 IPv4 /24s with one attribute set from one eBGP peer,
//! then one flush of the Adj-RIB-Out to an update group. Records (`testkit::bench::record`)
//! the wall time of each and the heap held per route, measured with a counting global
//! allocator (`testkit::alloc`, a static of this benchmark binary only). The goal: at most 73
//! bytes per route once the flush has filled the group's Adj-RIB-Out (43 for the Adj-RIB-In
//! and Loc-RIB, 30 for the group). Right after the ingest the
//! group's pending announcements are held instead, for which nothing is stated.
//!
//! Run with `cargo bench -p bgp --bench rib_ingest`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use bgp::codec::{AsPath, CodecContext, Ipv4Prefix, Nlri, Origin, PathAttributes, Update};
use bgp::rib::{PeerConfig, PeerId, Policy, Rib, RibConfig};
use testkit::bench::{Figure, Goal, Row, record};

#[global_allocator]
static ALLOCATOR: testkit::alloc::CountingAllocator = testkit::alloc::CountingAllocator::new();

const UPDATES: u32 = 1000;
const PER_UPDATE: u32 = 1000;

const BENCH: &str = "rib_ingest";

/// Heap per route with one update group's Adj-RIB-Out: about 43 (Adj-RIB-In + Loc-RIB) + 30.
const RIB_WITH_OUT_BYTES_GOAL: f64 = 73.0;

fn updates() -> Vec<Update> {
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence([65001, 65010, 65020])),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        multi_exit_disc: Some(10),
        ..Default::default()
    };
    (0..UPDATES)
        .map(|u| Update {
            attributes: attributes.clone(),
            nlri: (0..PER_UPDATE)
                .map(|i| {
                    let n = u * PER_UPDATE + i;
                    let addr = Ipv4Addr::from(0x0a00_0000 + (n << 8));
                    Nlri::new(Ipv4Prefix::new(addr, 24).expect("host bits are clear"))
                })
                .collect(),
            ..Update::default()
        })
        .collect()
}

fn main() {
    let routes = f64::from(UPDATES * PER_UPDATE);
    let mut rib = Rib::new(
        RibConfig {
            local_as: 65000,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            cluster_id: None,
        },
        Policy::accept_all(),
    );
    let peer = |id: u8, asn| {
        PeerConfig::new(
            PeerId(u32::from(id)),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, id)),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200)),
            asn,
            Ipv4Addr::new(10, 1, 0, id),
        )
    };
    rib.add_peer(peer(1, 65001)).expect("new peer");
    rib.peer_up(PeerId(1), CodecContext::default())
        .expect("known peer");
    let before = ALLOCATOR.live();
    let input = updates();

    let start = Instant::now();
    let mut changes = 0;
    for update in input {
        changes += rib
            .apply_update(PeerId(1), update)
            .expect("established")
            .len();
    }
    let ingest = start.elapsed();
    assert_eq!(changes, rib.prefix_count());
    // `input` is consumed and freed: what is left is the RIB plus the pending list of the
    // peer's update group.
    let held = ALLOCATOR.live().saturating_sub(before);
    println!(
        "rib_ingest: {} routes in {:.3} s ({:.0} routes/s), {} attribute sets, {:.1} bytes/route (Adj-RIB-In + Loc-RIB)",
        rib.prefix_count(),
        ingest.as_secs_f64(),
        routes / ingest.as_secs_f64(),
        rib.attribute_set_count(),
        held as f64 / routes,
    );
    record(&Row::new(
        BENCH,
        "RIB apply_update of 1,000 UPDATEs x 1,000 IPv4 /24s, one attribute set, one eBGP \
         peer (decoded UPDATEs in, Loc-RIB changes out): s",
        Figure::secs(ingest),
    ));
    record(&Row::new(
        BENCH,
        "heap held per route after that ingest, Adj-RIB-In + Loc-RIB + pending \
             announcements (counting allocator)",
        Figure::new(held as f64 / routes, "B/route"),
    ));

    let start = Instant::now();
    let out = rib.flush_updates();
    let flush = start.elapsed();
    let messages: usize = out.iter().map(|g| g.messages.len()).sum();
    let bytes: usize = out
        .iter()
        .flat_map(|g| g.messages.iter())
        .map(|m| m.len())
        .sum();
    drop(out);
    let held_with_out = ALLOCATOR.live().saturating_sub(before);
    println!(
        "rib_export: {} UPDATEs ({} octets) for one update group in {:.3} s, {:.1} bytes/route incl. Adj-RIB-Out",
        messages,
        bytes,
        flush.as_secs_f64(),
        held_with_out as f64 / routes,
    );
    record(&Row::new(
        BENCH,
        "flush of those 1M routes to one update group: encoded UPDATEs: s",
        Figure::secs(flush),
    ));
    record(
        &Row::new(
            BENCH,
            "heap held per route after the flush, with the group's Adj-RIB-Out (counting \
             allocator)",
            Figure::new(held_with_out as f64 / routes, "B/route"),
        )
        .goal(Goal::AtMost(RIB_WITH_OUT_BYTES_GOAL)),
    );
}
