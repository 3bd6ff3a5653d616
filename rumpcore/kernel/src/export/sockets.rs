//! `rump___sysimpl_*` socket calls (NetBSD's symbol names): each returns
//! -1 and sets errno (`rumpuser_seterrno`) on failure. `read`, `write`
//! and `close` also serve open files.

use alloc::vec::Vec;
use core::ffi::{c_int, c_long, c_uint, c_void};

use rumpuser_abi::client::PollFd;
use rumpuser_abi::errno;

use super::{sockaddr_in, sockaddr_out, Socklen};
use crate::fd::File;
use crate::files;
use crate::kernel::{ret, syscall};
use crate::sockcalls::{self, PollReq};

pub(super) fn int(r: Result<c_int, i32>) -> c_int {
    ret(r) as c_int
}

pub(super) fn unit(r: Result<(), i32>) -> c_int {
    int(r.map(|()| 0))
}

pub(super) fn ssize(r: Result<usize, i32>) -> isize {
    ret(r.map(|n| n as i64)) as isize
}

/// A client buffer as a byte slice (EFAULT for null with a length).
///
/// # Safety
/// `p` null or readable for `len` bytes.
pub(super) unsafe fn buf<'a>(p: *const c_void, len: usize) -> Result<&'a [u8], i32> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(errno::EFAULT);
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(p as *const u8, len) })
}

/// A writable client buffer.
///
/// # Safety
/// `p` null or writable for `len` bytes.
pub(super) unsafe fn buf_mut<'a>(p: *mut c_void, len: usize) -> Result<&'a mut [u8], i32> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(errno::EFAULT);
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(p as *mut u8, len) })
}

/// `int socket(int domain, int type, int protocol)`.
#[no_mangle]
pub extern "C" fn rump___sysimpl_socket30(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    int(syscall(|k| sockcalls::socket(k, domain, ty, protocol)))
}

/// `int bind(int s, const struct sockaddr *name, socklen_t namelen)`.
///
/// # Safety
/// `name` readable for `namelen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_bind(s: c_int, name: *const u8, namelen: Socklen) -> c_int {
    unit(syscall(|k| {
        // SAFETY: the caller's contract.
        let a = unsafe { sockaddr_in(name, namelen) }?;
        sockcalls::bind(k, s, a)
    }))
}

/// `int listen(int s, int backlog)`.
#[no_mangle]
pub extern "C" fn rump___sysimpl_listen(s: c_int, backlog: c_int) -> c_int {
    unit(syscall(|k| sockcalls::listen(k, s, backlog)))
}

/// `int accept(int s, struct sockaddr *name, socklen_t *anamelen)`.
///
/// # Safety
/// `name`/`anamelen` both null, or `anamelen` writable and `name`
/// writable for `*anamelen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_accept(
    s: c_int,
    name: *mut u8,
    anamelen: *mut Socklen,
) -> c_int {
    int(syscall(|k| {
        let (fd, peer) = sockcalls::accept(k, s)?;
        // SAFETY: the caller's contract.
        unsafe { sockaddr_out(&peer, name, anamelen) }?;
        Ok(fd)
    }))
}

/// `int connect(int s, const struct sockaddr *name, socklen_t namelen)`.
///
/// # Safety
/// `name` readable for `namelen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_connect(
    s: c_int,
    name: *const u8,
    namelen: Socklen,
) -> c_int {
    unit(syscall(|k| {
        // SAFETY: the caller's contract.
        let a = unsafe { sockaddr_in(name, namelen) }?;
        sockcalls::connect(k, s, a)
    }))
}

/// `ssize_t read(int fd, void *buf, size_t nbyte)`.
///
/// # Safety
/// `b` writable for `nbyte` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_read(fd: c_int, b: *mut c_void, nbyte: usize) -> isize {
    ssize(syscall(|k| {
        // SAFETY: the caller's contract.
        let b = unsafe { buf_mut(b, nbyte) }?;
        match k.file(fd)? {
            File::Vnode(id) => files::read(k, id, b, None),
            File::Socket(_) => sockcalls::recvfrom(k, fd, b).map(|(n, _)| n),
        }
    }))
}

/// `ssize_t write(int fd, const void *buf, size_t nbyte)`.
///
/// # Safety
/// `b` readable for `nbyte` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_write(fd: c_int, b: *const c_void, nbyte: usize) -> isize {
    ssize(syscall(|k| {
        // SAFETY: the caller's contract.
        let b = unsafe { buf(b, nbyte) }?;
        match k.file(fd)? {
            File::Vnode(id) => files::write(k, id, b, None),
            File::Socket(_) => sockcalls::sendto(k, fd, b, None),
        }
    }))
}

/// `ssize_t sendto(int s, const void *buf, size_t len, int flags,
/// const struct sockaddr *to, socklen_t tolen)` (flags ignored).
///
/// # Safety
/// `b` readable for `len` bytes; `to` null or readable for `tolen`.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_sendto(
    s: c_int,
    b: *const c_void,
    len: usize,
    _flags: c_int,
    to: *const u8,
    tolen: Socklen,
) -> isize {
    ssize(syscall(|k| {
        // SAFETY: the caller's contract.
        let b = unsafe { buf(b, len) }?;
        let to = if to.is_null() {
            None
        } else {
            // SAFETY: the caller's contract.
            Some(unsafe { sockaddr_in(to, tolen) }?)
        };
        sockcalls::sendto(k, s, b, to)
    }))
}

