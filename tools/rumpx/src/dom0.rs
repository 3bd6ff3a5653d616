//! The one abstraction over where dom0 commands and guests run: this
//! machine's Xen when it is a dom0 ([`crate::local_xen::LocalDom0`]) or
//! the embedded test host ([`TestHost`]). Guests, dom0 scripts, helper
//! programs and disks go through it, so a scenario or a background guest
//! runs the same way on both.

use crate::dom0_disk;
use crate::error::Result;
use crate::job::GuestSpec;
use crate::outcome::{ConsoleLine, GuestOutcome};
use crate::test_host::TestHost;
use crate::xl_config::Disk;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a dom0 command left.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// Its exit status (-1 when it has none, such as after a signal).
    pub status: i32,
    /// What it printed.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// A disk image made ready for a guest in dom0: what an xl disk spec
/// names, and what must be undone after the guest ends
/// ([`Dom0::release_disks`]).
#[derive(Debug, Clone)]
pub struct AttachedDisk {
    /// What the xl disk spec names (`target=`): the image file itself, or
    /// a loop device holding a copy of it.
    pub target: PathBuf,
    /// The hotplug script xl runs for it; None: xl's own `block` script.
    pub script: Option<String>,
    /// Offered read-only.
    pub read_only: bool,
    /// A copy staged in the test host's dom0, to free (and, writable,
    /// copy back) afterwards; None: nothing to release.
    pub(crate) staged: Option<dom0_disk::StagedCopy>,
}

impl AttachedDisk {
    /// The xl disk the guest sees as `vdev`.
    pub fn xl_disk(&self, vdev: &str) -> Disk {
        let mut disk = Disk::raw(vdev, &self.target);
        disk.script = self.script.clone();
        if self.read_only {
            disk.read_only()
        } else {
            disk
        }
    }
}

/// Where dom0 commands and guests run.
pub trait Dom0: Sync {
    /// Which dom0 this is, for messages: "this machine's Xen" or "the
    /// embedded test host".
    fn describe(&self) -> &str;

    /// Runs one guest with `xl create` and waits for it to end, handing
    /// each console line to `on_line` as it comes.
    fn run_guest(
        &self,
        spec: &GuestSpec,
        on_line: &mut dyn FnMut(&ConsoleLine),
    ) -> Result<GuestOutcome>;

    /// Runs a bash script in dom0 and returns what it printed; an error
    /// when it did not finish within `timeout` (it is then killed).
    fn exec(&self, script: &str, timeout: Duration) -> Result<CommandOutput>;

    /// Makes a program (or any file) of this machine visible in dom0 and
    /// returns its path there. Programs installed by one dom0 land in one
    /// folder, next to each other.
    fn install_tool(&self, program: &Path) -> Result<PathBuf>;

    /// Makes the disk image `image` ready for a guest; `name` is unique
    /// among the disks attached at the same time (a file name).
    fn attach_disk(&self, image: &Path, name: &str, read_only: bool) -> Result<AttachedDisk>;

    /// Undoes [`Dom0::attach_disk`] for `disks` once their guests ended:
    /// what a writable disk's guest wrote is in its image file afterwards.
    /// Every disk is released even when one fails; the error names each.
    fn release_disks(&self, disks: &[AttachedDisk]) -> Result<()>;
}

impl Dom0 for TestHost {
    fn describe(&self) -> &str {
        "the embedded test host"
    }

    fn run_guest(
        &self,
        spec: &GuestSpec,
        on_line: &mut dyn FnMut(&ConsoleLine),
    ) -> Result<GuestOutcome> {
        TestHost::run_guest(self, spec, on_line)
    }

    fn exec(&self, script: &str, timeout: Duration) -> Result<CommandOutput> {
        self.dom0_exec(script, timeout)
    }

    fn install_tool(&self, program: &Path) -> Result<PathBuf> {
        TestHost::install_tool(self, program)
    }

    fn attach_disk(&self, image: &Path, name: &str, read_only: bool) -> Result<AttachedDisk> {
        dom0_disk::attach(self, image, name, read_only)
    }

    fn release_disks(&self, disks: &[AttachedDisk]) -> Result<()> {
        dom0_disk::release(self, disks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xl_config::DiskAccess;

    #[test]
    fn an_attached_disk_becomes_the_xl_disk_it_names() {
        let local = AttachedDisk {
            target: "/srv/www.img".into(),
            script: None,
            read_only: true,
            staged: None,
        };
        let disk = local.xl_disk("xvda");
        assert_eq!(disk.target, Path::new("/srv/www.img"));
        assert_eq!(
            (disk.vdev.as_str(), disk.access),
            ("xvda", DiskAccess::ReadOnly)
        );
        assert_eq!(disk.script, None);
        let staged = AttachedDisk {
            target: "/dev/loop3".into(),
            script: Some("block-rumpx".into()),
            read_only: false,
            staged: None,
        };
        let disk = staged.xl_disk("xvdb");
        assert_eq!(disk.access, DiskAccess::ReadWrite);
        assert_eq!(disk.script.as_deref(), Some("block-rumpx"));
    }
}
