//! NetBSD's client ABI symbols (`rump_init`, `rump_pub_netconfig_*`,
//! `rump_pub_etfs_register`,
//! `rump___sysimpl_*`) and the kernel's `rump_virtif_virt_deliverpkt`:
//! the only place where client pointers are turned into Rust values.

mod files;
mod fsmeta;
mod init;
mod ioctl;
mod netconfig;
mod sockets;

use core::ffi::{c_char, CStr};
use core::net::SocketAddr;

use rumpcore_net::sockaddr;
use rumpuser_abi::errno;

/// `socklen_t`.
pub type Socklen = u32;

/// A client's C string as UTF-8 (EFAULT for null, EINVAL for non-UTF-8).
///
/// # Safety
/// `p` is null or NUL-terminated and alive for the call.
unsafe fn cstr<'a>(p: *const c_char) -> Result<&'a str, i32> {
    if p.is_null() {
        return Err(errno::EFAULT);
    }
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| errno::EINVAL)
}

/// A client's `struct sockaddr` of `len` bytes.
///
/// # Safety
/// `p` is null or readable for `len` bytes.
unsafe fn sockaddr_in(p: *const u8, len: Socklen) -> Result<SocketAddr, i32> {
    if p.is_null() {
        return Err(errno::EFAULT);
    }
    // SAFETY: the caller's contract.
    let b = unsafe { core::slice::from_raw_parts(p, len as usize) };
    sockaddr::decode(b).map_err(|e| e.0)
}

/// Stores `addr` into a client's (`p`, `*lenp`) buffer, truncating, and
/// sets `*lenp` to the full length; both null means "not wanted".
///
/// # Safety
/// `lenp` null or writable; `p` null or writable for `*lenp` bytes.
unsafe fn sockaddr_out(addr: &SocketAddr, p: *mut u8, lenp: *mut Socklen) -> Result<(), i32> {
    if p.is_null() || lenp.is_null() {
        return if p.is_null() && lenp.is_null() {
            Ok(())
        } else {
            Err(errno::EFAULT)
        };
    }
    // SAFETY: the caller's contract.
    let len = unsafe { *lenp } as usize;
    // SAFETY: as above: `len` writable bytes at `p`.
    let out = unsafe { core::slice::from_raw_parts_mut(p, len) };
    let full = sockaddr::encode(addr, out);
    // SAFETY: as above.
    unsafe { *lenp = full as Socklen };
    Ok(())
}
