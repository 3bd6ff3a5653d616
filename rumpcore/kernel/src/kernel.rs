//! Kernel instances and the system-call entry that takes the rump CPU
//! around each client call.
//!
//! A process may hold several kernels: [`Kernel::boot`] makes one with
//! its own network stack, descriptor table, `virt` interfaces, network
//! thread and file state (mount, open files, etfs keys), each under the
//! kernel's own mutexes. Kernels are leaked: they live as long as the
//! process. What stays per process is the platform: `rumpuser_init` runs
//! once (the first boot) and all kernels share the one rump virtual CPU
//! ([`sched`]): a call into any kernel holds it, and every wait (a
//! blocking socket call, a disk transfer, the network thread's sleep)
//! releases it, so kernels never hold each other up for longer than a
//! non-blocking step.
//!
//! NetBSD's C symbols (`rump_init`, `rump___sysimpl_*`,
//! `rump_pub_*`) act on the *first* kernel, the one `rump_init` booted
//! ([`kernel`], [`syscall`]); other kernels are reached from Rust with
//! [`Kernel::syscall`]. Received frames find their kernel through the
//! softc the interface gave `rumpcomp_virt_create` ([`crate::netif`]).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

use rumpcore_net::{PollOutcome, SocketHandle, Stack, StackConfig};
use rumpuser_abi::{errno, RUMPUSER_VERSION};

use crate::fd::{FdTable, File};
use crate::files::FsState;
use crate::hyper;
use crate::klock::{KCond, KGuard, KMutex};
use crate::netif::VirtIf;
use crate::waits::WaitList;
use crate::{memlimit, sched, sys};

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
    /// Threads blocked in socket calls, each on its own cv.
    pub waits: WaitList,
}

/// The kernel.
pub struct Kernel {
    /// The state, under the kernel mutex.
    pub state: KMutex<State>,
    /// Block devices, the mount and open files, under their own mutex.
    pub fs: KMutex<FsState>,
    /// Wakes the network thread (frames arrived, its deadline moved).
    pub net_wake: KCond,
}

/// The kernel the C symbols act on (the one `rump_init` booted).
static KERNEL: AtomicPtr<Kernel> = AtomicPtr::new(core::ptr::null_mut());

/// Platform state: not initialised, being initialised, ready.
static PLATFORM: AtomicU8 = AtomicU8::new(PLATFORM_NONE);
const PLATFORM_NONE: u8 = 0;
const PLATFORM_BUSY: u8 = 1;
const PLATFORM_READY: u8 = 2;

/// Kernels booted in this process (for distinct stack seeds).
static BOOTED: AtomicU8 = AtomicU8::new(0);

/// The first kernel, once `rump_init` ran.
pub fn kernel() -> Option<&'static Kernel> {
    // SAFETY: set once from a leaked Box, never freed.
    unsafe { KERNEL.load(Ordering::Acquire).as_ref() }
}

/// `rumpuser_init` and the virtual CPU, once per process. A thread that
/// finds another one initialising waits for it (the step does not
/// block).
fn platform_init() -> Result<(), i32> {
    loop {
        match PLATFORM.compare_exchange(
            PLATFORM_NONE,
            PLATFORM_BUSY,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => break,
            Err(PLATFORM_READY) => return Ok(()),
            Err(_) => core::hint::spin_loop(),
        }
    }
    // SAFETY: the table is a static, alive for the whole process.
    let rv = unsafe { sys::rumpuser_init(RUMPUSER_VERSION, &sched::HYPERUP) };
    if rv != 0 {
        PLATFORM.store(PLATFORM_NONE, Ordering::Release);
        return Err(rv);
    }
    sched::init_cpu();
    PLATFORM.store(PLATFORM_READY, Ordering::Release);
    Ok(())
}

