//! BGP ingest: a replaying sender pushes 1,000 pre-encoded UPDATEs of 1,000 IPv4 /24s sharing
//! one attribute set (1M prefixes) over one eBGP session to a receiver in the lab
//! (`netns_tests::bgp_lab`: two namespaces, one veth hop). Receivers, one after the other in
//! one run, each in a process of its own in the lab namespace: ours (the `bgp-receiver`
//! program: our speaker on a two-worker runtime), BIRD2, FRR's bgpd and GoBGP.
//!
//! Every receiver is timed alike: from the first byte the sender writes until the answer of
//! the first poll that sees every prefix held, polling every 20 ms through the receiver's own
//! status interface (the lines printed at the start say which). Memory alike: RSS growth
//! (`/proc/PID/status`) from before the first byte to that poll, per prefix; for ours also the
//! heap growth its counting allocator saw. A receiver that does not hold everything within the
//! timeout fails the run. Needs root; prints "skipped: needs root" otherwise.
//!
//! `cargo bench -p netns-tests --bench bgp_ingest [-- [ours] [bird] [frr] [gobgp]] [--prefixes N]
//! [--poll-ms N] [--timeout-s N]`

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use netns_tests::bgp_lab::{
    LAB_V4, Lab, SPEAKER_V4, bird_passive_config, frr_passive_config, gobgp_passive_config,
};
use netns_tests::daemons::{Bird, Frr, GoBgp, version};
use netns_tests::ingest::protocol::ReceiverArgs;
use netns_tests::ingest::{
    Held, IngestOutcome, Limits, OurReceiver, PER_UPDATE, RECEIVER_AS, SENDER_AS, measure, workload,
};
use testkit::bench::{Figure, Goal, Row, record};

const BENCH: &str = "bgp_ingest";

/// Time goal: ours at most 0.8 of BIRD's.
const TIME_GOAL: f64 = 0.8;
/// Memory goal: at most 90 bytes per route.
const MEMORY_GOAL: f64 = 90.0;

/// One receiver: how it is named, how it is polled, and how it is run.
struct Side {
    key: &'static str,
    name: String,
    polled_by: &'static str,
    run: fn(&Side, &Input) -> Result<IngestOutcome, String>,
}

/// The workload and how to poll, shared by every side.
struct Input {
    updates: Vec<u8>,
    total: u64,
    limits: Limits,
}

fn lab(key: &str) -> Result<Lab, String> {
    Lab::new(&format!("ingest-{key}")).map_err(|e| format!("lab: {e}"))
}

fn ours(side: &Side, input: &Input) -> Result<IngestOutcome, String> {
    let lab = lab(side.key)?;
    let args = ReceiverArgs {
        local: LAB_V4.parse().map_err(|e| format!("{LAB_V4}: {e}"))?,
        asn: RECEIVER_AS,
        peer: SPEAKER_V4
            .parse()
            .map_err(|e| format!("{SPEAKER_V4}: {e}"))?,
        peer_as: SENDER_AS,
    };
    let exe = Path::new(env!("CARGO_BIN_EXE_bgp-receiver"));
    let mut receiver = OurReceiver::start(&lab.lab, exe, &args)?;
    let pid = receiver.pid();
    measure(
        &side.name,
        &lab,
        pid,
        &mut || {
            receiver.status().map(|s| Held {
                routes: s.held(),
                heap_bytes: Some(s.heap),
            })
        },
        (&input.updates, input.total),
        input.limits,
    )
}

fn bird(side: &Side, input: &Input) -> Result<IngestOutcome, String> {
    let lab = lab(side.key)?;
    let bird = Bird::start(&lab.lab, &bird_passive_config()).map_err(|e| format!("bird: {e}"))?;
    measure(
        &side.name,
        &lab,
        bird.pid(),
        &mut || {
            bird.imported("sender")
                .map(Held::routes)
                .ok_or_else(|| "birdc show protocols all sender: no Routes line".to_owned())
        },
        (&input.updates, input.total),
        input.limits,
    )
}

fn frr(side: &Side, input: &Input) -> Result<IngestOutcome, String> {
    let lab = lab(side.key)?;
    let frr = Frr::start(&lab.lab, &frr_passive_config()).map_err(|e| format!("bgpd: {e}"))?;
    let outcome = measure(
        &side.name,
        &lab,
        frr.pid(),
        &mut || {
            frr.peer(SPEAKER_V4)
                .map(|p| Held::routes(p.received))
                .map_err(|e| e.to_string())
        },
        (&input.updates, input.total),
        input.limits,
    );
    outcome.map_err(|e| format!("{e}; bgpd log: {}", frr.log()))
}

fn gobgp(side: &Side, input: &Input) -> Result<IngestOutcome, String> {
    let lab = lab(side.key)?;
    let gobgp = GoBgp::start(&lab.lab, &gobgp_passive_config(), 50061)
        .map_err(|e| format!("gobgpd: {e}"))?;
    measure(
        &side.name,
        &lab,
        gobgp.pid(),
        &mut || {
            gobgp
                .ipv4_destinations()
                .map(Held::routes)
                .ok_or_else(|| "gobgp global rib summary: no Destination count".to_owned())
        },
        (&input.updates, input.total),
        input.limits,
    )
}

