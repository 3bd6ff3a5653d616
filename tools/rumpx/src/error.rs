//! The error type of the dom0-side tools.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while building, checking or running guests.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file or folder failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// An external command could not be started, or it failed.
    #[error("{command}: {detail}")]
    Command {
        /// The command line, shortened to what a person recognises.
        command: String,
        /// Why it failed, with the command's own last words where it printed any.
        detail: String,
    },
    /// A Debian package the test host needs could not be fetched or unpacked.
    #[error("Debian package {package}: {detail}")]
    Package {
        /// The package name.
        package: String,
        /// What went wrong.
        detail: String,
    },
    /// QEMU is not on this machine and could not be installed.
    #[error("QEMU is missing and could not be installed: {0}")]
    QemuMissing(String),
    /// The guest image is not an ELF that Xen can boot as a PVH guest.
    #[error("{} is not a bootable PVH guest image: {reason}", path.display())]
    NotPvhImage {
        /// The image.
        path: PathBuf,
        /// The first problem found.
        reason: crate::pvh_elf::PvhError,
    },
    /// The kernel is not a Linux bzImage that xl can boot.
    #[error("{} is not a bootable Linux kernel: {reason}", path.display())]
    NotLinuxKernel {
        /// The kernel file.
        path: PathBuf,
        /// The first problem found.
        reason: crate::bzimage::BzImageError,
    },
    /// Assembling dom0's initramfs failed.
    #[error("dom0 image: {0}")]
    Dom0Image(String),
    /// Assembling the Linux DomU's boot files failed.
    #[error("Linux DomU image: {0}")]
    LinuxDomuImage(String),
    /// The embedded test host failed to come up, or died.
    #[error("test host: {0}")]
    TestHost(String),
    /// A value given by the user (or a caller) is not acceptable.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// What was given.
        what: &'static str,
        /// Why it is refused.
        detail: String,
    },
    /// This machine is not set up for what was asked (no `xl`, not root,
    /// no bridge, ...); the message says how to fix it.
    #[error("{0}")]
    Setup(String),
    /// Stopped by Ctrl-C or SIGTERM before a guest ran.
    #[error("stopped by a signal {0}")]
    Interrupted(String),
    /// Talking to xenstore failed.
    #[error(transparent)]
    Xenstore(#[from] crate::xenstore::XenstoreError),
    /// Building a guest image failed.
    #[error("building guest {guest} failed: {detail}")]
    Build {
        /// The guest's package name.
        guest: String,
        /// What cargo said.
        detail: String,
    },
}

/// Results of the dom0-side tools.
pub type Result<T> = std::result::Result<T, Error>;

/// Attaches a path to an I/O error.
pub(crate) fn io_at(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
