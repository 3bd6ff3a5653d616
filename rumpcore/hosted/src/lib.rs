//! rumpuser-hosted: the rump kernel hypercall interface (rumpuser v17 and
//! the `rumpcomp_virt_*` network calls) on Linux, so a rump kernel runs as
//! an ordinary process.
//!
//! Every symbol in [`rumpuser_abi::HYPERCALLS`] is defined here as a
//! `#[no_mangle] extern "C"` function: memory from the C allocator and
//! `mmap`, threads from `std::thread`, curlwp and errno in thread-locals,
//! locks and condition variables on `std::sync` (honouring the scheduling
//! rule: blocking paths call `backend_unschedule` first and
//! `backend_schedule` after; SPIN mutexes and `_nowrap` calls never do),
//! files and block devices through `open`/`preadv`/`pwritev`, `bio`
//! completing on worker threads that became kernel threads, and `virt`
//! interfaces over a Unix datagram socket pair (or a TAP device when the
//! unit names one, `tap0`…). Results are NetBSD errno numbers ([`errno`]).
//!
//! Limits: `rumpuser_dprintf` prints its format string verbatim (stable
//! Rust cannot define C-variadic functions); `rumpuser_thread_exit` ends
//! the rump thread (join returns) but parks the OS thread instead of
//! unwinding it; `rumpuser_daemonize_*` do not fork.

pub mod errno;
mod file;
mod hyp;
mod mem;
mod misc;
mod sync;
mod thread;
mod time;
mod virt;

pub use misc::errno as last_errno;
pub use virt::{take_virt_peer, virt_loopback_echo};
