//! The network thread: one kernel thread per kernel (made with
//! `rumpuser_thread_create`, its argument the kernel) that runs
//! `Stack::poll` when frames arrive and at the stack's `poll_at_ns`,
//! sleeping on a condition variable in between.

use core::ffi::c_void;

use crate::kernel::Kernel;
use crate::{hyper, sched};

/// Longest sleep without a deadline (a safety net, not a tick).
const IDLE_NS: u64 = 1_000_000_000;
/// Shortest sleep when the stack asks for a time already past twice in a
/// row (keeps a confused timer from spinning).
const MIN_NS: u64 = 200_000;

/// Starts kernel `k`'s thread.
pub fn start(k: &'static Kernel) -> Result<(), i32> {
    let arg = k as *const Kernel as *mut c_void;
    // SAFETY: kernels are never freed.
    unsafe { hyper::thread_create(net_thread, arg, c"rumpnet") }
}

extern "C" fn net_thread(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `start` passes a leaked (never freed) kernel.
    let Some(k) = (unsafe { (arg as *const Kernel).as_ref() }) else {
        return core::ptr::null_mut();
    };
    // Become a kernel thread: an lwp of our own and the CPU.
    sched::hyp_schedule();
    sched::hyp_lwproc_newlwp(0);
    let mut st = k.state.lock();
    let mut overdue = false;
    loop {
        st.rx_pending = false;
        let now = hyper::now_ns();
        let out = st.stack.poll(now);
        k.after_poll(&mut st, &out);
        st.net_deadline = out.poll_at_ns;
        if st.rx_pending {
            continue;
        }
        let mut wait = out.poll_at_ns.map_or(IDLE_NS, |t| t.saturating_sub(now));
        if wait == 0 {
            if overdue {
                wait = MIN_NS;
            }
            overdue = true;
        } else {
            overdue = false;
        }
        if wait > 0 {
            // Woken by delivery, by a socket call that moved the
            // deadline, or by the timeout: poll again in every case.
            st.timedwait(&k.net_wake, wait.min(IDLE_NS));
        }
    }
}
