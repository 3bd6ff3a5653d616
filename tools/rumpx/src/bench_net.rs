//! `rumpx bench net`: network throughput of the netcheck guest (netfront +
//! smoltcp) against a Linux DomU doing the same work, on one embedded test
//! host in one run. Both guests run side by side on dom0's bridge xenbr0;
//! dom0 streams into each one's TCP sink (and optionally echo) with
//! `rumpx-net-probe`, the runs alternating between the guests so that load
//! from elsewhere on the machine falls on both alike. Both guests are shut
//! down however the measuring ends.

use crate::background_guest::{stop_guests, BackgroundGuest, NotReady};
use crate::bench_report::{parse_probe_output, GuestFigures, NetBenchReport, Probe};
use crate::error::{Error, Result};
use crate::guest_build;
use crate::job::{self, GuestSpec};
use crate::linux_domu::{self, LinuxDomuFiles};
use crate::packages::{last_lines, PackageCache};
use crate::test_host::{HostOptions, TestHost};
use crate::xl_config::{GuestType, Vif};
use std::path::Path;
use std::thread;
use std::time::Duration;

/// dom0's bridge, where both guests get a vif (dom0 is 10.99.0.1/24 on it).
const BRIDGE: &str = "xenbr0";
/// The rumpx guest measured.
const RUMPX_GUEST: &str = "netcheck";
/// What netcheck prints once its services listen.
const RUMPX_READY: &str = "netcheck: ready";

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct NetBenchOptions {
    /// Bytes per probe run.
    pub bytes: u64,
    /// Runs per probe and guest; the median is reported.
    pub repeat: u32,
    /// Also run `tcp-echo` (port 7), not only `tcp-sink` (port 9).
    pub echo: bool,
    /// Memory of each guest, MiB (the same for both).
    pub memory_mib: u32,
    /// How xl boots the Linux DomU.
    pub linux_type: GuestType,
    /// How long each guest may take to say it is ready.
    pub ready_timeout: Duration,
    /// The test host.
    pub host: HostOptions,
}

impl Default for NetBenchOptions {
    /// 64 MiB per run, 3 runs, tcp-sink only, 128 MiB guests (Debian's
    /// kernel needs about 80 MiB before it runs), Linux as PVH.
    fn default() -> Self {
        NetBenchOptions {
            bytes: 64 << 20,
            repeat: 3,
            echo: false,
            memory_mib: 128,
            linux_type: GuestType::Pvh,
            ready_timeout: Duration::from_secs(300),
            host: HostOptions::default(),
        }
    }
}

impl NetBenchOptions {
    /// The probes to run, in order.
    pub fn probes(&self) -> Vec<Probe> {
        let mut probes = vec![Probe::TcpSink];
        if self.echo {
            probes.push(Probe::TcpEcho);
        }
        probes
    }

    /// The longest one probe run may take: a minute, plus the bytes at 1 Mbit/s.
    fn probe_timeout(&self) -> Duration {
        Duration::from_secs(60 + self.bytes * 8 / 1_000_000)
    }

    /// How long a guest may live: ready, every run, and a margin; dom0
    /// destroys it after that even if this program is gone.
    fn guest_lifetime(&self) -> Duration {
        let runs = self.repeat * self.probes().len() as u32 * 2;
        self.ready_timeout + self.probe_timeout() * runs + Duration::from_secs(300)
    }
}

/// What went wrong with one guest; measuring the other goes on.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The guest never printed its ready line.
    #[error("{guest} was not ready: {why}; its console ends with:\n{console}")]
    NotReady {
        /// The guest.
        guest: String,
        /// Ended or timed out.
        why: NotReady,
        /// Its last console lines.
        console: String,
    },
    /// The guest said it was ready but dom0 cannot reach it.
    #[error("{guest} said it was ready but does not answer dom0's ping at {ip}: {said}")]
    Unreachable {
        /// The guest.
        guest: String,
        /// Its address.
        ip: String,
        /// What dom0's script printed.
        said: String,
    },
    /// A probe run failed or printed no figures.
    #[error("{probe} run {run} against {guest} failed: {said}; the guest's console ends with:\n{console}")]
    ProbeFailed {
        /// The guest.
        guest: String,
        /// The probe's mode.
        probe: &'static str,
        /// Which run (from 1).
        run: u32,
        /// What the probe (or dom0) said.
        said: String,
        /// The guest's last console lines.
        console: String,
    },
}

