//! Figures of the benchmarks: reading `rumpx-net-probe`'s summary lines
//! (network) and the `bench` lines of the blkcheck guest and
//! `rumpx-disk-probe` (block), the median of repeated runs, and the tables
//! comparing a rumpx guest with a Linux DomU (the figures of each and the
//! ratio rumpx/Linux).

use std::fmt::Write as _;

/// A `rumpx-net-probe` mode the benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Probe {
    /// `tcp-sink ADDR:9 BYTES`: dom0 streams into the guest.
    TcpSink,
    /// `tcp-echo ADDR:7 BYTES`: dom0 streams and reads the echo back.
    TcpEcho,
}

impl Probe {
    /// The probe's mode word, also the prefix of its summary line.
    pub fn mode(self) -> &'static str {
        match self {
            Probe::TcpSink => "tcp-sink",
            Probe::TcpEcho => "tcp-echo",
        }
    }

    /// The guest port the probe talks to.
    pub fn port(self) -> u16 {
        match self {
            Probe::TcpSink => 9,
            Probe::TcpEcho => 7,
        }
    }
}

/// One probe run's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeRun {
    /// Bytes streamed.
    pub bytes: u64,
    /// Milliseconds from connecting to the guest closing.
    pub ms: u64,
    /// Megabits per second (10^6), from `bytes` and `ms`.
    pub mbit: f64,
}

/// The figures of `probe`'s summary line in `stdout`
/// ("tcp-sink: sent 67108864 digest ... ms 21000 mbit 25.6"), if there is one.
pub fn parse_probe_output(probe: Probe, stdout: &str) -> Option<ProbeRun> {
    let prefix = format!("{}:", probe.mode());
    let line = stdout.lines().find(|l| l.starts_with(&prefix))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let value = |key: &str| -> Option<u64> {
        words
            .windows(2)
            .find(|w| w[0] == key)
            .and_then(|w| w[1].parse().ok())
    };
    let bytes = value("sent")?;
    let ms = value("ms")?.max(1);
    Some(ProbeRun {
        bytes,
        ms,
        mbit: bytes as f64 * 8.0 / 1000.0 / ms as f64,
    })
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// What was measured of one guest.
#[derive(Debug, Clone, Default)]
pub struct GuestFigures {
    /// How the guest is named in the table ("rumpx netcheck").
    pub label: String,
    /// Its setup, shown beside it ("PVH, 128 MiB, 10.99.0.2").
    pub setup: String,
    /// The runs of each probe, in the order they were made.
    pub runs: Vec<(Probe, ProbeRun)>,
    /// Why measuring stopped early, if it did.
    pub failure: Option<String>,
}

impl GuestFigures {
    /// A guest not measured yet.
    pub fn new(label: impl Into<String>, setup: impl Into<String>) -> Self {
        GuestFigures {
            label: label.into(),
            setup: setup.into(),
            ..GuestFigures::default()
        }
    }

    /// The Mbit/s of each run of `probe`.
    pub fn mbits(&self, probe: Probe) -> Vec<f64> {
        self.runs
            .iter()
            .filter(|(p, _)| *p == probe)
            .map(|(_, r)| r.mbit)
            .collect()
    }

    /// The median Mbit/s of `probe`'s runs.
    pub fn median_mbit(&self, probe: Probe) -> Option<f64> {
        median(&self.mbits(probe))
    }
}

/// The benchmark's outcome: the rumpx guest and the Linux DomU, measured
/// on the same test host in the same run.
#[derive(Debug, Clone)]
pub struct NetBenchReport {
    /// Bytes per probe run.
    pub bytes: u64,
    /// Runs per probe and guest.
    pub repeat: u32,
    /// The probes run.
    pub probes: Vec<Probe>,
    /// The rumpx guest's figures.
    pub rumpx: GuestFigures,
    /// The Linux DomU's figures.
    pub linux: GuestFigures,
}

impl NetBenchReport {
    /// Median rumpx Mbit/s over median Linux Mbit/s for `probe`.
    pub fn ratio(&self, probe: Probe) -> Option<f64> {
        let linux = self.linux.median_mbit(probe)?;
        (linux > 0.0).then_some(self.rumpx.median_mbit(probe)? / linux)
    }

    /// Whether both guests were measured in full.
    pub fn complete(&self) -> bool {
        [&self.rumpx, &self.linux].iter().all(|g| {
            g.failure.is_none()
                && self
                    .probes
                    .iter()
                    .all(|p| g.mbits(*p).len() == self.repeat as usize)
        })
    }

    /// The table for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "dom0 -> guest over xenbr0, {} per run, {} run(s) each, median Mbit/s",
            human_bytes(self.bytes),
            self.repeat
        );
        let width = [&self.rumpx, &self.linux]
            .iter()
            .map(|g| g.label.len())
            .max()
            .unwrap_or(0)
            .max("ratio rumpx/Linux".len());
        for probe in &self.probes {
            let _ = writeln!(out, "{}:", probe.mode());
            for guest in [&self.rumpx, &self.linux] {
                let runs = guest.mbits(*probe);
                let median = guest
                    .median_mbit(*probe)
                    .map_or("-".to_string(), |m| format!("{m:.1}"));
                let each: Vec<String> = runs.iter().map(|m| format!("{m:.1}")).collect();
                let _ = writeln!(
                    out,
                    "  {:<width$}  {:>8} Mbit/s  (runs: {}; {})",
                    guest.label,
                    median,
                    if each.is_empty() {
                        "none".to_string()
                    } else {
                        each.join(" ")
                    },
                    guest.setup
                );
            }
            let ratio = self
                .ratio(*probe)
                .map_or("-".to_string(), |r| format!("{r:.2}"));
            let _ = writeln!(out, "  {:<width$}  {:>8}", "ratio rumpx/Linux", ratio);
        }
        for guest in [&self.rumpx, &self.linux] {
            if let Some(why) = &guest.failure {
                let _ = writeln!(out, "{} failed: {why}", guest.label);
            }
        }
        out
    }
}