/// `rump_init`: boots the first kernel (the one the C symbols use). A
/// second call does nothing. (Two racing first calls may both boot; the
/// loser's kernel stays idle and unused.)
pub fn init() -> Result<(), i32> {
    if kernel().is_some() {
        return Ok(());
    }
    let k = Kernel::boot()?;
    let _ = KERNEL.compare_exchange(
        core::ptr::null_mut(),
        k as *const Kernel as *mut Kernel,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    Ok(())
}

/// Runs a client call on the first kernel holding the rump CPU; an
/// uninitialised kernel gives ENXIO.
pub fn syscall<T>(f: impl FnOnce(&'static Kernel) -> Result<T, i32>) -> Result<T, i32> {
    let Some(k) = kernel() else {
        hyper::set_errno(errno::ENXIO);
        return Err(errno::ENXIO);
    };
    k.syscall(f)
}

/// The C convention: the value, or -1 with errno set (by [`syscall`]).
pub fn ret<T: Into<i64>>(r: Result<T, i32>) -> i64 {
    match r {
        Ok(v) => v.into(),
        Err(_) => -1,
    }
}

impl Kernel {
    /// Boots a kernel: the platform (first time only), then this
    /// kernel's state (socket buffers sized by the platform's
    /// `RUMP_MEMLIMIT`, [`memlimit`]; EINVAL if it is malformed) and its
    /// network thread. Usable any number of
    /// times; every kernel lives until the process ends.
    pub fn boot() -> Result<&'static Kernel, i32> {
        platform_init()?;
        let n = u64::from(BOOTED.fetch_add(1, Ordering::Relaxed));
        let seed = hyper::now_ns() ^ 0x5eed_0f72_756d_7000 ^ n.rotate_left(40);
        let net = StackConfig {
            seed,
            ..StackConfig::default()
        };
        let net = match memlimit::from_platform()? {
            Some(limit) => net.for_memory(limit),
            None => net,
        };
        let k: &'static Kernel = Box::leak(Box::new(Kernel {
            state: KMutex::new(State {
                stack: Stack::new(net),
                fds: FdTable::default(),
                virt: Vec::new(),
                net_deadline: None,
                rx_pending: false,
                waits: WaitList::default(),
            }),
            fs: KMutex::new(FsState::default()),
            net_wake: KCond::new(),
        }));
        crate::netthread::start(k)?;
        Ok(k)
    }

    /// Runs a client call on this kernel holding the rump CPU; on
    /// failure the calling thread's errno is set too.
    pub fn syscall<T>(
        &'static self,
        f: impl FnOnce(&'static Kernel) -> Result<T, i32>,
    ) -> Result<T, i32> {
        sched::hyp_schedule();
        let r = f(self);
        if let Err(e) = &r {
            hyper::set_errno(*e);
        }
        sched::hyp_unschedule();
        r
    }

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

    /// Wakes the waiters of the sockets a poll gave new events (all of
    /// them if the configuration changed).
    pub fn after_poll(&self, st: &mut KGuard<'_, State>, out: &PollOutcome) {
        if !out.woken.is_empty() || out.config_changed {
            st.waits.wake(&out.woken, out.config_changed);
        }
    }

    /// Waits until one of the sockets `on` (empty: any socket) gains
    /// events or the configuration changes, or until `deadline_ns` (None:
    /// no limit); false once the deadline has passed.
    pub fn wait_event(
        &self,
        st: &mut KGuard<'_, State>,
        on: &[SocketHandle],
        deadline_ns: Option<u64>,
    ) -> bool {
        let wait_ns = match deadline_ns {
            None => None,
            Some(d) => match d.checked_sub(hyper::now_ns()) {
                Some(left) if left > 0 => Some(left),
                _ => return false,
            },
        };
        let t = st.waits.add(on);
        match wait_ns {
            None => st.wait(&t.cv),
            Some(ns) => {
                st.timedwait(&t.cv, ns);
            }
        }
        st.waits.remove(t);
        true
    }
}
