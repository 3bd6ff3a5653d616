//! Xen ABI bindings for x86_64 guests: the Xen 4.17 public headers (xen.h, event channels, grant tables, sched, vcpu, memory, version, HVM params and start info, ELF notes, xenstore wire, console, netif, blkif and their shared rings), generated with bindgen by `xen-abi-gen`.
//!
//! The bindings live in `bindings.rs`, produced by `cargo run -p xen-abi-gen`
//! and checked for freshness by `cargo run -p xen-abi-gen -- --check`; never
//! edit that file by hand. They are generated with
//! `__XEN_INTERFACE_VERSION__ = 0x00040e00`, so hypercall numbers are the
//! current ones (`__HYPERVISOR_sched_op` = 29, `__HYPERVISOR_event_channel_op`
//! = 32).
#![no_std]

/// The bindgen output (names as in the C headers).
#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
mod bindings {
    include!("bindings.rs");
}

pub use bindings::*;
