//! One guest run as a job folder: the inputs `run-guest` reads (xl config,
//! time limit) and the outputs it leaves (console, xl log, result), followed
//! live. Shared by the embedded test host and a real dom0.

use crate::bzimage::check_bzimage;
use crate::error::{io_at, Error, Result};
use crate::outcome::{parse_stamped_line, ConsoleLine, GuestOutcome, RunRecord};
use crate::pvh_elf::{check_pvh_image, PvhImage};
use crate::xl_config::{Disk, GuestType, ShutdownAction, TscMode, Vif, XlConfig};
use flate2::read::GzDecoder;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// What kind of kernel a guest boots, which decides how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelKind {
    /// A rumpx guest: a PVH ELF image, checked with `pvh_elf`.
    Rumpx,
    /// A Linux kernel (bzImage), checked with `bzimage`; xl's own loader
    /// unpacks it.
    Linux,
}

/// A guest to run.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    /// The domain name.
    pub name: String,
    /// The kernel image on this machine.
    pub image: PathBuf,
    /// What kind of kernel `image` is.
    pub kind: KernelKind,
    /// How xl boots it (`type`).
    pub guest_type: GuestType,
    /// An initial ramdisk on this machine, handed to the kernel.
    pub ramdisk: Option<PathBuf>,
    /// xl's `tsc_mode`, when not left to xl.
    pub tsc_mode: Option<TscMode>,
    /// Memory in MiB.
    pub memory_mib: u32,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// The guest's command line (xl's `extra=`).
    pub extra: Option<String>,
    /// How long it may run before it is destroyed.
    pub timeout: Duration,
    /// Network interfaces.
    pub vifs: Vec<Vif>,
    /// Virtual disks (their images are paths in dom0).
    pub disks: Vec<Disk>,
    /// What xl does when the guest ends with reason reboot.
    pub on_reboot: ShutdownAction,
}

impl GuestSpec {
    /// A 32 MiB rumpx PVH guest with no command line and a 60 s limit.
    pub fn new(name: impl Into<String>, image: impl Into<PathBuf>) -> Self {
        GuestSpec {
            name: name.into(),
            image: image.into(),
            kind: KernelKind::Rumpx,
            guest_type: GuestType::Pvh,
            ramdisk: None,
            tsc_mode: None,
            memory_mib: 32,
            vcpus: 1,
            extra: None,
            timeout: Duration::from_secs(60),
            vifs: Vec::new(),
            disks: Vec::new(),
            on_reboot: ShutdownAction::Destroy,
        }
    }

    /// A Linux PVH guest: `kernel` (a bzImage) with `ramdisk` as its
    /// initramfs, reading the native TSC (on the test host Xen cannot
    /// emulate the RDTSCP Linux issues). Otherwise like [`GuestSpec::new`].
    pub fn linux(
        name: impl Into<String>,
        kernel: impl Into<PathBuf>,
        ramdisk: impl Into<PathBuf>,
    ) -> Self {
        let mut spec = GuestSpec::new(name, kernel);
        spec.kind = KernelKind::Linux;
        spec.ramdisk = Some(ramdisk.into());
        spec.tsc_mode = Some(TscMode::Native);
        spec
    }

    /// Sets how xl boots the guest.
    pub fn guest_type(mut self, guest_type: GuestType) -> Self {
        self.guest_type = guest_type;
        self
    }

    /// Sets the command line.
    pub fn extra(mut self, extra: impl Into<String>) -> Self {
        self.extra = Some(extra.into());
        self
    }

    /// Sets the memory size.
    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.memory_mib = mib;
        self
    }

    /// Adds a network interface.
    pub fn vif(mut self, vif: Vif) -> Self {
        self.vifs.push(vif);
        self
    }

    /// Adds a virtual disk.
    pub fn disk(mut self, disk: Disk) -> Self {
        self.disks.push(disk);
        self
    }

    /// Sets the time limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The xl configuration for this guest, with the image at `kernel` and
    /// the ramdisk (if the guest has one) at `ramdisk`, as the toolstack will
    /// see them.
    pub fn xl_config(&self, kernel: &Path, ramdisk: Option<&Path>) -> XlConfig {
        let mut cfg = XlConfig::new(&self.name, kernel);
        cfg.guest_type = self.guest_type;
        cfg.ramdisk = ramdisk.map(Path::to_path_buf);
        cfg.tsc_mode = self.tsc_mode;
        cfg.memory_mib = self.memory_mib;
        cfg.vcpus = self.vcpus;
        cfg.extra = self.extra.clone();
        cfg.vifs = self.vifs.clone();
        cfg.disks = self.disks.clone();
        cfg.on_reboot = self.on_reboot;
        cfg
    }
}

