//! `rumpx bench blk`: block I/O of the blkcheck guest (blkfront) against a
//! Linux DomU doing the same work (xen-blkfront and `rumpx-disk-probe
//! bench` with `O_DIRECT`), on one embedded test host in one run, both
//! served by Linux blkback in dom0 from sparse image files in dom0's tmpfs.
//! Each guest runs the benchmark once per boot and powers off; the rounds
//! alternate which guest goes first, so that load from elsewhere on the
//! machine falls on both alike.

use crate::bench_report::{parse_blk_bench, BlkBenchReport, BlkGuestFigures, BlkRun};
use crate::error::{Error, Result};
use crate::guest_build;
use crate::job::{self, GuestSpec};
use crate::linux_domu::{self, LinuxDomuFiles};
use crate::outcome::{GuestOutcome, ShutdownReason};
use crate::packages::{last_lines, PackageCache};
use crate::test_host::{HostOptions, TestHost};
use crate::xl_config::{Disk, GuestType};
use std::path::Path;
use std::time::Duration;

/// The rumpx guest measured.
const RUMPX_GUEST: &str = "blkcheck";
/// The guests' virtual disk.
const VDEV: &str = "xvda";
/// Where dom0 keeps the images (a tmpfs).
const DIR: &str = "/run/rumpx-bench";
/// Starts per run: a run that fails is tried once more (Linux PVH starts
/// were seen to die at their first instructions now and then), and the
/// report says so.
const ATTEMPTS: u32 = 2;

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct BlkBenchOptions {
    /// Size of each guest's disk image, MiB.
    pub disk_mib: u32,
    /// Runs per guest; the median is reported.
    pub repeat: u32,
    /// Memory of each guest, MiB (the same for both).
    pub memory_mib: u32,
    /// How xl boots the Linux DomU.
    pub linux_type: GuestType,
    /// More words for the Linux DomU's kernel command line (such as
    /// `mitigations=off`).
    pub linux_args: Option<String>,
    /// How long one guest run (boot, benchmark, power-off) may take.
    pub run_timeout: Duration,
    /// The test host.
    pub host: HostOptions,
}

impl Default for BlkBenchOptions {
    /// 64 MiB images, 3 runs, 128 MiB guests (Debian's kernel needs about
    /// 80 MiB before it runs), Linux as PVH, 10 minutes per run.
    fn default() -> Self {
        BlkBenchOptions {
            disk_mib: 64,
            repeat: 3,
            memory_mib: 128,
            linux_type: GuestType::Pvh,
            linux_args: None,
            run_timeout: Duration::from_secs(600),
            host: HostOptions::default(),
        }
    }
}

/// Why a run gave no figures.
#[derive(Debug)]
enum Failed {
    /// The guest ran but printed no bench line (why, with its console).
    Guest(String),
    /// The test host failed (QEMU gone, dom0 not answering): measuring stops.
    Host(String),
}

/// One of the two guests being measured: how it is started and what it gave.
struct Subject {
    spec: GuestSpec,
    figures: BlkGuestFigures,
}

/// Builds what is needed, boots the test host, runs both guests in turns
/// and shuts everything down. Guest failures are in the report; an error
/// means nothing could be measured.
pub fn run(options: &BlkBenchOptions, progress: &mut dyn FnMut(&str)) -> Result<BlkBenchReport> {
    if options.repeat == 0 {
        return Err(Error::Invalid {
            what: "repeat count",
            detail: "at least one run is needed".into(),
        });
    }
    if options.disk_mib == 0 {
        return Err(Error::Invalid {
            what: "disk size",
            detail: "at least 1 MiB is needed".into(),
        });
    }
    progress(&format!("building guest {RUMPX_GUEST}"));
    let blkcheck = guest_build::build_guest(RUMPX_GUEST)?;
    progress("building a static rumpx-disk-probe for the Linux DomU");
    let disk_probe = guest_build::build_static_tool("rumpx-disk-probe")?;
    let cache = PackageCache::open(&options.host.cache_dir)?;
    let linux = linux_domu::prepare(&cache, &disk_probe, progress)?;
    let mut subjects = subjects(options, &blkcheck, &linux);
    for subject in &subjects {
        job::check_kernel(&subject.spec)?;
    }
    let host = TestHost::boot(&options.host, progress)?;
    progress(&format!(
        "test host ready in {:.1} s",
        host.boot_time.as_secs_f64()
    ));
    let measured = make_images(&host, options, &subjects).map(|()| {
        run_rounds(&host, options, &mut subjects, progress);
        if let Err(e) = host.dom0_exec(&format!("rm -rf {DIR}\n"), Duration::from_secs(60)) {
            progress(&format!("removing the images: {e}"));
        }
    });
    if let Err(e) = host.shutdown() {
        progress(&e.to_string());
    }
    measured?;
    let [rumpx, linux] = subjects.map(|s| s.figures);
    Ok(BlkBenchReport {
        disk_bytes: u64::from(options.disk_mib) << 20,
        repeat: options.repeat,
        rumpx,
        linux,
    })
}

