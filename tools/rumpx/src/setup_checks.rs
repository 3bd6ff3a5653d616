//! Checks of this machine before `rumpx run` starts a guest on its own Xen:
//! a dom0 without `xl`, not being root, a bridge that does not exist. Each
//! failure says how to fix it.

use crate::error::{Error, Result};
use crate::qemu::which;
use std::fs;
use std::path::Path;

/// Where a Xen kernel says what it is (`control_d` in dom0).
const CAPABILITIES: &str = "/proc/xen/capabilities";

/// Whether this machine is a Xen dom0: `/proc/xen/capabilities` says
/// `control_d` (with xenfs mounted) or, unmounted, `/proc/xen` exists.
pub fn is_dom0() -> bool {
    match fs::read_to_string(CAPABILITIES) {
        Ok(caps) => caps.contains("control_d"),
        Err(_) => false,
    }
}

/// An error for a dom0 whose toolstack is missing (`xl` not on PATH).
pub fn check_xl(xl_found: bool) -> Result<()> {
    if xl_found {
        return Ok(());
    }
    Err(Error::Setup(
        "this machine is a Xen dom0 but `xl` is not on PATH: install the Xen tools \
         (Debian: apt-get install xen-utils-4.17) or use --embedded for the test host"
            .into(),
    ))
}

/// An error unless the effective user is root (`euid`), as `xl` needs.
pub fn check_root(euid: u32) -> Result<()> {
    if euid == 0 {
        return Ok(());
    }
    Err(Error::Setup(
        "running guests with xl needs root (it opens /dev/xen/privcmd): run rumpx with sudo".into(),
    ))
}

/// An error unless `bridge` is a bridge device below `sys_class_net`
/// (normally `/sys/class/net`).
pub fn check_bridge(sys_class_net: &Path, bridge: &str) -> Result<()> {
    let dev = sys_class_net.join(bridge);
    if dev.join("bridge").is_dir() {
        return Ok(());
    }
    let what = if dev.exists() {
        "is a network device but not a bridge"
    } else {
        "does not exist"
    };
    Err(Error::Setup(format!(
        "bridge {bridge} {what}: create it (ip link add {bridge} type bridge; ip link set \
         {bridge} up) or name another with --net BRIDGE"
    )))
}

/// All checks for running on this machine's Xen with `bridges`.
pub fn check_local(bridges: &[&str]) -> Result<()> {
    check_xl(which("xl").is_some())?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    check_root(unsafe { libc::geteuid() })?;
    for bridge in bridges {
        check_bridge(Path::new("/sys/class/net"), bridge)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_says_how_to_fix_it() {
        let no_xl = check_xl(false).unwrap_err().to_string();
        assert!(no_xl.contains("xen-utils"), "{no_xl}");
        check_xl(true).unwrap();
        let not_root = check_root(1000).unwrap_err().to_string();
        assert!(not_root.contains("sudo"), "{not_root}");
        check_root(0).unwrap();
    }

    #[test]
    fn a_bridge_must_be_a_bridge() {
        let sys = std::env::temp_dir().join(format!("rumpx-sysnet-{}", std::process::id()));
        let _ = fs::remove_dir_all(&sys);
        fs::create_dir_all(sys.join("br0/bridge")).unwrap();
        fs::create_dir_all(sys.join("eth0")).unwrap();
        check_bridge(&sys, "br0").unwrap();
        let eth = check_bridge(&sys, "eth0").unwrap_err().to_string();
        assert!(eth.contains("not a bridge"), "{eth}");
        let none = check_bridge(&sys, "xenbr9").unwrap_err().to_string();
        assert!(none.contains("xenbr9 does not exist"), "{none}");
        assert!(none.contains("ip link add xenbr9 type bridge"), "{none}");
        fs::remove_dir_all(&sys).unwrap();
    }
}
