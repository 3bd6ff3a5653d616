//! rumpcore-client: a safe, `no_std` Rust API over NetBSD's rump kernel
//! client ABI.
//!
//! It reaches the kernel **only** through the C symbols a NetBSD rump
//! kernel exports (`rump_init`, `rump_pub_*`, `rump___sysimpl_*`, declared
//! once in [`sys`]) and reads the per-thread errno the kernel set with
//! `rumpuser_seterrno` from the platform (`rumpuser_geterrno`). So the same
//! client works whichever kernel is linked into the image: the project's
//! rumpcore-kernel or NetBSD's own components.
//!
//! - [`boot`]: `rump_init`, etfs block devices, ext2 mounts;
//! - [`netconfig`]: interfaces and addresses;
//! - [`net`]: TCP listeners and streams, UDP sockets, `poll`;
//! - [`fs`]: files, directories and metadata;
//! - [`Error`]: a NetBSD errno (or a client-side refusal) with a readable
//!   message.
//!
//! The NetBSD layouts and numbers the calls use live in [`abi`].
#![no_std]

extern crate alloc;

pub mod abi;
pub mod boot;
mod error;
mod fd;
pub mod fs;
pub mod net;
pub mod netconfig;
pub mod sys;

pub use error::{Error, Result};
pub use fd::RawFd;
