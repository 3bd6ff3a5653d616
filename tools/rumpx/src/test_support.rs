//! Fixtures shared by the crate's unit tests: the Linux DomU's files as
//! the benchmarks see them, and a check that a dom0 script parses.
use crate::linux_domu::LinuxDomuFiles;
use std::process::Command;

/// Debian's kernel and an initramfs, at made-up paths.
pub fn linux_files() -> LinuxDomuFiles {
    LinuxDomuFiles {
        release: "6.1.0-56-amd64".into(),
        kernel: "/c/vmlinuz".into(),
        ramdisk: "/c/initrd.cpio.gz".into(),
    }
}

/// Asserts that `shell` (`bash` or `sh`) reads `script` without a syntax
/// error (`-n`: nothing runs).
pub fn assert_parses(shell: &str, script: &str) {
    let status = Command::new(shell)
        .args(["-n", "-c", script])
        .status()
        .unwrap();
    assert!(status.success(), "{shell} cannot parse:\n{script}");
}
