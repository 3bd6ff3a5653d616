//! The socket system calls with NetBSD semantics on rumpcore-net: a
//! blocking call sleeps (rump CPU released) until the stack reports new
//! events on its socket ([`crate::waits`]), a non-blocking one returns
//! EAGAIN/EINPROGRESS.

use alloc::vec::Vec;
use core::net::SocketAddr;

pub use rumpcore_net::consts::POLLNVAL;
use rumpcore_net::consts::{O_NONBLOCK, POLLERR, POLLHUP, POLLIN, POLLOUT};
use rumpcore_net::{Errno, PollOutcome, SocketHandle};
pub use rumpuser_abi::client::{F_GETFL, F_SETFL};
use rumpuser_abi::errno;

use crate::fd::File;
use crate::hyper;
use crate::kernel::{Kernel, State};

/// A handle no socket has: what a `poll` without sockets waits for.
const NO_SOCKET: SocketHandle = SocketHandle(u32::MAX);

fn e(x: Errno) -> i32 {
    x.0
}

/// Whether a poll gave socket `h` new events (its wake-up went out
/// before the caller waited: retry at once rather than sleep).
fn progressed(out: &PollOutcome, h: SocketHandle) -> bool {
    out.woken.contains(&h)
}

fn nonblocking(st: &State, h: SocketHandle) -> Result<bool, i32> {
    Ok(st.stack.fcntl_getfl(h).map_err(e)? & O_NONBLOCK != 0)
}

/// Runs `op` on socket `fd`, polling after it, and while it says EAGAIN
/// on a blocking socket, sleeps until the stack reports events.
fn blocking<T>(
    k: &Kernel,
    fd: i32,
    mut op: impl FnMut(&mut State, SocketHandle) -> Result<T, Errno>,
) -> Result<T, i32> {
    let mut st = k.state.lock();
    let h = st.fds.socket(fd)?;
    loop {
        match op(&mut st, h) {
            Err(Errno::EAGAIN) if !nonblocking(&st, h)? => {
                // The attempt changed nothing: sleep until a poll (the
                // network thread's or a call's) gives this socket events.
                // The mutex is held from the attempt to the wait, so no
                // wake-up is missed, and a retry costs no protocol run.
                k.wait_event(&mut st, &[h], None);
            }
            r => {
                k.poll(&mut st);
                return r.map_err(e);
            }
        }
    }
}

/// `socket(domain, type, protocol)`.
pub fn socket(k: &Kernel, domain: i32, ty: i32, _protocol: i32) -> Result<i32, i32> {
    let mut st = k.state.lock();
    let h = st.stack.socket(domain, ty).map_err(e)?;
    match st.fds.alloc(File::Socket(h)) {
        Ok(fd) => Ok(fd),
        Err(x) => {
            let _ = st.stack.close(h);
            Err(x)
        }
    }
}

/// `bind(fd, addr)`.
pub fn bind(k: &Kernel, fd: i32, addr: SocketAddr) -> Result<(), i32> {
    let mut st = k.state.lock();
    let h = st.fds.socket(fd)?;
    st.stack.bind(h, addr).map_err(e)
}

/// `listen(fd, backlog)`.
pub fn listen(k: &Kernel, fd: i32, backlog: i32) -> Result<(), i32> {
    let mut st = k.state.lock();
    let h = st.fds.socket(fd)?;
    st.stack.listen(h, backlog).map_err(e)?;
    k.poll(&mut st);
    Ok(())
}

/// `accept(fd)`: the new descriptor and the peer's address. As on BSD,
/// the new socket inherits the listener's O_NONBLOCK.
pub fn accept(k: &Kernel, fd: i32) -> Result<(i32, SocketAddr), i32> {
    let (h, peer) = blocking(k, fd, |st, h| st.stack.accept(h))?;
    let mut st = k.state.lock();
    if let Ok(lh) = st.fds.socket(fd) {
        if nonblocking(&st, lh).unwrap_or(false) {
            let _ = st.stack.fcntl_setfl(h, O_NONBLOCK);
        }
    }
    match st.fds.alloc(File::Socket(h)) {
        Ok(nfd) => Ok((nfd, peer)),
        Err(x) => {
            let _ = st.stack.close(h);
            Err(x)
        }
    }
}

/// `connect(fd, addr)`: a blocking socket waits for the handshake.
pub fn connect(k: &Kernel, fd: i32, addr: SocketAddr) -> Result<(), i32> {
    let mut st = k.state.lock();
    let h = st.fds.socket(fd)?;
    let r = st.stack.connect(h, addr);
    let mut out = k.poll(&mut st);
    match r {
        Ok(()) => return Ok(()),
        Err(Errno::EINPROGRESS) if !nonblocking(&st, h)? => {}
        Err(x) => return Err(x.0),
    }
    loop {
        if !progressed(&out, h) {
            k.wait_event(&mut st, &[h], None);
        }
        match st.stack.connect(h, addr) {
            Err(Errno::EALREADY) => {}
            Err(Errno::EISCONN) | Ok(()) => return Ok(()),
            Err(x) => return Err(x.0),
        }
        out = k.poll(&mut st);
    }
}

/// `read(fd, buf)` / `recvfrom(fd, buf)`: bytes read and the sender.
pub fn recvfrom(k: &Kernel, fd: i32, buf: &mut [u8]) -> Result<(usize, Option<SocketAddr>), i32> {
    blocking(k, fd, |st, h| st.stack.recvfrom(h, buf))
}

