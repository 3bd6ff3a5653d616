//! rumpcore-net: the socket layer of the project's Rust rump kernel.
//!
//! A [`Stack`] holds `virt` interfaces (Ethernet, ARP, IPv4, IPv6, ICMP,
//! DHCPv4 on smoltcp) and a table of TCP and UDP sockets with NetBSD
//! semantics: every call returns NetBSD errno numbers ([`Errno`]) and
//! socket addresses travel in NetBSD's byte layouts ([`sockaddr`]).
//!
//! Nothing here blocks, sleeps or knows about Xen or rumpuser. The caller
//! (the kernel) owns threads, time and frames:
//! - frames arrive with [`Stack::receive`] and leave through each
//!   interface's [`Link`];
//! - [`Stack::poll`] runs the protocols at a given time and returns when
//!   it wants to run next and which sockets gained readiness events;
//! - a call that would block returns [`Errno::EAGAIN`] (or
//!   [`Errno::EINPROGRESS`] for `connect`); the kernel waits until
//!   [`Stack::ready`] shows the event it needs and calls again.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod backlog;
pub mod budget;
pub mod consts;
mod errno;
mod fin_probe;
mod iface;
mod link;
mod ops;
pub mod sockaddr;
mod socket;
mod stack;

pub use errno::{Errno, Result};
pub use iface::{IfIndex, Lease};
pub use link::Link;
pub use socket::{Domain, Events, SockType, SocketHandle};
pub use stack::{PollOutcome, Stack, StackConfig};