/// What starts a block benchmark's summary line: the blkcheck guest's and
/// `rumpx-disk-probe bench`'s (in the Linux DomU), in the same words.
pub const BLK_BENCH_PREFIXES: [&str; 2] = ["blkcheck: bench ", "disk-probe: bench "];

/// One block benchmark run's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlkRun {
    /// Bytes written, then read, sequentially (the disk rounded down to 1 MiB).
    pub bytes: u64,
    /// Sequential write (1 MiB requests, 16 in flight, then a flush), MB/s (10^6).
    pub seq_write_mbs: f64,
    /// Sequential read (1 MiB requests, 16 in flight), MB/s (10^6).
    pub seq_read_mbs: f64,
    /// Random aligned 4 KiB reads (32 in flight), per second.
    pub rand_read_iops: f64,
    /// How many random reads were done.
    pub reads: u64,
}

/// The figures of the first block benchmark line in `text` ("blkcheck:
/// bench 67108864 bytes seq-write 40 MB/s seq-read 80 MB/s rand-read-4k
/// 3000 IOPS (15000 reads)", or the same from `disk-probe:`), if there is
/// one. Text before the line's start (on the same line) is ignored.
pub fn parse_blk_bench(text: &str) -> Option<BlkRun> {
    text.lines().find_map(|line| {
        let start = BLK_BENCH_PREFIXES
            .iter()
            .find_map(|prefix| line.find(prefix))?;
        let words: Vec<&str> = line[start..].split_whitespace().collect();
        let after = |key: &str| {
            words
                .windows(2)
                .find(|w| w[0] == key)
                .map(|w| w[1].trim_start_matches('('))
        };
        let figure = |key: &str| {
            after(key)?
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        Some(BlkRun {
            bytes: after("bench")?.parse().ok()?,
            seq_write_mbs: figure("seq-write")?,
            seq_read_mbs: figure("seq-read")?,
            rand_read_iops: figure("rand-read-4k")?,
            reads: after("IOPS")?.parse().ok()?,
        })
    })
}

/// One of the block benchmark's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlkFigure {
    /// Sequential write MB/s.
    SeqWrite,
    /// Sequential read MB/s.
    SeqRead,
    /// 4 KiB random-read IOPS.
    RandRead4k,
}

