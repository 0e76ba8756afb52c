//! Criterion's figures as rows: a criterion benchmark's own `main` runs its groups, then reads
//! the estimates criterion wrote in this run (`<criterion dir>/<group>/<function>/new/
//! estimates.json`) and records rows saying what each measures.
//!
//! ```no_run
//! # fn benches() {}
//! use testkit::bench::{CriterionRun, Figure, Row, record};
//! let run = CriterionRun::start();
//! benches(); // the function criterion_group! made
//! // then what criterion_main! does last: Criterion::default().configure_from_args().final_summary()
//! if let Some(ns) = run.ns_per_iter("update_1000_ipv4_prefixes", "decode") {
//!     record(&Row::new("codec", "UPDATE decode: ns/prefix", Figure::new(ns / 1e3, "ns/prefix")));
//! }
//! ```

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

/// One run of a criterion benchmark program: when it started and where criterion writes.
#[derive(Debug, Clone)]
pub struct CriterionRun {
    started: SystemTime,
    dir: PathBuf,
    measuring: bool,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct Estimates {
    mean: Estimate,
    slope: Option<Estimate>,
}

impl CriterionRun {
    /// Notes the start time and criterion's output directory: `$CRITERION_HOME`,
    /// `$CARGO_TARGET_DIR/criterion`, or `criterion` beside the profile directory this
    /// program was built in (`target/release/deps/<bench>` → `target/criterion`), which is
    /// where criterion puts it under `cargo bench`. Figures are read only when criterion
    /// measures: the program was given `--bench` (as `cargo bench` does) and not `--list`,
    /// `--test` or `--profile-time`.
    pub fn start() -> CriterionRun {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let measuring =
            has("--bench") && !has("--list") && !has("--test") && !has("--profile-time");
        CriterionRun {
            started: SystemTime::now(),
            dir: criterion_dir(),
            measuring,
        }
    }

    /// Whether criterion measures in this run (see [`CriterionRun::start`]).
    pub fn measuring(&self) -> bool {
        self.measuring
    }

    /// Criterion's estimate of the time per iteration, in ns, of `function` in `group` (the
    /// slope when criterion fitted one, else the mean, as criterion prints it), when it was
    /// measured in this run. Says on stderr why when it was not found.
    pub fn ns_per_iter(&self, group: &str, function: &str) -> Option<f64> {
        if !self.measuring {
            return None;
        }
        let path = self
            .dir
            .join(filename_safe(group))
            .join(filename_safe(function))
            .join("new")
            .join("estimates.json");
        match read_estimate(&path, self.started) {
            Ok(ns) => Some(ns),
            Err(e) => {
                eprintln!("{group}/{function}: no figure from this run: {e}");
                None
            }
        }
    }
}

fn read_estimate(path: &Path, since: SystemTime) -> Result<f64, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let modified = meta
        .modified()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if modified < since {
        return Err(format!("{} is from an earlier run", path.display()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let estimates: Estimates =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(estimates
        .slope
        .map_or(estimates.mean.point_estimate, |s| s.point_estimate))
}

/// Criterion's output directory (see [`CriterionRun::start`]).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// A benchmark or group name as criterion names its directory.
fn filename_safe(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '?' | '"' | '/' | '\\' | '*' | '<' | '>' | ':' | '|' | '^' => '_',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_is_read_before_the_mean_and_old_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("estimates.json");
        let since = SystemTime::now() - std::time::Duration::from_secs(5);
        std::fs::write(
            &path,
            r#"{"mean":{"point_estimate":2.0,"standard_error":0.1},"slope":{"point_estimate":1.5}}"#,
        )
        .unwrap();
        assert_eq!(read_estimate(&path, since), Ok(1.5));
        std::fs::write(&path, r#"{"mean":{"point_estimate":2.0},"slope":null}"#).unwrap();
        assert_eq!(read_estimate(&path, since), Ok(2.0));
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        assert!(read_estimate(&path, later).is_err());
        assert_eq!(filename_safe("equality/btreemap"), "equality_btreemap");
    }
}