fn sides() -> Vec<Side> {
    vec![
        Side {
            key: "ours",
            name: "ours".to_owned(),
            polled_by: "bgp-receiver `status` on stdin/stdout: prefixes in the Loc-RIB (speaker \
                        status) that were also handed to the embedder (Loc-RIB change events)",
            run: ours,
        },
        Side {
            key: "bird",
            name: format!("BIRD {}", version("bird")),
            polled_by: "`birdc show protocols all sender`: \"Routes: N imported\"",
            run: bird,
        },
        Side {
            key: "frr",
            name: format!("FRR {}", version("bgpd")),
            polled_by: "vty socket, `show bgp ipv4 unicast summary json`: the sender's pfxRcd",
            run: frr,
        },
        Side {
            key: "gobgp",
            name: format!("GoBGP {}", version("gobgpd")),
            polled_by: "`gobgp global rib summary -a ipv4` (gRPC): \"Destination: N\"",
            run: gobgp,
        },
    ]
}

/// `--flag N` from the arguments, `default` when absent.
fn number(args: &[String], flag: &str, default: u64) -> Result<u64, String> {
    match args.iter().position(|a| a == flag) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a number")),
    }
}

fn print(side: &Side, o: &IngestOutcome) {
    let heap = o
        .heap_bytes_per_route()
        .map_or(String::new(), |h| format!("  heap +{h:.1} B/route"));
    println!(
        "  {:<13} {:>8.3} s  RSS +{:>6.1} B/route ({:.1} -> {:.1} MiB){heap}  {} polls, {:.1} ms \
         each",
        side.name,
        o.elapsed.as_secs_f64(),
        o.rss_bytes_per_route(),
        o.rss_before_kib as f64 / 1024.0,
        o.rss_after_kib as f64 / 1024.0,
        o.polls,
        o.mean_poll().as_secs_f64() * 1e3,
    );
}

/// The rows: ours against each daemon that finished, time and RSS per route; ours' heap.
fn report(input: &Input, done: &[(&Side, IngestOutcome)]) {
    let Some((_, ours)) = done.iter().find(|(s, _)| s.key == "ours") else {
        return;
    };
    let poll_ms = input.limits.poll.as_millis();
    let time_what = |theirs: &Side| {
        format!(
            "{} /24s, {} UPDATEs: first byte sent -> first poll (every {poll_ms} ms) seeing all \
             held; ours by its status query, {} by {}",
            input.total,
            input.total / u64::from(PER_UPDATE),
            theirs.name,
            theirs.polled_by
        )
    };
    let rss_what = "RSS growth per route, before the first byte -> all held (/proc VmRSS)";
    for (side, theirs) in done.iter().filter(|(s, _)| s.key != "ours") {
        let mut time = Row::new(BENCH, &time_what(side), Figure::secs(ours.elapsed));
        if side.key == "bird" {
            time = time.goal(Goal::RatioAtMost(TIME_GOAL));
        }
        record(&time.against(&side.name, Figure::secs(theirs.elapsed)));
        let mut rss = Row::new(
            BENCH,
            rss_what,
            Figure::new(ours.rss_bytes_per_route(), "B/route"),
        );
        if side.key == "bird" {
            rss = rss.goal(Goal::AtMost(MEMORY_GOAL));
        }
        record(&rss.against(
            &side.name,
            Figure::new(theirs.rss_bytes_per_route(), "B/route"),
        ));
    }
    if let Some(heap) = ours.heap_bytes_per_route() {
        record(
            &Row::new(
                BENCH,
                "ours: heap growth per route, before the first byte -> all held (counting \
                 allocator of bgp-receiver)",
                Figure::new(heap, "B/route"),
            )
            .goal(Goal::AtMost(MEMORY_GOAL)),
        );
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    if let Some(code) = testkit::bench::needs_root(BENCH) {
        return code;
    }
    let parsed = (|| {
        Ok::<_, String>((
            number(&args, "--prefixes", 1_000_000)?,
            number(&args, "--poll-ms", 20)?,
            number(&args, "--timeout-s", 300)?,
        ))
    })();
    let (prefixes, poll_ms, timeout_s) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{BENCH}: {e}");
            return ExitCode::from(2);
        }
    };
    let prefixes = u32::try_from(prefixes).unwrap_or(u32::MAX);
    // The words that are neither flags nor flags' values pick the receivers (all if none).
    let only: Vec<&str> = args
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let is_value = i > 0 && args[i - 1].starts_with("--") && a.parse::<u64>().is_ok();
            (!a.starts_with('-') && !is_value).then_some(a.as_str())
        })
        .collect();
    let (updates, total) = workload(prefixes);
    let input = Input {
        updates,
        total,
        limits: Limits {
            poll: Duration::from_millis(poll_ms),
            timeout: Duration::from_secs(timeout_s),
        },
    };
    let sides: Vec<Side> = sides()
        .into_iter()
        .filter(|s| only.is_empty() || only.contains(&s.key))
        .collect();
    println!(
        "ingest of {total} IPv4 /24s in {} UPDATEs ({} KiB), one attribute set, eBGP AS \
         {SENDER_AS} -> AS {RECEIVER_AS}, one receiver at a time",
        total / u64::from(PER_UPDATE),
        input.updates.len() / 1024
    );
    println!(
        "timer: from the first byte the sender writes until the answer of the first poll that \
         sees all {total} held; a poll every {poll_ms} ms after the previous answer, through the \
         receiver's own status interface:"
    );
    for s in &sides {
        println!("  {:<13} {}", s.name, s.polled_by);
    }
    println!(
        "memory: RSS growth of the receiver's process over the same interval, per route; ours \
         also its heap growth (counting global allocator)"
    );
    let mut done = Vec::new();
    let mut failed = false;
    for side in &sides {
        match (side.run)(side, &input) {
            Ok(outcome) => {
                print(side, &outcome);
                done.push((side, outcome));
            }
            Err(e) => {
                println!("  {:<13} FAILED: {e}", side.name);
                failed = true;
            }
        }
    }
    report(&input, &done);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
