//! The `rumpx` command: build, check and run rumpx guests on Xen.

use clap::{Parser, Subcommand};
use rumpx::bench_blk::{self, BlkBenchOptions};
use rumpx::bench_http::{self, HttpBenchOptions};
use rumpx::bench_net::{self, NetBenchOptions};
use rumpx::bench_report::parse_bytes;
use rumpx::launch::{self, DiskArg, NetArg};
use rumpx::local_xen::{self, LocalDom0};
use rumpx::outcome::ShutdownReason;
use rumpx::port_forward::ForwardSpec;
use rumpx::scenario::Scenario;
use rumpx::xl_config::GuestType;
use rumpx::{ext2_image, guest_build, job, scenario_run, setup_checks, signals};
use rumpx::{Dom0, HostOptions, TestHost};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "rumpx",
    version,
    about = "Build and run rump-kernel guests on Xen"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build a guest from guests/<GUEST> and print the image's path and size.
    Build {
        /// The guest package (hello, panic, ...).
        guest: String,
    },
    /// Check that an image is a PVH ELF that Xen can boot.
    Check {
        /// The image file.
        image: PathBuf,
    },
    /// Print an xl config for a guest, to keep and use with `xl create`
    /// (for a guest package with a disk folder, its ext2 image is made).
    Cfg {
        #[command(flatten)]
        guest: GuestArgs,
    },
    /// Build (if named) and run a guest with `xl create`: on this machine's Xen
    /// when it is a dom0, else on the embedded Xen test host under QEMU,
    /// with the guest's service port forwarded to 127.0.0.1.
    /// Prints the console live; reports `ready: ...` when the guest writes
    /// its readiness key; Ctrl-C shuts the guest down. Exits 0 on poweroff,
    /// 1 on crash, 2 on timeout, 3 on a setup error, 4 when it printed nothing.
    Run {
        #[command(flatten)]
        guest: GuestArgs,
        /// Forward 127.0.0.1:HOSTPORT of this machine to the guest's port
        /// (the embedded test host only; default: the guest package's).
        #[arg(long, value_name = "HOSTPORT[:GUESTPORT]")]
        forward: Option<ForwardSpec>,
        /// Seconds the guest may run before it is destroyed; 0: until
        /// stopped (default: 0 for a guest that serves a port, else 60).
        #[arg(long)]
        timeout: Option<u64>,
        /// Use the embedded test host even on a dom0.
        #[arg(long)]
        embedded: bool,
    },
    /// Make an ext2 (revision 1) disk image from a folder (needs mke2fs).
    Disk {
        /// The folder whose files the image holds.
        dir: PathBuf,
        /// The image to write.
        img: PathBuf,
        /// Size in MiB (default: the contents plus headroom).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Run a scenario file (guests side by side, ext2 disks made from
    /// folders and generated files, checks from dom0 in order) on this
    /// machine's Xen when it is a dom0, else on the embedded test host;
    /// prints a pass/fail table and keeps every console in --out. Exits 0
    /// when every check passed, 1 when one did not, 3 on a setup error (a
    /// bad file says which line).
    Test {
        /// The scenario file (TOML; the format is in docs/scenarios.md).
        scenario: PathBuf,
        /// Where the consoles and xl logs go (default: target/rumpx-test/<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Use the embedded test host even on a dom0.
        #[arg(long)]
        embedded: bool,
    },
    /// Benchmarks on the embedded test host.
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// TCP throughput from dom0 into the netcheck guest and into a Linux
    /// DomU on the same test host, in the same run, with the ratio.
    /// Exits 0 when both were measured, 1 when a guest failed (the table
    /// says why), 3 when nothing could be measured.
    Net(NetArgs),
    /// Block I/O of the blkcheck guest and of a Linux DomU (each on its own
    /// image in dom0's tmpfs, served by Linux blkback) on the same test
    /// host, in the same run: sequential write and read MB/s and 4 KiB
    /// random-read IOPS, with the ratios. Exits 0 when every run of both
    /// was measured, 1 when a run failed (the report says why), 3 when
    /// nothing could be measured.
    Blk(BlkArgs),
    /// HTTP from dom0: the httpd guest and a Linux DomU with busybox httpd,
    /// both serving the same files from an ext2 disk, on the same test
    /// host in the same run: seconds from xl create to the first 200,
    /// requests/s on a 4 KiB file, MB/s of an 8 MiB GET, the smallest
    /// memory= still serving the 8 MiB file byte-exact, and the image
    /// sizes, with the ratios. Exits 0 when every figure of both was
    /// measured, 1 when something failed (the report says why), 3 when
    /// nothing could be measured.
    Http(HttpArgs),
}

