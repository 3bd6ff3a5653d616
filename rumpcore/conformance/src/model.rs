//! The kernel's side of the scheduling rule: a virtual-CPU model behind the
//! suite's `rumpuser_hyperup` table.
//!
//! Every thread the suite runs has a [`TestLwp`] set as its curlwp through
//! `rumpuser_curlwpop`. The upcalls find the caller's lwp with
//! `rumpuser_curlwp` and track whether it holds a rump CPU, counting
//! `backend_unschedule`/`backend_schedule` calls. Anything against the rule
//! (releasing a CPU not held, taking one twice, unscheduling inside a
//! `_nowrap`/SPIN section, an upcall from a thread with no lwp) is recorded
//! as a violation that fails the running case.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::ffi::{c_char, c_int, c_long, c_void};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use rumpuser_abi::{
    Lwp, Pid, RumpuserHyperup, RUMPUSER_LWP_CLEAR, RUMPUSER_LWP_CREATE, RUMPUSER_LWP_SET,
};

use crate::spin::Spin;
use crate::sys;

const MAGIC: u64 = 0x6c77_7074_6573_7421;

/// The suite's `struct lwp`.
pub struct TestLwp {
    magic: u64,
    /// A number for messages.
    pub id: u32,
    /// Does the thread this lwp is current on hold a rump CPU?
    pub cpu: AtomicBool,
    /// `backend_unschedule` calls made while this lwp was current.
    pub unsched: AtomicU32,
    /// `backend_schedule` calls made while this lwp was current.
    pub sched: AtomicU32,
    /// Inside a `_nowrap` or SPIN section: unscheduling is a violation.
    pub nowrap: AtomicBool,
    /// Made by `schedule` on a thread without an lwp (a temporary one).
    implicit: bool,
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

impl TestLwp {
    /// A fresh lwp holding no CPU.
    pub fn new() -> Self {
        Self::with_implicit(false)
    }

    fn with_implicit(implicit: bool) -> Self {
        Self {
            magic: MAGIC,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            cpu: AtomicBool::new(false),
            unsched: AtomicU32::new(0),
            sched: AtomicU32::new(0),
            nowrap: AtomicBool::new(false),
            implicit,
        }
    }

    /// This lwp as the ABI's opaque pointer.
    pub fn as_lwp(&self) -> *mut Lwp {
        self as *const Self as *mut Lwp
    }

    /// (`backend_unschedule`, `backend_schedule`) counts so far.
    pub fn counts(&self) -> (u32, u32) {
        (
            self.unsched.load(Ordering::SeqCst),
            self.sched.load(Ordering::SeqCst),
        )
    }
}

impl Default for TestLwp {
    fn default() -> Self {
        Self::new()
    }
}

static VIOLATIONS: AtomicU32 = AtomicU32::new(0);
static FIRST_VIOLATION: Spin<Option<String>> = Spin::new(None);

/// Record a breach of the scheduling rule (or of another upcall contract).
pub fn violation(msg: String) {
    if VIOLATIONS.fetch_add(1, Ordering::SeqCst) == 0 {
        FIRST_VIOLATION.with(|v| *v = Some(msg));
    }
}

/// Forget recorded violations (at the start of a case).
pub fn reset_violations() {
    FIRST_VIOLATION.with(|v| *v = None);
    VIOLATIONS.store(0, Ordering::SeqCst);
}

/// Violations since the last reset: count and the first message.
pub fn violations() -> Option<(u32, String)> {
    let n = VIOLATIONS.load(Ordering::SeqCst);
    if n == 0 {
        return None;
    }
    let first = FIRST_VIOLATION.with(|v| v.clone()).unwrap_or_default();
    Some((n, first))
}

/// The calling thread's lwp, if it is one of ours.
pub fn current() -> Option<&'static TestLwp> {
    // SAFETY: a plain hypercall returning the pointer last SET on this thread.
    let l = unsafe { sys::rumpuser_curlwp() } as *const TestLwp;
    if l.is_null() {
        return None;
    }
    // SAFETY: the suite only ever SETs pointers to live `TestLwp`s (kept
    // alive until after CLEAR); the magic catches a platform returning
    // something else.
    let lwp = unsafe { &*l };
    if lwp.magic != MAGIC {
        violation(format!(
            "rumpuser_curlwp returned {l:p}, not an lwp the suite set"
        ));
        return None;
    }
    Some(lwp)
}

/// Does the calling thread hold a rump CPU (per the model)?
pub fn holds_cpu() -> bool {
    current().is_some_and(|l| l.cpu.load(Ordering::SeqCst))
}

fn take_cpu(l: &TestLwp, what: &str) {
    if l.cpu.swap(true, Ordering::SeqCst) {
        violation(format!("{what}: lwp {} already holds a rump CPU", l.id));
    }
}

fn give_cpu(l: &TestLwp, what: &str) {
    if !l.cpu.swap(false, Ordering::SeqCst) {
        violation(format!("{what}: lwp {} holds no rump CPU", l.id));
    }
}

