//! The result table of a `rumpx test` scenario run: one row per check
//! (check, guest, result, time, detail) and notes on setup and teardown.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How one check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckResult {
    /// It held.
    Pass,
    /// It did not hold (the detail says why).
    Fail,
    /// It was not run (the run was interrupted or out of time).
    Skipped,
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckResult::Pass => "pass",
            CheckResult::Fail => "FAIL",
            CheckResult::Skipped => "skipped",
        })
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The check's number (from 1) and what it does.
    pub check: String,
    /// The guest it is about.
    pub guest: String,
    /// How it went.
    pub result: CheckResult,
    /// How long it took.
    pub time: Duration,
    /// What was seen (figures on a pass, the reason on a failure).
    pub detail: String,
}

/// A scenario run's results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// One row per check, in order.
    pub rows: Vec<Row>,
    /// Setup and teardown remarks (guests destroyed, cleanup problems).
    pub notes: Vec<String>,
    /// Where the consoles and logs were written.
    pub out_dir: PathBuf,
}

/// The longest rule drawn under the detail heading.
const DETAIL_RULE: usize = 60;

impl Report {
    /// Whether every check ran and held (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.result == CheckResult::Pass)
    }

    /// How many rows have `result`.
    pub fn count(&self, result: CheckResult) -> usize {
        self.rows.iter().filter(|r| r.result == result).count()
    }

    /// The table, the notes and a last line "scenario NAME: N passed, N
    /// failed, N skipped".
    pub fn render(&self) -> String {
        let head = ["check", "guest", "result", "time", "detail"];
        let cells: Vec<[String; 5]> = self
            .rows
            .iter()
            .map(|r| {
                let first = r.detail.lines().next().unwrap_or("").to_string();
                [
                    r.check.clone(),
                    r.guest.clone(),
                    r.result.to_string(),
                    format!("{:.1} s", r.time.as_secs_f64()),
                    first,
                ]
            })
            .collect();
        let mut width = head.map(str::len);
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cols: [&str; 5]| {
            let mut s = String::new();
            for (i, (c, w)) in cols.iter().zip(width).enumerate() {
                if i == 4 {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<w$}  "));
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = line(head);
        let rule = width.map(|w| "-".repeat(w.min(DETAIL_RULE)));
        out.push_str(&line([&rule[0], &rule[1], &rule[2], &rule[3], &rule[4]]));
        for (row, r) in cells.iter().zip(&self.rows) {
            out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
            // The rest of a detail (a failure's console tail) below its row.
            for more in r.detail.lines().skip(1) {
                out.push_str(&format!("    {more}\n"));
            }
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out.push_str(&format!(
            "scenario {}: {} passed, {} failed, {} skipped (logs in {})\n",
            self.scenario,
            self.count(CheckResult::Pass),
            self.count(CheckResult::Fail),
            self.count(CheckResult::Skipped),
            self.out_dir.display()
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(check: &str, result: CheckResult, detail: &str) -> Row {
        Row {
            check: check.into(),
            guest: "www1".into(),
            result,
            time: Duration::from_millis(1250),
            detail: detail.into(),
        }
    }

    #[test]
    fn the_table_lines_up_and_counts() {
        let report = Report {
            scenario: "web".into(),
            rows: vec![
                row("1 console \"up\"", CheckResult::Pass, "after 2.0 s"),
                row(
                    "2 http GET /big.bin",
                    CheckResult::Fail,
                    "status 404, want 200\nconsole:\nhttpd: ...",
                ),
                row(
                    "3 shutdown -> poweroff",
                    CheckResult::Skipped,
                    "interrupted",
                ),
            ],
            notes: vec!["destroyed www1 at teardown".into()],
            out_dir: "/tmp/o".into(),
        };
        let text = report.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "check                   guest  result   time   detail"
        );
        assert_eq!(
            lines[2],
            "1 console \"up\"          www1   pass     1.2 s  after 2.0 s"
        );
        assert!(
            lines[3].starts_with("2 http GET /big.bin     www1   FAIL "),
            "{text}"
        );
        assert_eq!(lines[4], "    console:");
        assert_eq!(lines[5], "    httpd: ...");
        assert!(lines[6].contains("skipped"), "{text}");
        assert_eq!(lines[7], "note: destroyed www1 at teardown");
        assert_eq!(
            lines[8],
            "scenario web: 1 passed, 1 failed, 1 skipped (logs in /tmp/o)"
        );
        assert!(!report.passed());
    }

    #[test]
    fn only_all_passes_pass() {
        let mut report = Report::default();
        assert!(!report.passed(), "no checks is not a pass");
        report.rows.push(row("1 x", CheckResult::Pass, ""));
        assert!(report.passed());
        report.rows.push(row("2 y", CheckResult::Skipped, ""));
        assert!(!report.passed());
    }

    #[test]
    fn long_details_are_whole() {
        let long = "x".repeat(100);
        let report = Report {
            rows: vec![row("1 x", CheckResult::Fail, &long)],
            ..Report::default()
        };
        let text = report.render();
        assert!(text.lines().nth(2).unwrap().ends_with(&long), "{text}");
        assert_eq!(
            text.lines().nth(1).unwrap().matches('-').count(),
            5 + 5 + 6 + 5 + 60
        );
    }
}
