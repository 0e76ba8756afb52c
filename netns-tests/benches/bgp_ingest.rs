//! BGP ingest: one sender replays 1,000 pre-encoded UPDATEs of 1,000 IPv4 /24 prefixes
//! sharing one attribute set (1M prefixes) to a receiver in the lab of bgp.md §5.1; the time
//! from the first byte until the receiver holds every prefix, and the receiver's RSS growth
//! per route. Receivers side by side in one run: BIRD2 and GoBGP (and our speaker once it
//! has a RIB). Needs root; prints "skipped: needs root" otherwise.
//!
//! `cargo bench -p netns-tests --bench bgp_ingest [-- bird|gobgp] [--prefixes N]`

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use dataplane::netns::is_root;
use netns_tests::bgp_lab::{
    LAB_V4, Lab, Replayer, SPEAKER_V4, bird_passive_config, gobgp_passive_config, ingest_updates,
};
use netns_tests::daemons::{Bird, GoBgp, rss_kib, wait_for};

const PER_UPDATE: u32 = 1000;

struct Result {
    name: &'static str,
    secs: f64,
    bytes_per_route: f64,
}

/// Replays `updates` into the receiver at LAB_V4 and polls `count` until it reaches `total`.
fn ingest(
    name: &'static str,
    lab: &Lab,
    updates: &[u8],
    total: u64,
    pid: u32,
    count: &dyn Fn() -> Option<u64>,
    (timeout, poll): (Duration, Duration),
) -> Option<Result> {
    let before = rss_kib(pid)?;
    let peer = SocketAddr::new(LAB_V4.parse().ok()?, 179);
    let mut tx = Replayer::connect(
        &lab.speaker.as_ref(),
        peer,
        65001,
        Ipv4Addr::new(10, 255, 0, 1),
    )
    .map_err(|e| eprintln!("{name}: {e}"))
    .ok()?;
    let t = Instant::now();
    tx.send(updates).ok()?;
    let done = wait_for(timeout, poll, || count().filter(|n| *n >= total));
    let secs = t.elapsed().as_secs_f64();
    if done.is_none() {
        eprintln!("{name}: did not reach {total} routes in {timeout:?}");
        return None;
    }
    let after = rss_kib(pid)?;
    Some(Result {
        name,
        secs,
        bytes_per_route: (after.saturating_sub(before) * 1024) as f64 / total as f64,
    })
}

fn main() {
    if !is_root() {
        println!("bgp_ingest: skipped: needs root");
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let prefixes: u32 = args
        .iter()
        .position(|a| a == "--prefixes")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let only: Option<&String> = args
        .iter()
        .find(|a| !a.starts_with('-') && a.parse::<u32>().is_err());
    let wants = |n: &str| only.is_none_or(|o| o == n);
    let updates = ingest_updates(
        prefixes / PER_UPDATE,
        PER_UPDATE,
        65001,
        SPEAKER_V4.parse().unwrap_or(Ipv4Addr::LOCALHOST),
    );
    let total = u64::from(prefixes / PER_UPDATE * PER_UPDATE);
    println!(
        "ingest of {total} IPv4 prefixes in {} UPDATEs ({} KB)",
        total / u64::from(PER_UPDATE),
        updates.len() / 1024
    );
    let mut results = Vec::new();
    if wants("bird") {
        let lab = Lab::new("ingest-bird").expect("lab");
        let bird = Bird::start(&lab.lab, &bird_passive_config()).expect("bird");
        results.extend(ingest(
            "BIRD 2",
            &lab,
            &updates,
            total,
            bird.pid(),
            &|| bird.imported("sender"),
            (Duration::from_secs(60), Duration::from_millis(10)),
        ));
    }
    if wants("gobgp") {
        let lab = Lab::new("ingest-gobgp").expect("lab");
        let gobgp = GoBgp::start(&lab.lab, &gobgp_passive_config(), 50061).expect("gobgpd");
        results.extend(ingest(
            "GoBGP",
            &lab,
            &updates,
            total,
            gobgp.pid(),
            &|| gobgp.ipv4_destinations(),
            // Each poll is a gobgp process and a gRPC call; poll gently.
            (Duration::from_secs(300), Duration::from_millis(500)),
        ));
    }
    for r in &results {
        println!(
            "  {:<8} {:>8.3} s  {:>7.0} bytes/route",
            r.name, r.secs, r.bytes_per_route
        );
    }
}
