//! The `rumpx` command: build, check and run rumpx guests on Xen.

use clap::{Parser, Subcommand};
use rumpx::bench_blk::{self, BlkBenchOptions};
use rumpx::bench_net::{self, NetBenchOptions};
use rumpx::bench_report::parse_bytes;
use rumpx::outcome::ShutdownReason;
use rumpx::xl_config::GuestType;
use rumpx::{guest_build, job, local_xen, GuestSpec, HostOptions, TestHost};
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
    /// Print an xl config for a guest, to keep and use with `xl create`.
    Cfg {
        #[command(flatten)]
        guest: GuestArgs,
    },
    /// Build (if named) and run a guest with `xl create`: on this machine's Xen
    /// when it is a dom0, else on the embedded Xen test host under QEMU.
    /// Prints the console live; exits 0 on poweroff, 1 on crash, 2 on timeout.
    Run {
        #[command(flatten)]
        guest: GuestArgs,
        /// Seconds the guest may run before it is destroyed.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
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
    /// Memory in MiB.
    #[arg(long, default_value_t = 32)]
    memory: u32,
    /// The domain name (default: the guest's name).
    #[arg(long)]
    name: Option<String>,
}

impl GuestArgs {
    /// The image (building a named guest) and the spec to run it with.
    fn spec(&self) -> rumpx::Result<GuestSpec> {
        let as_path = Path::new(&self.guest);
        let image = if as_path.is_file() {
            as_path.to_path_buf()
        } else {
            eprintln!("[rumpx] building guest {}", self.guest);
            guest_build::build_guest(&self.guest)?
        };
        let default_name = image
            .file_name()
            .map_or("guest".into(), |n| n.to_string_lossy().into_owned());
        let mut spec = GuestSpec::new(self.name.clone().unwrap_or(default_name), image)
            .memory_mib(self.memory);
        spec.extra = self.extra.clone();
        Ok(spec)
    }
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
            let spec = guest.spec()?;
            job::check_image(&spec.image)?;
            let kernel = std::fs::canonicalize(&spec.image).map_err(|source| rumpx::Error::Io {
                path: spec.image.clone(),
                source,
            })?;
            print!("{}", spec.xl_config(&kernel, None).render()?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            guest,
            timeout,
            embedded,
        } => {
            let spec = guest.spec()?.timeout(Duration::from_secs(timeout));
            describe_image(&spec.image)?;
            let mut print_line = |line: &rumpx::ConsoleLine| println!("{}", line.text);
            let outcome = if local_xen::available() && !embedded {
                eprintln!("[rumpx] running {} on this machine's Xen", spec.name);
                local_xen::run_guest(&spec, &mut print_line)?
            } else {
                let host = TestHost::boot(&HostOptions::default(), &mut |step| {
                    eprintln!("[rumpx] {step}")
                })?;
                eprintln!(
                    "[rumpx] test host ready in {:.1} s",
                    host.boot_time.as_secs_f64()
                );
                let outcome = host.run_guest(&spec, &mut print_line);
                if let Err(e) = host.shutdown() {
                    eprintln!("[rumpx] {e}");
                }
                outcome?
            };
            let first = outcome.first_output_after.map_or("no output".into(), |t| {
                format!("first output {:.2} s after xl create", t.as_secs_f64())
            });
            eprintln!(
                "[rumpx] {}: {} after {:.2} s ({first})",
                outcome.name,
                outcome.reason,
                outcome.lifetime.as_secs_f64()
            );
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
    }
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