unsafe extern "C" fn hyp_schedule() {
    match current() {
        Some(l) => take_cpu(l, "schedule"),
        None => {
            // A platform thread without an lwp: the kernel makes a
            // temporary one.
            let l: &'static TestLwp = Box::leak(Box::new(TestLwp::with_implicit(true)));
            // SAFETY: `l` lives forever (leaked).
            unsafe {
                sys::rumpuser_curlwpop(RUMPUSER_LWP_CREATE, l.as_lwp());
                sys::rumpuser_curlwpop(RUMPUSER_LWP_SET, l.as_lwp());
            }
            take_cpu(l, "schedule");
        }
    }
}

unsafe extern "C" fn hyp_unschedule() {
    let Some(l) = current() else {
        violation("unschedule from a thread with no lwp".into());
        return;
    };
    give_cpu(l, "unschedule");
    if l.implicit {
        // SAFETY: clearing this thread's curlwp; the leaked lwp stays valid.
        unsafe { sys::rumpuser_curlwpop(RUMPUSER_LWP_CLEAR, l.as_lwp()) };
    }
}

unsafe extern "C" fn hyp_backend_unschedule(
    _nlocks: c_int,
    nlocks_out: *mut c_int,
    _il: *mut c_void,
) {
    if !nlocks_out.is_null() {
        // SAFETY: the platform passes a valid out-pointer or null.
        unsafe { *nlocks_out = 0 };
    }
    let Some(l) = current() else {
        violation("backend_unschedule from a thread with no lwp".into());
        return;
    };
    if l.nowrap.load(Ordering::SeqCst) {
        violation(format!(
            "backend_unschedule inside a _nowrap/SPIN section (lwp {})",
            l.id
        ));
    }
    l.unsched.fetch_add(1, Ordering::SeqCst);
    give_cpu(l, "backend_unschedule");
}

unsafe extern "C" fn hyp_backend_schedule(_nlocks: c_int, _il: *mut c_void) {
    let Some(l) = current() else {
        violation("backend_schedule from a thread with no lwp".into());
        return;
    };
    l.sched.fetch_add(1, Ordering::SeqCst);
    take_cpu(l, "backend_schedule");
}

unsafe extern "C" fn hyp_lwproc_switch(new: *mut Lwp) {
    // SAFETY: plain hypercalls; `new` comes from the caller.
    unsafe {
        let old = sys::rumpuser_curlwp();
        if !old.is_null() {
            sys::rumpuser_curlwpop(RUMPUSER_LWP_CLEAR, old);
        }
        sys::rumpuser_curlwpop(RUMPUSER_LWP_SET, new);
    }
}

unsafe extern "C" fn hyp_lwproc_release() {
    violation("lwproc_release is not expected from a platform".into());
}

unsafe extern "C" fn hyp_lwproc_rfork(
    _p: *mut c_void,
    _flags: c_int,
    _name: *const c_char,
) -> c_int {
    violation("lwproc_rfork is not expected from a platform".into());
    rumpuser_abi::errno::EOPNOTSUPP
}

unsafe extern "C" fn hyp_lwproc_newlwp(_pid: Pid) -> c_int {
    let Some(old) = current() else {
        violation("lwproc_newlwp from a thread with no lwp (call schedule first)".into());
        return rumpuser_abi::errno::EINVAL;
    };
    if !old.cpu.load(Ordering::SeqCst) {
        violation(format!("lwproc_newlwp without a rump CPU (lwp {})", old.id));
    }
    let new: &'static TestLwp = Box::leak(Box::new(TestLwp::new()));
    old.cpu.store(false, Ordering::SeqCst);
    new.cpu.store(true, Ordering::SeqCst);
    // SAFETY: both lwps stay valid (`new` is leaked, `old` is either leaked
    // (implicit) or owned by a live suite thread).
    unsafe {
        sys::rumpuser_curlwpop(RUMPUSER_LWP_CREATE, new.as_lwp());
        sys::rumpuser_curlwpop(RUMPUSER_LWP_CLEAR, old.as_lwp());
        sys::rumpuser_curlwpop(RUMPUSER_LWP_SET, new.as_lwp());
    }
    0
}

unsafe extern "C" fn hyp_lwproc_curlwp() -> *mut Lwp {
    // SAFETY: plain hypercall.
    unsafe { sys::rumpuser_curlwp() }
}

unsafe extern "C" fn hyp_syscall(_num: c_int, _data: *mut c_void, _ret: *mut c_long) -> c_int {
    violation("syscall upcall is not expected from a platform".into());
    rumpuser_abi::errno::ENOSYS
}

unsafe extern "C" fn hyp_lwpexit() {
    violation("lwpexit upcall is not expected from a platform".into());
}

unsafe extern "C" fn hyp_execnotify(_name: *const c_char) {}

unsafe extern "C" fn hyp_getpid() -> Pid {
    1
}

/// The upcall table the suite passes to `rumpuser_init`.
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

/// Take a rump CPU on this thread (the kernel's `rump_schedule`).
pub fn schedule() {
    // SAFETY: our own upcall.
    unsafe { hyp_schedule() }
}

/// Give the rump CPU back (the kernel's `rump_unschedule`).
pub fn unschedule() {
    // SAFETY: our own upcall.
    unsafe { hyp_unschedule() }
}