impl BlkFigure {
    /// All of them, in table order.
    pub const ALL: [BlkFigure; 3] = [
        BlkFigure::SeqWrite,
        BlkFigure::SeqRead,
        BlkFigure::RandRead4k,
    ];

    /// The table row's name.
    pub fn label(self) -> &'static str {
        match self {
            BlkFigure::SeqWrite => "sequential write, MB/s (1 MiB, 16 in flight, + flush)",
            BlkFigure::SeqRead => "sequential read, MB/s (1 MiB, 16 in flight)",
            BlkFigure::RandRead4k => "random read 4 KiB, IOPS (32 in flight, 5 s)",
        }
    }

    /// This figure of `run`.
    pub fn of(self, run: &BlkRun) -> f64 {
        match self {
            BlkFigure::SeqWrite => run.seq_write_mbs,
            BlkFigure::SeqRead => run.seq_read_mbs,
            BlkFigure::RandRead4k => run.rand_read_iops,
        }
    }
}

/// What the block benchmark measured of one guest.
#[derive(Debug, Clone, Default)]
pub struct BlkGuestFigures {
    /// How the guest is named in the table ("rumpx blkcheck").
    pub label: String,
    /// Its setup, shown under the table ("PVH, 128 MiB, 1 vCPU").
    pub setup: String,
    /// The runs that printed figures, in order.
    pub runs: Vec<BlkRun>,
    /// The runs that did not, each with why.
    pub failures: Vec<String>,
    /// Starts that failed and were made again (why each failed).
    pub restarts: Vec<String>,
    /// What the guest said about how its disk was set up (from its console).
    pub notes: Vec<String>,
}

impl BlkGuestFigures {
    /// A guest not measured yet.
    pub fn new(label: impl Into<String>, setup: impl Into<String>) -> Self {
        BlkGuestFigures {
            label: label.into(),
            setup: setup.into(),
            ..BlkGuestFigures::default()
        }
    }

    /// `figure` of each run.
    pub fn values(&self, figure: BlkFigure) -> Vec<f64> {
        self.runs.iter().map(|r| figure.of(r)).collect()
    }

    /// The median of `figure` over the runs.
    pub fn median(&self, figure: BlkFigure) -> Option<f64> {
        median(&self.values(figure))
    }

    /// The smallest and largest `figure` over the runs.
    pub fn range(&self, figure: BlkFigure) -> Option<(f64, f64)> {
        let values = self.values(figure);
        let min = values.iter().copied().reduce(f64::min)?;
        let max = values.iter().copied().reduce(f64::max)?;
        Some((min, max))
    }

    /// "median (min..max)", the median alone for one run, "-" for none.
    fn cell(&self, figure: BlkFigure) -> String {
        match (self.median(figure), self.range(figure)) {
            (Some(m), Some((lo, hi))) if self.runs.len() > 1 => {
                format!(
                    "{} ({}..{})",
                    figure_text(m),
                    figure_text(lo),
                    figure_text(hi)
                )
            }
            (Some(m), _) => figure_text(m),
            _ => "-".into(),
        }
    }
}

