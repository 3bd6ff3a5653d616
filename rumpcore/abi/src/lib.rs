//! rumpuser-abi: both C ABIs of a rump kernel, as Rust types and
//! constants: the hypercall interface below it (`rumpuser` version 17
//! plus NetBSD's `virt` network-interface hypercalls) and, in [`client`],
//! the layouts and numbers of the client ABI above it (`rump___sysimpl_*`,
//! `rump_pub_*`: `struct stat`, `struct dirent`, `struct pollfd`,
//! `sockaddr_in`/`sockaddr_in6`, flags and options), which the kernel fills
//! and the client reads.
//!
//! This crate only *defines* the interfaces (plus the byte-level packing
//! and checked parsing of the client layouts); it implements no calls. The Xen
//! and hosted platforms export every symbol in [`HYPERCALLS`] with the
//! signatures given by the type aliases in [`sig`]; a rump kernel (NetBSD's
//! components or the project's Rust kernel) calls them and supplies a
//! [`RumpuserHyperup`] upcall table to [`sig::RumpuserInit`].
//!
//! All integer results are NetBSD errno numbers ([`errno`]), 0 on success.
//! Facts come from `shared/rumpuser-abi.md`.
#![no_std]

pub mod calls;
pub mod client;
pub mod consts;
pub mod errno;
pub mod hyperup;
pub mod names;
pub mod sig;
pub mod types;

pub use consts::*;
pub use hyperup::RumpuserHyperup;
pub use names::HYPERCALLS;
pub use types::*;

#[cfg(test)]
mod tests;
