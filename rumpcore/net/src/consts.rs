//! NetBSD socket-call constants the client ABI passes (socket types,
//! option levels and names, `fcntl` and `poll` bits, `shutdown` modes).

/// `SOCK_STREAM`.
pub const SOCK_STREAM: i32 = 1;
/// `SOCK_DGRAM`.
pub const SOCK_DGRAM: i32 = 2;
/// `SOL_SOCKET`.
pub const SOL_SOCKET: i32 = 0xffff;
/// `SO_REUSEADDR`.
pub const SO_REUSEADDR: i32 = 0x4;
/// `SO_KEEPALIVE` (accepted and remembered; no keep-alive probes).
pub const SO_KEEPALIVE: i32 = 0x8;
/// `SO_ERROR`: the pending error, cleared by reading it.
pub const SO_ERROR: i32 = 0x1007;
/// `SO_TYPE`.
pub const SO_TYPE: i32 = 0x1008;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: i32 = 6;
/// `TCP_NODELAY`.
pub const TCP_NODELAY: i32 = 1;
/// `O_NONBLOCK`.
pub const O_NONBLOCK: i32 = 0x4;
/// `SHUT_RD`.
pub const SHUT_RD: i32 = 0;
/// `SHUT_WR`.
pub const SHUT_WR: i32 = 1;
/// `SHUT_RDWR`.
pub const SHUT_RDWR: i32 = 2;
/// `POLLIN`.
pub const POLLIN: u16 = 0x1;
/// `POLLOUT`.
pub const POLLOUT: u16 = 0x4;
/// `POLLERR`.
pub const POLLERR: u16 = 0x8;
/// `POLLHUP`.
pub const POLLHUP: u16 = 0x10;
