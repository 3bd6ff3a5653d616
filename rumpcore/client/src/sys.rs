//! The C symbols of NetBSD's rump kernel client ABI (`rump_init`,
//! `rump_pub_*`, `rump___sysimpl_*`) plus the platform's
//! `rumpuser_geterrno`, and the conversions of their results: the only
//! place that declares them. Public so tests can call a kernel as a C
//! client does; everyone else uses the safe modules.

use alloc::ffi::CString;
use core::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};

use crate::abi::{PollFd, Stat};
use crate::{Error, Result};

extern "C" {
    /// Boots the kernel: 0 or an errno number.
    pub fn rump_init() -> c_int;
    /// Registers host path `hostpath` as kernel device `key` of type `ty` (`RUMP_ETFS_BLK`).
    pub fn rump_pub_etfs_register(key: *const c_char, hostpath: *const c_char, ty: c_int) -> c_int;
    /// Creates interface `ifname` (`virtN`).
    pub fn rump_pub_netconfig_ifcreate(ifname: *const c_char) -> c_int;
    /// Brings interface `ifname` up.
    pub fn rump_pub_netconfig_ifup(ifname: *const c_char) -> c_int;
    /// Gives `ifname` IPv4 address `addr` with dotted netmask `mask`.
    pub fn rump_pub_netconfig_ipv4_ifaddr(
        ifname: *const c_char,
        addr: *const c_char,
        mask: *const c_char,
    ) -> c_int;
    /// Gives `ifname` IPv4 address `addr`/`prefixlen`.
    pub fn rump_pub_netconfig_ipv4_ifaddr_cidr(
        ifname: *const c_char,
        addr: *const c_char,
        prefixlen: c_int,
    ) -> c_int;
    /// Sets the IPv4 default gateway.
    pub fn rump_pub_netconfig_ipv4_gw(addr: *const c_char) -> c_int;
    /// Gives `ifname` IPv6 address `addr`/`prefixlen`.
    pub fn rump_pub_netconfig_ipv6_ifaddr(
        ifname: *const c_char,
        addr: *const c_char,
        prefixlen: c_int,
    ) -> c_int;
    /// Configures `ifname` by one DHCPv4 exchange.
    pub fn rump_pub_netconfig_dhcp_ipv4_oneshot(ifname: *const c_char) -> c_int;

    /// `socket(2)`.
    pub fn rump___sysimpl_socket30(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
    /// `bind(2)`.
    pub fn rump___sysimpl_bind(s: c_int, name: *const u8, namelen: u32) -> c_int;
    /// `listen(2)`.
    pub fn rump___sysimpl_listen(s: c_int, backlog: c_int) -> c_int;
    /// `accept(2)`.
    pub fn rump___sysimpl_accept(s: c_int, name: *mut u8, anamelen: *mut u32) -> c_int;
    /// `connect(2)`.
    pub fn rump___sysimpl_connect(s: c_int, name: *const u8, namelen: u32) -> c_int;
    /// `read(2)`.
    pub fn rump___sysimpl_read(fd: c_int, buf: *mut c_void, nbyte: usize) -> isize;
    /// `write(2)`.
    pub fn rump___sysimpl_write(fd: c_int, buf: *const c_void, nbyte: usize) -> isize;
    /// `sendto(2)`.
    pub fn rump___sysimpl_sendto(
        s: c_int,
        buf: *const c_void,
        len: usize,
        flags: c_int,
        to: *const u8,
        tolen: u32,
    ) -> isize;
    /// `recvfrom(2)`.
    pub fn rump___sysimpl_recvfrom(
        s: c_int,
        buf: *mut c_void,
        len: usize,
        flags: c_int,
        from: *mut u8,
        fromlen: *mut u32,
    ) -> isize;
    /// `shutdown(2)`.
    pub fn rump___sysimpl_shutdown(s: c_int, how: c_int) -> c_int;
    /// `close(2)`.
    pub fn rump___sysimpl_close(fd: c_int) -> c_int;
    /// `setsockopt(2)`.
    pub fn rump___sysimpl_setsockopt(
        s: c_int,
        level: c_int,
        name: c_int,
        val: *const c_void,
        valsize: u32,
    ) -> c_int;
    /// `getsockname(2)`.
    pub fn rump___sysimpl_getsockname(fd: c_int, asa: *mut u8, alen: *mut u32) -> c_int;
    /// `getpeername(2)`.
    pub fn rump___sysimpl_getpeername(fd: c_int, asa: *mut u8, alen: *mut u32) -> c_int;
    /// `fcntl(2)`; the third argument is a [`FcntlArg`].
    pub fn rump___sysimpl_fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    /// `poll(2)`.
    pub fn rump___sysimpl_poll(fds: *mut PollFd, nfds: c_uint, timeout: c_int) -> c_int;
    /// `ioctl(2)`; `data` is the argument `cmd` names (e.g. a
    /// [`IfReq`](crate::abi::IfReq) for `SIOCGIFADDR`).
    pub fn rump___sysimpl_ioctl(fd: c_int, cmd: c_ulong, data: *mut c_void) -> c_int;

    /// `mount(2)`.
    pub fn rump___sysimpl_mount50(
        ty: *const c_char,
        dir: *const c_char,
        flags: c_int,
        data: *mut c_void,
        data_len: usize,
    ) -> c_int;
    /// `unmount(2)`.
    pub fn rump___sysimpl_unmount(dir: *const c_char, flags: c_int) -> c_int;
    /// `open(2)`; the mode (with `O_CREAT`) is a C `int`.
    pub fn rump___sysimpl_open(path: *const c_char, flags: c_int, ...) -> c_int;
    /// `pread(2)`.
    pub fn rump___sysimpl_pread(fd: c_int, buf: *mut c_void, nbyte: usize, off: i64) -> isize;
    /// `pwrite(2)`.
    pub fn rump___sysimpl_pwrite(fd: c_int, buf: *const c_void, nbyte: usize, off: i64) -> isize;
    /// `lseek(2)`.
    pub fn rump___sysimpl_lseek(fd: c_int, off: i64, whence: c_int) -> i64;
    /// `fsync(2)`.
    pub fn rump___sysimpl_fsync(fd: c_int) -> c_int;
    /// `truncate(2)`.
    pub fn rump___sysimpl_truncate(path: *const c_char, length: i64) -> c_int;
    /// `ftruncate(2)`.
    pub fn rump___sysimpl_ftruncate(fd: c_int, length: i64) -> c_int;
    /// `fstat(2)`.
    pub fn rump___sysimpl_fstat50(fd: c_int, sb: *mut Stat) -> c_int;
    /// `stat(2)`.
    pub fn rump___sysimpl_stat50(path: *const c_char, sb: *mut Stat) -> c_int;
    /// `lstat(2)`.
    pub fn rump___sysimpl_lstat50(path: *const c_char, sb: *mut Stat) -> c_int;
    /// `getdents(2)`: packed `struct dirent` records.
    pub fn rump___sysimpl_getdents30(fd: c_int, buf: *mut c_char, count: usize) -> c_int;
    /// `mkdir(2)`.
    pub fn rump___sysimpl_mkdir(path: *const c_char, mode: u32) -> c_int;
    /// `rmdir(2)`.
    pub fn rump___sysimpl_rmdir(path: *const c_char) -> c_int;
    /// `unlink(2)`.
    pub fn rump___sysimpl_unlink(path: *const c_char) -> c_int;
    /// `rename(2)`.
    pub fn rump___sysimpl_rename(from: *const c_char, to: *const c_char) -> c_int;

    fn rumpuser_geterrno() -> c_int;
}

/// `fcntl`'s third argument (passed as a `long`).
pub type FcntlArg = c_long;

/// The errno the kernel set on this thread for its last failed call.
fn last_errno() -> Error {
    // SAFETY: reads the calling thread's errno slot; no arguments.
    Error::Errno(unsafe { rumpuser_geterrno() })
}

/// A `rump___sysimpl_*` result: -1 means "see errno".
pub fn check(r: c_int) -> Result<c_int> {
    if r == -1 {
        Err(last_errno())
    } else {
        Ok(r)
    }
}

/// A byte count (`ssize_t`) or "see errno".
pub fn check_size(r: isize) -> Result<usize> {
    usize::try_from(r).map_err(|_| last_errno())
}

/// An offset (`off_t`) or "see errno".
pub fn check_off(r: i64) -> Result<u64> {
    u64::try_from(r).map_err(|_| last_errno())
}

/// A `rump_init`/`rump_pub_*` result: 0 or an errno number.
pub fn check_errno(r: c_int) -> Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(Error::Errno(r))
    }
}

/// `s` as a C string.
pub fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::InteriorNul)
}
