//! `rump___sysimpl_ioctl`: NetBSD's `ioctl(2)` on descriptors, with
//! `SIOCGIFADDR` (an interface's IPv4 address) and `FIONBIO` on sockets.

use core::ffi::{c_int, c_ulong, c_void};

use rumpuser_abi::client::{IfReq, FIONBIO, O_NONBLOCK, SIOCGIFADDR};
use rumpuser_abi::errno;

use super::sockets::unit;
use crate::fd::File;
use crate::kernel::{syscall, Kernel};
use crate::netif;
use crate::sockcalls::{self, F_GETFL, F_SETFL};

/// `int ioctl(int fd, u_long cmd, void *data)`: EBADF for a closed
/// descriptor, ENOTTY for a command the descriptor does not know,
/// EFAULT for a null `data`.
///
/// # Safety
/// `data` null or valid for the argument `cmd` names (`struct ifreq`
/// for `SIOCGIFADDR`, `int` for `FIONBIO`).
#[no_mangle]
pub unsafe extern "C" fn rump___sysimpl_ioctl(fd: c_int, cmd: c_ulong, data: *mut c_void) -> c_int {
    unit(syscall(|k| {
        let file = k.file(fd)?;
        if data.is_null() && (cmd == SIOCGIFADDR || cmd == FIONBIO) {
            return Err(errno::EFAULT);
        }
        match (cmd, file) {
            (SIOCGIFADDR, File::Socket(_)) => {
                let p = data as *mut IfReq;
                // SAFETY: the caller's contract: a `struct ifreq` (read
                // unaligned: C callers may pack it anywhere).
                let mut req = unsafe { p.read_unaligned() };
                siocgifaddr(k, &mut req)?;
                // SAFETY: as above, writable.
                unsafe { p.write_unaligned(req) };
                Ok(())
            }
            (FIONBIO, _) => {
                // SAFETY: the caller's contract: an `int`.
                let on = unsafe { (data as *const c_int).read_unaligned() } != 0;
                fionbio(k, fd, on)
            }
            _ => Err(errno::ENOTTY),
        }
    }))
}

/// Fills `req`'s address with its interface's first IPv4 address.
fn siocgifaddr(k: &Kernel, req: &mut IfReq) -> Result<(), i32> {
    let name = req.name().ok_or(errno::ENXIO)?;
    let addr = netif::ipv4_addr(k, name)?;
    req.set_addr_v4(addr);
    Ok(())
}

/// Sets or clears `O_NONBLOCK` as `fcntl(F_SETFL)` does.
fn fionbio(k: &Kernel, fd: c_int, on: bool) -> Result<(), i32> {
    let fl = sockcalls::fcntl(k, fd, F_GETFL, 0)?;
    let fl = if on {
        fl | O_NONBLOCK
    } else {
        fl & !O_NONBLOCK
    };
    sockcalls::fcntl(k, fd, F_SETFL, fl.into()).map(|_| ())
}
