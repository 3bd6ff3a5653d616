//! The kernel's upcall table (`struct rumpuser_hyperup`, handed over by
//! `rumpuser_init`) and the scheduling rule of the rumpuser interface:
//! a hypercall that blocks gives its rump CPU back first
//! (`backend_unschedule`) and takes one again before it returns
//! (`backend_schedule`); a platform thread that calls into the kernel
//! becomes a kernel thread once (`schedule`, `lwproc_newlwp(0)`,
//! `unschedule`) and wraps every call with `backend_schedule(0, NULL)` /
//! `backend_unschedule(0, &n, NULL)`.
//!
//! Before `rumpuser_init` there is no kernel and no CPU to give back: the
//! wrappers then only run the closure.

use alloc::boxed::Box;
use core::ffi::{c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use rumpuser_abi::RumpuserHyperup;

/// The kernel's table, copied at `rumpuser_init` (null before).
static HYP: AtomicPtr<RumpuserHyperup> = AtomicPtr::new(ptr::null_mut());

/// Keeps a copy of the kernel's upcall table.
pub fn set(table: RumpuserHyperup) {
    let copy = Box::into_raw(Box::new(table));
    // An earlier table (a second rumpuser_init) is leaked on purpose: a
    // thread may still be reading it.
    HYP.store(copy, Ordering::Release);
}

fn table() -> Option<&'static RumpuserHyperup> {
    let p = HYP.load(Ordering::Acquire);
    // SAFETY: HYP is null or points at a table leaked by `set`, which is
    // never freed or written again.
    unsafe { p.as_ref() }
}

/// `backend_unschedule(0, &n, interlock)`: gives the rump CPU back before
/// blocking; returns the lock count to hand to [`backend_schedule`].
pub fn backend_unschedule(interlock: *mut c_void) -> c_int {
    let mut nlocks: c_int = 0;
    if let Some(f) = table().and_then(|t| t.backend_unschedule) {
        // SAFETY: the kernel's upcall, called as the ABI says: holding a
        // rump CPU, with a valid out pointer for the lock count.
        unsafe { f(0, &mut nlocks, interlock) };
    }
    nlocks
}

/// `backend_schedule(nlocks, interlock)`: takes a rump CPU again.
pub fn backend_schedule(nlocks: c_int, interlock: *mut c_void) {
    if let Some(f) = table().and_then(|t| t.backend_schedule) {
        // SAFETY: the kernel's upcall, called without a rump CPU after a
        // matching `backend_unschedule` (or as a kernel thread).
        unsafe { f(nlocks, interlock) };
    }
}

/// Runs `f`, which may block, without the rump CPU: the scheduling rule
/// around every blocking hypercall.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    let nlocks = backend_unschedule(ptr::null_mut());
    let r = f();
    backend_schedule(nlocks, ptr::null_mut());
    r
}

/// Makes the calling platform thread a kernel thread (once per thread):
/// `schedule`, `lwproc_newlwp(0)`, `unschedule`. Returns false if the
/// kernel has not handed over its upcalls or refused the lwp.
pub fn become_kernel_thread() -> bool {
    let Some(t) = table() else {
        return false;
    };
    let (Some(schedule), Some(newlwp), Some(unschedule)) =
        (t.schedule, t.lwproc_newlwp, t.unschedule)
    else {
        return false;
    };
    // SAFETY: the kernel's upcalls, in the order the ABI prescribes for a
    // platform thread entering the kernel for the first time.
    unsafe {
        schedule();
        let rv = newlwp(0);
        unschedule();
        rv == 0
    }
}

/// Runs `f` (a call into the kernel) holding a rump CPU, from a kernel
/// thread that holds none: `backend_schedule(0, NULL)` before,
/// `backend_unschedule(0, &n, NULL)` after.
pub fn in_kernel<R>(f: impl FnOnce() -> R) -> R {
    backend_schedule(0, ptr::null_mut());
    let r = f();
    let _ = backend_unschedule(ptr::null_mut());
    r
}
