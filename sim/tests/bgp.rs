//! calico-node's BgpManagers on three simulated hosts, fed intents without a Calculator: the
//! mesh comes up and every host learns the others' routes; a partition between two of them
//! keeps their routes for the graceful-restart time and then drops them, while the third
//! keeps both; after the repair everything is back; a seed replays identically.
//!
//! Each seed runs in a fresh `calico-sim` process, exactly as `calico-sim bgp --seed N`
//! replays it. Seeds: 10 by default, `CALICO_SIM_SEEDS=N` for more, `CALICO_SIM_SEED=N` for
//! one.

use std::path::Path;

use sim::seed::{run_seed_processes, seeds_from_env};

const DEFAULT_SEEDS: u64 = 10;

fn calico_sim() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_calico-sim"))
}

fn seeds(default_count: u64) -> Vec<u64> {
    match seeds_from_env(default_count) {
        Ok(seeds) => seeds,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn bgp_managers_keep_routes_through_a_partition_for_the_restart_time_and_recover_after_it() {
    let seeds = seeds(DEFAULT_SEEDS);
    let outputs = match run_seed_processes(calico_sim(), &["bgp"], &seeds) {
        Ok(outputs) => outputs,
        Err(failure) => panic!("{failure}"),
    };
    for (seed, output) in seeds.iter().zip(&outputs) {
        for fault in ["partition", "repair"] {
            assert!(
                output.contains(fault),
                "seed {seed}: no {fault} in the run: {output}"
            );
        }
    }
}

#[test]
fn a_bgp_seed_replays_identically_in_a_fresh_process() {
    let seed = seeds(1).first().copied().unwrap_or(1);
    let args = ["bgp", "--outcome"];
    let runs = [
        run_seed_processes(calico_sim(), &args, &[seed]),
        run_seed_processes(calico_sim(), &args, &[seed]),
    ];
    match runs {
        [Ok(first), Ok(second)] => {
            let (first, second) = (first.concat(), second.concat());
            assert!(
                first.contains("complete"),
                "seed {seed}: the outcome has no learned-route trace: {first}"
            );
            let difference = first.lines().zip(second.lines()).find(|(a, b)| a != b);
            assert!(
                first == second,
                "seed {seed} ran differently twice; first difference: {difference:?}"
            );
        }
        [first, second] => panic!("seed {seed}: first run {first:?}, second run {second:?}"),
    }
}
