//! Prints the rows of one `just bench` run as one table and writes them as JSON.
//!
//! `bench-summary [--results FILE] [--out FILE] [--failed NAME]...`: the rows are the JSON
//! lines of `--results` (default `$CALICO_BENCH_RESULTS`, else
//! `target/bench-results.jsonl`); the table goes to stdout, the rows, failures and goal
//! counts to `--out` (default `target/bench-summary.json`). Each `--failed` names a benchmark
//! program that exited non-zero; any, or a results line that is not a row, makes this
//! program exit non-zero after printing the table. Goals not met are shown, not failures.

use std::path::PathBuf;
use std::process::ExitCode;

use testkit::bench::{RESULTS_ENV, Summary};

struct Args {
    results: PathBuf,
    out: PathBuf,
    failed: Vec<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        results: std::env::var_os(RESULTS_ENV).map_or_else(
            || PathBuf::from("target/bench-results.jsonl"),
            PathBuf::from,
        ),
        out: PathBuf::from("target/bench-summary.json"),
        failed: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .clone();
        match flag.as_str() {
            "--results" => parsed.results = PathBuf::from(value),
            "--out" => parsed.out = PathBuf::from(value),
            "--failed" => parsed.failed.push(value),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "bench-summary: {e}; usage: bench-summary [--results FILE] [--out FILE] \
                 [--failed NAME]..."
            );
            return ExitCode::from(2);
        }
    };
    let summary = match Summary::read(&args.results, args.failed) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench-summary: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("\n{}", summary.table());
    let json = serde_json::to_string_pretty(&summary).expect("a summary serialises");
    if let Err(e) = std::fs::write(&args.out, json + "\n") {
        eprintln!("bench-summary: writing {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    println!("written to {}", args.out.display());
    if summary.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
