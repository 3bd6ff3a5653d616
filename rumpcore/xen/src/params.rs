//! `rumpuser_getparam` answers (NetBSD `rumpuser(3)`): `_RUMPUSER_NCPU` is
//! the one vCPU the platform schedules on, `_RUMPUSER_HOSTNAME` the
//! domain's name from xenstore, `RUMP_MEMLIMIT` the command line's value
//! or else the bytes of memory the guest has (the heap's frames, used and
//! free), and every other name a `key=value` word of the guest's command
//! line. Also the names the I/O hypercalls accept:
//! disks as `xvdX` or their vbd number, `virt` units as `N` (or `virtN`).
//! Pure logic, tested on the host.

use alloc::format;
use alloc::string::{String, ToString};
use core::ffi::c_int;
use rumpuser_abi::errno::{E2BIG, ENOENT};
use rumpuser_abi::{RUMPUSER_PARAM_HOSTNAME, RUMPUSER_PARAM_NCPU, RUMP_PARAM_MEMLIMIT};
use xen_platform::start_info::cmdline_option;

/// Virtual CPUs the rump kernel may use (the platform runs on one vCPU).
pub const NCPU: &str = "1";

/// What the platform knows that parameters answer with.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The domain's name.
    pub hostname: &'a str,
    /// The guest's command line.
    pub cmdline: &'a str,
    /// Bytes of memory the guest has (0: unknown).
    pub mem_bytes: u64,
}

/// The value of parameter `name`, or `None` (ENOENT).
pub fn lookup(name: &str, facts: &Facts<'_>) -> Option<String> {
    let (hostname, cmdline) = (facts.hostname, facts.cmdline);
    match name {
        RUMPUSER_PARAM_NCPU => Some(NCPU.to_string()),
        RUMPUSER_PARAM_HOSTNAME => Some(hostname.to_string()),
        RUMP_PARAM_MEMLIMIT => cmdline_option(cmdline, name)
            .map(ToString::to_string)
            .or_else(|| (facts.mem_bytes > 0).then(|| facts.mem_bytes.to_string())),
        "" => None,
        _ => cmdline_option(cmdline, name).map(ToString::to_string),
    }
}

/// Copies `value` and its NUL into `buf`; E2BIG (nothing written) when it
/// does not fit.
pub fn copy_out(value: &str, buf: &mut [u8]) -> Result<(), c_int> {
    let bytes = value.as_bytes();
    if bytes.len() >= buf.len() {
        return Err(E2BIG);
    }
    buf[..bytes.len()].copy_from_slice(bytes);
    buf[bytes.len()] = 0;
    Ok(())
}

/// [`lookup`] then [`copy_out`], as `rumpuser_getparam` answers.
pub fn getparam(name: &str, facts: &Facts<'_>, buf: &mut [u8]) -> c_int {
    match lookup(name, facts) {
        None => ENOENT,
        Some(v) => copy_out(&v, buf).err().unwrap_or(0),
    }
}

/// The name xl gives vbd number `id` (`51712` is `xvda`: major 202, 16
/// minors per disk); `None` for other numbering schemes.
pub fn vdev_name(id: &str) -> Option<String> {
    match id.parse::<u32>() {
        Ok(n) if n >> 8 == 202 && (n & 0xff) >> 4 < 26 => {
            Some(format!("xvd{}", char::from(b'a' + ((n & 0xff) >> 4) as u8)))
        }
        _ => None,
    }
}

/// Whether host path `path` names the vbd numbered `id`: `xvdX` (also as
/// `/dev/xvdX`) or the number itself.
pub fn path_names_vbd(path: &str, id: &str) -> bool {
    let path = path.strip_prefix("/dev/").unwrap_or(path);
    path == id || vdev_name(id).is_some_and(|n| n == path)
}

