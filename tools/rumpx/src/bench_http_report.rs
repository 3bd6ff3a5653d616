//! Figures of `rumpx bench http`: reading `rumpx-http-probe`'s one-line
//! outputs (`wait`, `load`, `get --time`), the smallest memory a guest
//! still served at, and the table comparing the rumpx httpd guest with a
//! Linux DomU running busybox `httpd` (each figure and the ratio rumpx/Linux).

use crate::bench_report::{human_bytes, restarts_and_failures, table_head, table_row};
use std::fmt::Write as _;

/// The value after `key` among the whitespace-separated words of `line`.
fn value_after<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == key)
        .and_then(|w| w[1].parse().ok())
}

/// The seconds of the probe's `first 200 after S s` line in `stdout`.
pub fn parse_wait_line(stdout: &str) -> Option<f64> {
    stdout.lines().find_map(|l| {
        l.strip_prefix("first 200 after ")?
            .strip_suffix(" s")?
            .parse()
            .ok()
    })
}

/// One `load` run: `requests N errors E seconds S rps R`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadRun {
    /// Requests made.
    pub requests: u64,
    /// Requests that failed or were not answered 2xx.
    pub errors: u64,
    /// Wall time of the run.
    pub seconds: f64,
    /// Requests answered 2xx per second.
    pub rps: f64,
}

/// The figures of the probe's `load` line in `stdout`, if there is one.
pub fn parse_load_line(stdout: &str) -> Option<LoadRun> {
    let line = stdout.lines().find(|l| l.starts_with("requests "))?;
    Some(LoadRun {
        requests: value_after(line, "requests")?,
        errors: value_after(line, "errors")?,
        seconds: value_after(line, "seconds")?,
        rps: value_after(line, "rps")?,
    })
}

/// One `get` run: `status N bytes N fnv1a64 HEX [seconds S]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GetRun {
    /// The response status.
    pub status: u16,
    /// Body bytes.
    pub bytes: u64,
    /// FNV-1a 64 of the body.
    pub digest: u64,
    /// From connecting to the last body byte (with `--time`).
    pub seconds: Option<f64>,
}

impl GetRun {
    /// MB/s (10^6 bytes per second), if the run was timed.
    pub fn mb_per_s(&self) -> Option<f64> {
        self.seconds
            .filter(|s| *s > 0.0)
            .map(|s| self.bytes as f64 / 1e6 / s)
    }
}

/// The figures of the probe's `get` line in `stdout`, if there is one.
pub fn parse_get_line(stdout: &str) -> Option<GetRun> {
    let line = stdout.lines().find(|l| l.starts_with("status "))?;
    let digest: String = value_after(line, "fnv1a64")?;
    Some(GetRun {
        status: value_after(line, "status")?,
        bytes: value_after(line, "bytes")?,
        digest: u64::from_str_radix(&digest, 16).ok()?,
        seconds: value_after(line, "seconds"),
    })
}

/// One boot of the memory search: the guest's `memory=` and whether it
/// served the big file byte-exact (why not, if it did not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryStep {
    /// `memory=`, MiB.
    pub mib: u32,
    /// Ok, or why the guest did not serve the file.
    pub result: Result<(), String>,
}

/// The memory search of one guest: sizes tried downward until one failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemorySearch {
    /// The boots, in the order made.
    pub steps: Vec<MemoryStep>,
}

impl MemorySearch {
    /// The smallest size that worked before the first failure.
    pub fn smallest_working(&self) -> Option<u32> {
        self.steps
            .iter()
            .take_while(|s| s.result.is_ok())
            .map(|s| s.mib)
            .min()
    }

    /// The first size that failed, with why.
    pub fn first_failed(&self) -> Option<(u32, &str)> {
        self.steps.iter().find_map(|s| match &s.result {
            Err(why) => Some((s.mib, why.as_str())),
            Ok(()) => None,
        })
    }

