//! NetBSD socket-call constants the client ABI passes (socket types,
//! option levels and names, `fcntl` and `poll` bits, `shutdown` modes),
//! from [`rumpuser_abi::client`]; the `poll` bits as the `u16` event sets
//! this crate reports.

use rumpuser_abi::client as abi;

pub use abi::{
    IPPROTO_TCP, O_NONBLOCK, SHUT_RD, SHUT_RDWR, SHUT_WR, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET,
    SO_ERROR, SO_KEEPALIVE, SO_REUSEADDR, SO_TYPE, TCP_NODELAY,
};

/// `POLLIN`.
pub const POLLIN: u16 = abi::POLLIN as u16;
/// `POLLOUT`.
pub const POLLOUT: u16 = abi::POLLOUT as u16;
/// `POLLERR`.
pub const POLLERR: u16 = abi::POLLERR as u16;
/// `POLLHUP`.
pub const POLLHUP: u16 = abi::POLLHUP as u16;
/// `POLLNVAL`: the descriptor is not open.
pub const POLLNVAL: u16 = abi::POLLNVAL as u16;
