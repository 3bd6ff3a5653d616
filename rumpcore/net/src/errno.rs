//! NetBSD errno numbers as the error type of every socket call.

use rumpuser_abi::errno as e;

/// A NetBSD errno number (the value the client ABI hands back).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// Invalid argument.
    pub const EINVAL: Errno = Errno(e::EINVAL);
    /// Not a socket handle of this stack.
    pub const EBADF: Errno = Errno(e::EBADF);
    /// Out of memory or buffers.
    pub const ENOBUFS: Errno = Errno(e::ENOBUFS);
    /// Broken pipe: writing after the write side closed.
    pub const EPIPE: Errno = Errno(e::EPIPE);
    /// The call would block; retry when [`crate::Events`] say so.
    pub const EAGAIN: Errno = Errno(e::EAGAIN);
    /// A connection attempt was started and is pending.
    pub const EINPROGRESS: Errno = Errno(e::EINPROGRESS);
    /// A connection attempt is already pending.
    pub const EALREADY: Errno = Errno(e::EALREADY);
    /// Datagram too large.
    pub const EMSGSIZE: Errno = Errno(e::EMSGSIZE);
    /// Unknown socket option.
    pub const ENOPROTOOPT: Errno = Errno(e::ENOPROTOOPT);
    /// Unsupported protocol or socket type.
    pub const EPROTONOSUPPORT: Errno = Errno(e::EPROTONOSUPPORT);
    /// Operation not supported on this socket.
    pub const EOPNOTSUPP: Errno = Errno(e::EOPNOTSUPP);
    /// Address family not supported.
    pub const EAFNOSUPPORT: Errno = Errno(e::EAFNOSUPPORT);
    /// Address (port) already in use.
    pub const EADDRINUSE: Errno = Errno(e::EADDRINUSE);
    /// Address not available (no such local address, no free port).
    pub const EADDRNOTAVAIL: Errno = Errno(e::EADDRNOTAVAIL);
    /// No route to the network.
    pub const ENETUNREACH: Errno = Errno(e::ENETUNREACH);
    /// Connection reset by the peer.
    pub const ECONNRESET: Errno = Errno(e::ECONNRESET);
    /// Already connected.
    pub const EISCONN: Errno = Errno(e::EISCONN);
    /// Not connected.
    pub const ENOTCONN: Errno = Errno(e::ENOTCONN);
    /// Connection attempt timed out.
    pub const ETIMEDOUT: Errno = Errno(e::ETIMEDOUT);
    /// Connection refused by the peer (RST).
    pub const ECONNREFUSED: Errno = Errno(e::ECONNREFUSED);
    /// No such device (interface).
    pub const ENXIO: Errno = Errno(e::ENXIO);
    /// Already exists (interface name).
    pub const EEXIST: Errno = Errno(e::EEXIST);
}

/// Result of a socket call.
pub type Result<T> = core::result::Result<T, Errno>;