    /// "16 (12 failed)", "8 (smallest tried)", "none (128 failed)", "-".
    fn cell(&self) -> String {
        match (self.smallest_working(), self.first_failed()) {
            (Some(ok), Some((bad, _))) => format!("{ok} ({bad} failed)"),
            (Some(ok), None) => format!("{ok} (smallest tried)"),
            (None, Some((bad, _))) => format!("none ({bad} failed)"),
            (None, None) => "-".into(),
        }
    }
}

/// The size of what a guest boots from, in parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSize {
    /// Each part and its size in bytes ("httpd ELF", "bzImage", ...).
    pub parts: Vec<(String, u64)>,
}

impl ImageSize {
    /// All parts together.
    pub fn total(&self) -> u64 {
        self.parts.iter().map(|(_, b)| b).sum()
    }
}

/// What `rumpx bench http` measured of one guest.
#[derive(Debug, Clone, Default)]
pub struct HttpGuestFigures {
    /// How the guest is named in the table ("rumpx httpd").
    pub label: String,
    /// Its setup, shown under the table.
    pub setup: String,
    /// Seconds from `xl create` starting to the first 200 dom0 got.
    pub first_200_s: Option<f64>,
    /// The small-file load run.
    pub load: Option<LoadRun>,
    /// The big-file GET.
    pub big_get: Option<GetRun>,
    /// The memory search.
    pub memory: MemorySearch,
    /// The image size.
    pub image: Option<ImageSize>,
    /// What failed, each with why.
    pub failures: Vec<String>,
    /// Boots that ended silently and were started again (why each failed).
    pub restarts: Vec<String>,
}

impl HttpGuestFigures {
    /// A guest not measured yet.
    pub fn new(label: impl Into<String>, setup: impl Into<String>) -> Self {
        HttpGuestFigures {
            label: label.into(),
            setup: setup.into(),
            ..HttpGuestFigures::default()
        }
    }
}

/// A row of the table: its label and how to read its figure off a guest.
struct Row {
    label: String,
    figure: fn(&HttpGuestFigures) -> Option<f64>,
    cell: fn(&HttpGuestFigures) -> String,
}

/// `value` with `decimals` decimals, "-" for none.
fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

/// The benchmark's outcome: the rumpx httpd guest and the Linux DomU,
/// measured on the same test host in the same run.
#[derive(Debug, Clone)]
pub struct HttpBenchReport {
    /// Memory of both guests in the timed boot, MiB.
    pub memory_mib: u32,
    /// Connections of the load run.
    pub conns: u32,
    /// Requests of the load run.
    pub requests: u32,
    /// Size of the small file.
    pub small_bytes: u64,
    /// Size of the big file.
    pub big_bytes: u64,
    /// The rumpx guest's figures.
    pub rumpx: HttpGuestFigures,
    /// The Linux DomU's figures.
    pub linux: HttpGuestFigures,
}

impl HttpBenchReport {
    fn rows(&self) -> Vec<Row> {
        vec![
            Row {
                label: "xl create -> first HTTP 200 (s)".into(),
                figure: |g| g.first_200_s,
                cell: |g| number(g.first_200_s, 2),
            },
            Row {
                label: format!(
                    "GET {} x {}, {} keep-alive conns (requests/s)",
                    human_bytes(self.small_bytes),
                    self.requests,
                    self.conns
                ),
                figure: |g| g.load.map(|l| l.rps),
                cell: |g| match g.load {
                    Some(l) if l.errors > 0 => {
                        format!("{:.1} ({} errors)", l.rps, l.errors)
                    }
                    l => number(l.map(|l| l.rps), 1),
                },
            },
            Row {
                label: format!("GET {} (MB/s)", human_bytes(self.big_bytes)),
                figure: |g| g.big_get.and_then(|r| r.mb_per_s()),
                cell: |g| number(g.big_get.and_then(|r| r.mb_per_s()), 2),
            },
            Row {
                label: format!(
                    "smallest memory= serving {} byte-exact (MiB)",
                    human_bytes(self.big_bytes)
                ),
                figure: |g| g.memory.smallest_working().map(f64::from),
                cell: |g| g.memory.cell(),
            },
            Row {
                label: "image size (MiB)".into(),
                figure: |g| g.image.as_ref().map(|i| i.total() as f64 / 1048576.0),
                cell: |g| number(g.image.as_ref().map(|i| i.total() as f64 / 1048576.0), 2),
            },
        ]
    }

