//! Finds (or installs, from Debian's packages) QEMU and starts the test host
//! machine: Xen as a multiboot kernel, dom0's kernel and initramfs as
//! modules, a 9p share for jobs, no outward network.

use crate::dom0_image::BootFiles;
use crate::error::{io_at, Error, Result};
use crate::packages::{is_root, last_lines};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const QEMU: &str = "qemu-system-x86_64";

/// The machine's shape.
#[derive(Debug, Clone)]
pub struct MachineSpec {
    /// Host memory for the whole machine, MiB.
    pub memory_mib: u32,
    /// dom0's memory, MiB.
    pub dom0_memory_mib: u32,
    /// Virtual CPUs.
    pub cpus: u32,
}

impl Default for MachineSpec {
    fn default() -> Self {
        MachineSpec {
            memory_mib: 2048,
            dom0_memory_mib: 1024,
            cpus: 2,
        }
    }
}

/// The path of `qemu-system-x86_64`, installing Debian's `qemu-system-x86`
/// when it is missing and this process may (root, apt present).
pub fn find_or_install() -> Result<PathBuf> {
    if let Some(found) = which(QEMU) {
        return Ok(found);
    }
    if !is_root() {
        return Err(Error::QemuMissing(format!(
            "{QEMU} is not installed; install it with `apt-get install qemu-system-x86` (as root)"
        )));
    }
    let output = Command::new("apt-get")
        .args([
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "qemu-system-x86",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .map_err(|e| {
            Error::QemuMissing(format!(
                "{QEMU} is not installed and apt-get cannot run: {e}"
            ))
        })?;
    if !output.status.success() {
        return Err(Error::QemuMissing(format!(
            "apt-get install qemu-system-x86 failed: {}",
            last_lines(&String::from_utf8_lossy(&output.stderr), 4)
        )));
    }
    which(QEMU).ok_or_else(|| {
        Error::QemuMissing(format!(
            "apt-get installed qemu-system-x86 but there is no {QEMU}"
        ))
    })
}

/// `program`'s path on $PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// A TCP port of this machine's 127.0.0.1 that QEMU's user networking
/// forwards to dom0 (`hostfwd`); dom0 then has a NIC at 10.0.2.15/24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostForward {
    /// The port on 127.0.0.1 here.
    pub host_port: u16,
    /// The port on dom0's NIC it reaches.
    pub dom0_port: u16,
}

/// The QEMU arguments for the test host: without `forward` dom0 has no
/// outward network; with it, a virtio NIC on QEMU's user network
/// (`restrict=on`: no way out, only the forwarded port in).
///
/// CPU: `max,-smap` gives the emulated AMD SVM with nested paging that PVH
/// guests need under Debian's Xen (no shadow paging), without the SMAP
/// emulation fault that crashes dom0 on QEMU 7.2.
pub fn arguments(
    boot: &BootFiles,
    share: &Path,
    machine: &MachineSpec,
    forward: Option<HostForward>,
) -> Vec<String> {
    let xen_options = format!(
        "console=com1 com1=115200,8n1 dom0_mem={m}M,max:{m}M dom0_max_vcpus={c} loglvl=all guest_loglvl=all console_timestamps=boot",
        m = machine.dom0_memory_mib,
        c = machine.cpus
    );
    let dom0 = format!(
        "{} console=hvc0 loglevel=4 rdinit=/init,{}",
        boot.kernel.display(),
        boot.initramfs.display()
    );
    let mut args: Vec<String> = [
        "-machine",
        "pc",
        "-cpu",
        "max,-smap,-xsave",
        "-nographic",
        "-no-reboot",
        "-monitor",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match forward {
        None => args.extend(["-nic".into(), "none".into()]),
        Some(f) => args.extend([
            "-netdev".into(),
            format!(
                "user,id=dom0net,restrict=on,hostfwd=tcp:127.0.0.1:{}-:{}",
                f.host_port, f.dom0_port
            ),
            "-device".into(),
            "virtio-net-pci,netdev=dom0net".into(),
        ]),
    }
    args.extend([
        "-m".into(),
        machine.memory_mib.to_string(),
        "-smp".into(),
        machine.cpus.to_string(),
        "-kernel".into(),
        boot.xen.display().to_string(),
        "-append".into(),
        xen_options,
        "-initrd".into(),
        dom0,
        "-virtfs".into(),
        format!(
            "local,path={},mount_tag=share,security_model=none,id=share",
            share.display()
        ),
    ]);
    args
}

/// Starts QEMU with its serial console (Xen's and dom0's) going to `serial_log`.
pub fn start(qemu: &Path, args: &[String], serial_log: &Path) -> Result<Child> {
    let log = fs::File::create(serial_log).map_err(io_at(serial_log))?;
    let errors = log.try_clone().map_err(io_at(serial_log))?;
    let mut command = Command::new(qemu);
    if crate::signals::installed() {
        // Ctrl-C goes to rumpx, which stops the guest and then QEMU in order.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(errors)
        .spawn()
        .map_err(|e| Error::Command {
            command: qemu.display().to_string(),
            detail: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boots_xen_with_dom0_as_multiboot_modules() {
        let boot = BootFiles {
            xen: "/c/xen.elf".into(),
            kernel: "/c/vmlinuz".into(),
            initramfs: "/c/dom0.cpio.gz".into(),
        };
        let args = arguments(&boot, Path::new("/tmp/s"), &MachineSpec::default(), None);
        let after = |flag: &str| args[args.iter().position(|a| a == flag).unwrap() + 1].clone();
        assert_eq!(after("-kernel"), "/c/xen.elf");
        assert_eq!(
            after("-initrd"),
            "/c/vmlinuz console=hvc0 loglevel=4 rdinit=/init,/c/dom0.cpio.gz"
        );
        assert!(after("-append").contains("dom0_mem=1024M,max:1024M"));
        assert_eq!(after("-cpu"), "max,-smap,-xsave");
        assert_eq!(after("-nic"), "none");
        assert!(after("-virtfs").contains("path=/tmp/s,mount_tag=share"));
        assert!(!args.iter().any(|a| a == "-netdev"));
    }

    #[test]
    fn forwards_one_localhost_port_to_dom0_when_asked() {
        let boot = BootFiles {
            xen: "/c/xen.elf".into(),
            kernel: "/c/vmlinuz".into(),
            initramfs: "/c/dom0.cpio.gz".into(),
        };
        let forward = HostForward {
            host_port: 8080,
            dom0_port: 8080,
        };
        let args = arguments(
            &boot,
            Path::new("/tmp/s"),
            &MachineSpec::default(),
            Some(forward),
        );
        let after = |flag: &str| args[args.iter().position(|a| a == flag).unwrap() + 1].clone();
        assert_eq!(
            after("-netdev"),
            "user,id=dom0net,restrict=on,hostfwd=tcp:127.0.0.1:8080-:8080"
        );
        assert_eq!(after("-device"), "virtio-net-pci,netdev=dom0net");
        assert!(!args.iter().any(|a| a == "-nic"));
    }
}
