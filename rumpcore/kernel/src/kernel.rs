//! The kernel's global state (network stack, descriptor table, virt
//! interfaces) under one kernel mutex, `rump_init`'s work, and the
//! system-call entry that takes the rump CPU around each client call.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicPtr, Ordering};

use rumpcore_net::{PollOutcome, Stack, StackConfig};
use rumpuser_abi::{errno, RUMPUSER_VERSION};

use crate::fd::{FdTable, File};
use crate::files::FsState;
use crate::hyper;
use crate::klock::{KCond, KGuard, KMutex};
use crate::netif::VirtIf;
use crate::{sched, sys};

/// Everything the kernel mutex guards.
pub struct State {
    /// The sockets and interfaces.
    pub stack: Stack,
    /// File descriptors.
    pub fds: FdTable,
    /// `virt` interfaces made by `rump_pub_netconfig_ifcreate`.
    pub virt: Vec<VirtIf>,
    /// When the network thread will poll next (None: only when woken).
    pub net_deadline: Option<u64>,
    /// Frames were delivered since the network thread last polled.
    pub rx_pending: bool,
}

/// The kernel.
pub struct Kernel {
    /// The state, under the kernel mutex.
    pub state: KMutex<State>,
    /// Block devices, the mount and open files, under their own mutex.
    pub fs: KMutex<FsState>,
    /// Broadcast whenever socket readiness or configuration changed.
    pub events: KCond,
    /// Wakes the network thread (frames arrived, its deadline moved).
    pub net_wake: KCond,
}

static KERNEL: AtomicPtr<Kernel> = AtomicPtr::new(core::ptr::null_mut());

/// The kernel, once `rump_init` ran.
pub fn kernel() -> Option<&'static Kernel> {
    // SAFETY: set once from a leaked Box, never freed.
    unsafe { KERNEL.load(Ordering::Acquire).as_ref() }
}

/// `rump_init`: hand the platform the upcalls, make the CPU, the state
/// and the network thread. A second call does nothing.
pub fn init() -> Result<(), i32> {
    if kernel().is_some() {
        return Ok(());
    }
    // SAFETY: the table is a static, alive for the whole process.
    let rv = unsafe { sys::rumpuser_init(RUMPUSER_VERSION, &sched::HYPERUP) };
    if rv != 0 {
        return Err(rv);
    }
    sched::init_cpu();
    let seed = hyper::now_ns() ^ 0x5eed_0f72_756d_7000;
    let k = Box::new(Kernel {
        state: KMutex::new(State {
            stack: Stack::new(StackConfig {
                seed,
                ..StackConfig::default()
            }),
            fds: FdTable::default(),
            virt: Vec::new(),
            net_deadline: None,
            rx_pending: false,
        }),
        fs: KMutex::new(FsState::default()),
        events: KCond::new(),
        net_wake: KCond::new(),
    });
    let k = Box::into_raw(k);
    if KERNEL
        .compare_exchange(
            core::ptr::null_mut(),
            k,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        // Lost a race with another rump_init: theirs stands.
        // SAFETY: `k` was never published.
        drop(unsafe { Box::from_raw(k) });
        return Ok(());
    }
    crate::netthread::start()
}

/// Runs a client call holding the rump CPU: `f` gets the kernel; an
/// uninitialised kernel gives ENXIO.
pub fn syscall<T>(f: impl FnOnce(&'static Kernel) -> Result<T, i32>) -> Result<T, i32> {
    let Some(k) = kernel() else {
        return Err(errno::ENXIO);
    };
    sched::hyp_schedule();
    let r = f(k);
    if let Err(e) = &r {
        hyper::set_errno(*e);
    }
    sched::hyp_unschedule();
    r
}

/// The C convention: the value, or -1 with errno set (by [`syscall`]).
pub fn ret<T: Into<i64>>(r: Result<T, i32>) -> i64 {
    match r {
        Ok(v) => v.into(),
        Err(_) => -1,
    }
}

impl Kernel {
    /// What descriptor `fd` refers to.
    pub fn file(&self, fd: i32) -> Result<File, i32> {
        self.state.lock().fds.get(fd)
    }

    /// Runs the protocols now (after a socket call), wakes waiters for
    /// what changed, and moves the network thread's deadline if needed.
    pub fn poll(&self, st: &mut KGuard<'_, State>) -> PollOutcome {
        let out = st.stack.poll(hyper::now_ns());
        self.after_poll(st, &out);
        if let Some(at) = out.poll_at_ns {
            if st.net_deadline.is_none_or(|d| at < d) {
                st.net_deadline = Some(at);
                self.net_wake.signal();
            }
        }
        out
    }

    /// Wakes socket waiters if a poll changed anything.
    pub fn after_poll(&self, _st: &mut KGuard<'_, State>, out: &PollOutcome) {
        if !out.woken.is_empty() || out.config_changed {
            self.events.broadcast();
        }
    }

    /// Waits for a socket event until `deadline_ns` (None: no limit);
    /// false once the deadline has passed.
    pub fn wait_event(&self, st: &mut KGuard<'_, State>, deadline_ns: Option<u64>) -> bool {
        match deadline_ns {
            None => {
                st.wait(&self.events);
                true
            }
            Some(d) => {
                let now = hyper::now_ns();
                if now >= d {
                    return false;
                }
                st.timedwait(&self.events, d - now);
                true
            }
        }
    }
}
