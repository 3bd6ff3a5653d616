//! The embedded Xen test host: Xen 4.17 and a Linux dom0 from Debian's
//! packages, booted once under QEMU, running many guests with `xl create`
//! exactly as a user would. Jobs and results cross a 9p share (the protocol
//! is described at the top of `dom0/init`).

pub use crate::dom0::CommandOutput;
use crate::dom0_image::{self, BootFiles};
use crate::error::{io_at, Error, Result};
use crate::job::{self, GuestSpec};
use crate::outcome::{ConsoleLine, GuestOutcome};
use crate::packages::PackageCache;
use crate::qemu::{self, HostForward, MachineSpec};
use crate::xl_config::{ShutdownAction, TscMode};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// How to bring the test host up.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The machine's shape.
    pub machine: MachineSpec,
    /// How long QEMU may take to get dom0's toolstack ready.
    pub boot_timeout: Duration,
    /// The package cache folder.
    pub cache_dir: PathBuf,
    /// A port of this machine's 127.0.0.1 forwarded to dom0 (None: dom0
    /// has no network outside the machine). The host port must be free.
    pub forward: Option<HostForward>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            machine: MachineSpec::default(),
            boot_timeout: Duration::from_secs(240),
            cache_dir: PackageCache::default_dir(),
            forward: None,
        }
    }
}

/// A running test host. Dropping it stops QEMU.
pub struct TestHost {
    qemu: Mutex<Child>,
    share: PathBuf,
    serial_log: PathBuf,
    next_job: AtomicU64,
    /// From starting QEMU to dom0's toolstack being ready.
    pub boot_time: Duration,
    /// The boot files used.
    pub boot_files: BootFiles,
}