/// `ssize_t recvfrom(int s, void *buf, size_t len, int flags,
/// struct sockaddr *from, socklen_t *fromlenaddr)` (flags ignored).
///
/// # Safety
/// `b` writable for `len` bytes; `from`/`fromlenaddr` as for accept.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_recvfrom(
    s: c_int,
    b: *mut c_void,
    len: usize,
    _flags: c_int,
    from: *mut u8,
    fromlenaddr: *mut Socklen,
) -> isize {
    ssize(syscall(|k| {
        // SAFETY: the caller's contract.
        let b = unsafe { buf_mut(b, len) }?;
        let (n, peer) = sockcalls::recvfrom(k, s, b)?;
        match peer {
            // SAFETY: the caller's contract.
            Some(p) => unsafe { sockaddr_out(&p, from, fromlenaddr) }?,
            None if !fromlenaddr.is_null() => {
                // SAFETY: the caller's contract.
                unsafe { *fromlenaddr = 0 };
            }
            None => {}
        }
        Ok(n)
    }))
}

/// `int shutdown(int s, int how)`.
#[no_mangle]
pub extern "C" fn rump___sysimpl_shutdown(s: c_int, how: c_int) -> c_int {
    unit(syscall(|k| sockcalls::shutdown(k, s, how)))
}

/// `int close(int fd)`.
#[no_mangle]
pub extern "C" fn rump___sysimpl_close(fd: c_int) -> c_int {
    unit(syscall(|k| sockcalls::close(k, fd)))
}

/// `int setsockopt(int s, int level, int name, const void *val,
/// socklen_t valsize)`: int-valued options.
///
/// # Safety
/// `val` readable for `valsize` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_setsockopt(
    s: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    valsize: Socklen,
) -> c_int {
    unit(syscall(|k| {
        // SAFETY: the caller's contract.
        let v = unsafe { buf(val, valsize as usize) }?;
        let v: [u8; 4] = v
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(errno::EINVAL)?;
        sockcalls::setsockopt(k, s, level, name, i32::from_ne_bytes(v))
    }))
}

/// `int getsockname(int fdes, struct sockaddr *asa, socklen_t *alen)`.
///
/// # Safety
/// `alen` writable, `asa` writable for `*alen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_getsockname(
    fdes: c_int,
    asa: *mut u8,
    alen: *mut Socklen,
) -> c_int {
    unit(syscall(|k| {
        let a = sockcalls::getsockname(k, fdes)?;
        if asa.is_null() || alen.is_null() {
            return Err(errno::EFAULT);
        }
        // SAFETY: the caller's contract.
        unsafe { sockaddr_out(&a, asa, alen) }
    }))
}

/// `int getpeername(int fdes, struct sockaddr *asa, socklen_t *alen)`.
///
/// # Safety
/// `alen` writable, `asa` writable for `*alen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_getpeername(
    fdes: c_int,
    asa: *mut u8,
    alen: *mut Socklen,
) -> c_int {
    unit(syscall(|k| {
        let a = sockcalls::getpeername(k, fdes)?;
        if asa.is_null() || alen.is_null() {
            return Err(errno::EFAULT);
        }
        // SAFETY: the caller's contract.
        unsafe { sockaddr_out(&a, asa, alen) }
    }))
}

/// `int fcntl(int fd, int cmd, ...)`: F_GETFL (3) and F_SETFL (4) with
/// O_NONBLOCK (0x4). The variadic argument is read as the third integer
/// argument (the x86-64 System V convention passes it the same way).
#[no_mangle]
pub extern "C" fn rump___sysimpl_fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    int(syscall(|k| sockcalls::fcntl(k, fd, cmd, arg)))
}

/// `int poll(struct pollfd *fds, u_int nfds, int timeout)`: the number of
/// entries with events, 0 on timeout (milliseconds; negative: none).
///
/// # Safety
/// `fds` readable and writable for `nfds` entries.
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_poll(
    fds: *mut PollFd,
    nfds: c_uint,
    timeout: c_int,
) -> c_int {
    int(syscall(|k| {
        if nfds > 0 && fds.is_null() {
            return Err(errno::EFAULT);
        }
        if nfds as usize > crate::fd::FD_MAX {
            return Err(errno::EINVAL);
        }
        let fds = if nfds == 0 {
            &mut [][..]
        } else {
            // SAFETY: the caller's contract.
            unsafe { core::slice::from_raw_parts_mut(fds, nfds as usize) }
        };
        let reqs: Vec<PollReq> = fds
            .iter()
            .map(|p| PollReq {
                fd: p.fd,
                events: p.events as u16,
            })
            .collect();
        let rev = sockcalls::poll(k, &reqs, timeout)?;
        let mut n = 0;
        for (p, r) in fds.iter_mut().zip(rev) {
            p.revents = r as i16;
            n += c_int::from(r != 0);
        }
        Ok(n)
    }))
}