/// A figure without decimals when it is whole (the guests print whole
/// numbers; a median of two may end in .5), else with one.
fn figure_text(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The block benchmark's outcome: the rumpx guest and the Linux DomU, each
/// on its own disk image, measured on the same test host in the same run.
#[derive(Debug, Clone)]
pub struct BlkBenchReport {
    /// Size of each guest's disk image.
    pub disk_bytes: u64,
    /// Runs per guest.
    pub repeat: u32,
    /// The rumpx guest's figures.
    pub rumpx: BlkGuestFigures,
    /// The Linux DomU's figures.
    pub linux: BlkGuestFigures,
}

impl BlkBenchReport {
    /// The rumpx guest's median `figure` over the Linux DomU's.
    pub fn ratio(&self, figure: BlkFigure) -> Option<f64> {
        let linux = self.linux.median(figure)?;
        (linux > 0.0).then_some(self.rumpx.median(figure)? / linux)
    }

    /// Whether every run of both guests printed figures.
    pub fn complete(&self) -> bool {
        [&self.rumpx, &self.linux]
            .iter()
            .all(|g| g.failures.is_empty() && g.runs.len() == self.repeat as usize)
    }

    /// The table for people (markdown), then each guest's setup and failures.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "Block I/O through Linux blkback, each guest on its own {} image in dom0's tmpfs, \
             {} run(s) each, median (min..max)\n",
            human_bytes(self.disk_bytes),
            self.repeat
        );
        table_head(&mut out, &self.rumpx.label, &self.linux.label);
        for figure in BlkFigure::ALL {
            table_row(
                &mut out,
                figure.label(),
                [self.rumpx.cell(figure), self.linux.cell(figure)],
                self.ratio(figure),
            );
        }
        let _ = writeln!(
            out,
            "| runs with figures | {} of {} | {} of {} | |\n",
            self.rumpx.runs.len(),
            self.repeat,
            self.linux.runs.len(),
            self.repeat
        );
        for guest in [&self.rumpx, &self.linux] {
            let _ = writeln!(out, "{}: {}", guest.label, guest.setup);
            for note in &guest.notes {
                let _ = writeln!(out, "    {note}");
            }
        }
        for guest in [&self.rumpx, &self.linux] {
            restarts_and_failures(&mut out, &guest.label, &guest.restarts, &guest.failures);
        }
        out
    }
}

/// The head of a table comparing the rumpx guest (labelled `rumpx`) with
/// the Linux DomU (`linux`), in markdown: a figure, each guest's cell and
/// the ratio rumpx/Linux a row.
pub fn table_head(out: &mut String, rumpx: &str, linux: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "| | {rumpx} | {linux} | ratio rumpx/Linux |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
}

/// A row of the table [`table_head`] began: `label`, the rumpx guest's
/// cell, the Linux DomU's, then `ratio` with two decimals ("-" for none).
pub fn table_row(out: &mut String, label: &str, [rumpx, linux]: [String; 2], ratio: Option<f64>) {
    let ratio = ratio.map_or("-".to_string(), |r| format!("{r:.2}"));
    // Writing to a String cannot fail.
    let _ = writeln!(out, "| {label} | {rumpx} | {linux} | {ratio} |");
}

/// A line for each time the guest `label` was started again (with why),
/// then one for each of its failures.
pub fn restarts_and_failures(
    out: &mut String,
    label: &str,
    restarts: &[String],
    failures: &[String],
) {
    // Writing to a String cannot fail.
    for why in restarts {
        let _ = writeln!(out, "{label} was started again after: {why}");
    }
    for why in failures {
        let _ = writeln!(out, "{label} failed: {why}");
    }
}

