//! One rump virtual CPU and the kernel's `struct lwp`, behind the
//! `rumpuser_hyperup` upcall table handed to `rumpuser_init`.
//!
//! The CPU is a token (`busy`) under a rumpuser mutex and condition
//! variable, always taken with the `_nowrap` calls: taking the CPU must
//! never try to give it up. A thread with no lwp that schedules gets a
//! temporary (implicit) lwp, freed again when it unschedules; threads that
//! call `lwproc_newlwp` keep theirs.

use alloc::boxed::Box;
use core::ffi::{c_char, c_int, c_long, c_void};
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use rumpuser_abi::{
    errno, Lwp, Pid, RumpuserHyperup, RUMPUSER_LWP_CLEAR, RUMPUSER_LWP_CREATE,
    RUMPUSER_LWP_DESTROY, RUMPUSER_LWP_SET,
};

use crate::klock::{KCond, KMutex};
use crate::sys;

/// The kernel's `struct lwp`.
pub struct KLwp {
    /// A number for debugging.
    pub id: u32,
    /// The process it belongs to.
    pub pid: Pid,
    /// Made by `schedule` for a thread without an lwp; freed on
    /// `unschedule`.
    implicit: bool,
}

static NEXT_LWP: AtomicU32 = AtomicU32::new(1);

/// The virtual CPU.
struct Cpu {
    busy: KMutex<bool>,
    free: KCond,
}

static CPU: AtomicPtr<Cpu> = AtomicPtr::new(core::ptr::null_mut());

/// Creates the CPU (once, from `rump_init`, before any upcall).
pub fn init_cpu() {
    if !CPU.load(Ordering::Acquire).is_null() {
        return;
    }
    let cpu = Box::new(Cpu {
        busy: KMutex::new_nowrap(false),
        free: KCond::new(),
    });
    CPU.store(Box::into_raw(cpu), Ordering::Release);
}

fn cpu() -> Option<&'static Cpu> {
    // SAFETY: set once from a leaked Box and never freed.
    unsafe { CPU.load(Ordering::Acquire).as_ref() }
}

fn take_cpu() {
    let Some(c) = cpu() else { return };
    let mut busy = c.busy.lock();
    while *busy {
        busy.wait(&c.free);
    }
    *busy = true;
}

fn give_cpu() {
    let Some(c) = cpu() else { return };
    *c.busy.lock() = false;
    c.free.signal();
}

/// The calling thread's lwp, if any.
fn current() -> Option<&'static KLwp> {
    // SAFETY: a plain hypercall returning the pointer last SET here.
    let l = unsafe { sys::rumpuser_curlwp() } as *const KLwp;
    // SAFETY: only pointers to live, leaked `KLwp`s are ever SET; they are
    // freed only after CLEAR on their own thread.
    unsafe { l.as_ref() }
}

fn new_lwp(pid: Pid, implicit: bool) -> *mut Lwp {
    let l = Box::into_raw(Box::new(KLwp {
        id: NEXT_LWP.fetch_add(1, Ordering::Relaxed),
        pid,
        implicit,
    })) as *mut Lwp;
    // SAFETY: registering and installing a live lwp on this thread.
    unsafe {
        sys::rumpuser_curlwpop(RUMPUSER_LWP_CREATE, l);
        sys::rumpuser_curlwpop(RUMPUSER_LWP_SET, l);
    }
    l
}

/// Clears and frees the calling thread's lwp.
fn drop_current() {
    let Some(l) = current() else { return };
    let p = l as *const KLwp as *mut Lwp;
    // SAFETY: `p` is this thread's lwp, made by `new_lwp` from a Box;
    // after CLEAR nothing refers to it any more.
    unsafe {
        sys::rumpuser_curlwpop(RUMPUSER_LWP_CLEAR, p);
        sys::rumpuser_curlwpop(RUMPUSER_LWP_DESTROY, p);
        drop(Box::from_raw(p as *mut KLwp));
    }
}

/// `schedule`: take the CPU (making an implicit lwp if needed).
pub extern "C" fn hyp_schedule() {
    if current().is_none() {
        new_lwp(1, true);
    }
    take_cpu();
}

/// `unschedule`: give the CPU back; an implicit lwp goes away.
pub extern "C" fn hyp_unschedule() {
    give_cpu();
    if current().is_some_and(|l| l.implicit) {
        drop_current();
    }
}

extern "C" fn hyp_backend_unschedule(_nlocks: c_int, nlocks_out: *mut c_int, _il: *mut c_void) {
    if !nlocks_out.is_null() {
        // SAFETY: the platform passes a writable out-pointer or null.
        unsafe { *nlocks_out = 0 };
    }
    give_cpu();
}

extern "C" fn hyp_backend_schedule(_nlocks: c_int, _il: *mut c_void) {
    take_cpu();
}

extern "C" fn hyp_lwproc_switch(l: *mut Lwp) {
    let op = if l.is_null() {
        RUMPUSER_LWP_CLEAR
    } else {
        RUMPUSER_LWP_SET
    };
    // SAFETY: `l` is an lwp the kernel handed out (or null).
    unsafe { sys::rumpuser_curlwpop(op, l) };
}

extern "C" fn hyp_lwproc_release() {
    drop_current();
}

extern "C" fn hyp_lwproc_rfork(_p: *mut c_void, _flags: c_int, _comm: *const c_char) -> c_int {
    hyp_lwproc_newlwp(1)
}

/// `lwproc_newlwp`: a persistent lwp for the calling thread (replacing an
/// implicit one).
pub extern "C" fn hyp_lwproc_newlwp(pid: Pid) -> c_int {
    if current().is_some_and(|l| l.implicit) {
        drop_current();
    }
    new_lwp(pid, false);
    0
}

extern "C" fn hyp_lwproc_curlwp() -> *mut Lwp {
    // SAFETY: a plain hypercall.
    unsafe { sys::rumpuser_curlwp() }
}

extern "C" fn hyp_syscall(_num: c_int, _data: *mut c_void, _retval: *mut c_long) -> c_int {
    errno::ENOSYS
}

extern "C" fn hyp_lwpexit() {}

extern "C" fn hyp_execnotify(_comm: *const c_char) {}

extern "C" fn hyp_getpid() -> Pid {
    current().map_or(1, |l| l.pid)
}

/// The upcall table this kernel hands `rumpuser_init`.
pub static HYPERUP: RumpuserHyperup = RumpuserHyperup {
    schedule: Some(hyp_schedule),
    unschedule: Some(hyp_unschedule),
    backend_unschedule: Some(hyp_backend_unschedule),
    backend_schedule: Some(hyp_backend_schedule),
    lwproc_switch: Some(hyp_lwproc_switch),
    lwproc_release: Some(hyp_lwproc_release),
    lwproc_rfork: Some(hyp_lwproc_rfork),
    lwproc_newlwp: Some(hyp_lwproc_newlwp),
    lwproc_curlwp: Some(hyp_lwproc_curlwp),
    syscall: Some(hyp_syscall),
    lwpexit: Some(hyp_lwpexit),
    execnotify: Some(hyp_execnotify),
    getpid: Some(hyp_getpid),
    extra: [core::ptr::null_mut(); 8],
};
