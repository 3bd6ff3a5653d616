//! Socket table entries: handles, domains and types, per-socket state
//! and readiness events.

use crate::errno::Errno;
use core::net::SocketAddr;
use smoltcp::iface::SocketHandle as SmolHandle;
use smoltcp::time::Instant;

/// A socket of one [`crate::Stack`] (file descriptors are the kernel's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketHandle(pub u32);

/// Address family of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// `AF_INET` (2).
    Inet,
    /// `AF_INET6` (24).
    Inet6,
}

/// Socket type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockType {
    /// `SOCK_STREAM` (TCP).
    Stream,
    /// `SOCK_DGRAM` (UDP).
    Dgram,
}

/// `poll` readiness bits ([`crate::consts::POLLIN`] and friends).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events(pub u16);

impl Events {
    /// Whether any of `bits` is set.
    pub fn any(self, bits: u16) -> bool {
        self.0 & bits != 0
    }
}

/// What a socket is doing.
pub(crate) enum State {
    /// TCP, neither connecting nor listening.
    Idle,
    /// TCP listener: a pool of at most `backlog` smoltcp sockets on the
    /// port, the connections not yet accepted and at most one idle
    /// listening socket (see `crate::backlog`).
    Listen {
        pool: alloc::vec::Vec<SmolHandle>,
        backlog: usize,
    },
    /// TCP connection attempt under way.
    Connecting {
        h: SmolHandle,
        peer: SocketAddr,
        deadline: Instant,
    },
    /// TCP connection (established, or closing).
    Connected { h: SmolHandle, peer: SocketAddr },
    /// TCP connection attempt that failed.
    Failed,
    /// UDP.
    Udp {
        h: SmolHandle,
        peer: Option<SocketAddr>,
    },
}

/// One socket.
pub(crate) struct Sock {
    pub(crate) domain: Domain,
    pub(crate) ty: SockType,
    pub(crate) nonblocking: bool,
    pub(crate) reuseaddr: bool,
    pub(crate) keepalive: bool,
    pub(crate) nodelay: bool,
    pub(crate) local: Option<SocketAddr>,
    pub(crate) error: Option<Errno>,
    pub(crate) rd_shut: bool,
    pub(crate) wr_shut: bool,
    pub(crate) state: State,
}

impl Sock {
    pub(crate) fn new(domain: Domain, ty: SockType, state: State) -> Self {
        Sock {
            domain,
            ty,
            nonblocking: false,
            reuseaddr: false,
            keepalive: false,
            nodelay: false,
            local: None,
            error: None,
            rd_shut: false,
            wr_shut: false,
            state,
        }
    }

    pub(crate) fn listening(&self) -> bool {
        matches!(self.state, State::Listen { .. })
    }
}