    /// Whether every figure of both guests was measured and nothing failed
    /// (a memory size that failed is part of the search, not a failure).
    pub fn complete(&self) -> bool {
        [&self.rumpx, &self.linux].iter().all(|g| {
            g.failures.is_empty()
                && g.first_200_s.is_some()
                && g.load.is_some_and(|l| l.errors == 0)
                && g.big_get.and_then(|r| r.mb_per_s()).is_some()
                && g.memory.smallest_working().is_some()
                && g.image.is_some()
        })
    }

    /// The table for people (markdown), then each guest's setup, image
    /// parts, memory steps and failures.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "HTTP from dom0 over xenbr0, each guest serving the same files from its own ext2 disk \
             (Linux blkback); timed boots with {} MiB each\n",
            self.memory_mib
        );
        table_head(&mut out, &self.rumpx.label, &self.linux.label);
        for row in self.rows() {
            let ratio = match ((row.figure)(&self.rumpx), (row.figure)(&self.linux)) {
                (Some(r), Some(l)) if l > 0.0 => Some(r / l),
                _ => None,
            };
            table_row(
                &mut out,
                &row.label,
                [(row.cell)(&self.rumpx), (row.cell)(&self.linux)],
                ratio,
            );
        }
        let _ = writeln!(out);
        for guest in [&self.rumpx, &self.linux] {
            let _ = writeln!(out, "{}: {}", guest.label, guest.setup);
            if let Some(image) = &guest.image {
                let parts: Vec<String> = image
                    .parts
                    .iter()
                    .map(|(what, bytes)| format!("{what} {bytes} bytes"))
                    .collect();
                let _ = writeln!(out, "    image: {}", parts.join(" + "));
            }
            if !guest.memory.steps.is_empty() {
                let steps: Vec<String> = guest
                    .memory
                    .steps
                    .iter()
                    .map(|s| {
                        format!(
                            "{} MiB {}",
                            s.mib,
                            if s.result.is_ok() { "ok" } else { "failed" }
                        )
                    })
                    .collect();
                let _ = writeln!(out, "    memory search: {}", steps.join(", "));
            }
            if let Some((mib, why)) = guest.memory.first_failed() {
                let _ = writeln!(out, "    at {mib} MiB: {why}");
            }
        }
        for guest in [&self.rumpx, &self.linux] {
            restarts_and_failures(&mut out, &guest.label, &guest.restarts, &guest.failures);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_lines_are_read() {
        assert_eq!(parse_wait_line("x\nfirst 200 after 1.234 s\n"), Some(1.234));
        assert_eq!(parse_wait_line("first 200 after soon s"), None);
        let load = parse_load_line("requests 2000 errors 0 seconds 10.000 rps 200.0\n").unwrap();
        assert_eq!(
            load,
            LoadRun {
                requests: 2000,
                errors: 0,
                seconds: 10.0,
                rps: 200.0
            }
        );
        assert_eq!(parse_load_line("requests many"), None);
        let get =
            parse_get_line("status 200 bytes 8388608 fnv1a64 00000000000000ff seconds 4.000\n")
                .unwrap();
        assert_eq!((get.status, get.bytes, get.digest), (200, 8388608, 255));
        assert!((get.mb_per_s().unwrap() - 2.097152).abs() < 1e-9);
        let untimed = parse_get_line("status 404 bytes 3 fnv1a64 cbf29ce484222325").unwrap();
        assert_eq!((untimed.status, untimed.seconds), (404, None));
        assert_eq!(untimed.mb_per_s(), None);
        assert_eq!(parse_get_line("status 200 bytes 1 fnv1a64 xyz"), None);
    }

    #[test]
    fn the_memory_search_reports_the_smallest_size_before_the_first_failure() {
        let step = |mib, ok: bool| MemoryStep {
            mib,
            result: if ok {
                Ok(())
            } else {
                Err(format!("no 200 at {mib}"))
            },
        };
        let search = MemorySearch {
            steps: vec![step(64, true), step(32, true), step(16, false)],
        };
        assert_eq!(search.smallest_working(), Some(32));
        assert_eq!(search.first_failed(), Some((16, "no 200 at 16")));
        assert_eq!(search.cell(), "32 (16 failed)");
        let none = MemorySearch {
            steps: vec![step(128, false)],
        };
        assert_eq!(none.smallest_working(), None);
        assert_eq!(none.cell(), "none (128 failed)");
        let all = MemorySearch {
            steps: vec![step(16, true), step(8, true)],
        };
        assert_eq!(all.cell(), "8 (smallest tried)");
        assert_eq!(MemorySearch::default().cell(), "-");
    }

    fn measured(
        label: &str,
        first: f64,
        rps: f64,
        secs: f64,
        mem: u32,
        bytes: u64,
    ) -> HttpGuestFigures {
        HttpGuestFigures {
            label: label.into(),
            setup: "PVH, 128 MiB".into(),
            first_200_s: Some(first),
            load: Some(LoadRun {
                requests: 2000,
                errors: 0,
                seconds: 2000.0 / rps,
                rps,
            }),
            big_get: Some(GetRun {
                status: 200,
                bytes: 8 << 20,
                digest: 1,
                seconds: Some(secs),
            }),
            memory: MemorySearch {
                steps: vec![
                    MemoryStep {
                        mib: mem,
                        result: Ok(()),
                    },
                    MemoryStep {
                        mib: mem / 2,
                        result: Err("it crashed".into()),
                    },
                ],
            },
            image: Some(ImageSize {
                parts: vec![("image".into(), bytes)],
            }),
            failures: Vec::new(),
            restarts: Vec::new(),
        }
    }

    #[test]
    fn the_table_has_every_figure_and_its_ratio() {
        let mut report = HttpBenchReport {
            memory_mib: 128,
            conns: 20,
            requests: 2000,
            small_bytes: 4096,
            big_bytes: 8 << 20,
            rumpx: measured("rumpx httpd", 1.0, 400.0, 2.0, 16, 1 << 20),
            linux: measured("Linux 6.1", 20.0, 100.0, 4.0, 96, 12 << 20),
        };
        assert!(report.complete());
        let table = report.render();
        assert!(
            table.contains("| xl create -> first HTTP 200 (s) | 1.00 | 20.00 | 0.05 |"),
            "{table}"
        );
        assert!(
            table.contains(
                "| GET 4 KiB x 2000, 20 keep-alive conns (requests/s) | 400.0 | 100.0 | 4.00 |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| GET 8 MiB (MB/s) | 4.19 | 2.10 | 2.00 |"),
            "{table}"
        );
        assert!(
            table.contains(
                "| smallest memory= serving 8 MiB byte-exact (MiB) | 16 (8 failed) | 96 (48 failed) | 0.17 |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| image size (MiB) | 1.00 | 12.00 | 0.08 |"),
            "{table}"
        );
        assert!(table.contains("    at 8 MiB: it crashed"), "{table}");

        report
            .linux
            .restarts
            .push("memory=96: it ended silently".into());
        assert!(report
            .render()
            .contains("Linux 6.1 was started again after: memory=96: it ended silently\n"));
        report.rumpx.failures.push("guest httpd not found".into());
        report.rumpx.first_200_s = None;
        report.rumpx.load.as_mut().unwrap().errors = 3;
        assert!(!report.complete());
        let table = report.render();
        assert!(
            table.contains("| xl create -> first HTTP 200 (s) | - | 20.00 | - |"),
            "{table}"
        );
        assert!(
            table.contains("| 400.0 (3 errors) | 100.0 | 4.00 |"),
            "{table}"
        );
        assert!(
            table.contains("\nrumpx httpd failed: guest httpd not found\n"),
            "{table}"
        );
    }
}
