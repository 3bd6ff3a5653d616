//! Event channels, 2-level ABI (`event_channel.h`, `xen.h`
//! `evtchn_pending[]`/`evtchn_mask[]`, `hvm/params.h`
//! `HVM_PARAM_CALLBACK_IRQ` with `HVM_PARAM_CALLBACK_TYPE_VECTOR`).
//!
//! Xen raises the upcall vector when `vcpu_info.evtchn_upcall_pending` is
//! set. The upcall clears that flag, takes `evtchn_pending_sel`, and scans
//! `evtchn_pending & !evtchn_mask` fairly (see [`scan`]), clearing each
//! port's pending bit *before* dispatching it, so an event raised while its
//! handler runs is delivered again, never lost.
//!
//! # What an event does
//!
//! Per port, one of (set with [`bind_handler`], [`bind_wait_queue`],
//! [`unbind`]):
//! - a handler `fn(Port)`: runs in the upcall with interrupts off; it may
//!   wake threads ([`crate::sched::WaitQueue::wake_one`] / `wake_all`) and
//!   touch atomics, but must not block, allocate, or print;
//! - a wait queue: the event is latched for [`take_pending`] and the queue's
//!   threads are woken (`wake_all`);
//! - nothing bound (the default): the event is latched for
//!   [`take_pending`] and [`EVENTS`] is woken.
//!
//! # Waiting for a port from a thread (drivers, xenstore)
//!
//! ```ignore
//! static XS_WAIT: WaitQueue = WaitQueue::new();
//! evtchn::bind_wait_queue(port, &XS_WAIT);
//! evtchn::unmask(port)?;
//! // Returns Woken as soon as the condition holds (at once if it already
//! // does), TimedOut if the deadline passes first. The condition runs with
//! // interrupts off, so an event between the check and the sleep is not
//! // lost; keep it short and non-blocking.
//! let r = XS_WAIT.wait_for(|| evtchn::take_pending(port) || reply_ready(),
//!                          Some(time::monotonic_ns() + 5_000_000_000));
//! ```
//!
//! Drivers written against [`crate::services::EventChannels`] use
//! [`XenEventChannels`] and wait on [`EVENTS`] with `take_pending(port)` in
//! their condition.

pub mod scan;

#[cfg(target_os = "none")]
mod xen;

#[cfg(target_os = "none")]
pub use xen::{
    alloc_unbound, bind_handler, bind_interdomain, bind_virq, bind_wait_queue, close, is_pending,
    mask, nested_upcalls, port_state, send, take_pending, unbind, unmask, PortState,
    XenEventChannels, EVENTS,
};
#[cfg(target_os = "none")]
pub(crate) use xen::{init, rumpx_evtchn_upcall};