/// One of the two guests being measured.
struct Subject<'scope> {
    figures: GuestFigures,
    ip: &'static str,
    guest: BackgroundGuest<'scope>,
}

/// A guest's place in the benchmark: its address and its ready line.
#[derive(Debug, Clone, Copy)]
struct Role {
    /// Its address on xenbr0.
    ip: &'static str,
    /// What its console says once its services listen.
    ready_marker: &'static str,
}

/// The rumpx guest's role, then the Linux DomU's.
const ROLES: [Role; 2] = [
    Role {
        ip: "10.99.0.2",
        ready_marker: RUMPX_READY,
    },
    Role {
        ip: "10.99.0.3",
        ready_marker: linux_domu::READY_MARKER,
    },
];

impl Subject<'_> {
    fn failed(&self) -> bool {
        self.figures.failure.is_some()
    }

    fn fail(&mut self, error: BenchError, progress: &mut dyn FnMut(&str)) {
        progress(&error.to_string());
        self.figures.failure = Some(error.to_string());
    }
}

/// Builds what is needed, boots the test host, measures both guests and
/// shuts everything down. Guest failures are in the report; an error means
/// nothing could be measured.
pub fn run(options: &NetBenchOptions, progress: &mut dyn FnMut(&str)) -> Result<NetBenchReport> {
    if options.repeat == 0 {
        return Err(Error::Invalid {
            what: "repeat count",
            detail: "at least one run is needed".into(),
        });
    }
    progress(&format!("building guest {RUMPX_GUEST}"));
    let netcheck = guest_build::build_guest(RUMPX_GUEST)?;
    progress("building rumpx-net-probe for dom0");
    let probe_tool = guest_build::build_dom0_tool("rumpx-net-probe")?;
    progress("building a static rumpx-disk-probe for the Linux DomU");
    let disk_probe = guest_build::build_static_tool("rumpx-disk-probe")?;
    let cache = PackageCache::open(&options.host.cache_dir)?;
    let linux = linux_domu::prepare(&cache, &disk_probe, progress)?;
    let specs = guest_specs(options, &netcheck, &linux);
    for (spec, _) in &specs {
        job::check_kernel(spec)?;
    }
    let host = TestHost::boot(&options.host, progress)?;
    progress(&format!(
        "test host ready in {:.1} s",
        host.boot_time.as_secs_f64()
    ));
    let report = host
        .install_tool(&probe_tool)
        .map(|probe| measure(&host, options, specs, &probe, progress));
    if let Err(e) = host.shutdown() {
        progress(&e.to_string());
    }
    report
}