/// The image of the guest named `name`, in dom0.
fn image_path(name: &str) -> String {
    format!("{DIR}/{name}.img")
}

/// The two guests: blkcheck with `bench=xvda` and the Linux DomU with
/// `rumpx.blkbench=xvda`, each with one vCPU, the same memory and its own
/// image as xvda.
fn subjects(options: &BlkBenchOptions, blkcheck: &Path, linux: &LinuxDomuFiles) -> [Subject; 2] {
    let rumpx = GuestSpec::new("bench-blk-rumpx", blkcheck)
        .memory_mib(options.memory_mib)
        .extra(format!("bench={VDEV}"))
        .disk(Disk::raw(VDEV, image_path("rumpx")))
        .timeout(options.run_timeout);
    let mut command_line = linux_domu::blkbench_command_line(VDEV);
    if let Some(args) = options
        .linux_args
        .as_deref()
        .filter(|a| !a.trim().is_empty())
    {
        command_line = format!("{command_line} {}", args.trim());
    }
    let linux_spec = GuestSpec::linux("bench-blk-linux", &linux.kernel, &linux.ramdisk)
        .guest_type(options.linux_type)
        .memory_mib(options.memory_mib)
        .extra(command_line)
        .disk(Disk::raw(VDEV, image_path("linux")))
        .timeout(options.run_timeout);
    let setup = |spec: &GuestSpec| {
        format!(
            "{}, {} MiB, 1 vCPU, {VDEV} = {}, command line \"{}\"",
            spec.guest_type.label(),
            spec.memory_mib,
            spec.disks[0].target.display(),
            spec.extra.as_deref().unwrap_or_default()
        )
    };
    [
        Subject {
            figures: BlkGuestFigures::new(format!("rumpx {RUMPX_GUEST}"), setup(&rumpx)),
            spec: rumpx,
        },
        Subject {
            figures: BlkGuestFigures::new(format!("Linux {}", linux.release), setup(&linux_spec)),
            spec: linux_spec,
        },
    ]
}

/// The dom0 script that makes one sparse image of `mib` MiB per guest.
fn images_script(mib: u32, subjects: &[Subject]) -> String {
    let images: Vec<String> = subjects
        .iter()
        .flat_map(|s| s.spec.disks.iter().map(|d| d.target.display().to_string()))
        .collect();
    format!(
        "set -e\nrm -rf {DIR}\nmkdir -p {DIR}\ntruncate -s {mib}M {}\nls -ls {DIR}\n",
        images.join(" ")
    )
}

/// Makes the guests' images in dom0.
fn make_images(host: &TestHost, options: &BlkBenchOptions, subjects: &[Subject]) -> Result<()> {
    let script = images_script(options.disk_mib, subjects);
    let out = host.dom0_exec(&script, Duration::from_secs(120))?;
    if out.status != 0 {
        return Err(Error::TestHost(format!(
            "dom0 could not make the disk images: {}",
            last_lines(&format!("{}\n{}", out.stdout, out.stderr), 6)
        )));
    }
    Ok(())
}

