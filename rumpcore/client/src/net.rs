//! Sockets over the kernel's socket calls (`socket30`, `bind`, `listen`,
//! `accept`, `connect`, `read`/`write`, `sendto`/`recvfrom`, `shutdown`,
//! `setsockopt`, `getsockname`/`getpeername`, `fcntl`, `poll`) with
//! std-like types: [`TcpListener`], [`TcpStream`], [`UdpSocket`], [`poll`].
//! Each closes its descriptor on drop.

use core::ffi::c_void;
use core::net::SocketAddr;

pub use crate::abi::{PollFd, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI};
use crate::abi::{
    SockaddrBuf, AF_INET, AF_INET6, F_GETFL, F_SETFL, IPPROTO_TCP, O_NONBLOCK, SHUT_RD, SHUT_RDWR,
    SHUT_WR, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, TCP_NODELAY,
};
use crate::fd::{write_all_with, OwnedFd, RawFd};
use crate::sys::{self, check, check_size, FcntlArg};
use crate::{Error, Result};

/// The listen backlog [`TcpListener::bind`] uses.
pub const DEFAULT_BACKLOG: i32 = 128;

/// Which directions [`TcpStream::shutdown`] closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// No more reading.
    Read,
    /// No more writing (the peer sees end of stream).
    Write,
    /// Both.
    Both,
}

/// A socket descriptor and the calls every kind shares.
#[derive(Debug)]
struct Socket(OwnedFd);

/// Which `getsockname`-like call to make.
type NameCall = unsafe extern "C" fn(i32, *mut u8, *mut u32) -> i32;

impl Socket {
    fn new(addr: &SocketAddr, ty: i32) -> Result<Socket> {
        let domain = if addr.is_ipv4() { AF_INET } else { AF_INET6 };
        // SAFETY: plain integers.
        let fd = check(unsafe { sys::rump___sysimpl_socket30(domain, ty, 0) })?;
        Ok(Socket(OwnedFd::new(fd)))
    }

    fn fd(&self) -> RawFd {
        self.0.raw()
    }

    fn bind(&self, addr: &SocketAddr) -> Result<()> {
        let (sa, len) = SockaddrBuf::encode(addr);
        // SAFETY: `sa` holds `len` readable bytes for the call.
        check(unsafe { sys::rump___sysimpl_bind(self.fd(), sa.bytes.as_ptr(), len) }).map(drop)
    }

    fn setsockopt(&self, level: i32, name: i32, value: i32) -> Result<()> {
        let v = &value as *const i32 as *const c_void;
        // SAFETY: `v` points at a live int of the size given.
        check(unsafe { sys::rump___sysimpl_setsockopt(self.fd(), level, name, v, 4) }).map(drop)
    }

    fn name(&self, call: NameCall) -> Result<SocketAddr> {
        let what = "socket address of an unknown family";
        with_addr_out(what, |sa, len| {
            // SAFETY: `sa` is writable for `*len` bytes and `len` is
            // writable; `call` is one of the client ABI's name calls.
            check(unsafe { call(self.fd(), sa, len) })
        })
        .map(|(_, a)| a)
    }

    fn local_addr(&self) -> Result<SocketAddr> {
        self.name(sys::rump___sysimpl_getsockname)
    }

    fn set_nonblocking(&self, on: bool) -> Result<()> {
        // SAFETY: F_GETFL takes no pointer argument.
        let flags = check(unsafe { sys::rump___sysimpl_fcntl(self.fd(), F_GETFL, 0 as FcntlArg) })?;
        let flags = if on {
            flags | O_NONBLOCK
        } else {
            flags & !O_NONBLOCK
        };
        // SAFETY: F_SETFL takes the flags as an integer.
        check(unsafe { sys::rump___sysimpl_fcntl(self.fd(), F_SETFL, FcntlArg::from(flags)) })
            .map(drop)
    }

    fn read(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `buf` is writable for its length during the call.
        check_size(unsafe {
            sys::rump___sysimpl_read(self.fd(), buf.as_mut_ptr() as *mut c_void, buf.len())
        })
    }

    fn write(&self, buf: &[u8]) -> Result<usize> {
        // SAFETY: `buf` is readable for its length during the call.
        check_size(unsafe {
            sys::rump___sysimpl_write(self.fd(), buf.as_ptr() as *const c_void, buf.len())
        })
    }
}

/// The calls every socket kind offers, each passed to its [`Socket`]:
/// `local_addr`, `set_nonblocking` and `as_raw_fd`, with the kind's own
/// doc lines.
macro_rules! socket_basics {
    ($ty:ident, $local_doc:literal, $nonblocking_doc:literal) => {
        impl $ty {
            #[doc = $local_doc]
            pub fn local_addr(&self) -> Result<SocketAddr> {
                self.0.local_addr()
            }

            #[doc = $nonblocking_doc]
            pub fn set_nonblocking(&self, on: bool) -> Result<()> {
                self.0.set_nonblocking(on)
            }

            /// The descriptor, for [`poll`].
            pub fn as_raw_fd(&self) -> RawFd {
                self.0.fd()
            }
        }
    };
}

/// Makes `call`, which stores a socket address (`accept`, `recvfrom`,
/// `getsockname`, `getpeername`), into fresh room: its result and the
/// address; a `BadReply` saying `what` if the address is unusable.
fn with_addr_out<T>(
    what: &'static str,
    call: impl FnOnce(*mut u8, &mut u32) -> Result<T>,
) -> Result<(T, SocketAddr)> {
    let mut sa = SockaddrBuf::default();
    let mut len = sa.bytes.len() as u32;
    let r = call(sa.bytes.as_mut_ptr(), &mut len)?;
    let addr = sa.decode(len).ok_or(Error::BadReply(what))?;
    Ok((r, addr))
}

