//! The ingest benchmark's workload at a small size (5 UPDATEs of 1,000 /24s) against FRR's
//! bgpd and against our `bgp-receiver` program: each holds every prefix, and the harness
//! (session, polling, memory readings) works. Runs the same code as `benches/bgp_ingest.rs`,
//! so that the benchmark keeps working.

use std::path::Path;
use std::time::Duration;

use netns_tests::bgp_lab::{LAB_V4, Lab, SPEAKER_V4, frr_passive_config};
use netns_tests::daemons::Frr;
use netns_tests::ingest::protocol::ReceiverArgs;
use netns_tests::ingest::{Held, Limits, OurReceiver, RECEIVER_AS, SENDER_AS, measure, workload};
use testkit::{require_root, require_tool};

const PREFIXES: u32 = 5000;

const LIMITS: Limits = Limits {
    poll: Duration::from_millis(20),
    timeout: Duration::from_secs(30),
};

#[test]
fn frr_holds_every_replayed_prefix_and_its_vty_counts_them() {
    let test = "frr_holds_every_replayed_prefix_and_its_vty_counts_them";
    if !require_root(test) || !require_tool(test, "bgpd", "frr") {
        return;
    }
    let lab = Lab::new("ingest-t-frr").unwrap();
    let frr = Frr::start(&lab.lab, &frr_passive_config()).unwrap();
    let (updates, total) = workload(PREFIXES);
    assert_eq!(total, u64::from(PREFIXES));
    // The last poll's answer: measure ends the session when it returns.
    let mut last = None;
    let outcome = measure(
        "FRR",
        &lab,
        frr.pid(),
        &mut || {
            let peer = frr.peer(SPEAKER_V4).map_err(|e| e.to_string())?;
            let held = Held::routes(peer.received);
            last = Some(peer);
            Ok(held)
        },
        (&updates, total),
        LIMITS,
    )
    .unwrap_or_else(|e| panic!("{e}\n--- bgpd log ---\n{}", frr.log()));
    assert!(outcome.polls >= 1, "{outcome:?}");
    assert!(outcome.rss_after_kib > 0, "{outcome:?}");
    assert_eq!(outcome.heap_before, None);
    let peer = last.unwrap();
    assert_eq!(peer.state, "Established");
    assert_eq!(peer.received, total, "exactly the prefixes sent: {peer:?}");
}

#[test]
fn our_receiver_process_holds_every_replayed_prefix_and_counts_its_heap() {
    if !require_root("our_receiver_process_holds_every_replayed_prefix_and_counts_its_heap") {
        return;
    }
    let lab = Lab::new("ingest-t-ours").unwrap();
    let args = ReceiverArgs {
        local: LAB_V4.parse().unwrap(),
        asn: RECEIVER_AS,
        peer: SPEAKER_V4.parse().unwrap(),
        peer_as: SENDER_AS,
    };
    let exe = Path::new(env!("CARGO_BIN_EXE_bgp-receiver"));
    let mut receiver = OurReceiver::start(&lab.lab, exe, &args).unwrap();
    let (updates, total) = workload(PREFIXES);
    let pid = receiver.pid();
    // The last poll's answer: measure ends the session when it returns.
    let mut last = None;
    let outcome = measure(
        "ours",
        &lab,
        pid,
        &mut || {
            let status = receiver.status()?;
            let held = Held {
                routes: status.held(),
                heap_bytes: Some(status.heap),
            };
            last = Some(status);
            Ok(held)
        },
        (&updates, total),
        LIMITS,
    )
    .unwrap();
    let (before, after) = (outcome.heap_before.unwrap(), outcome.heap_after.unwrap());
    assert!(after > before, "the heap grew with the routes: {outcome:?}");
    assert!(outcome.heap_bytes_per_route().is_some_and(|b| b > 0.0));
    let status = last.unwrap();
    assert_eq!(status.state, "Established");
    assert_eq!(
        (status.received, status.prefixes, status.installed),
        (total, total, total),
        "exactly the prefixes sent: {status:?}"
    );
}