/// Reads and checks a guest image before anything is booted.
pub fn check_image(path: &Path) -> Result<PvhImage> {
    let bytes = fs::read(path).map_err(io_at(path))?;
    check_pvh_image(&bytes).map_err(|reason| Error::NotPvhImage {
        path: path.to_path_buf(),
        reason,
    })
}

/// Checks a guest's kernel the way its kind asks for, before anything is
/// booted: a rumpx image must be a PVH ELF; a Linux kernel a bzImage, or an
/// ELF (gzip'd or not, as xl takes it) that Xen can start as PVH, which with
/// its ramdisk fits in the guest's memory.
pub fn check_kernel(spec: &GuestSpec) -> Result<()> {
    match spec.kind {
        KernelKind::Rumpx => check_image(&spec.image).map(|_| ()),
        KernelKind::Linux => {
            let mut bytes = fs::read(&spec.image).map_err(io_at(&spec.image))?;
            if bytes.starts_with(&[0x1f, 0x8b]) {
                let mut unpacked = Vec::new();
                GzDecoder::new(&bytes[..])
                    .read_to_end(&mut unpacked)
                    .map_err(io_at(&spec.image))?;
                bytes = unpacked;
            }
            let ramdisk_bytes = match &spec.ramdisk {
                Some(ramdisk) => fs::metadata(ramdisk).map_err(io_at(ramdisk))?.len(),
                None => 0,
            };
            let needed = if bytes.starts_with(b"\x7fELF") {
                // An unpacked kernel (vmlinux): Xen loads its segments as they are.
                let image = check_pvh_image(&bytes).map_err(|reason| Error::NotPvhImage {
                    path: spec.image.clone(),
                    reason,
                })?;
                image.load_end + ramdisk_bytes
            } else {
                let image = check_bzimage(&bytes).map_err(|reason| Error::NotLinuxKernel {
                    path: spec.image.clone(),
                    reason,
                })?;
                image.pref_address + image.init_size + ramdisk_bytes
            };
            let needed_mib = needed.div_ceil(1024 * 1024);
            if u64::from(spec.memory_mib) < needed_mib {
                return Err(Error::Invalid {
                    what: "guest memory",
                    detail: format!(
                        "{} MiB for {}: the kernel {} and its ramdisk reach to {needed_mib} MiB \
                         of guest memory before it even runs",
                        spec.memory_mib,
                        spec.name,
                        spec.image.display(),
                    ),
                });
            }
            Ok(())
        }
    }
}

/// Writes the job's inputs into `dir`; `kernel` and `ramdisk` are the
/// paths of the image and the ramdisk as the toolstack sees them.
pub fn write_inputs(
    dir: &Path,
    spec: &GuestSpec,
    kernel: &Path,
    ramdisk: Option<&Path>,
) -> Result<()> {
    let cfg = spec.xl_config(kernel, ramdisk).render()?;
    fs::write(dir.join("guest.cfg"), cfg).map_err(io_at(dir.join("guest.cfg")))?;
    let timeout = spec.timeout.as_secs().max(1).to_string();
    fs::write(dir.join("timeout"), timeout).map_err(io_at(dir.join("timeout")))?;
    Ok(())
}

/// Follows a running job in `dir`: hands each new console line to `on_line`
/// until `finished` says the job's outputs are complete, then assembles the
/// outcome. `finished` also reports a dead runner as an error.
pub fn follow(
    dir: &Path,
    name: &str,
    deadline: Instant,
    finished: &mut dyn FnMut() -> Result<bool>,
    on_line: &mut dyn FnMut(&ConsoleLine),
) -> Result<GuestOutcome> {
    let stamped = dir.join("console.stamped");
    let mut offset = 0u64;
    let mut pending = String::new();
    let mut lines = Vec::new();
    let mut created_at = None;
    loop {
        let done = finished()?;
        if created_at.is_none() {
            created_at = fs::read_to_string(dir.join("created_at"))
                .ok()
                .and_then(|s| s.trim().parse::<f64>().ok());
        }
        if let Some(created_at) = created_at {
            offset += read_new(&stamped, offset, &mut pending)?;
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                if let Some(line) = parse_stamped_line(line.trim_end_matches('\n'), created_at) {
                    on_line(&line);
                    lines.push(line);
                }
            }
        }
        if done {
            break;
        }
        if Instant::now() > deadline {
            return Err(Error::TestHost(format!(
                "guest {name}: the runner did not finish in time (job folder {})",
                dir.display()
            )));
        }
        thread::sleep(Duration::from_millis(50));
    }
    let result = fs::read_to_string(dir.join("result")).map_err(io_at(dir.join("result")))?;
    let record = RunRecord::parse(&result);
    let xl_log = fs::read_to_string(dir.join("xl.log")).unwrap_or_default();
    // The live follower may stop a moment before xenconsoled writes the last
    // lines; the raw log copied at the end is complete.
    let raw = fs::read_to_string(dir.join("console.log")).unwrap_or_default();
    let lifetime = Duration::from_secs_f64((record.ended_at - record.created_at).max(0.0));
    for text in raw.lines().skip(lines.len()) {
        let line = ConsoleLine {
            at: lifetime,
            text: text.trim_end_matches('\r').to_string(),
        };
        on_line(&line);
        lines.push(line);
    }
    Ok(GuestOutcome::assemble(name, &record, lines, xl_log))
}