#[derive(clap::Args)]
struct HttpArgs {
    /// Memory of each guest in the timed boot, MiB (Debian's kernel needs about 80).
    #[arg(long, default_value_t = 128)]
    memory: u32,
    /// Connections of the 4 KiB load run.
    #[arg(long, default_value_t = 20)]
    conns: u32,
    /// Requests of the 4 KiB load run, in all.
    #[arg(long, default_value_t = 2000)]
    requests: u32,
    /// memory= sizes (MiB) tried for the httpd guest, largest first.
    #[arg(long, value_delimiter = ',', default_value = "64,32,16,12,8,6,5,4")]
    rumpx_steps: Vec<u32>,
    /// memory= sizes (MiB) tried for the Linux DomU, largest first.
    #[arg(long, value_delimiter = ',', default_value = "128,96,80,64,48")]
    linux_steps: Vec<u32>,
    /// Boot the Linux DomU as PV instead of PVH.
    #[arg(long)]
    linux_pv: bool,
    /// Seconds a guest may take from xl create to its first HTTP 200.
    #[arg(long, default_value_t = 240)]
    ready_timeout: u64,
}

impl HttpArgs {
    fn options(&self) -> HttpBenchOptions {
        HttpBenchOptions {
            memory_mib: self.memory,
            conns: self.conns,
            requests: self.requests,
            rumpx_memory_steps: self.rumpx_steps.clone(),
            linux_memory_steps: self.linux_steps.clone(),
            linux_type: if self.linux_pv {
                GuestType::Pv
            } else {
                GuestType::Pvh
            },
            ready_timeout: Duration::from_secs(self.ready_timeout),
            ..HttpBenchOptions::default()
        }
    }
}

#[derive(clap::Args)]
struct BlkArgs {
    /// Size of each guest's disk image in MiB.
    #[arg(long, default_value_t = 64)]
    mib: u32,
    /// Runs per guest (taking turns); the table shows the median and range.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Memory of each guest in MiB (Debian's kernel needs about 80).
    #[arg(long, default_value_t = 128)]
    memory: u32,
    /// Boot the Linux DomU as PV instead of PVH.
    #[arg(long)]
    linux_pv: bool,
    /// More words for the Linux DomU's kernel command line (such as
    /// "mitigations=off").
    #[arg(long)]
    linux_args: Option<String>,
    /// Seconds one guest run (boot, benchmark, power-off) may take.
    #[arg(long, default_value_t = 600)]
    run_timeout: u64,
}

impl BlkArgs {
    fn options(&self) -> BlkBenchOptions {
        BlkBenchOptions {
            disk_mib: self.mib,
            repeat: self.repeat,
            memory_mib: self.memory,
            linux_type: if self.linux_pv {
                GuestType::Pv
            } else {
                GuestType::Pvh
            },
            linux_args: self.linux_args.clone(),
            run_timeout: Duration::from_secs(self.run_timeout),
            ..BlkBenchOptions::default()
        }
    }
}

