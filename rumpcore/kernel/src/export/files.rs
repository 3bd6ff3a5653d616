//! `rump_pub_etfs_register` and the file `rump___sysimpl_*` calls:
//! mount50, unmount, open, pread, pwrite, lseek, fsync, mkdir, unlink,
//! rename (read, write and close are shared with sockets).

use core::ffi::{c_char, c_int, c_void};

use rumpuser_abi::errno;

use super::cstr;
use super::sockets::{buf, buf_mut, int, ssize, unit};
use crate::fd::File;
use crate::files;
use crate::kernel::{ret, syscall, Kernel};

/// The open file behind `fd` (EBADF for none, ESPIPE for a socket).
fn vnode(k: &Kernel, fd: c_int) -> Result<u32, i32> {
    match k.file(fd)? {
        File::Vnode(id) => Ok(id),
        File::Socket(_) => Err(errno::ESPIPE),
    }
}

/// `int rump_pub_etfs_register(const char *key, const char *hostpath,
/// int type)`: 0 or an errno number; type RUMP_ETFS_BLK (1) only.
///
/// # Safety
/// Both strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump_pub_etfs_register(
    key: *const c_char,
    hostpath: *const c_char,
    ty: c_int,
) -> c_int {
    let r = syscall(|k| {
        // SAFETY: the caller's contract.
        let (key, host) = unsafe { (cstr(key)?, cstr(hostpath)?) };
        files::etfs_register(k, key, host, ty)
    });
    r.err().unwrap_or(0)
}

/// `int mount(const char *type, const char *dir, int flags, void *data,
/// size_t data_len)`: "ext2fs", `data` begins with `char *fspec` naming
/// an etfs key.
///
/// # Safety
/// Strings NUL-terminated; `data` readable for `data_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_mount50(
    ty: *const c_char,
    dir: *const c_char,
    flags: c_int,
    data: *mut c_void,
    data_len: usize,
) -> c_int {
    unit(syscall(|k| {
        if data.is_null() || data_len < core::mem::size_of::<*const c_char>() {
            return Err(errno::EINVAL);
        }
        // SAFETY: the caller's contract: `data` starts with a pointer to
        // a NUL-terminated device name.
        let (ty, dir, fspec) = unsafe {
            let fspec = (data as *const *const c_char).read_unaligned();
            (cstr(ty)?, cstr(dir)?, cstr(fspec)?)
        };
        files::mount(k, ty, dir, flags, fspec)
    }))
}

/// `int unmount(const char *dir, int flags)`.
///
/// # Safety
/// `dir` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_unmount(dir: *const c_char, _flags: c_int) -> c_int {
    unit(syscall(|k| {
        // SAFETY: the caller's contract.
        let dir = unsafe { cstr(dir) }?;
        files::unmount(k, dir)
    }))
}

/// `int open(const char *path, int flags, ...)`: the mode is read as the
/// third integer argument (x86-64 System V passes it that way).
///
/// # Safety
/// `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_open(
    path: *const c_char,
    flags: c_int,
    mode: c_int,
) -> c_int {
    int(syscall(|k| {
        // SAFETY: the caller's contract.
        let path = unsafe { cstr(path) }?;
        files::open(k, path, flags, mode as u32)
    }))
}

/// `ssize_t pread(int fd, void *buf, size_t nbyte, off_t offset)`.
///
/// # Safety
/// `b` writable for `nbyte` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_pread(
    fd: c_int,
    b: *mut c_void,
    nbyte: usize,
    offset: i64,
) -> isize {
    ssize(syscall(|k| {
        let off = u64::try_from(offset).map_err(|_| errno::EINVAL)?;
        let id = vnode(k, fd)?;
        // SAFETY: the caller's contract.
        let b = unsafe { buf_mut(b, nbyte) }?;
        files::read(k, id, b, Some(off))
    }))
}

/// `ssize_t pwrite(int fd, const void *buf, size_t nbyte, off_t offset)`.
///
/// # Safety
/// `b` readable for `nbyte` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_pwrite(
    fd: c_int,
    b: *const c_void,
    nbyte: usize,
    offset: i64,
) -> isize {
    ssize(syscall(|k| {
        let off = u64::try_from(offset).map_err(|_| errno::EINVAL)?;
        let id = vnode(k, fd)?;
        // SAFETY: the caller's contract.
        let b = unsafe { buf(b, nbyte) }?;
        files::write(k, id, b, Some(off))
    }))
}

/// `off_t lseek(int fd, off_t offset, int whence)`.
#[no_mangle]
pub extern "C" fn rump___sysimpl_lseek(fd: c_int, offset: i64, whence: c_int) -> i64 {
    ret(syscall(|k| files::lseek(k, vnode(k, fd)?, offset, whence)))
}

/// `int fsync(int fd)`.
#[no_mangle]
pub extern "C" fn rump___sysimpl_fsync(fd: c_int) -> c_int {
    unit(syscall(|k| match k.file(fd)? {
        File::Vnode(id) => files::fsync(k, id),
        File::Socket(_) => Err(errno::EINVAL),
    }))
}

/// `int mkdir(const char *path, mode_t mode)`.
///
/// # Safety
/// `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_mkdir(path: *const c_char, mode: u32) -> c_int {
    unit(syscall(|k| {
        // SAFETY: the caller's contract.
        let path = unsafe { cstr(path) }?;
        files::mkdir(k, path, mode)
    }))
}

/// `int unlink(const char *path)`.
///
/// # Safety
/// `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_unlink(path: *const c_char) -> c_int {
    unit(syscall(|k| {
        // SAFETY: the caller's contract.
        let path = unsafe { cstr(path) }?;
        files::unlink(k, path)
    }))
}

/// `int rename(const char *from, const char *to)`.
///
/// # Safety
/// Both NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_rename(from: *const c_char, to: *const c_char) -> c_int {
    unit(syscall(|k| {
        // SAFETY: the caller's contract.
        let (from, to) = unsafe { (cstr(from)?, cstr(to)?) };
        files::rename(k, from, to)
    }))
}
