//! rumpuser-abi: the rump kernel hypercall interface (`rumpuser` version 17
//! plus NetBSD's `virt` network-interface hypercalls) as C-ABI Rust types
//! and constants.
//!
//! This crate only *defines* the interface; it implements nothing. The Xen
//! and hosted platforms export every symbol in [`HYPERCALLS`] with the
//! signatures given by the type aliases in [`sig`]; a rump kernel (NetBSD's
//! components or the project's Rust kernel) calls them and supplies a
//! [`RumpuserHyperup`] upcall table to [`sig::RumpuserInit`].
//!
//! All integer results are NetBSD errno numbers ([`errno`]), 0 on success.
//! Facts come from `shared/rumpuser-abi.md`.
#![no_std]

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