/// `bytes` in the largest binary unit that divides it, else in bytes.
pub fn human_bytes(bytes: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

/// Parses a byte count: digits with an optional K, M or G (binary) suffix,
/// also written KiB, MiB, GiB ("64M", "64MiB", "67108864").
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: expected a number of bytes such as 64M"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        other => return Err(format!("{text:?}: unknown unit {other:?} (use K, M or G)")),
    };
    number
        .checked_mul(1u64 << shift)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?}: must be between 1 byte and 16 EiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SINK: &str =
        "tcp-sink: sent 67108864 digest 150e0a0d550dfcde answer \"\" ms 20000 mbit 26.8\n";

    fn run(mbit: f64) -> ProbeRun {
        ProbeRun {
            bytes: 1,
            ms: 1,
            mbit,
        }
    }

    #[test]
    fn reads_probe_summary_lines() {
        let run = parse_probe_output(Probe::TcpSink, SINK).unwrap();
        assert_eq!(run.bytes, 67_108_864);
        assert_eq!(run.ms, 20_000);
        assert!((run.mbit - 26.843_545_6).abs() < 1e-6, "{}", run.mbit);
        let echo = "noise\ntcp-echo: sent 1000 echoed 1000 digest a echo-digest a ms 2 mbit 4.0\n";
        let run = parse_probe_output(Probe::TcpEcho, echo).unwrap();
        assert_eq!((run.bytes, run.ms), (1000, 2));
        assert_eq!(parse_probe_output(Probe::TcpEcho, SINK), None);
        assert_eq!(
            parse_probe_output(Probe::TcpSink, "tcp-sink: sent x ms 1"),
            None
        );
        assert_eq!(parse_probe_output(Probe::TcpSink, ""), None);
    }

    #[test]
    fn takes_the_median() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn reads_byte_counts() {
        assert_eq!(parse_bytes("64M"), Ok(64 << 20));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("M").is_err());
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }

    fn report() -> NetBenchReport {
        let mut rumpx = GuestFigures::new("rumpx netcheck", "PVH, 128 MiB, 10.99.0.2");
        let mut linux = GuestFigures::new("Linux 6.1 DomU", "PVH, 128 MiB, 10.99.0.3");
        for m in [10.0, 12.0, 11.0] {
            rumpx.runs.push((Probe::TcpSink, run(m)));
        }
        for m in [20.0, 25.0, 22.0] {
            linux.runs.push((Probe::TcpSink, run(m)));
        }
        NetBenchReport {
            bytes: 64 << 20,
            repeat: 3,
            probes: vec![Probe::TcpSink],
            rumpx,
            linux,
        }
    }

    #[test]
    fn compares_medians_in_a_table() {
        let report = report();
        assert_eq!(report.ratio(Probe::TcpSink), Some(0.5));
        assert!(report.complete());
        let table = report.render();
        assert!(table.starts_with("dom0 -> guest over xenbr0, 64 MiB per run, 3 run(s) each"));
        assert!(
            table.contains("  rumpx netcheck         11.0 Mbit/s  (runs: 10.0 12.0 11.0; PVH"),
            "{table}"
        );
        assert!(
            table.contains("  Linux 6.1 DomU         22.0 Mbit/s"),
            "{table}"
        );
        assert!(table.contains("  ratio rumpx/Linux      0.50\n"), "{table}");
    }

    const BLKCHECK: &str = "blkcheck: bench 67108864 bytes seq-write 40 MB/s seq-read 80 MB/s \
                            rand-read-4k 3000 IOPS (15012 reads)";

    #[test]
    fn reads_block_bench_lines_of_both_sides() {
        let console =
            format!("blkcheck: xvda: 131072 sectors\n{BLKCHECK}\nblkcheck: done, 0 failed\n");
        let run = parse_blk_bench(&console).unwrap();
        assert_eq!(
            run,
            BlkRun {
                bytes: 64 << 20,
                seq_write_mbs: 40.0,
                seq_read_mbs: 80.0,
                rand_read_iops: 3000.0,
                reads: 15012,
            }
        );
        let probe = BLKCHECK.replace("blkcheck:", "disk-probe:");
        assert_eq!(parse_blk_bench(&probe), Some(run));
        // A kernel message may share the console line.
        let mixed = format!("[   12.5] xvda: 131072 sectors{probe}");
        assert_eq!(parse_blk_bench(&mixed), Some(run));
        assert_eq!(parse_blk_bench("blkcheck: done, 0 failed"), None);
        assert_eq!(parse_blk_bench(""), None);
        let cut = "blkcheck: bench 67108864 bytes seq-write 40 MB/s seq-read";
        assert_eq!(parse_blk_bench(cut), None);
        let bad = BLKCHECK.replace("80", "eighty");
        assert_eq!(parse_blk_bench(&bad), None);
    }

    fn blk_run(write: f64, read: f64, iops: f64) -> BlkRun {
        BlkRun {
            bytes: 64 << 20,
            seq_write_mbs: write,
            seq_read_mbs: read,
            rand_read_iops: iops,
            reads: 1,
        }
    }

    fn blk_report() -> BlkBenchReport {
        let mut rumpx = BlkGuestFigures::new("rumpx blkcheck", "PVH, 128 MiB, 1 vCPU");
        let mut linux = BlkGuestFigures::new("Linux 6.1 DomU", "PVH, 128 MiB, 1 vCPU");
        rumpx.notes = vec!["blkcheck: xvda vbd 51712".into()];
        rumpx.runs = vec![
            blk_run(40.0, 90.0, 3000.0),
            blk_run(50.0, 70.0, 2000.0),
            blk_run(45.0, 80.0, 2500.0),
        ];
        linux.runs = vec![
            blk_run(90.0, 160.0, 5000.0),
            blk_run(100.0, 150.0, 5500.0),
            blk_run(80.0, 170.0, 4000.0),
        ];
        BlkBenchReport {
            disk_bytes: 64 << 20,
            repeat: 3,
            rumpx,
            linux,
        }
    }

    #[test]
    fn the_block_table_has_medians_ranges_and_ratios() {
        let report = blk_report();
        assert!(report.complete());
        assert_eq!(report.ratio(BlkFigure::SeqWrite), Some(0.5));
        assert_eq!(report.ratio(BlkFigure::SeqRead), Some(0.5));
        assert_eq!(report.ratio(BlkFigure::RandRead4k), Some(0.5));
        let table = report.render();
        assert!(
            table
                .starts_with("Block I/O through Linux blkback, each guest on its own 64 MiB image"),
            "{table}"
        );
        assert!(
            table.contains("| | rumpx blkcheck | Linux 6.1 DomU | ratio rumpx/Linux |\n|---|"),
            "{table}"
        );
        assert!(
            table.contains("| sequential write, MB/s (1 MiB, 16 in flight, + flush) | 45 (40..50) | 90 (80..100) | 0.50 |\n"),
            "{table}"
        );
        assert!(
            table.contains("| sequential read, MB/s (1 MiB, 16 in flight) | 80 (70..90) | 160 (150..170) | 0.50 |\n"),
            "{table}"
        );
        assert!(
            table.contains("| random read 4 KiB, IOPS (32 in flight, 5 s) | 2500 (2000..3000) | 5000 (4000..5500) | 0.50 |\n"),
            "{table}"
        );
        assert!(
            table.contains("| runs with figures | 3 of 3 | 3 of 3 | |"),
            "{table}"
        );
        assert!(
            table
                .contains("\nrumpx blkcheck: PVH, 128 MiB, 1 vCPU\n    blkcheck: xvda vbd 51712\n"),
            "{table}"
        );
        assert!(!table.contains("failed"), "{table}");
        assert!(!table.contains("started again"), "{table}");
    }

    #[test]
    fn a_failed_block_run_is_told_and_the_other_guest_still_counts() {
        let mut report = blk_report();
        report.rumpx.runs.truncate(2);
        report
            .rumpx
            .failures
            .push("run 3: no bench line (crash); console: boom".into());
        report
            .linux
            .restarts
            .push("run 1: no bench line; the guest ended: reboot".into());
        assert!(!report.complete());
        assert_eq!(report.rumpx.median(BlkFigure::SeqWrite), Some(45.0));
        let table = report.render();
        assert!(table.contains("| 45 (40..50) |"), "{table}");
        assert!(
            table.contains("| runs with figures | 2 of 3 | 3 of 3 | |"),
            "{table}"
        );
        assert!(
            table.contains("rumpx blkcheck failed: run 3: no bench line (crash); console: boom"),
            "{table}"
        );
        assert!(
            table.contains(
                "Linux 6.1 DomU was started again after: run 1: no bench line; the guest ended: reboot"
            ),
            "{table}"
        );

        report.rumpx.runs.clear();
        report.linux.runs.truncate(1);
        let table = report.render();
        assert_eq!(report.ratio(BlkFigure::SeqRead), None);
        assert!(
            table.contains("| sequential read, MB/s (1 MiB, 16 in flight) | - | 160 | - |"),
            "{table}"
        );
    }

    #[test]
    fn a_failed_guest_has_no_ratio_and_says_why() {
        let mut report = report();
        report.rumpx.runs.clear();
        report.rumpx.failure = Some("never ready".into());
        assert_eq!(report.ratio(Probe::TcpSink), None);
        assert!(!report.complete());
        let table = report.render();
        assert!(
            table.contains("  rumpx netcheck            - Mbit/s  (runs: none;"),
            "{table}"
        );
        assert!(table.contains("  ratio rumpx/Linux         -\n"), "{table}");
        assert!(
            table.contains("rumpx netcheck failed: never ready"),
            "{table}"
        );
    }
}