/// The two guests with their table labels: netcheck at 10.99.0.2 and the
/// Linux DomU at 10.99.0.3, each with a vif on xenbr0 and the same memory.
fn guest_specs(
    options: &NetBenchOptions,
    netcheck: &Path,
    linux: &LinuxDomuFiles,
) -> [(GuestSpec, GuestFigures); 2] {
    let vif = |mac: &str| Vif {
        bridge: BRIDGE.into(),
        mac: Some(mac.into()),
        ip: None,
    };
    let lifetime = options.guest_lifetime();
    let rumpx = GuestSpec::new("bench-rumpx", netcheck)
        .memory_mib(options.memory_mib)
        .extra(format!("ip={}/24", ROLES[0].ip))
        .vif(vif("00:16:3e:52:00:02"))
        .timeout(lifetime);
    let linux_spec = GuestSpec::linux("bench-linux", &linux.kernel, &linux.ramdisk)
        .guest_type(options.linux_type)
        .memory_mib(options.memory_mib)
        .extra(linux_domu::command_line(&format!("{}/24", ROLES[1].ip)))
        .vif(vif("00:16:3e:52:00:03"))
        .timeout(lifetime);
    let setup = |spec: &GuestSpec, ip: &str| {
        format!(
            "{}, {} MiB, 1 vCPU, {ip}",
            spec.guest_type.label(),
            spec.memory_mib
        )
    };
    [
        (
            rumpx.clone(),
            GuestFigures::new(format!("rumpx {RUMPX_GUEST}"), setup(&rumpx, ROLES[0].ip)),
        ),
        (
            linux_spec.clone(),
            GuestFigures::new(
                format!("Linux {}", linux.release),
                setup(&linux_spec, ROLES[1].ip),
            ),
        ),
    ]
}

/// Starts the guests one after the other (each `xl create` runs dom0's
/// slow vif hotplug script; two at once were seen to time out under load),
/// the Linux DomU first as it takes longest to boot, measures them side by
/// side, and shuts them down.
fn measure(
    host: &TestHost,
    options: &NetBenchOptions,
    specs: [(GuestSpec, GuestFigures); 2],
    probe: &Path,
    progress: &mut dyn FnMut(&str),
) -> NetBenchReport {
    let names: Vec<String> = specs.iter().map(|(s, _)| s.name.clone()).collect();
    let [rumpx, linux] = thread::scope(|scope| {
        let mut subjects = Vec::new();
        for ((spec, figures), role) in specs.into_iter().zip(ROLES).rev() {
            let subject = start_subject(scope, host, options, spec, figures, role, progress);
            subjects.push(subject);
        }
        subjects.reverse();
        run_rounds(host, options, &mut subjects, probe, progress);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        match stop_guests(host, &names, Duration::from_secs(30)) {
            Ok(destroyed) if !destroyed.is_empty() => progress(&format!(
                "destroyed {} (they did not obey xl shutdown within 30 s)",
                destroyed.join(", ")
            )),
            Ok(_) => {}
            Err(e) => progress(&format!("shutting the guests down: {e}")),
        }
        finish_all(subjects, progress)
    });
    NetBenchReport {
        bytes: options.bytes,
        repeat: options.repeat,
        probes: options.probes(),
        rumpx,
        linux,
    }
}

/// Joins the guests' runners (they are ending) and hands back the figures.
fn finish_all(subjects: Vec<Subject>, progress: &mut dyn FnMut(&str)) -> [GuestFigures; 2] {
    let mut figures = subjects.into_iter().map(|subject| {
        let name = subject.guest.name.clone();
        match subject.guest.finish() {
            Ok(outcome) => progress(&format!(
                "{name} ended: {} after {:.1} s",
                outcome.reason,
                outcome.lifetime.as_secs_f64()
            )),
            Err(e) => progress(&format!("{name}: {e}")),
        }
        subject.figures
    });
    let first = figures.next().unwrap_or_default();
    let second = figures.next().unwrap_or_default();
    [first, second]
}