#[derive(clap::Args)]
struct NetArgs {
    /// Bytes per run (K, M and G are binary units).
    #[arg(long, default_value = "64M", value_parser = parse_bytes)]
    bytes: u64,
    /// Runs per guest and probe; the table shows the median.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Also measure TCP echo (port 7), not only the TCP sink (port 9).
    #[arg(long)]
    echo: bool,
    /// Memory of each guest in MiB (Debian's kernel needs about 80).
    #[arg(long, default_value_t = 128)]
    memory: u32,
    /// Boot the Linux DomU as PV instead of PVH.
    #[arg(long)]
    linux_pv: bool,
    /// Seconds each guest may take to say it is ready.
    #[arg(long, default_value_t = 300)]
    ready_timeout: u64,
}

impl NetArgs {
    fn options(&self) -> NetBenchOptions {
        NetBenchOptions {
            bytes: self.bytes,
            repeat: self.repeat,
            echo: self.echo,
            memory_mib: self.memory,
            linux_type: if self.linux_pv {
                GuestType::Pv
            } else {
                GuestType::Pvh
            },
            ready_timeout: Duration::from_secs(self.ready_timeout),
            ..NetBenchOptions::default()
        }
    }
}

#[derive(clap::Args)]
struct GuestArgs {
    /// A guest package name (built first) or the path of an image.
    guest: String,
    /// The guest's command line (xl's `extra=`).
    #[arg(long)]
    extra: Option<String>,
    /// Memory in MiB (default: the guest package's, else 32).
    #[arg(long)]
    memory: Option<u32>,
    /// Virtual CPUs.
    #[arg(long)]
    vcpus: Option<u32>,
    /// The domain name (default: the guest's name).
    #[arg(long)]
    name: Option<String>,
    /// A disk image (ext2 revision 1), xvda first; `,ro` for read-only
    /// (default: the guest package's disk folder made into an image).
    #[arg(long, value_name = "IMG[,ro]")]
    disk: Vec<DiskArg>,
    /// A network interface on BRIDGE (default xenbr0), with a static
    /// address or, without ip=, DHCP.
    #[arg(long, value_name = "[BRIDGE][,ip=A.B.C.D/LEN]", num_args = 0..=1, default_missing_value = "")]
    net: Option<NetArg>,
}

impl GuestArgs {
    /// The request for `rumpx run`/`cfg`.
    fn request(&self, forward: Option<ForwardSpec>, timeout_s: Option<u64>) -> launch::Request {
        launch::Request {
            guest: self.guest.clone(),
            extra: self.extra.clone(),
            memory_mib: self.memory,
            vcpus: self.vcpus,
            name: self.name.clone(),
            disks: self.disk.clone(),
            net: self.net.clone(),
            forward,
            timeout_s,
        }
    }
}

/// Progress lines on stderr.
fn progress(step: &str) {
    eprintln!("[rumpx] {step}");
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rumpx: error: {e}");
            ExitCode::from(3)
        }
    }
}

