//! Cooperative threads for the mini-OS: spawn, exit, join, yield, sleep
//! until a deadline, wait queues with timeouts woken from event handlers,
//! and per-thread slots. Threads switch only when they block, yield or
//! exit; when nothing is runnable the vCPU blocks in Xen until an event or
//! the next deadline (`VCPUOP_set_singleshot_timer`, `VIRQ_TIMER`), so an
//! idle guest uses no CPU.
//!
//! Deadlines are absolute Xen system time in ns ([`crate::time::monotonic_ns`]).
//! The thread running the guest's `main` is thread 0 ("main"); when `main`
//! returns the domain powers off, whatever other threads are doing.
//!
//! # Waiting and waking (drivers, xenstore, event handlers)
//!
//! A [`WaitQueue`] is a list of sleeping threads. Threads wait with
//! [`WaitQueue::wait_for`]`(cond, deadline)`: it returns `Woken` as soon as
//! `cond()` is true (checked first, and after every wake-up, with
//! interrupts off so a wake between the check and the sleep is not lost)
//! and `TimedOut` once the deadline passes with `cond()` still false.
//! [`WaitQueue::wake_one`] / [`WaitQueue::wake_all`] may be called from
//! threads and from event-channel handlers (interrupt context: they neither
//! block nor allocate). An event handler wakes a thread like this:
//!
//! ```ignore
//! static RX: WaitQueue = WaitQueue::new();
//! fn on_event(_port: Port) { RX.wake_all(); }          // in the upcall
//! evtchn::bind_handler(port, on_event);
//! // thread:
//! RX.wait_for(|| ring.has_responses(), Some(time::monotonic_ns() + 1_000_000_000));
//! ```
//!
//! or, without a handler, `evtchn::bind_wait_queue(port, &RX)` and
//! `RX.wait_for(|| evtchn::take_pending(port), deadline)`.
//!
//! A wake with nobody waiting is not remembered by a `WaitQueue` (the
//! condition is); [`Event`] is the auto-reset signal that is: `signal()`
//! (handler-safe) before `wait(deadline)` makes the wait return at once.
//!
//! Per-thread slots: [`get_tls`]/[`set_tls`] with index < [`TLS_SLOTS`]
//! (plain loads and stores of a per-vCPU copy, swapped on context switch).
//! [`stats`] counts switches, idle halts and timer events.
//!
//! The layout leaves room for more vCPUs: per-vCPU state is one struct
//! (`Cpu`), shared state sits behind [`IrqLock`]s.

pub mod table;

pub use table::{WaitResult, TLS_SLOTS};

#[cfg(target_os = "none")]
mod irqlock;
#[cfg(target_os = "none")]
mod run;

#[cfg(target_os = "none")]
pub use irqlock::{without_interrupts, IrqLock, IrqLockGuard};
#[cfg(target_os = "none")]
pub(crate) use run::init;
#[cfg(target_os = "none")]
pub use run::{
    current, dump, exit, get_tls, set_tls, sleep_ns, sleep_until, spawn, spawn_with_stack, stats,
    yield_now, Current, Event, JoinHandle, Stats, ThreadId, WaitQueue, MAX_THREADS, STACK_SIZE,
};

use core::fmt;

/// Errors of the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedError {
    /// Every thread slot is in use.
    TooManyThreads,
    /// The thread's stack could not be allocated.
    Memory(crate::error::MemError),
    /// The stack is too small for the thread's start frame and closure.
    StackTooSmall,
}

impl fmt::Display for SchedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedError::TooManyThreads => f.write_str("too many threads"),
            SchedError::Memory(e) => write!(f, "thread stack: {e}"),
            SchedError::StackTooSmall => f.write_str("thread stack too small"),
        }
    }
}
