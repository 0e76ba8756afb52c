//! Watches through the production etcd client resume without gaps or duplicates across
//! partitions and a crash of the datastore host.
//!
//! Each seed runs in a fresh `calico-sim` process, exactly as `calico-sim --seed N` replays it
//! (see `sim::seed` for why). Seeds: 20 by default, `CALICO_SIM_SEEDS=N` for more,
//! `CALICO_SIM_SEED=N` for one. Logs of a failing seed: rerun it with `RUST_LOG=info`.

use std::path::Path;

use sim::seed::{run_seed_processes, seeds_from_env};

const DEFAULT_SEEDS: u64 = 20;

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
fn every_watcher_sees_exactly_the_store_history_through_partitions_and_a_datastore_crash() {
    let seeds = seeds(DEFAULT_SEEDS);
    let outputs = match run_seed_processes(calico_sim(), &["watch-resume"], &seeds) {
        Ok(outputs) => outputs,
        Err(failure) => panic!("{failure}"),
    };
    for (seed, output) in seeds.iter().zip(&outputs) {
        // Two partitions and a crash, each undone: the faults really happened.
        for fault in ["Partition", "Repair", "Crash", "Bounce"] {
            assert!(
                output.contains(fault),
                "seed {seed}: no {fault} in the run: {output}"
            );
        }
    }
}

#[test]
fn a_seed_replays_identically_in_a_fresh_process() {
    let seed = seeds(1).first().copied().unwrap_or(1);
    let args = ["watch-resume", "--outcome"];
    let runs = [
        run_seed_processes(calico_sim(), &args, &[seed]),
        run_seed_processes(calico_sim(), &args, &[seed]),
    ];
    match runs {
        [Ok(first), Ok(second)] => {
            let (first, second) = (first.concat(), second.concat());
            let difference = first.lines().zip(second.lines()).find(|(a, b)| a != b);
            assert!(
                first == second,
                "seed {seed} ran differently twice; first difference: {difference:?}"
            );
        }
        [first, second] => panic!("seed {seed}: first run {first:?}, second run {second:?}"),
    }
}
