//! The fan-out benchmark's workload at a small size (5 route-reflector clients x 20 prefixes)
//! against each route reflector, BIRD2, FRR's bgpd and our speaker: every client ends up with
//! exactly the other clients' prefixes, with their next hops, and nothing else. Runs the same code as
//! `benches/bgp_fanout.rs`, so that the benchmark keeps working.

use std::time::Duration;

use netns_tests::daemons::{Bird, Frr};
use netns_tests::fanout::{
    FanoutLab, FanoutOutcome, Limits, Workload, bird_route_reflector_config,
    frr_route_reflector_config, ours_route_reflector, run_clients,
};
use testkit::{require_root, require_tool};

const SMALL: Workload = Workload {
    peers: 5,
    prefixes: 20,
};

const LIMITS: Limits = Limits {
    establish: Duration::from_secs(30),
    converge: Duration::from_secs(30),
    settle: Duration::from_secs(1),
};

/// Every client holds exactly the others' prefixes, with the next hop and ORIGINATOR_ID of the
/// client they came from; nothing foreign or withdrawn arrived, even after settling, and a
/// client's own prefixes came back (if at all) only with its ORIGINATOR_ID, so that it
/// ignores them.
fn assert_exact(outcome: &FanoutOutcome) {
    let expected = SMALL.expected_per_client();
    assert_eq!(outcome.held, vec![expected; SMALL.peers], "{outcome:?}");
    assert_eq!(
        outcome.foreign, 0,
        "prefixes outside the workload: {outcome:?}"
    );
    assert_eq!(
        outcome.looped, 0,
        "own prefixes sent back unmarked: {outcome:?}"
    );
    assert_eq!(outcome.wrong_next_hop, 0, "next hops changed: {outcome:?}");
    assert_eq!(
        outcome.wrong_originator, 0,
        "wrong ORIGINATOR_ID: {outcome:?}"
    );
    assert_eq!(outcome.withdrawn, 0, "withdrawals: {outcome:?}");
}

#[test]
fn bird_route_reflector_gives_every_client_exactly_the_others_prefixes() {
    if !require_root("bird_route_reflector_gives_every_client_exactly_the_others_prefixes") {
        return;
    }
    let lab = FanoutLab::new("fanout-t-bird", SMALL).unwrap();
    let bird = Bird::start(&lab.lab.lab, &bird_route_reflector_config(&SMALL)).unwrap();
    let outcome = run_clients(&lab.lab.speaker.as_ref(), SMALL, Some(bird.pid()), LIMITS)
        .unwrap_or_else(|e| {
            panic!(
                "{e}\n--- birdc show protocols ---\n{}",
                bird.birdc(&["show", "protocols"]).unwrap_or_default()
            )
        });
    assert_exact(&outcome);
    assert_eq!(
        outcome.echoed, 0,
        "BIRD never returns a route to its sender: {outcome:?}"
    );
    assert!(outcome.dut_at_t0.is_some() && outcome.dut_converged.is_some());
}

#[test]
fn frr_route_reflector_gives_every_client_exactly_the_others_prefixes() {
    let test = "frr_route_reflector_gives_every_client_exactly_the_others_prefixes";
    if !require_root(test) || !require_tool(test, "bgpd", "frr") {
        return;
    }
    let lab = FanoutLab::new("fanout-t-frr", SMALL).unwrap();
    let frr = Frr::start(&lab.lab.lab, &frr_route_reflector_config(&SMALL)).unwrap();
    let outcome = run_clients(&lab.lab.speaker.as_ref(), SMALL, Some(frr.pid()), LIMITS)
        .unwrap_or_else(|e| {
            panic!(
                "{e}\n--- show bgp ipv4 unicast summary ---\n{}\n--- bgpd log ---\n{}",
                frr.vty("show bgp ipv4 unicast summary").unwrap_or_default(),
                frr.log()
            )
        });
    assert_exact(&outcome);
    assert!(outcome.dut_at_t0.is_some() && outcome.dut_converged.is_some());
}

#[test]
fn our_route_reflector_gives_every_client_exactly_the_others_prefixes() {
    if !require_root("our_route_reflector_gives_every_client_exactly_the_others_prefixes") {
        return;
    }
    let lab = FanoutLab::new("fanout-t-ours", SMALL).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let lab_ns = lab.lab.lab.as_ref();
    let dut = std::thread::spawn(move || {
        lab_ns.run(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(ours_route_reflector(
                SMALL,
                move || {
                    let _ = ready_tx.send(());
                },
                async {
                    let _ = stop_rx.await;
                },
            ))
        })
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("our route reflector did not start");
    // The reflector shares this process with the clients: no process to sample.
    let outcome = run_clients(&lab.lab.speaker.as_ref(), SMALL, None, LIMITS);
    let _ = stop_tx.send(());
    let stopped = dut.join().expect("route reflector thread");
    let outcome = outcome.unwrap();
    stopped.expect("our route reflector");
    assert_exact(&outcome);
}