/// Whether `path` looks like a disk name this platform serves (`xvda` ..
/// `xvdz`, or a number).
pub fn is_disk_name(path: &str) -> bool {
    let path = path.strip_prefix("/dev/").unwrap_or(path);
    let b = path.as_bytes();
    (b.len() == 4 && path.starts_with("xvd") && b[3].is_ascii_lowercase())
        || (!b.is_empty() && b.iter().all(u8::is_ascii_digit))
}

/// The vif index of a `virt` unit: `"N"` or `"virtN"`.
pub fn virt_unit(unit: &str) -> Option<usize> {
    unit.strip_prefix("virt").unwrap_or(unit).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(hostname: &'a str, cmdline: &'a str) -> Facts<'a> {
        Facts {
            hostname,
            cmdline,
            mem_bytes: 0,
        }
    }

    #[test]
    fn params() {
        let cmd = "RUMP_VERBOSE=1 rumpx.x=2 RUMP_MEMLIMIT=64m flag";
        let f = facts("h", cmd);
        assert_eq!(lookup("_RUMPUSER_NCPU", &f).as_deref(), Some("1"));
        assert_eq!(
            lookup("_RUMPUSER_HOSTNAME", &facts("dom", cmd)).as_deref(),
            Some("dom")
        );
        assert_eq!(lookup("RUMP_VERBOSE", &f).as_deref(), Some("1"));
        assert_eq!(lookup("RUMP_MEMLIMIT", &f).as_deref(), Some("64m"));
        assert_eq!(lookup("RUMP_THREADS", &f), None);
        assert_eq!(lookup("", &f), None);
    }

    #[test]
    fn memlimit_defaults_to_the_guests_memory() {
        let known = Facts {
            mem_bytes: 10 << 20,
            ..facts("h", "flag")
        };
        assert_eq!(lookup("RUMP_MEMLIMIT", &known).as_deref(), Some("10485760"));
        let set = Facts {
            cmdline: "RUMP_MEMLIMIT=4m",
            ..known
        };
        assert_eq!(lookup("RUMP_MEMLIMIT", &set).as_deref(), Some("4m"));
        assert_eq!(lookup("RUMP_MEMLIMIT", &facts("h", "")), None);
    }

    #[test]
    fn copying_out() {
        let mut buf = [0xffu8; 4];
        assert_eq!(copy_out("abc", &mut buf), Ok(()));
        assert_eq!(&buf, b"abc\0");
        assert_eq!(copy_out("abcd", &mut buf), Err(E2BIG));
        assert_eq!(copy_out("", &mut []), Err(E2BIG));
        let mut buf = [0u8; 8];
        assert_eq!(getparam("nope", &facts("h", ""), &mut buf), ENOENT);
        assert_eq!(getparam("_RUMPUSER_NCPU", &facts("h", ""), &mut buf), 0);
        assert_eq!(&buf[..2], b"1\0");
        assert_eq!(
            getparam("_RUMPUSER_HOSTNAME", &facts("longer-than-8", ""), &mut buf),
            E2BIG
        );
    }

    #[test]
    fn disk_names() {
        assert_eq!(vdev_name("51712").as_deref(), Some("xvda"));
        assert_eq!(vdev_name("51728").as_deref(), Some("xvdb"));
        assert_eq!(vdev_name("768"), None);
        assert!(path_names_vbd("xvda", "51712"));
        assert!(path_names_vbd("/dev/xvdb", "51728"));
        assert!(path_names_vbd("51712", "51712"));
        assert!(!path_names_vbd("xvdb", "51712"));
        assert!(is_disk_name("xvdz") && is_disk_name("51712") && is_disk_name("/dev/xvda"));
        assert!(!is_disk_name("/tmp/disk.img") && !is_disk_name("xvd") && !is_disk_name(""));
    }

    #[test]
    fn virt_units() {
        assert_eq!(virt_unit("0"), Some(0));
        assert_eq!(virt_unit("virt3"), Some(3));
        assert_eq!(virt_unit("x"), None);
    }
}
