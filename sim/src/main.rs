//! `calico-sim`: runs a simulation scenario for one seed (`--seed N`, in this process: replays a
//! failure exactly) or for seeds `1..=N` (`--seeds N`: one child process per seed, see
//! [`sim::seed`]). Prints one line per seed, or the whole outcome with `--outcome` (two runs of
//! a seed print the same). Logs go to stderr, filtered by `RUST_LOG`.

use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use sim::bgp::{self, BgpScenario};
use sim::seed::{replay_hint, run_seed_processes};
use sim::syncer::{self, SyncerScenario};
use sim::watch_resume::{self, WatchResume};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Scenario {
    /// Watchers follow a prefix through partitions and a datastore crash.
    WatchResume,
    /// calico-node Syncers follow the datastore through partitions, compactions and a crash.
    Syncer,
    /// calico-node BgpManagers peer in a mesh through a partition.
    Bgp,
}

#[derive(Debug, Parser)]
#[command(name = "calico-sim", about = "Deterministic cluster simulations")]
struct Args {
    /// The scenario to run.
    #[arg(value_enum, default_value = "watch-resume")]
    scenario: Scenario,
    /// Run exactly this seed, in this process (replays a failure).
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Run seeds 1..=N, each in its own process (N ≥ 1: no run passes by simulating nothing).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// Print the whole outcome (history, faults, writes with their times), not one line.
    #[arg(long)]
    outcome: bool,
    /// Watcher hosts (watch-resume).
    #[arg(long, default_value_t = WatchResume::default().watchers)]
    watchers: usize,
    /// Writes before the final one (the scenario's default when not given).
    #[arg(long)]
    writes: Option<usize>,
    /// Simulated milliseconds per simulation step.
    #[arg(long, default_value_t = 10)]
    tick_ms: u64,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.watchers == 0 {
        bail!("--watchers must be at least 1");
    }
    match args.seed {
        Some(seed) => run_one(&args, seed),
        None => run_many(&args),
    }
}

/// Runs every seed in a child process of its own, with the same options.
fn run_many(args: &Args) -> anyhow::Result<()> {
    let program = std::env::current_exe().context("cannot find this program to re-run it")?;
    let scenario = args
        .scenario
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .context("the scenario has no name")?;
    let mut options = vec![
        scenario,
        format!("--watchers={}", args.watchers),
        format!("--tick-ms={}", args.tick_ms),
    ];
    if let Some(writes) = args.writes {
        options.push(format!("--writes={writes}"));
    }
    let mut child_args: Vec<&str> = options.iter().map(String::as_str).collect();
    if args.outcome {
        child_args.push("--outcome");
    }
    let seeds: Vec<u64> = (1..=args.seeds).collect();
    let started = Instant::now();
    for (seed, output) in seeds
        .iter()
        .zip(run_seed_processes(&program, &child_args, &seeds)?)
    {
        print!("{output}");
        tracing::debug!(seed, "seed passed");
    }
    eprintln!("{} seeds passed in {:?}", seeds.len(), started.elapsed());
    Ok(())
}

fn run_one(args: &Args, seed: u64) -> anyhow::Result<()> {
    let tick = std::time::Duration::from_millis(args.tick_ms.max(1));
    let started = Instant::now();
    let summary = match args.scenario {
        Scenario::WatchResume => {
            let size = WatchResume {
                watchers: args.watchers,
                writes: args.writes.unwrap_or(WatchResume::default().writes),
                tick,
            };
            let outcome =
                watch_resume::run(seed, size).with_context(|| replay_hint(seed, "watch-resume"))?;
            if args.outcome {
                format!("seed {seed}: {outcome:#?}")
            } else {
                format!(
                    "seed {seed}: ok: {} events seen by {} watchers, finished at {:?} simulated; \
                     faults: {}",
                    outcome.history.len(),
                    size.watchers,
                    outcome.finished_at,
                    outcome.faults.join("; "),
                )
            }
        }
        Scenario::Syncer => {
            let size = SyncerScenario {
                writes: args.writes.unwrap_or(SyncerScenario::default().writes),
                tick,
            };
            let outcome = syncer::run(seed, size).with_context(|| replay_hint(seed, "syncer"))?;
            if args.outcome {
                format!("seed {seed}: {outcome:#?}")
            } else {
                let nodes: Vec<String> = outcome
                    .nodes
                    .iter()
                    .map(|n| match &n.status {
                        Some(s) => format!(
                            "{} holds {} keys ({} lists, {} after compactions, {} failures, \
                             {} bad values, {} restarts)",
                            n.node,
                            n.keys,
                            s.lists,
                            s.compactions,
                            s.failures,
                            s.bad_values,
                            n.restarts.len()
                        ),
                        None => format!("{} holds {} keys", n.node, n.keys),
                    })
                    .collect();
                format!(
                    "seed {seed}: ok: {}; finished at {:?} simulated; faults: {}",
                    nodes.join(", "),
                    outcome.finished_at,
                    outcome.faults.join("; "),
                )
            }
        }
        Scenario::Bgp => {
            let outcome =
                bgp::run(seed, BgpScenario { tick }).with_context(|| replay_hint(seed, "bgp"))?;
            if args.outcome {
                format!("seed {seed}: {outcome:#?}")
            } else {
                format!(
                    "seed {seed}: ok: {} learned-route changes on {} hosts, finished at {:?} \
                     simulated; faults: {}",
                    outcome.trace.len(),
                    bgp::HOSTS.len(),
                    outcome.finished_at,
                    outcome.faults.join("; "),
                )
            }
        }
    };
    println!("{summary}");
    eprintln!("seed {seed}: {:?} wall", started.elapsed());
    Ok(())
}
