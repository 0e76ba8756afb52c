//! Benchmark results as rows of one table.
//!
//! Every benchmark program (and every criterion benchmark, through [`CriterionRun`], after its
//! groups have run) reports its figures as [`Row`]s: what was measured, our figure, the
//! baseline's figure measured in the same run, the ratio ours/baseline, the goal and whether
//! it was met. [`record`] prints the row as a `ratio` line and, when `CALICO_BENCH_RESULTS`
//! names a file (`just bench` sets it), appends it there as one JSON line; the `bench-summary`
//! program turns that file into the table `just bench` ends with ([`Summary`]) and
//! `target/bench-summary.json`.

mod criterion;
mod summary;

use std::fmt;
use std::io::Write as _;

use serde::{Deserialize, Serialize};

pub use criterion::CriterionRun;
pub use summary::Summary;

/// Environment variable naming the results file (JSON lines).
pub const RESULTS_ENV: &str = "CALICO_BENCH_RESULTS";

/// A measured figure: `value` in `unit` (`s`, `ms`, `routes/s`, `B/route`, `MiB`, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub value: f64,
    pub unit: String,
}

impl Figure {
    pub fn new(value: f64, unit: &str) -> Figure {
        Figure {
            value,
            unit: unit.to_owned(),
        }
    }

    /// A duration in seconds.
    pub fn secs(d: std::time::Duration) -> Figure {
        Figure::new(d.as_secs_f64(), "s")
    }

    /// A duration in milliseconds.
    pub fn millis(d: std::time::Duration) -> Figure {
        Figure::new(d.as_secs_f64() * 1e3, "ms")
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.value;
        if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-2) {
            write!(f, "{v:.3e} {}", self.unit)
        } else if v.abs() >= 100.0 {
            write!(f, "{v:.0} {}", self.unit)
        } else {
            write!(f, "{v:.3} {}", self.unit)
        }
    }
}

/// What the row must show to be met.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// ours/baseline at most this (times, memory).
    RatioAtMost(f64),
    /// ours/baseline at least this (rates).
    RatioAtLeast(f64),
    /// Our figure at most this, in its own unit.
    AtMost(f64),
    /// Our figure at least this, in its own unit.
    AtLeast(f64),
}

impl Goal {
    fn met(&self, ours: f64, ratio: Option<f64>) -> Option<bool> {
        match *self {
            Goal::RatioAtMost(g) => ratio.map(|r| r <= g),
            Goal::RatioAtLeast(g) => ratio.map(|r| r >= g),
            Goal::AtMost(g) => Some(ours <= g),
            Goal::AtLeast(g) => Some(ours >= g),
        }
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Goal::RatioAtMost(g) => write!(f, "ratio <= {g}"),
            Goal::RatioAtLeast(g) => write!(f, "ratio >= {g}"),
            Goal::AtMost(g) => write!(f, "<= {g}"),
            Goal::AtLeast(g) => write!(f, ">= {g}"),
        }
    }
}

/// The baseline a row compares with: who (`ip -batch`, `BIRD 2.0.12`) and its figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub name: String,
    pub figure: Figure,
}

/// One line of the summary table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The benchmark program or criterion group (`bgp_ingest`, `codec`).
    pub bench: String,
    /// What this row measures, with what each timer covers when there is a baseline
    /// (`1M routes, first byte to all held`).
    pub what: String,
    pub ours: Figure,
    pub baseline: Option<Baseline>,
    /// ours / baseline, when both are in one unit.
    pub ratio: Option<f64>,
    pub goal: Option<Goal>,
    /// Whether the goal is met (`None` without a goal).
    pub met: Option<bool>,
}

impl Row {
    /// A row with our figure alone.
    pub fn new(bench: &str, what: &str, ours: Figure) -> Row {
        Row {
            bench: bench.to_owned(),
            what: what.to_owned(),
            ours,
            baseline: None,
            ratio: None,
            goal: None,
            met: None,
        }
    }

    /// Compared with `name`'s figure (same unit): the ratio is ours / theirs.
    pub fn against(mut self, name: &str, figure: Figure) -> Row {
        self.ratio = (figure.unit == self.ours.unit && figure.value != 0.0)
            .then(|| self.ours.value / figure.value);
        self.baseline = Some(Baseline {
            name: name.to_owned(),
            figure,
        });
        self.met = self
            .goal
            .as_ref()
            .and_then(|g| g.met(self.ours.value, self.ratio));
        self
    }

    /// The goal this row is held to.
    pub fn goal(mut self, goal: Goal) -> Row {
        self.met = goal.met(self.ours.value, self.ratio);
        self.goal = Some(goal);
        self
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: ours {}", self.bench, self.what, self.ours)?;
        if let Some(b) = &self.baseline {
            write!(f, ", {} {}", b.name, b.figure)?;
        }
        if let Some(r) = self.ratio {
            write!(f, ", ratio {r:.2}")?;
        }
        if let Some(g) = &self.goal {
            let met = match self.met {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "unknown",
            };
            write!(f, " (goal {g}: {met})")?;
        }
        Ok(())
    }
}

/// Prints `row` as a `ratio` line (`ratio bgp_ingest: ...`) and appends it to the results file
/// when [`RESULTS_ENV`] names one.
///
/// # Panics
/// When the results file cannot be written: a benchmark run whose figures are lost must not
/// look like a success.
pub fn record(row: &Row) {
    println!("ratio {row}");
    let Some(path) = std::env::var_os(RESULTS_ENV) else {
        return;
    };
    let mut line = serde_json::to_string(row).expect("a row serialises");
    line.push('\n');
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!(
            "cannot append the benchmark row to {}: {e}",
            std::path::Path::new(&path).display()
        );
    }
}

/// For a benchmark program that needs root: `None` when it runs as root; otherwise prints
/// `<bench>: skipped: needs root` and gives the exit code to return — success outside CI, a
/// failure when `CI` is set (a benchmark run in CI must not pass by measuring nothing).
pub fn needs_root(bench: &str) -> Option<std::process::ExitCode> {
    if crate::prereq::is_root() {
        return None;
    }
    if crate::in_ci() {
        eprintln!("{bench}: needs root, and CI is set: this is a failure");
        return Some(std::process::ExitCode::FAILURE);
    }
    println!("{bench}: skipped: needs root");
    Some(std::process::ExitCode::SUCCESS)
}

/// The exit code of a benchmark program whose run returned `result`: a failed side is an error
/// exit, with its message.
pub fn exit_code<E: fmt::Display>(bench: &str, result: Result<(), E>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{bench}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_ours_over_baseline_and_the_goal_is_judged_on_it() {
        let r = Row::new("bgp_ingest", "1M routes", Figure::new(0.4, "s"))
            .goal(Goal::RatioAtMost(0.8))
            .against("BIRD", Figure::new(0.6, "s"));
        assert!((r.ratio.unwrap() - 0.4 / 0.6).abs() < 1e-9);
        assert_eq!(r.met, Some(true));
        let r = Row::new("routes", "add rate", Figure::new(1.0, "routes/s"))
            .against("ip -batch", Figure::new(1.0, "routes/s"))
            .goal(Goal::RatioAtLeast(2.0));
        assert_eq!(r.met, Some(false));
    }

    #[test]
    fn figures_in_different_units_have_no_ratio() {
        let r = Row::new("x", "y", Figure::new(1.0, "s"))
            .against("z", Figure::new(1.0, "ms"))
            .goal(Goal::RatioAtMost(1.0));
        assert_eq!(r.ratio, None);
        assert_eq!(r.met, None);
    }
}