/// Starts one guest and waits for its ready line, then for it to answer
/// dom0's ping. A guest that ends before it is ready (xl's vif hotplug
/// timing out under load, an early triple fault under the emulator) is
/// started once more; the first failure is reported on the way.
fn start_subject<'scope, 'env>(
    scope: &'scope thread::Scope<'scope, 'env>,
    host: &'env TestHost,
    options: &NetBenchOptions,
    spec: GuestSpec,
    figures: GuestFigures,
    role: Role,
    progress: &mut dyn FnMut(&str),
) -> Subject<'scope> {
    const ATTEMPTS: u32 = 2;
    let mut attempt = 1;
    loop {
        progress(&format!("starting {} ({})", figures.label, spec.name));
        let guest = BackgroundGuest::start(scope, host, spec.clone());
        let mut subject = Subject {
            figures: figures.clone(),
            ip: role.ip,
            guest,
        };
        match subject
            .guest
            .wait_for_line(role.ready_marker, options.ready_timeout)
        {
            Ok(line) => progress(&format!(
                "{} ready {:.1} s after xl create: {}",
                subject.figures.label,
                line.at.as_secs_f64(),
                line.text
            )),
            Err(NotReady::Ended(how)) if attempt < ATTEMPTS => {
                progress(&format!(
                    "{} ended before it was ready ({how}); console: {}; starting it again",
                    subject.figures.label,
                    subject.guest.console_tail(5)
                ));
                let _ = subject.guest.finish();
                attempt += 1;
                continue;
            }
            Err(why) => {
                let error = BenchError::NotReady {
                    guest: subject.figures.label.clone(),
                    why,
                    console: subject.guest.console_tail(15),
                };
                subject.fail(error, progress);
                return subject;
            }
        }
        if let Err(error) = check_reachable(host, &subject) {
            subject.fail(error, progress);
        }
        return subject;
    }
}

/// Whether dom0 reaches the guest: a ping answered within about a minute.
fn check_reachable(host: &TestHost, subject: &Subject) -> std::result::Result<(), BenchError> {
    let ip = subject.ip;
    let script = format!(
        "for i in $(seq 60); do\n\
         \x20   ping -c 1 -W 1 {ip} >/dev/null 2>&1 && {{ echo \"answered after $i tries\"; exit 0; }}\n\
         \x20   sleep 0.5\n\
         done\n\
         echo 'no answer to 60 pings in about a minute'; exit 1\n"
    );
    let said = match host.dom0_exec(&script, Duration::from_secs(180)) {
        Ok(out) if out.status == 0 => return Ok(()),
        Ok(out) => last_lines(&format!("{}\n{}", out.stdout, out.stderr), 4),
        Err(e) => e.to_string(),
    };
    Err(BenchError::Unreachable {
        guest: subject.figures.label.clone(),
        ip: ip.into(),
        said,
    })
}

/// The measuring rounds: each round runs every probe once against each
/// guest still working, the guests taking turns at going first.
fn run_rounds(
    host: &TestHost,
    options: &NetBenchOptions,
    subjects: &mut [Subject],
    probe: &Path,
    progress: &mut dyn FnMut(&str),
) {
    for run in 1..=options.repeat {
        let mut order: Vec<usize> = (0..subjects.len()).collect();
        if run % 2 == 0 {
            order.reverse();
        }
        for &i in &order {
            for kind in options.probes() {
                let subject = &mut subjects[i];
                if subject.failed() {
                    continue;
                }
                if let Err(error) = probe_once(host, options, subject, probe, kind, run, progress) {
                    subject.fail(error, progress);
                }
            }
        }
    }
}

/// The dom0 script of one probe run: `rumpx-net-probe` at `probe` against
/// `ip`, killed (and saying so) when it runs longer than `limit`.
fn probe_script(probe: &Path, kind: Probe, ip: &str, bytes: u64, limit: Duration) -> String {
    let limit_s = limit.as_secs().max(1);
    format!(
        "timeout {limit_s} {} {} {ip}:{} {bytes}\n\
         status=$?\n\
         [ $status -eq 143 ] && echo \"rumpx-net-probe did not finish in {limit_s} s\"\n\
         exit $status\n",
        probe.display(),
        kind.mode(),
        kind.port(),
    )
}

