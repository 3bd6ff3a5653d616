//! A disk image staged in the test host's dom0: copied out of the share
//! and attached to a free loop device, for a guest's `phy:` disk.
use crate::error::{Error, Result};
use crate::test_host::TestHost;
use std::path::Path;
use std::time::Duration;

/// Copies `src` (a path dom0 sees, in the share) to `dom0_image` (its
/// folder is made), attaches the copy to a free loop device (read-only if
/// asked) and returns the device, `/dev/loopN`. `what` names the disk in
/// the error when dom0 gives no device.
pub fn attach_copy(
    host: &TestHost,
    src: &Path,
    dom0_image: &str,
    read_only: bool,
    timeout: Duration,
    what: &str,
) -> Result<String> {
    let out = host.dom0_exec(&attach_script(src, dom0_image, read_only), timeout)?;
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("loop "))
        .map(|d| d.trim().to_string())
        .filter(|d| d.starts_with("/dev/loop"))
        .ok_or_else(|| {
            Error::TestHost(format!(
                "dom0 could not set up {what}: {}{}",
                out.stdout, out.stderr
            ))
        })
}

/// The dom0 script behind [`attach_copy`]: it prints `loop <device>`.
fn attach_script(src: &Path, dom0_image: &str, read_only: bool) -> String {
    let dir = Path::new(dom0_image)
        .parent()
        .map(|p| p.display().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| ".".into());
    format!(
        "set -e\nmkdir -p {dir}\ncp {src} {dom0_image}\n\
         echo \"loop $(losetup -f --show {ro}{dom0_image})\"\n",
        src = src.display(),
        ro = if read_only { "-r " } else { "" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_makes_the_folder_copies_and_attaches() {
        let script = attach_script(Path::new("/share/tools/d.img"), "/run/x/g-0.img", false);
        assert_eq!(
            script,
            "set -e\nmkdir -p /run/x\ncp /share/tools/d.img /run/x/g-0.img\n\
             echo \"loop $(losetup -f --show /run/x/g-0.img)\"\n"
        );
        let ro = attach_script(Path::new("/s/d.img"), "/run/x/g-1.img", true);
        assert!(ro.contains("losetup -f --show -r /run/x/g-1.img"), "{ro}");
    }
}
