//! BGP ingest: one sender replays 1,000 pre-encoded UPDATEs of 1,000 IPv4 /24 prefixes
//! sharing one attribute set (1M prefixes) to a receiver in the BGP lab (`netns_tests::bgp_lab`); the time
//! from the first byte until the receiver holds every prefix, and the receiver's RSS growth
//! per route. Receivers side by side in one run: our speaker (in this process, on a thread
//! inside the lab namespace), BIRD2 and GoBGP. Needs root; prints
//! "skipped: needs root" otherwise.
//!
//! `cargo bench -p netns-tests --bench bgp_ingest [-- ours|bird|gobgp] [--prefixes N]`

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use netns_tests::bgp_lab::{
    LAB_V4, Lab, Replayer, SPEAKER_V4, bird_passive_config, gobgp_passive_config, ingest_updates,
};
use netns_tests::daemons::{Bird, GoBgp, rss_kib, wait_for};
use testkit::prereq::is_root;

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

/// Exports nothing, as the daemons are configured (`export none`).
fn export_none() -> bgp::rib::Policy {
    bgp::rib::Policy {
        default_export: bgp::rib::Filter::reject_all(),
        ..bgp::rib::Policy::default()
    }
}

/// Our receiver: the speaker (session task + RIB owner) on a two-worker tokio runtime (as
/// calico-node runs it) inside the lab namespace with one passive peer; done when the Loc-RIB changes it reports cover `total`
/// prefixes, as an embedder installing them would see them. RSS growth of this process.
fn ours(updates: &[u8], total: u64) -> Option<Result> {
    use bgp::session::{LocalSpeaker, PeerConfig};
    use bgp::speaker::{Event, PeerSettings, SpeakerConfig};

    let lab = Lab::new("ingest-ours").ok()?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let lab_ns = lab.lab.as_ref();
    let receiver = std::thread::spawn(move || {
        lab_ns.run(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind((LAB_V4, 179)).await?;
                let before = rss_kib(std::process::id()).unwrap_or(0);
                let mut speaker = netns_tests::bgp_lab::spawn_speaker(
                    SpeakerConfig::new(LocalSpeaker {
                        asn: 65002,
                        router_id: Ipv4Addr::new(10, 255, 0, 2),
                    }),
                    export_none(),
                    Some(listener),
                );
                let peer_ip = SPEAKER_V4.parse().map_err(std::io::Error::other)?;
                let mut config = PeerConfig::new(peer_ip, 65001);
                config.passive = true;
                speaker.add_peer(PeerSettings::new(config));
                let _ = ready_tx.send(());
                let mut installed = 0u64;
                while let Some(event) = speaker.events.recv().await {
                    match event {
                        Event::Best(changes) => {
                            for c in &changes {
                                if c.best.is_some() {
                                    installed += 1;
                                } else {
                                    installed -= 1;
                                }
                            }
                            if installed >= total {
                                let done = Instant::now();
                                let after = rss_kib(std::process::id()).unwrap_or(0);
                                speaker.stop();
                                return Ok((done, after.saturating_sub(before)));
                            }
                        }
                        Event::PeerDown { reason, .. } => {
                            return Err(std::io::Error::other(format!("session down: {reason}")));
                        }
                        Event::PeerUp { .. }
                        | Event::EndOfRib { .. }
                        | Event::DeferralOver { .. } => {}
                    }
                }
                Err(std::io::Error::other("speaker ended"))
            })
        })
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).ok()?;
    let peer = SocketAddr::new(LAB_V4.parse().ok()?, 179);
    let mut tx = Replayer::connect(
        &lab.speaker.as_ref(),
        peer,
        65001,
        Ipv4Addr::new(10, 255, 0, 1),
    )
    .map_err(|e| eprintln!("ours: {e}"))
    .ok()?;
    // As for the daemons: from the first byte sent until the receiver holds every prefix.
    let t = Instant::now();
    tx.send(updates).ok()?;
    let (done, grown_kib) = receiver
        .join()
        .ok()?
        .map_err(|e| eprintln!("ours: {e}"))
        .ok()?;
    drop(tx);
    Some(Result {
        name: "ours",
        secs: done.duration_since(t).as_secs_f64(),
        bytes_per_route: (grown_kib * 1024) as f64 / total as f64,
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
    if wants("ours") {
        results.extend(ours(&updates, total));
    }
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