impl TestHost {
    /// Prepares the boot files (fetching packages on first use), starts QEMU
    /// and waits for dom0 to report its toolstack ready.
    pub fn boot(options: &HostOptions, progress: &mut dyn FnMut(&str)) -> Result<TestHost> {
        let qemu_path = qemu::find_or_install()?;
        let cache = PackageCache::open(&options.cache_dir)?;
        let boot_files = dom0_image::prepare(&cache, progress)?;
        let share = unique_dir("rumpx-host")?;
        for sub in ["jobs", "state", "ctl"] {
            fs::create_dir_all(share.join(sub)).map_err(io_at(share.join(sub)))?;
        }
        let serial_log = share.join("serial.log");
        progress("booting Xen and dom0 under QEMU");
        if let Some(forward) = options.forward {
            crate::port_forward::check_host_port_free(forward.host_port)?;
        }
        let args = qemu::arguments(&boot_files, &share, &options.machine, options.forward);
        let started = Instant::now();
        let child = qemu::start(&qemu_path, &args, &serial_log)?;
        let mut host = TestHost {
            qemu: Mutex::new(child),
            share,
            serial_log,
            next_job: AtomicU64::new(1),
            boot_time: Duration::ZERO,
            boot_files,
        };
        let ready = host.share.join("state/ready");
        let deadline = started + options.boot_timeout;
        while !ready.exists() {
            host.check_alive()?;
            if Instant::now() > deadline {
                return Err(Error::TestHost(format!(
                    "dom0 was not ready after {} s; the serial log ends with: {}",
                    options.boot_timeout.as_secs(),
                    host.serial_tail(12)
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
        host.boot_time = started.elapsed();
        Ok(host)
    }

    /// Runs one guest with `xl create` in dom0 and waits for it to end,
    /// handing each console line to `on_line` as dom0 sees it. The kernel is
    /// checked first (see [`job::check_kernel`]): one Xen cannot boot is
    /// refused before anything runs.
    pub fn run_guest(
        &self,
        spec: &GuestSpec,
        on_line: &mut dyn FnMut(&ConsoleLine),
    ) -> Result<GuestOutcome> {
        job::check_kernel(spec)?;
        let id = format!("g{}", self.next_job.fetch_add(1, Ordering::Relaxed));
        let dir = self.share.join("jobs").join(&id);
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let in_dom0 = |name: &str| Path::new("/share/jobs").join(&id).join(name);
        fs::copy(&spec.image, dir.join("kernel")).map_err(io_at(&spec.image))?;
        let ramdisk_in_dom0 = match &spec.ramdisk {
            Some(ramdisk) => {
                fs::copy(ramdisk, dir.join("ramdisk")).map_err(io_at(ramdisk))?;
                Some(in_dom0("ramdisk"))
            }
            None => None,
        };
        // The emulated CPU offers no invariant TSC, so Xen would trap and
        // emulate every `rdtsc` of the guest. On this host that path has
        // ended guests in triple faults (a netcheck with RIP in its clock
        // read; Linux PVH guests did not boot without it), and it costs a
        // world switch per clock read. Guests here read the TSC natively.
        let mut spec = spec.clone();
        spec.tsc_mode.get_or_insert(TscMode::Native);
        // Xen ends an HVM guest whose CPU triple-faulted with reason reboot
        // (none of our guests asks for one but through `xl reboot`). A kept
        // domain lets run-guest record its vCPU state before destroying it.
        spec.on_reboot = ShutdownAction::Preserve;
        job::write_inputs(&dir, &spec, &in_dom0("kernel"), ramdisk_in_dom0.as_deref())?;
        self.submit(&id, "go")?;
        let done = self.share.join("jobs").join(format!("{id}.done"));
        let deadline = Instant::now() + spec.timeout + Duration::from_secs(60);
        job::follow(
            &dir,
            &spec.name,
            deadline,
            &mut || {
                self.check_alive()?;
                Ok(done.exists())
            },
            on_line,
        )
    }

    /// Runs a bash script in dom0 and returns what it printed.
    pub fn dom0_exec(&self, script: &str, timeout: Duration) -> Result<CommandOutput> {
        let id = format!("c{}", self.next_job.fetch_add(1, Ordering::Relaxed));
        let dir = self.share.join("jobs").join(&id);
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        fs::write(dir.join("command.sh"), script).map_err(io_at(dir.join("command.sh")))?;
        self.submit(&id, "sh")?;
        let done = self.share.join("jobs").join(format!("{id}.done"));
        let deadline = Instant::now() + timeout;
        while !done.exists() {
            self.check_alive()?;
            if Instant::now() > deadline {
                return Err(Error::TestHost(format!(
                    "dom0 command {id} did not finish in {} s",
                    timeout.as_secs()
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
        let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap_or_default();
        Ok(CommandOutput {
            status: read("status").trim().parse().unwrap_or(-1),
            stdout: read("stdout"),
            stderr: read("stderr"),
        })
    }

    /// Copies a program into the share and returns its path as dom0 sees
    /// it (every program in one folder, `/share/tools`).
    pub fn install_tool(&self, program: &Path) -> Result<PathBuf> {
        let name = program.file_name().ok_or_else(|| Error::Invalid {
            what: "dom0 tool",
            detail: format!("{} names no file", program.display()),
        })?;
        self.share_file(program, "tools", &name.to_string_lossy())
    }

    /// Copies `src` into the share as `sub/name` and returns its path as
    /// dom0 sees it (`/share/sub/name`).
    pub(crate) fn share_file(&self, src: &Path, sub: &str, name: &str) -> Result<PathBuf> {
        let dir = self.share.join(sub);
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        fs::copy(src, dir.join(name)).map_err(io_at(src))?;
        Ok(Path::new("/share").join(sub).join(name))
    }

    /// Where a file dom0 sees under `/share` is on this host (dom0 can
    /// pass results back that way), or None for a path outside the share.
    pub fn host_path(&self, dom0_path: &Path) -> Option<PathBuf> {
        let rel = dom0_path.strip_prefix("/share").ok()?;
        Some(self.share.join(rel))
    }

    /// The peak resident memory of QEMU so far (VmHWM), in KiB.
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let pid = self.qemu.lock().ok()?.id();
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// The machine's serial console so far (Xen's and dom0's messages).
    pub fn serial_log(&self) -> String {
        fs::read_to_string(&self.serial_log).unwrap_or_default()
    }

    /// Asks dom0 to power off and waits for QEMU to exit.
    pub fn shutdown(self) -> Result<()> {
        let _ = fs::write(self.share.join("ctl/poweroff"), "");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(mut child) = self.qemu.lock() {
                if let Ok(Some(_)) = child.try_wait() {
                    return Ok(());
                }
            }
            thread::sleep(Duration::from_millis(100));
        }
        Err(Error::TestHost(
            "dom0 did not power off within 30 s; QEMU is killed".into(),
        ))
    }

    /// Puts the job marker in place atomically.
    fn submit(&self, id: &str, kind: &str) -> Result<()> {
        let jobs = self.share.join("jobs");
        let tmp = jobs.join(format!("{id}.{kind}.tmp"));
        fs::write(&tmp, "").map_err(io_at(&tmp))?;
        let marker = jobs.join(format!("{id}.{kind}"));
        fs::rename(&tmp, &marker).map_err(io_at(&marker))
    }

    /// An error if QEMU exited or dom0 reported a fatal problem.
    fn check_alive(&self) -> Result<()> {
        if let Ok(fatal) = fs::read_to_string(self.share.join("state/fatal")) {
            return Err(Error::TestHost(format!("dom0 failed: {}", fatal.trim())));
        }
        let exited = self
            .qemu
            .lock()
            .ok()
            .and_then(|mut c| c.try_wait().ok().flatten());
        match exited {
            Some(status) => Err(Error::TestHost(format!(
                "QEMU exited ({status}); the serial log ends with: {}",
                self.serial_tail(12)
            ))),
            None => Ok(()),
        }
    }

    fn serial_tail(&self, n: usize) -> String {
        crate::packages::last_lines(&self.serial_log(), n)
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Ok(mut child) = self.qemu.lock() {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        if std::env::var_os("RUMPX_KEEP_SHARE").is_none() {
            let _ = fs::remove_dir_all(&self.share);
        }
    }
}

/// A new, empty folder under the system's temporary folder.
pub(crate) fn unique_dir(prefix: &str) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = std::env::temp_dir();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("{prefix}-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::Io {
                    path: dir,
                    source: e,
                })
            }
        }
    }
}