fn run(cli: Cli) -> rumpx::Result<ExitCode> {
    match cli.command {
        Cmd::Build { guest } => {
            let image = guest_build::build_guest(&guest)?;
            describe_image(&image)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check { image } => {
            describe_image(&image)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Cfg { guest } => {
            let plan = launch::plan(&guest.request(None, None), &mut progress)?;
            print!("{}", launch::xl_config(&plan)?.render()?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Disk { dir, img, size } => {
            let bytes = ext2_image::make_image(&dir, &img, size)?;
            println!("{} {} MiB", img.display(), bytes >> 20);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            guest,
            forward,
            timeout,
            embedded,
        } => {
            signals::install();
            let plan = launch::plan(&guest.request(forward, timeout), &mut progress)?;
            describe_image(&plan.spec.image)?;
            let mut print_line = |line: &rumpx::ConsoleLine| println!("{}", line.text);
            let dom0 = setup_checks::is_dom0() && !embedded;
            let outcome = if dom0 {
                progress(&format!("running {} on this machine's Xen", plan.spec.name));
                launch::run_local(&plan, &mut progress, &mut print_line)?
            } else {
                launch::run_embedded(&plan, &mut progress, &mut print_line)?
            };
            let first = outcome.first_output_after.map_or("no output".into(), |t| {
                format!("first output {:.2} s after xl create", t.as_secs_f64())
            });
            progress(&format!(
                "{}: {} after {:.2} s ({first})",
                outcome.name,
                outcome.reason,
                outcome.lifetime.as_secs_f64()
            ));
            if let Some(problem) = outcome.problem() {
                eprintln!("rumpx: error: {problem}");
                return Ok(ExitCode::from(4));
            }
            Ok(match outcome.reason {
                ShutdownReason::Poweroff | ShutdownReason::Reboot => ExitCode::SUCCESS,
                ShutdownReason::Crash => ExitCode::from(1),
                ShutdownReason::Timeout => ExitCode::from(2),
                _ => ExitCode::from(3),
            })
        }
        Cmd::Test {
            scenario,
            out,
            embedded,
        } => run_scenario(&scenario, out, embedded),
        Cmd::Bench {
            what: BenchCmd::Net(args),
        } => {
            let report = bench_net::run(&args.options(), &mut |step| eprintln!("[rumpx] {step}"))?;
            print!("{}", report.render());
            Ok(if report.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Bench {
            what: BenchCmd::Blk(args),
        } => {
            let report = bench_blk::run(&args.options(), &mut |step| eprintln!("[rumpx] {step}"))?;
            print!("{}", report.render());
            Ok(if report.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Bench {
            what: BenchCmd::Http(args),
        } => {
            let report = bench_http::run(&args.options(), &mut |step| eprintln!("[rumpx] {step}"))?;
            print!("{}", report.render());
            Ok(if report.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// `rumpx test`: loads the scenario, runs it on this machine's Xen (when
/// it is a dom0 and `embedded` is not asked) or on the embedded test host,
/// and prints the table.
fn run_scenario(path: &Path, out: Option<PathBuf>, embedded: bool) -> rumpx::Result<ExitCode> {
    let scenario = Scenario::load(path).map_err(|e| rumpx::Error::Invalid {
        what: "scenario",
        detail: e.to_string(),
    })?;
    let out = out.unwrap_or_else(|| scenario_run::default_out_dir(&scenario));
    signals::install();
    let interrupted = || signals::received() > 0;
    let report = if local_xen::available() && !embedded {
        let bridges: Vec<&str> = scenario
            .guests
            .iter()
            .filter_map(|g| g.net.as_ref().map(|n| n.bridge.as_str()))
            .collect();
        setup_checks::check_local(&bridges)?;
        let dom0 = LocalDom0;
        progress(&format!(
            "running scenario {} on {}",
            scenario.name,
            dom0.describe()
        ));
        scenario_run::run(&dom0, &scenario, &out, &interrupted, &mut progress)?
    } else {
        progress(&format!(
            "running scenario {} on the embedded test host; booting it...",
            scenario.name
        ));
        let host = TestHost::boot(&HostOptions::default(), &mut progress)?;
        progress(&format!(
            "test host ready in {:.1} s",
            host.boot_time.as_secs_f64()
        ));
        let report = scenario_run::run(&host, &scenario, &out, &interrupted, &mut progress);
        if let Err(e) = host.shutdown() {
            progress(&e.to_string());
        }
        report?
    };
    print!("{}", report.render());
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Checks an image and prints what the loader will see.
fn describe_image(image: &Path) -> rumpx::Result<()> {
    let pvh = job::check_image(image)?;
    let file_bytes = std::fs::metadata(image).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "[rumpx] {}: PVH entry {:#x}, {} KiB file, {} KiB loaded at {:#x}",
        image.display(),
        pvh.entry,
        file_bytes.div_ceil(1024),
        pvh.loaded_bytes().div_ceil(1024),
        pvh.load_start
    );
    Ok(())
}
