//! The metadata and directory `rump___sysimpl_*` calls: stat50,
//! lstat50, fstat50, getdents30, rmdir, truncate, ftruncate.

use core::ffi::{c_char, c_int, c_void};

use rumpuser_abi::client::Stat;
use rumpuser_abi::errno;

use super::cstr;
use super::sockets::{buf_mut, int, unit};
use crate::fd::File;
use crate::files;
use crate::kernel::syscall;
use crate::layout;

/// Stores `s` at the client's `sb`.
///
/// # Safety
/// `sb` null or writable for a `struct stat`.
unsafe fn put_stat(sb: *mut Stat, s: Stat) -> Result<(), i32> {
    if sb.is_null() {
        return Err(errno::EFAULT);
    }
    // SAFETY: the caller's contract; unaligned-safe.
    unsafe { sb.write_unaligned(s) };
    Ok(())
}

/// `int stat(const char *path, struct stat *sb)` (NetBSD's `stat50`).
///
/// # Safety
/// `path` NUL-terminated; `sb` writable for a `struct stat`.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_stat50(path: *const c_char, sb: *mut Stat) -> c_int {
    unit(syscall(|k| {
        // SAFETY: the caller's contract.
        let path = unsafe { cstr(path) }?;
        let s = files::stat(k, path)?;
        // SAFETY: the caller's contract.
        unsafe { put_stat(sb, s) }
    }))
}

/// `int lstat(const char *path, struct stat *sb)`: as `stat` (the file
/// system has no symbolic links).
///
/// # Safety
/// As for [`rump___sysimpl_stat50`].
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_lstat50(path: *const c_char, sb: *mut Stat) -> c_int {
    // SAFETY: the same contract.
    unsafe { rump___sysimpl_stat50(path, sb) }
}

/// `int fstat(int fd, struct stat *sb)`: a socket reports S_IFSOCK only.
///
/// # Safety
/// `sb` writable for a `struct stat`.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_fstat50(fd: c_int, sb: *mut Stat) -> c_int {
    unit(syscall(|k| {
        let s = match k.file(fd)? {
            File::Vnode(id) => files::fstat(k, id)?,
            File::Socket(_) => layout::socket_stat(),
        };
        // SAFETY: the caller's contract.
        unsafe { put_stat(sb, s) }
    }))
}

/// `int getdents(int fd, char *buf, size_t count)` (NetBSD's
/// `getdents30`): bytes of `struct dirent`s placed, 0 at the end.
///
/// # Safety
/// `b` writable for `count` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_getdents30(
    fd: c_int,
    b: *mut c_char,
    count: usize,
) -> c_int {
    int(syscall(|k| {
        let id = match k.file(fd)? {
            File::Vnode(id) => id,
            File::Socket(_) => return Err(errno::ENOTDIR),
        };
        // At most INT_MAX bytes: the result is an int.
        let count = count.min(c_int::MAX as usize);
        // SAFETY: the caller's contract.
        let b = unsafe { buf_mut(b as *mut c_void, count) }?;
        files::getdents(k, id, b).map(|n| n as c_int)
    }))
}

/// `int rmdir(const char *path)`.
///
/// # Safety
/// `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_rmdir(path: *const c_char) -> c_int {
    unit(syscall(|k| {
        // SAFETY: the caller's contract.
        let path = unsafe { cstr(path) }?;
        files::rmdir(k, path)
    }))
}

/// `int truncate(const char *path, off_t length)`.
///
/// # Safety
/// `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_truncate(path: *const c_char, length: i64) -> c_int {
    unit(syscall(|k| {
        // SAFETY: the caller's contract.
        let path = unsafe { cstr(path) }?;
        files::truncate(k, path, length)
    }))
}

/// `int ftruncate(int fd, off_t length)`: EINVAL unless open for
/// writing (or on a socket).
#[no_mangle]
pub extern "C" fn rump___sysimpl_ftruncate(fd: c_int, length: i64) -> c_int {
    unit(syscall(|k| match k.file(fd)? {
        File::Vnode(id) => files::ftruncate(k, id, length),
        File::Socket(_) => Err(errno::EINVAL),
    }))
}