/// `write(fd, data)` / `sendto(fd, data, to)`: a blocking stream socket
/// sends everything (or up to an error after some progress).
pub fn sendto(k: &Kernel, fd: i32, data: &[u8], to: Option<SocketAddr>) -> Result<usize, i32> {
    let mut st = k.state.lock();
    let h = st.fds.socket(fd)?;
    let mut done = 0;
    loop {
        let r = st.stack.sendto(h, &data[done..], to);
        let out = k.poll(&mut st);
        match r {
            Ok(n) => {
                done += n;
                if done >= data.len() || to.is_some() {
                    return Ok(done);
                }
            }
            Err(Errno::EAGAIN) if !nonblocking(&st, h)? => {}
            Err(x) if done == 0 => return Err(x.0),
            Err(_) => return Ok(done),
        }
        if nonblocking(&st, h)? {
            return Ok(done);
        }
        if !progressed(&out, h) {
            k.wait_event(&mut st, &[h], None);
        }
    }
}

/// `shutdown(fd, how)`.
pub fn shutdown(k: &Kernel, fd: i32, how: i32) -> Result<(), i32> {
    let mut st = k.state.lock();
    let h = st.fds.socket(fd)?;
    st.stack.shutdown(h, how).map_err(e)?;
    k.poll(&mut st);
    Ok(())
}

/// `close(fd)`.
pub fn close(k: &Kernel, fd: i32) -> Result<(), i32> {
    let mut st = k.state.lock();
    match st.fds.remove(fd)? {
        File::Socket(h) => {
            st.stack.close(h).map_err(e)?;
            // Threads still blocked on it retry and find it gone (EBADF).
            st.waits.wake(&[h], false);
        }
        File::Vnode(id) => {
            drop(st);
            return crate::files::close(k, id);
        }
    }
    k.poll(&mut st);
    Ok(())
}

/// `setsockopt(fd, level, name, value)` (int-valued options).
pub fn setsockopt(k: &Kernel, fd: i32, level: i32, name: i32, value: i32) -> Result<(), i32> {
    let mut st = k.state.lock();
    let h = st.fds.socket(fd)?;
    st.stack.setsockopt(h, level, name, value).map_err(e)
}

/// `getsockname(fd)`.
pub fn getsockname(k: &Kernel, fd: i32) -> Result<SocketAddr, i32> {
    let st = k.state.lock();
    let h = st.fds.socket(fd)?;
    st.stack.getsockname(h).map_err(e)
}

/// `getpeername(fd)`: ENOTCONN unless connected.
pub fn getpeername(k: &Kernel, fd: i32) -> Result<SocketAddr, i32> {
    let st = k.state.lock();
    let h = st.fds.socket(fd)?;
    st.stack.getpeername(h).map_err(e)
}

/// `fcntl(fd, cmd, arg)`: F_GETFL and F_SETFL (O_NONBLOCK).
pub fn fcntl(k: &Kernel, fd: i32, cmd: i32, arg: core::ffi::c_long) -> Result<i32, i32> {
    let mut st = k.state.lock();
    let h = match st.fds.get(fd)? {
        File::Socket(h) => h,
        File::Vnode(id) => {
            drop(st);
            return match cmd {
                F_GETFL => crate::files::flags(k, id),
                F_SETFL => Ok(0),
                _ => Err(errno::EINVAL),
            };
        }
    };
    match cmd {
        F_GETFL => st.stack.fcntl_getfl(h).map_err(e),
        F_SETFL => st.stack.fcntl_setfl(h, arg as i32).map(|_| 0).map_err(e),
        _ => Err(errno::EINVAL),
    }
}

/// One `struct pollfd` request: descriptor and wanted events.
#[derive(Clone, Copy, Debug)]
pub struct PollReq {
    /// The descriptor (negative: ignored).
    pub fd: i32,
    /// Wanted events.
    pub events: u16,
}

/// `poll(fds, timeout_ms)`: the `revents` per entry once any is ready or
/// the timeout (negative: none) passed.
pub fn poll(k: &Kernel, reqs: &[PollReq], timeout_ms: i32) -> Result<Vec<u16>, i32> {
    let deadline = (timeout_ms >= 0).then(|| hyper::now_ns() + timeout_ms as u64 * 1_000_000);
    let mut st = k.state.lock();
    k.poll(&mut st);
    loop {
        let revents: Vec<u16> = reqs
            .iter()
            .map(|r| {
                if r.fd < 0 {
                    return 0;
                }
                match st.fds.get(r.fd) {
                    Err(_) => POLLNVAL,
                    Ok(File::Socket(h)) => match st.stack.ready(h) {
                        Ok(ev) => ev.0 & (r.events | POLLERR | POLLHUP),
                        Err(_) => POLLNVAL,
                    },
                    // Files never block.
                    Ok(File::Vnode(_)) => r.events & (POLLIN | POLLOUT),
                }
            })
            .collect();
        if revents.iter().any(|&r| r != 0) {
            return Ok(revents);
        }
        let on: Vec<SocketHandle> = reqs
            .iter()
            .filter_map(|r| match st.fds.get(r.fd) {
                Ok(File::Socket(h)) if r.fd >= 0 => Some(h),
                _ => None,
            })
            .collect();
        // No socket to wait for (only a timeout): `on` must not be empty,
        // which would mean "any event".
        let on = if on.is_empty() {
            &[NO_SOCKET][..]
        } else {
            &on[..]
        };
        if !k.wait_event(&mut st, on, deadline) {
            return Ok(revents);
        }
    }
}
