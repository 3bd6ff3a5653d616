//! Bringing the rump kernel up and attaching storage: `rump_init`,
//! `rump_pub_etfs_register` for block devices, and ext2 mounts
//! (`mount50("ext2fs")`, `unmount`).

use core::ffi::c_void;

use crate::abi::{UfsArgs, MNT_RDONLY, MOUNT_EXT2FS, RUMP_ETFS_BLK};
use crate::sys::{self, check, check_errno, cstring};
use crate::Result;

/// Boots the kernel (`rump_init`). Calling it again is harmless.
pub fn init() -> Result<()> {
    // SAFETY: no arguments.
    check_errno(unsafe { sys::rump_init() })
}

/// Registers the platform's block device `hostpath` (for rumpuser_open,
/// e.g. `xvda` on Xen or an image file when hosted) under `key` (e.g.
/// `/dev/xvda`), the name [`mount_ext2`] takes.
pub fn etfs_register_block(key: &str, hostpath: &str) -> Result<()> {
    let (key, host) = (cstring(key)?, cstring(hostpath)?);
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check_errno(unsafe { sys::rump_pub_etfs_register(key.as_ptr(), host.as_ptr(), RUMP_ETFS_BLK) })
}

/// Mounts the ext2 file system on the block device `dev_key` at `dir`.
pub fn mount_ext2(dev_key: &str, dir: &str, read_only: bool) -> Result<()> {
    let (key, dir) = (cstring(dev_key)?, cstring(dir)?);
    let mut args = UfsArgs {
        fspec: key.as_ptr(),
    };
    let flags = if read_only { MNT_RDONLY } else { 0 };
    // SAFETY: the strings are NUL-terminated; `args` is a live
    // `struct ufs_args` of the size given; all outlive the call.
    check(unsafe {
        sys::rump___sysimpl_mount50(
            MOUNT_EXT2FS.as_ptr(),
            dir.as_ptr(),
            flags,
            &mut args as *mut UfsArgs as *mut c_void,
            core::mem::size_of::<UfsArgs>(),
        )
    })
    .map(drop)
}

/// Unmounts the file system at `dir` (EBUSY while files are open).
pub fn unmount(dir: &str) -> Result<()> {
    let dir = cstring(dir)?;
    // SAFETY: a NUL-terminated string that outlives the call.
    check(unsafe { sys::rump___sysimpl_unmount(dir.as_ptr(), 0) }).map(drop)
}
