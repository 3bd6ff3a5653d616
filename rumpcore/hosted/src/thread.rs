//! Threads (`std::thread`), join cookies, curlwp in a thread-local.

use core::ffi::{c_char, c_int, c_void, CStr};
use std::cell::{Cell, RefCell};
use std::sync::{Arc, Condvar, Mutex};

use rumpuser_abi::sig::RumpuserThreadFn;
use rumpuser_abi::{errno, Lwp, RUMPUSER_LWP_CLEAR, RUMPUSER_LWP_SET};

/// The calling thread's lwp (for the lock owners).
pub fn curlwp() -> *mut Lwp {
    CURLWP.with(|c| c.get())
}

use crate::hyp;

thread_local! {
    static CURLWP: Cell<*mut Lwp> = const { Cell::new(core::ptr::null_mut()) };
    static EXIT: RefCell<Option<Arc<Exit>>> = const { RefCell::new(None) };
}

/// A thread's end, for joiners.
#[derive(Default)]
struct Exit {
    done: Mutex<bool>,
    cond: Condvar,
}

impl Exit {
    fn finish(&self) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cond.notify_all();
    }
}

fn finish_current() {
    if let Some(e) = EXIT.with(|x| x.borrow_mut().take()) {
        e.finish();
    }
}

/// `rumpuser_thread_create`: an OS thread running `f(arg)`; with
/// `mustjoin`, `*cookie` is the handle for `rumpuser_thread_join`.
///
/// # Safety
/// `f` must be safe to call with `arg` on another thread; `name` null or
/// NUL-terminated; `cookie` writable when `mustjoin`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_thread_create(
    f: Option<RumpuserThreadFn>,
    arg: *mut c_void,
    name: *const c_char,
    mustjoin: c_int,
    _prio: c_int,
    _cpuidx: c_int,
    cookie: *mut *mut c_void,
) -> c_int {
    let Some(f) = f else { return errno::EINVAL };
    let exit = Arc::new(Exit::default());
    let mine = exit.clone();
    let arg = arg as usize;
    let mut b = std::thread::Builder::new();
    if !name.is_null() {
        // SAFETY: the caller passes a NUL-terminated name.
        b = b.name(
            unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned(),
        );
    }
    let spawned = b.spawn(move || {
        EXIT.with(|x| *x.borrow_mut() = Some(mine));
        // SAFETY: the caller vouched for `f(arg)` on a new thread.
        unsafe { f(arg as *mut c_void) };
        finish_current();
    });
    match spawned {
        Ok(_) => {
            if mustjoin != 0 && !cookie.is_null() {
                // SAFETY: writable out-pointer; the Arc is reclaimed by join.
                unsafe { *cookie = Arc::into_raw(exit) as *mut c_void };
            }
            0
        }
        Err(e) => crate::errno::from_io(&e),
    }
}

/// `rumpuser_thread_exit`: the thread ends for its joiner; the OS thread
/// is parked for good (unwinding through C frames is not an option).
///
/// # Safety
/// Called from a thread made by `rumpuser_thread_create`; nothing on its
/// stack is used again.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_thread_exit() -> ! {
    CURLWP.with(|c| c.set(core::ptr::null_mut()));
    finish_current();
    loop {
        std::thread::park();
    }
}

/// `rumpuser_thread_join`: wait (CPU released) for a joinable thread.
///
/// # Safety
/// `cookie` must come from `rumpuser_thread_create` with `mustjoin`, once.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_thread_join(cookie: *mut c_void) -> c_int {
    if cookie.is_null() {
        return errno::EINVAL;
    }
    // SAFETY: the Arc leaked by `rumpuser_thread_create` for this cookie.
    let exit = unsafe { Arc::from_raw(cookie as *const Exit) };
    hyp::blocking(|| {
        let mut d = exit.done.lock().unwrap_or_else(|e| e.into_inner());
        while !*d {
            d = exit.cond.wait(d).unwrap_or_else(|e| e.into_inner());
        }
    });
    0
}

/// `rumpuser_curlwpop`: SET/CLEAR the thread's lwp (CREATE/DESTROY need
/// nothing here).
///
/// # Safety
/// Always safe; `unsafe` for the ABI's uniformity.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_curlwpop(op: c_int, l: *mut Lwp) {
    match op {
        RUMPUSER_LWP_SET => CURLWP.with(|c| c.set(l)),
        RUMPUSER_LWP_CLEAR => CURLWP.with(|c| c.set(core::ptr::null_mut())),
        _ => {}
    }
}

/// `rumpuser_curlwp`: a thread-local read.
///
/// # Safety
/// Always safe; `unsafe` for the ABI's uniformity.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_curlwp() -> *mut Lwp {
    CURLWP.with(|c| c.get())
}