/// Runs every guest once per round, the guests taking turns at going first.
fn run_rounds(
    host: &TestHost,
    options: &BlkBenchOptions,
    subjects: &mut [Subject],
    progress: &mut dyn FnMut(&str),
) {
    for round in 1..=options.repeat {
        let mut order: Vec<usize> = (0..subjects.len()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for i in order {
            let subject = &mut subjects[i];
            let label = subject.figures.label.clone();
            for attempt in 1..=ATTEMPTS {
                progress(&format!(
                    "{label} run {round}/{}: starting {}",
                    options.repeat, subject.spec.name
                ));
                match run_once(host, subject, progress) {
                    Ok(()) => break,
                    Err(Failed::Host(why)) => {
                        let why =
                            format!("run {round}: the test host failed, measuring stopped: {why}");
                        progress(&format!("{label} {why}"));
                        subject.figures.failures.push(why);
                        return;
                    }
                    Err(Failed::Guest(why)) if attempt < ATTEMPTS => {
                        let why = format!("run {round}: {why}");
                        progress(&format!("{label} {why}\n(starting it again)"));
                        subject.figures.restarts.push(why);
                    }
                    Err(Failed::Guest(why)) => {
                        let why = format!("run {round}: {why}");
                        progress(&format!("{label} {why}"));
                        subject.figures.failures.push(why);
                    }
                }
            }
        }
    }
}

/// Runs a guest once and adds its figures, or says why there are none.
fn run_once(
    host: &TestHost,
    subject: &mut Subject,
    progress: &mut dyn FnMut(&str),
) -> std::result::Result<(), Failed> {
    let outcome = host
        .run_guest(&subject.spec, &mut |_| {})
        .map_err(|e| Failed::Host(e.to_string()))?;
    let run = judge(&outcome).map_err(Failed::Guest)?;
    let figures = &mut subject.figures;
    if figures.notes.is_empty() {
        figures.notes = setup_lines(&outcome)
            .into_iter()
            .map(str::to_string)
            .collect();
    }
    progress(&format!(
        "{}: seq-write {} MB/s seq-read {} MB/s rand-read-4k {} IOPS ({} reads); \
         {} after {:.1} s",
        figures.label,
        run.seq_write_mbs,
        run.seq_read_mbs,
        run.rand_read_iops,
        run.reads,
        outcome.reason,
        outcome.lifetime.as_secs_f64()
    ));
    figures.runs.push(run);
    Ok(())
}

/// What the guest said about how its disk is set up (ring, segments,
/// grants, Linux's queue), shown once per guest beside the figures.
fn setup_lines(outcome: &GuestOutcome) -> Vec<&str> {
    outcome
        .console
        .iter()
        .map(|l| l.text.as_str())
        .filter(|t| {
            t.starts_with(&format!("blkcheck: {VDEV} vbd "))
                || (t.starts_with("rumpx-linux: ")
                    && !t.contains("measuring")
                    && !t.contains("powering off")
                    && !t.contains("done, exit status 0"))
        })
        .collect()
}

/// The figures of one guest run, or why there are none (with the end of
/// its console).
fn judge(outcome: &GuestOutcome) -> std::result::Result<BlkRun, String> {
    if let Some(run) = parse_blk_bench(&outcome.console_text()) {
        return Ok(run);
    }
    let mut why = format!("no bench line; the guest ended: {}", outcome.reason);
    if outcome.reason == ShutdownReason::Vanished {
        if let Some(problem) = outcome.problem() {
            why.push_str(&format!(" ({problem})"));
        }
    }
    if outcome.console.is_empty() {
        why.push_str("; it printed nothing on its console");
        return Err(why);
    }
    why.push_str("; its console ends with:");
    let skip = outcome.console.len().saturating_sub(15);
    for line in &outcome.console[skip..] {
        why.push_str(&format!("\n    {}", line.text));
    }
    Err(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{ConsoleLine, RunRecord};
    use crate::test_support::{assert_parses, linux_files};

    #[test]
    fn both_guests_get_the_same_memory_and_a_disk_of_their_own() {
        let options = BlkBenchOptions::default();
        let [rumpx, linux] = subjects(&options, Path::new("/t/blkcheck"), &linux_files());
        assert_eq!(rumpx.spec.name, "bench-blk-rumpx");
        assert_eq!(rumpx.spec.memory_mib, 128);
        assert_eq!(linux.spec.memory_mib, 128);
        assert_eq!(rumpx.spec.extra.as_deref(), Some("bench=xvda"));
        assert!(linux
            .spec
            .extra
            .as_deref()
            .unwrap()
            .ends_with(" rumpx.blkbench=xvda"));
        assert_eq!(linux.spec.kind, job::KernelKind::Linux);
        assert_eq!(rumpx.spec.disks.len(), 1);
        assert_eq!(linux.spec.disks.len(), 1);
        assert_eq!(rumpx.spec.disks[0].vdev, "xvda");
        assert_eq!(
            rumpx.spec.disks[0].target,
            Path::new("/run/rumpx-bench/rumpx.img")
        );
        assert_eq!(
            linux.spec.disks[0].target,
            Path::new("/run/rumpx-bench/linux.img")
        );
        assert!(rumpx.spec.vifs.is_empty() && linux.spec.vifs.is_empty());
        assert_eq!(rumpx.figures.label, "rumpx blkcheck");
        assert_eq!(linux.figures.label, "Linux 6.1.0-56-amd64");
        assert_eq!(
            linux.figures.setup,
            "PVH, 128 MiB, 1 vCPU, xvda = /run/rumpx-bench/linux.img, \
             command line \"console=hvc0 loglevel=4 rumpx.blkbench=xvda\""
        );
        let cfg = linux
            .spec
            .xl_config(Path::new("/k"), Some(Path::new("/r")))
            .render()
            .unwrap();
        assert!(
            cfg.contains(
                "disk = [ 'format=raw,vdev=xvda,access=rw,target=/run/rumpx-bench/linux.img' ]"
            ),
            "{cfg}"
        );
        assert!(cfg.contains("vcpus = 1\n"), "{cfg}");
    }

    #[test]
    fn linux_args_go_on_the_linux_command_line_only() {
        let options = BlkBenchOptions {
            linux_args: Some(" mitigations=off ".into()),
            ..BlkBenchOptions::default()
        };
        let [rumpx, linux] = subjects(&options, Path::new("/t/blkcheck"), &linux_files());
        assert_eq!(rumpx.spec.extra.as_deref(), Some("bench=xvda"));
        assert_eq!(
            linux.spec.extra.as_deref(),
            Some("console=hvc0 loglevel=4 rumpx.blkbench=xvda mitigations=off")
        );
    }

    #[test]
    fn dom0_makes_a_sparse_image_per_guest() {
        let options = BlkBenchOptions {
            disk_mib: 32,
            ..BlkBenchOptions::default()
        };
        let subjects = subjects(&options, Path::new("/t/blkcheck"), &linux_files());
        let script = images_script(options.disk_mib, &subjects);
        assert!(
            script.contains(
                "truncate -s 32M /run/rumpx-bench/rumpx.img /run/rumpx-bench/linux.img\n"
            ),
            "{script}"
        );
        assert_parses("bash", &script);
    }

    fn outcome(console: &[&str], xl_log: &str) -> GuestOutcome {
        let record = RunRecord::parse("outcome=ended\ncreated_at=1\nended_at=3\n");
        let lines = console
            .iter()
            .map(|text| ConsoleLine {
                at: Duration::from_secs(1),
                text: text.to_string(),
            })
            .collect();
        GuestOutcome::assemble("g", &record, lines, xl_log.into())
    }

    #[test]
    fn a_run_without_a_bench_line_shows_the_console() {
        let poweroff = "Domain 3 has shut down, reason code 0 0x0\n";
        let good = outcome(
            &[
                "rumpx-linux: measuring /dev/xvda",
                "disk-probe: bench 67108864 bytes seq-write 40 MB/s seq-read 80 MB/s \
                 rand-read-4k 3000 IOPS (15000 reads)",
            ],
            poweroff,
        );
        let run = judge(&good).unwrap();
        assert_eq!(run.seq_read_mbs, 80.0);

        let crashed = outcome(
            &["blkcheck: xvda: 131072 sectors", "panic: out of grants"],
            "Domain 3 has shut down, reason code 3 0x3\n",
        );
        let why = judge(&crashed).unwrap_err();
        assert!(
            why.starts_with("no bench line; the guest ended: crash"),
            "{why}"
        );
        assert!(why.ends_with("\n    panic: out of grants"), "{why}");

        let refused = outcome(&[], "libxl: error: cannot build\n");
        let why = judge(&refused).unwrap_err();
        assert!(
            why.starts_with("no bench line; the guest ended: vanished"),
            "{why}"
        );
        assert!(why.contains("cannot build"), "{why}");
        assert!(
            why.ends_with("; it printed nothing on its console"),
            "{why}"
        );

        let rebooted = outcome(&[], "Domain 3 has shut down, reason code 1 0x1\n");
        let why = judge(&rebooted).unwrap_err();
        assert_eq!(
            why,
            "no bench line; the guest ended: reboot; it printed nothing on its console"
        );
    }
}
