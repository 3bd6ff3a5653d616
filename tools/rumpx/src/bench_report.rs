//! Figures of the network benchmark: reading `rumpx-net-probe`'s summary
//! lines, the median of repeated runs, and the table comparing a rumpx guest
//! with a Linux DomU (Mbit/s of each and the ratio rumpx/Linux).

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
