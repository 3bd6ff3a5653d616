//! `rumpuser_init` and the upcalls: the kept `rumpuser_hyperup` table and
//! the wrappers the blocking hypercalls and platform threads use.

use core::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};

use rumpuser_abi::{errno, RumpuserHyperup, RUMPUSER_VERSION};

static HYP: AtomicPtr<RumpuserHyperup> = AtomicPtr::new(core::ptr::null_mut());

/// The kernel's upcall table, if `rumpuser_init` has run.
fn hyp() -> Option<&'static RumpuserHyperup> {
    let p = HYP.load(Ordering::Acquire);
    // SAFETY: the kernel keeps the table alive for the process's life (its
    // contract with `rumpuser_init`).
    unsafe { p.as_ref() }
}

/// `rumpuser_init`: accept version 17 only and keep the table.
///
/// # Safety
/// `hyp` must point to a table that outlives every later hypercall.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_init(version: c_int, hyp: *const RumpuserHyperup) -> c_int {
    if version != RUMPUSER_VERSION || hyp.is_null() {
        return errno::EINVAL;
    }
    HYP.store(hyp as *mut _, Ordering::Release);
    0
}

/// Give up the rump CPU before blocking; returns the lock count to restore.
pub fn unschedule(interlock: *mut c_void) -> c_int {
    let mut n = 0;
    if let Some(f) = hyp().and_then(|h| h.backend_unschedule) {
        // SAFETY: the kernel's upcall, called as its contract says.
        unsafe { f(0, &mut n, interlock) };
    }
    n
}

/// Take a rump CPU again after blocking.
pub fn schedule(nlocks: c_int, interlock: *mut c_void) {
    if let Some(f) = hyp().and_then(|h| h.backend_schedule) {
        // SAFETY: the kernel's upcall.
        unsafe { f(nlocks, interlock) };
    }
}

/// Run a blocking operation with the rump CPU released.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    let n = unschedule(core::ptr::null_mut());
    let r = f();
    schedule(n, core::ptr::null_mut());
    r
}

/// Make the calling platform thread a kernel thread (once, before its
/// first call into the kernel): `schedule`, `lwproc_newlwp(0)`,
/// `unschedule`.
pub fn become_kernel_thread() {
    let Some(h) = hyp() else { return };
    // SAFETY: the kernel's upcalls, in the order the ABI prescribes.
    unsafe {
        if let Some(s) = h.schedule {
            s();
        }
        if let Some(n) = h.lwproc_newlwp {
            n(0);
        }
        if let Some(u) = h.unschedule {
            u();
        }
    }
}

/// Call into the kernel from a kernel thread: take a CPU around `f`.
pub fn kernel_call<R>(f: impl FnOnce() -> R) -> R {
    schedule(0, core::ptr::null_mut());
    let r = f();
    unschedule(core::ptr::null_mut());
    r
}
