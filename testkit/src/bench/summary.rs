//! The rows of one `just bench` run as one table (what `bench-summary` prints) and as JSON.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::Row;

/// Width the `what` column wraps at.
const WHAT_WIDTH: usize = 64;

/// Every row of a run, and the benchmark programs that failed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub rows: Vec<Row>,
    /// Benchmark programs that exited non-zero (named by whoever ran them).
    pub failed: Vec<String>,
    /// Lines of the results file that are not rows, with their line numbers.
    pub unreadable: Vec<String>,
    pub goals_met: usize,
    pub goals_not_met: usize,
}

impl Summary {
    /// The rows of the JSON-lines file at `path` (a missing file has none).
    pub fn read(path: &Path, failed: Vec<String>) -> Result<Summary, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(Summary::parse(&text, failed))
    }

    /// The rows of JSON-lines `text`.
    pub fn parse(text: &str, failed: Vec<String>) -> Summary {
        let mut summary = Summary {
            failed,
            ..Summary::default()
        };
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Row>(line) {
                Ok(row) => summary.rows.push(row),
                Err(e) => summary.unreadable.push(format!("line {}: {e}", i + 1)),
            }
        }
        summary.goals_met = summary.rows.iter().filter(|r| r.met == Some(true)).count();
        summary.goals_not_met = summary.rows.iter().filter(|r| r.met == Some(false)).count();
        summary
    }

    /// Whether the run failed: a benchmark program failed or wrote a line that is not a row.
    pub fn failed(&self) -> bool {
        !self.failed.is_empty() || !self.unreadable.is_empty()
    }

    /// The table: benchmark, what, ours, baseline, ratio, goal, met; then the goals met, the
    /// failed programs and unreadable lines, if any.
    pub fn table(&self) -> String {
        let header = [
            "benchmark",
            "what",
            "ours",
            "baseline",
            "ratio",
            "goal",
            "met",
        ];
        let cells: Vec<[String; 7]> = self.rows.iter().map(cells).collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.lines().map(str::len).max().unwrap_or(0));
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, parts: [&str; 7]| {
            let mut text = String::new();
            for (i, (p, w)) in parts.iter().zip(widths).enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                let _ = write!(text, "{p:<w$}");
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&mut out, header);
        let rule = widths.map(|w| "-".repeat(w));
        line(&mut out, rule.each_ref().map(String::as_str));
        for row in &cells {
            let wrapped: Vec<Vec<&str>> = row.iter().map(|c| c.lines().collect()).collect();
            let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
            for k in 0..height {
                let part = |i: usize| wrapped[i].get(k).copied().unwrap_or("");
                line(&mut out, std::array::from_fn(part));
            }
        }
        if self.rows.is_empty() {
            out.push_str("(no rows: nothing was measured)\n");
        }
        let _ = writeln!(
            out,
            "\n{} rows; goals met: {}, not met: {}",
            self.rows.len(),
            self.goals_met,
            self.goals_not_met
        );
        for f in &self.failed {
            let _ = writeln!(out, "FAILED: {f}");
        }
        for u in &self.unreadable {
            let _ = writeln!(out, "unreadable result: {u}");
        }
        out
    }
}

fn cells(row: &Row) -> [String; 7] {
    let baseline = row
        .baseline
        .as_ref()
        .map_or("-".to_owned(), |b| format!("{}: {}", b.name, b.figure));
    let ratio = row.ratio.map_or("-".to_owned(), |r| format!("{r:.2}"));
    let goal = row.goal.as_ref().map_or("-".to_owned(), |g| g.to_string());
    let met = match row.met {
        Some(true) => "yes",
        Some(false) => "NO",
        None if row.goal.is_some() => "?",
        None => "-",
    };
    [
        row.bench.clone(),
        wrap(&row.what, WHAT_WIDTH),
        row.ours.to_string(),
        baseline,
        ratio,
        goal,
        met.to_owned(),
    ]
}

/// `text` broken into lines of at most `width` characters at spaces (a longer word stays
/// whole).
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::{Figure, Goal};
    use super::*;

    #[test]
    fn every_row_is_a_table_line_and_failures_are_listed() {
        let rows = [
            Row::new("bgp_ingest", "1M routes", Figure::new(0.4, "s"))
                .goal(Goal::RatioAtMost(0.8))
                .against("BIRD", Figure::new(0.6, "s")),
            Row::new("codec", "UPDATE decode", Figure::new(5.0, "ns/prefix")),
        ];
        let text: String = rows
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect::<String>()
            + "not json\n";
        let s = Summary::parse(&text, vec!["netns-tests bgp_fanout".into()]);
        assert_eq!(s.rows.len(), 2);
        assert_eq!((s.goals_met, s.goals_not_met), (1, 0));
        assert_eq!(s.unreadable.len(), 1);
        assert!(s.failed());
        let table = s.table();
        assert!(table.starts_with("benchmark"), "{table}");
        assert!(table.contains("BIRD: 0.600 s"), "{table}");
        assert!(table.contains("ratio <= 0.8"), "{table}");
        assert!(table.contains("FAILED: netns-tests bgp_fanout"), "{table}");
        assert!(!Summary::parse("", vec![]).failed());
    }

    #[test]
    fn long_descriptions_wrap_at_spaces() {
        assert_eq!(wrap("aaa bbb ccc", 7), "aaa bbb\nccc");
        assert_eq!(wrap("aaaaaaaaaa b", 4), "aaaaaaaaaa\nb");
    }
}
