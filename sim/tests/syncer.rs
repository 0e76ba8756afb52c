//! calico-node's Syncer actors, over the production etcd client and our etcd server on the
//! simulated network, end up holding exactly the datastore's content through partitions,
//! compactions and an etcd crash, never emitting a spurious delete.
//!
//! Each seed runs in a fresh `calico-sim` process, exactly as `calico-sim syncer --seed N`
//! replays it (see `sim::seed` for why). Seeds: 20 by default, `CALICO_SIM_SEEDS=N` for more,
//! `CALICO_SIM_SEED=N` for one. A failing seed is printed with the command that replays it;
//! rerun it with `RUST_LOG=info` for its logs.

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
fn every_node_holds_the_datastore_content_through_partitions_compactions_and_an_etcd_crash() {
    let seeds = seeds(DEFAULT_SEEDS);
    let outputs = match run_seed_processes(calico_sim(), &["syncer"], &seeds) {
        Ok(outputs) => outputs,
        Err(failure) => panic!("{failure}"),
    };
    for (seed, output) in seeds.iter().zip(&outputs) {
        // Both partitions and the crash happened and were undone.
        for fault in [
            "Partition(\"node-1\")",
            "Repair(\"node-1\")",
            "Partition(\"node-2\")",
            "Repair(\"node-2\")",
            "Crash",
            "Bounce",
        ] {
            assert!(
                output.contains(fault),
                "seed {seed}: no {fault} in the run: {output}"
            );
        }
        for node in ["node-1", "node-2"] {
            assert!(
                output.contains(&format!("{node} holds ")),
                "seed {seed}: no report of {node}: {output}"
            );
        }
    }
}

#[test]
fn a_syncer_seed_replays_identically_in_a_fresh_process() {
    let seed = seeds(1).first().copied().unwrap_or(1);
    let args = ["syncer", "--outcome"];
    let runs = [
        run_seed_processes(calico_sim(), &args, &[seed]),
        run_seed_processes(calico_sim(), &args, &[seed]),
    ];
    match runs {
        [Ok(first), Ok(second)] => {
            let (first, second) = (first.concat(), second.concat());
            assert!(
                first.contains("trace: ["),
                "seed {seed}: the outcome has no delivery trace: {first}"
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