/// Appends what `path` gained since `offset` to `pending`; returns the bytes read.
fn read_new(path: &Path, offset: u64, pending: &mut String) -> Result<u64> {
    let Ok(mut file) = fs::File::open(path) else {
        return Ok(0);
    };
    file.seek(SeekFrom::Start(offset)).map_err(io_at(path))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_at(path))?;
    pending.push_str(&String::from_utf8_lossy(&bytes));
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::ShutdownReason;

    #[test]
    fn follows_a_finished_job_folder() {
        let dir = std::env::temp_dir().join(format!("rumpx-job-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("created_at"), "100.0\n").unwrap();
        fs::write(dir.join("console.stamped"), "100.5 first\n100.75 second\n").unwrap();
        fs::write(dir.join("console.log"), "first\nsecond\nthird\n").unwrap();
        fs::write(
            dir.join("xl.log"),
            "Domain 3 has shut down, reason code 0 0x0\n",
        )
        .unwrap();
        fs::write(
            dir.join("result"),
            "outcome=ended\nxl_status=0\ncreated_at=100.0\nended_at=101.0\n",
        )
        .unwrap();
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        let outcome = follow(&dir, "g", deadline, &mut || Ok(true), &mut |l| {
            seen.push(l.text.clone())
        })
        .unwrap();
        assert_eq!(seen, ["first", "second", "third"]);
        assert_eq!(outcome.reason, ShutdownReason::Poweroff);
        assert_eq!(outcome.first_output_after, Some(Duration::from_millis(500)));
        assert_eq!(outcome.console[2].at, Duration::from_secs(1));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writes_the_inputs_run_guest_reads() {
        let dir = std::env::temp_dir().join(format!("rumpx-job-inputs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let spec = GuestSpec::new("hello", "/tmp/hello")
            .extra("a=b")
            .timeout(Duration::from_secs(7));
        write_inputs(&dir, &spec, Path::new("/share/jobs/1/hello"), None).unwrap();
        let cfg = fs::read_to_string(dir.join("guest.cfg")).unwrap();
        assert!(cfg.contains("kernel = \"/share/jobs/1/hello\""));
        assert!(cfg.contains("extra = \"a=b\""));
        assert!(!cfg.contains("ramdisk"));
        assert_eq!(fs::read_to_string(dir.join("timeout")).unwrap(), "7");

        let linux = GuestSpec::linux("linux", "/tmp/vmlinuz", "/tmp/initrd").memory_mib(128);
        write_inputs(
            &dir,
            &linux,
            Path::new("/share/jobs/2/kernel"),
            Some(Path::new("/share/jobs/2/ramdisk")),
        )
        .unwrap();
        let cfg = fs::read_to_string(dir.join("guest.cfg")).unwrap();
        assert!(cfg.contains("ramdisk = \"/share/jobs/2/ramdisk\""), "{cfg}");
        assert!(cfg.contains("tsc_mode = \"native\""), "{cfg}");
        assert!(cfg.contains("memory = 128"), "{cfg}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checks_each_kind_of_kernel_its_own_way() {
        let dir = std::env::temp_dir().join(format!("rumpx-job-kernels-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let script = dir.join("script");
        fs::write(&script, b"#!/bin/sh\n").unwrap();
        let as_rumpx = check_kernel(&GuestSpec::new("a", &script)).unwrap_err();
        assert!(matches!(as_rumpx, Error::NotPvhImage { .. }), "{as_rumpx}");
        let as_linux = check_kernel(&GuestSpec::linux("b", &script, &script)).unwrap_err();
        assert!(
            matches!(as_linux, Error::NotLinuxKernel { .. }),
            "{as_linux}"
        );

        // A gzip'd PVH ELF, as linux_domu writes the kernel.
        let gzip = |bytes: &[u8]| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, bytes).unwrap();
            gz.finish().unwrap()
        };
        let kernel = dir.join("vmlinux.gz");
        let elf = crate::elf_image::MinimalImage::pvh(&[0xf4]).to_bytes();
        fs::write(&kernel, gzip(&elf)).unwrap();
        check_kernel(&GuestSpec::linux("c", &kernel, &script)).unwrap();
        fs::write(&kernel, gzip(&[b'x'; 1000])).unwrap();
        let garbage = check_kernel(&GuestSpec::linux("d", &kernel, &script)).unwrap_err();
        assert!(matches!(garbage, Error::NotLinuxKernel { .. }), "{garbage}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