/// A listening TCP socket.
#[derive(Debug)]
pub struct TcpListener(Socket);

impl TcpListener {
    /// Listens on `addr` (SO_REUSEADDR set) with [`DEFAULT_BACKLOG`].
    pub fn bind(addr: SocketAddr) -> Result<TcpListener> {
        TcpListener::bind_with_backlog(addr, DEFAULT_BACKLOG)
    }

    /// Listens on `addr` (SO_REUSEADDR set) with `backlog` connections
    /// waiting to be accepted.
    pub fn bind_with_backlog(addr: SocketAddr, backlog: i32) -> Result<TcpListener> {
        let s = Socket::new(&addr, SOCK_STREAM)?;
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)?;
        s.bind(&addr)?;
        // SAFETY: plain integers.
        check(unsafe { sys::rump___sysimpl_listen(s.fd(), backlog) })?;
        Ok(TcpListener(s))
    }

    /// Waits for (or, non-blocking, takes: EAGAIN if none) a connection.
    pub fn accept(&self) -> Result<(TcpStream, SocketAddr)> {
        with_addr_out("accept gave an unknown address family", |sa, len| {
            // SAFETY: `sa` is writable for `*len` bytes and `len` is
            // writable.
            let fd = check(unsafe { sys::rump___sysimpl_accept(self.0.fd(), sa, len) })?;
            Ok(TcpStream(Socket(OwnedFd::new(fd))))
        })
    }
}

/// A connected TCP socket.
#[derive(Debug)]
pub struct TcpStream(Socket);

impl TcpStream {
    /// Connects to `addr` (waits for the handshake).
    pub fn connect(addr: SocketAddr) -> Result<TcpStream> {
        let s = Socket::new(&addr, SOCK_STREAM)?;
        let (sa, len) = SockaddrBuf::encode(&addr);
        // SAFETY: `sa` holds `len` readable bytes for the call.
        check(unsafe { sys::rump___sysimpl_connect(s.fd(), sa.bytes.as_ptr(), len) })?;
        Ok(TcpStream(s))
    }

    /// Reads what has arrived (waits for something unless non-blocking);
    /// 0 at end of stream.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.0.read(buf)
    }

    /// Writes some of `buf`; the count written.
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        self.0.write(buf)
    }

    /// Writes all of `buf` (retrying short writes and EINTR).
    pub fn write_all(&self, buf: &[u8]) -> Result<()> {
        write_all_with(buf, |b| self.0.write(b))
    }

    /// Closes one or both directions.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        let how = match how {
            Shutdown::Read => SHUT_RD,
            Shutdown::Write => SHUT_WR,
            Shutdown::Both => SHUT_RDWR,
        };
        // SAFETY: plain integers.
        check(unsafe { sys::rump___sysimpl_shutdown(self.0.fd(), how) }).map(drop)
    }

    /// Sends small writes at once (TCP_NODELAY).
    pub fn set_nodelay(&self, on: bool) -> Result<()> {
        self.0.setsockopt(IPPROTO_TCP, TCP_NODELAY, i32::from(on))
    }

    /// The peer's address (`getpeername`).
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        self.0.name(sys::rump___sysimpl_getpeername)
    }
}

/// A UDP socket.
#[derive(Debug)]
pub struct UdpSocket(Socket);

impl UdpSocket {
    /// A UDP socket bound to `addr` (port 0: the kernel picks one).
    pub fn bind(addr: SocketAddr) -> Result<UdpSocket> {
        let s = Socket::new(&addr, SOCK_DGRAM)?;
        s.bind(&addr)?;
        Ok(UdpSocket(s))
    }

    /// Sends one datagram to `to`; the bytes sent.
    pub fn send_to(&self, buf: &[u8], to: SocketAddr) -> Result<usize> {
        let (sa, len) = SockaddrBuf::encode(&to);
        // SAFETY: `buf` and `sa` are readable for their lengths.
        check_size(unsafe {
            sys::rump___sysimpl_sendto(
                self.0.fd(),
                buf.as_ptr() as *const c_void,
                buf.len(),
                0,
                sa.bytes.as_ptr(),
                len,
            )
        })
    }

    /// Receives one datagram (waits unless non-blocking): its length
    /// (truncated to `buf`) and sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        with_addr_out("recvfrom gave no sender address", |sa, len| {
            // SAFETY: `buf` is writable for its length, `sa` for `*len`
            // bytes, and `len` is writable.
            check_size(unsafe {
                sys::rump___sysimpl_recvfrom(
                    self.0.fd(),
                    buf.as_mut_ptr() as *mut c_void,
                    buf.len(),
                    0,
                    sa,
                    len,
                )
            })
        })
    }
}

socket_basics!(
    TcpListener,
    "The address it listens on.",
    "Makes `accept` return EAGAIN instead of waiting."
);
socket_basics!(
    TcpStream,
    "This end's address.",
    "Makes reads and writes return EAGAIN instead of waiting."
);
socket_basics!(
    UdpSocket,
    "The address it is bound to.",
    "Makes `recv_from` return EAGAIN instead of waiting."
);

/// Waits until one of `fds` is ready or `timeout_ms` passes (negative:
/// no limit); fills in each `revents` and returns how many have events
/// (0 on timeout).
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> Result<usize> {
    let n = u32::try_from(fds.len()).map_err(|_| Error::Errno(rumpuser_abi::errno::EINVAL))?;
    // SAFETY: `fds` is readable and writable for `n` entries.
    let r = check(unsafe { sys::rump___sysimpl_poll(fds.as_mut_ptr(), n, timeout_ms) })?;
    Ok(r as usize)
}