/// One probe run against one guest, its figures added to the guest's.
fn probe_once(
    host: &TestHost,
    options: &NetBenchOptions,
    subject: &mut Subject,
    probe: &Path,
    kind: Probe,
    run: u32,
    progress: &mut dyn FnMut(&str),
) -> std::result::Result<(), BenchError> {
    let script = probe_script(
        probe,
        kind,
        subject.ip,
        options.bytes,
        options.probe_timeout(),
    );
    let failed = |subject: &mut Subject, said: String| BenchError::ProbeFailed {
        guest: subject.figures.label.clone(),
        probe: kind.mode(),
        run,
        said: match subject.guest.ended() {
            Some(how) => format!("{said} (the guest had ended: {how})"),
            None => said,
        },
        console: subject.guest.console_tail(10),
    };
    let output = match host.dom0_exec(&script, options.probe_timeout() + Duration::from_secs(60)) {
        Ok(output) => output,
        Err(e) => return Err(failed(subject, e.to_string())),
    };
    let said = last_lines(&format!("{}\n{}", output.stdout, output.stderr), 4);
    if output.status != 0 {
        return Err(failed(
            subject,
            format!("exit status {}: {said}", output.status),
        ));
    }
    let Some(figures) = parse_probe_output(kind, &output.stdout) else {
        return Err(failed(subject, format!("no summary line: {said}")));
    };
    progress(&format!(
        "{} {} run {run}/{}: {:.1} Mbit/s ({:.1} s)",
        subject.figures.label,
        kind.mode(),
        options.repeat,
        figures.mbit,
        figures.ms as f64 / 1000.0
    ));
    subject.figures.runs.push((kind, figures));
    if subject.guest.has_ended() {
        return Err(failed(subject, "the run passed but then".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_parses, linux_files};

    #[test]
    fn both_guests_get_the_same_memory_a_vif_and_their_own_address() {
        let options = NetBenchOptions::default();
        let [(rumpx, rf), (linux, lf)] =
            guest_specs(&options, Path::new("/t/netcheck"), &linux_files());
        assert_eq!(rumpx.memory_mib, 128);
        assert_eq!(linux.memory_mib, 128);
        assert_eq!(rumpx.extra.as_deref(), Some("ip=10.99.0.2/24"));
        assert!(linux
            .extra
            .as_deref()
            .unwrap()
            .contains("rumpx.ip=10.99.0.3/24"));
        assert_eq!(rumpx.vifs[0].bridge, "xenbr0");
        assert_eq!(linux.vifs[0].bridge, "xenbr0");
        assert_ne!(rumpx.vifs[0].mac, linux.vifs[0].mac);
        assert_eq!(
            linux.ramdisk.as_deref(),
            Some(Path::new("/c/initrd.cpio.gz"))
        );
        assert_eq!(linux.kind, job::KernelKind::Linux);
        assert_eq!(rf.label, "rumpx netcheck");
        assert_eq!(lf.label, "Linux 6.1.0-56-amd64");
        assert_eq!(lf.setup, "PVH, 128 MiB, 1 vCPU, 10.99.0.3");
        let cfg = linux
            .xl_config(Path::new("/k"), Some(Path::new("/r")))
            .render()
            .unwrap();
        assert!(cfg.contains("vcpus = 1\n"), "{cfg}");
        assert!(cfg.contains("tsc_mode = \"native\""), "{cfg}");
    }

    #[test]
    fn the_probe_script_runs_the_probe_with_a_time_limit() {
        let script = probe_script(
            Path::new("/share/tools/rumpx-net-probe"),
            Probe::TcpSink,
            "10.99.0.3",
            1024,
            Duration::from_secs(90),
        );
        assert!(
            script
                .starts_with("timeout 90 /share/tools/rumpx-net-probe tcp-sink 10.99.0.3:9 1024\n"),
            "{script}"
        );
        assert!(script.contains("did not finish in 90 s"), "{script}");
        assert_parses("bash", &script);
    }

    #[test]
    fn timeouts_grow_with_the_work() {
        let mut options = NetBenchOptions::default();
        assert_eq!(options.probe_timeout(), Duration::from_secs(60 + 536));
        assert_eq!(options.probes(), [Probe::TcpSink]);
        let sink_only = options.guest_lifetime();
        options.echo = true;
        assert_eq!(options.probes(), [Probe::TcpSink, Probe::TcpEcho]);
        assert!(options.guest_lifetime() > sink_only);
    }
}
