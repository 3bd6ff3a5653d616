//! rumpcore-kernel: the core of the project's Rust rump kernel.
//!
//! Like NetBSD's rump kernel, it has no scheduler, no VM and no hardware
//! of its own: it reaches the platform **only** through the rumpuser v17
//! and `rumpcomp_virt_*` hypercalls (`sys`), and offers applications
//! NetBSD's client ABI symbols ([`export`]): `rump_init`,
//! `rump_pub_netconfig_*`, `rump___sysimpl_*` and, for the platform,
//! `rump_virtif_virt_deliverpkt`.
//!
//! Inside: one rump virtual CPU and the `struct lwp` behind the upcall
//! table ([`sched`]); kernel locks on rumpuser mutexes and condition
//! variables ([`klock`]); kernel instances, each with its state under
//! its own kernel mutexes, several per process if wanted ([`kernel`]);
//! `virt` interfaces on a rumpcore-net stack ([`netif`]) whose socket
//! buffers stay within a budget derived from `RUMP_MEMLIMIT`
//! ([`memlimit`]; ENOBUFS beyond it), driven by a
//! network thread per kernel ([`netthread`]); a descriptor table
//! ([`fd`]) and the socket calls with NetBSD semantics ([`sockcalls`]),
//! whose blocked callers wait per socket ([`waits`]);
//! etfs block devices over `rumpuser_bio` ([`blkdev`]) and one ext2
//! mount with the file calls ([`files`]), filling NetBSD's `struct stat`
//! and `struct dirent` ([`layout`], on `rumpuser_abi::client`).
//!
//! The image provides the global allocator.
#![no_std]

extern crate alloc;

pub mod blkdev;
pub mod export;
pub mod fd;
pub mod files;
pub mod hyper;
pub mod kernel;
pub mod klock;
pub mod layout;
pub mod memlimit;
pub mod netif;
pub mod netthread;
pub mod sched;
pub mod sockcalls;
mod sys;
pub mod waits;
