//! Seeded runs: which seeds to run (from the environment, for replay), one process per seed, and
//! how a failure is reported (with the seed and the command that replays it).
//!
//! - `CALICO_SIM_SEED=N`: run exactly seed `N` (replay a failure);
//! - `CALICO_SIM_SEEDS=K`: run seeds `1..=K` instead of the test's default count.
//!
//! Why a process per seed: tokio's task IDs are process-global, and the order in which a crashed
//! host's tasks are dropped (so the order its connections close, so which random latencies they
//! draw) follows those IDs. A seed run after other seeds in the same process can therefore take
//! a different path than the same seed in a fresh process, and a failure would not replay. In a
//! fresh process a seed runs the same way every time, which is what `calico-sim --seed N` does.

use std::path::Path;
use std::process::Command;

/// Environment variable naming the one seed to run.
pub const SEED_ENV: &str = "CALICO_SIM_SEED";
/// Environment variable giving how many seeds to run.
pub const SEEDS_ENV: &str = "CALICO_SIM_SEEDS";

/// A bad seed setting in the environment.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value:?} {problem}")]
pub struct BadSeedEnv {
    var: &'static str,
    value: String,
    problem: &'static str,
}

/// The seeds to run: `CALICO_SIM_SEED` alone if set, else `1..=CALICO_SIM_SEEDS`, else
/// `1..=default_count`. A count of 0 is refused: a run of no seeds would pass without
/// simulating anything.
pub fn seeds_from_env(default_count: u64) -> Result<Vec<u64>, BadSeedEnv> {
    let read = |var: &'static str| -> Result<Option<u64>, BadSeedEnv> {
        match std::env::var(var) {
            Ok(value) => value.trim().parse().map(Some).map_err(|_| BadSeedEnv {
                var,
                value,
                problem: "is not a number; set it to a seed (u64) or unset it",
            }),
            Err(_) => Ok(None),
        }
    };
    if let Some(seed) = read(SEED_ENV)? {
        return Ok(vec![seed]);
    }
    let count = read(SEEDS_ENV)?.unwrap_or(default_count);
    if count == 0 {
        return Err(BadSeedEnv {
            var: SEEDS_ENV,
            value: "0".to_owned(),
            problem: "would run no seed at all; set it to 1 or more, or unset it",
        });
    }
    Ok((1..=count).collect())
}

/// The line printed when a seed of `scenario` fails.
pub fn replay_hint(seed: u64, scenario: &str) -> String {
    format!(
        "failed with seed {seed}; replay with {SEED_ENV}={seed} \
         (or `calico-sim {scenario} --seed {seed}`)"
    )
}

/// A seed that failed, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", replay_hint(*seed, scenario))]
pub struct SeedFailure {
    pub seed: u64,
    pub scenario: String,
    pub reason: String,
}

/// Runs `program args.. --seed N` for each seed in turn, each in a fresh process, and returns
/// their standard outputs. `args` starts with the scenario. Stops at the first seed whose
/// process fails, after printing which seed it was and how to replay it, with the end of its
/// standard error.
pub fn run_seed_processes(
    program: &Path,
    args: &[&str],
    seeds: &[u64],
) -> Result<Vec<String>, SeedFailure> {
    let scenario = args.first().copied().unwrap_or_default().to_owned();
    let mut outputs = Vec::with_capacity(seeds.len());
    for &seed in seeds {
        let output = Command::new(program)
            .args(args)
            .arg("--seed")
            .arg(seed.to_string())
            .output()
            .map_err(|e| SeedFailure {
                seed,
                scenario: scenario.clone(),
                reason: format!("cannot run {}: {e}", program.display()),
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
            let failure = SeedFailure {
                seed,
                scenario: scenario.clone(),
                reason: format!(
                    "{} exited with {}; last lines of its output:\n{}{}",
                    program.display(),
                    output.status,
                    stdout,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ),
            };
            eprintln!("{failure}");
            return Err(failure);
        }
        outputs.push(stdout);
    }
    Ok(outputs)
}
