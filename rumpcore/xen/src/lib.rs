//! rumpuser-xen: the rump kernel hypercall interface (`rumpuser` version
//! 17 and NetBSD's `rumpcomp_virt_*` network calls, see
//! `rumpuser-abi`) implemented on xen-platform, so that a rump kernel (the
//! project's or NetBSD's components) runs as a Xen DomU.
//!
//! What each hypercall stands on:
//! - threads: the platform's cooperative scheduler (`spawn_with_stack`,
//!   join handles as cookies); `curlwp` and the errno live in per-thread
//!   slots (`get_tls`/`set_tls`), so `rumpuser_curlwp` is one load;
//! - mutexes, rwlocks, condition variables: atomics and scheduler wait
//!   queues; blocking paths give the rump CPU back first
//!   (`backend_unschedule`) and take it again after (`backend_schedule`),
//!   `_nowrap` calls and SPIN mutexes never do;
//! - clocks: Xen's PV clock (monotonic) and the shared-info wall clock;
//! - memory: the platform heap;
//! - `getparam`: the domain name from xenstore, the rest from the command
//!   line; `getrandom`: RDSEED/RDRAND when the CPU has them, else a
//!   ChaCha20 generator seeded from TSC jitter and xenstore values;
//! - files: `xvdX` (or the vbd number) opens a blkfront disk; `bio`
//!   completes from one kernel-thread per disk;
//! - `virt`: unit N is the Nth netfront vif, with one receive
//!   kernel-thread per interface calling the kernel's
//!   `rump_virtif_virt_deliverpkt`.
//!
//! A guest calls [`init`] with its boot information before the kernel
//! calls `rumpuser_init`. Everything that touches the machine is built for
//! the guest target only; the pure parts (ChaCha20, printf, parameter and
//! name parsing) are unit-tested on the host.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod chacha;
pub mod params;
pub mod printf;

#[cfg(target_os = "none")]
mod machine;

#[cfg(target_os = "none")]
pub use machine::{errno, init, random_source, RandomSource};
