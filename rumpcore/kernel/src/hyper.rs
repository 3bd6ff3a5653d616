//! Small hypercall wrappers: monotonic time, per-thread errno, threads.

use core::ffi::{c_char, c_void, CStr};

use rumpuser_abi::sig::RumpuserThreadFn;
use rumpuser_abi::RUMPUSER_CLOCK_ABSMONO;

use crate::sys;

/// Monotonic time in nanoseconds (`rumpuser_clock_gettime`).
pub fn now_ns() -> u64 {
    let (mut sec, mut nsec) = (0i64, 0);
    // SAFETY: two writable out-pointers.
    unsafe { sys::rumpuser_clock_gettime(RUMPUSER_CLOCK_ABSMONO, &mut sec, &mut nsec) };
    (sec.max(0) as u64) * 1_000_000_000 + nsec.max(0) as u64
}

/// Sets the calling thread's errno (`rumpuser_seterrno`).
pub fn set_errno(e: i32) {
    // SAFETY: a plain value-taking hypercall.
    unsafe { sys::rumpuser_seterrno(e) };
}

/// Starts a detached kernel thread running `f(arg)`; the errno on
/// failure.
///
/// # Safety
/// `arg` must stay valid for as long as `f` uses it.
pub unsafe fn thread_create(f: RumpuserThreadFn, arg: *mut c_void, name: &CStr) -> Result<(), i32> {
    let mut cookie = core::ptr::null_mut();
    let name: *const c_char = name.as_ptr();
    // SAFETY: `f` is a C-ABI thread body; `arg` is the caller's to keep
    // valid; the name is NUL-terminated (the platform copies it).
    let rv = unsafe { sys::rumpuser_thread_create(Some(f), arg, name, 0, 0, -1, &mut cookie) };
    if rv == 0 {
        Ok(())
    } else {
        Err(rv)
    }
}
