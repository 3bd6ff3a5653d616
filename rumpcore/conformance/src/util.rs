//! Helpers the cases share: time, polling waits, suite threads, error sinks.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::ffi::{c_long, c_void, CStr};
use core::sync::atomic::{AtomicBool, Ordering};

use rumpuser_abi::{
    RUMPUSER_CLOCK_ABSMONO, RUMPUSER_CLOCK_RELWALL, RUMPUSER_LWP_CLEAR, RUMPUSER_LWP_CREATE,
    RUMPUSER_LWP_DESTROY, RUMPUSER_LWP_SET,
};

use crate::model::{self, TestLwp};
use crate::spin::Spin;
use crate::sys;

/// A case's result.
pub type CaseResult = Result<(), String>;

/// Fail with a message unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(alloc::format!($($fmt)+));
        }
    };
}
pub(crate) use ensure;

/// A raw pointer that may cross to a suite thread (the hypercalls' handles
/// are meant to be shared between threads).
pub struct Shared<T>(pub *mut T);

impl<T> Shared<T> {
    /// The pointer (a method, so closures capture the whole `Shared`).
    pub fn get(self) -> *mut T {
        self.0
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Shared<T> {}
// SAFETY: the handles are platform objects designed for use from any thread.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Shared<T> {}

/// Monotonic time in nanoseconds, from `rumpuser_clock_gettime`.
pub fn now_ns() -> i64 {
    let (mut s, mut ns): (i64, c_long) = (0, 0);
    // SAFETY: valid out-pointers.
    let rv = unsafe { sys::rumpuser_clock_gettime(RUMPUSER_CLOCK_ABSMONO, &mut s, &mut ns) };
    if rv != 0 {
        model::violation(format!("clock_gettime(ABSMONO) failed: {rv}"));
    }
    s * 1_000_000_000 + ns
}

/// Sleep (relative wall clock), through the hypercall under test.
pub fn sleep_ms(ms: i64) {
    // SAFETY: plain hypercall.
    unsafe {
        sys::rumpuser_clock_sleep(
            RUMPUSER_CLOCK_RELWALL,
            ms / 1000,
            ((ms % 1000) * 1_000_000) as c_long,
        )
    };
}

/// Poll `cond` every millisecond (sleeping through the hypercall, so other
/// threads run on a cooperative scheduler) for up to `timeout_ms`.
pub fn wait_until(timeout_ms: i64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = now_ns() + timeout_ms * 1_000_000;
    loop {
        if cond() {
            return true;
        }
        if now_ns() > deadline {
            return cond();
        }
        sleep_ms(1);
    }
}

/// Collects failures reported by suite threads.
#[derive(Default)]
pub struct Sink(Spin<Option<String>>);

impl Sink {
    /// A new empty sink, shareable with threads.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Record a failure (the first one is kept).
    pub fn fail(&self, msg: String) {
        self.0.with(|v| {
            if v.is_none() {
                *v = Some(msg);
            }
        });
    }

    /// The first failure, as a case result.
    pub fn result(&self) -> CaseResult {
        match self.0.with(|v| v.clone()) {
            Some(m) => Err(m),
            None => Ok(()),
        }
    }
}

/// How a suite thread body ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Return from the thread function.
    Return,
    /// Call `rumpuser_thread_exit`.
    ThreadExit,
}

type Body = Box<dyn FnOnce() -> Exit + Send>;

struct Start {
    lwp: Arc<TestLwp>,
    done: Arc<AtomicBool>,
    body: Body,
}

/// A thread started with [`spawn`].
pub struct Child {
    /// The thread's lwp.
    pub lwp: Arc<TestLwp>,
    /// Set once the body has finished (before the thread ends).
    pub done: Arc<AtomicBool>,
    cookie: *mut c_void,
    mustjoin: bool,
}

unsafe extern "C" fn bouncer(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the `Box<Start>` leaked by `spawn`, handed over once.
    let start = unsafe { Box::from_raw(arg as *mut Start) };
    let l = start.lwp.as_lwp();
    // SAFETY: `l` stays alive: `start.lwp` holds it until after CLEAR.
    unsafe { sys::rumpuser_curlwpop(RUMPUSER_LWP_SET, l) };
    // SAFETY: plain hypercall.
    if unsafe { sys::rumpuser_curlwp() } != l {
        model::violation(format!(
            "curlwp after SET on a new thread is not lwp {}",
            start.lwp.id
        ));
    }
    model::schedule();
    let Start { lwp, done, body } = *start;
    let how = body();
    model::unschedule();
    // SAFETY: as above.
    unsafe { sys::rumpuser_curlwpop(RUMPUSER_LWP_CLEAR, lwp.as_lwp()) };
    // SAFETY: plain hypercall.
    if !unsafe { sys::rumpuser_curlwp() }.is_null() {
        model::violation(format!("curlwp after CLEAR on lwp {} is not null", lwp.id));
    }
    drop(lwp);
    done.store(true, Ordering::SeqCst);
    drop(done);
    if how == Exit::ThreadExit {
        // SAFETY: nothing of ours is live on this stack any more.
        unsafe { sys::rumpuser_thread_exit() }
    }
    core::ptr::null_mut()
}

/// Start a suite thread through `rumpuser_thread_create`: it gets its own
/// lwp (CREATEd here, SET on the thread), takes a rump CPU, runs `body`,
/// gives the CPU back and CLEARs its lwp.
pub fn spawn(
    name: &CStr,
    mustjoin: bool,
    body: impl FnOnce() -> Exit + Send + 'static,
) -> Result<Child, String> {
    let lwp = Arc::new(TestLwp::new());
    let done = Arc::new(AtomicBool::new(false));
    // SAFETY: `lwp` outlives its use (DESTROY in `join`/`reap`).
    unsafe { sys::rumpuser_curlwpop(RUMPUSER_LWP_CREATE, lwp.as_lwp()) };
    let start = Box::into_raw(Box::new(Start {
        lwp: lwp.clone(),
        done: done.clone(),
        body: Box::new(body),
    }));
    let mut cookie = core::ptr::null_mut();
    // SAFETY: `bouncer` takes ownership of `start`; valid name and out-pointer.
    let rv = unsafe {
        sys::rumpuser_thread_create(
            Some(bouncer),
            start as *mut c_void,
            name.as_ptr(),
            mustjoin as i32,
            -1,
            -1,
            &mut cookie,
        )
    };
    if rv != 0 {
        // SAFETY: the thread was not created, so `start` is still ours.
        drop(unsafe { Box::from_raw(start) });
        // SAFETY: as above.
        unsafe { sys::rumpuser_curlwpop(RUMPUSER_LWP_DESTROY, lwp.as_lwp()) };
        return Err(format!("thread_create({name:?}) failed: {rv}"));
    }
    Ok(Child {
        lwp,
        done,
        cookie,
        mustjoin,
    })
}

impl Child {
    /// `rumpuser_thread_join` (joinable threads) or wait for the body to end
    /// (detached ones), then DESTROY the lwp.
    pub fn join(self) -> CaseResult {
        // Bound the wait: a thread stuck in a broken hypercall is reported,
        // and leaked (it may still use the case's objects), not joined.
        if !wait_until(20_000, || self.done.load(Ordering::SeqCst)) {
            let id = self.lwp.id;
            core::mem::forget(self);
            return Err(format!("thread of lwp {id} did not finish in 20 s"));
        }
        if self.mustjoin {
            let before = my_counts();
            // SAFETY: the cookie from thread_create, joined once.
            let rv = unsafe { sys::rumpuser_thread_join(self.cookie) };
            ensure!(rv == 0, "thread_join failed: {rv}");
            ensure!(
                self.done.load(Ordering::SeqCst),
                "thread_join returned before the thread ended"
            );
            check_wrapped("thread_join", before)?;
        } else {
            ensure!(
                wait_until(10_000, || self.done.load(Ordering::SeqCst)),
                "detached thread did not finish in 10 s"
            );
        }
        // SAFETY: the thread no longer uses its lwp.
        unsafe { sys::rumpuser_curlwpop(RUMPUSER_LWP_DESTROY, self.lwp.as_lwp()) };
        Ok(())
    }
}

/// Join every child, keeping the first error.
pub fn join_all(children: impl IntoIterator<Item = Child>) -> CaseResult {
    let mut r = Ok(());
    for c in children {
        let j = c.join();
        if r.is_ok() {
            r = j;
        }
    }
    r
}

/// Check a blocking hypercall released and re-took the CPU: the caller's
/// lwp holds the CPU now and its unschedule/schedule counts grew equally.
pub fn check_wrapped(what: &str, before: (u32, u32)) -> CaseResult {
    let l = model::current().ok_or_else(|| format!("{what}: no curlwp afterwards"))?;
    ensure!(
        l.cpu.load(Ordering::SeqCst),
        "{what}: returned without the rump CPU"
    );
    let after = l.counts();
    ensure!(
        after.0 - before.0 == after.1 - before.1,
        "{what}: {} backend_unschedule vs {} backend_schedule",
        after.0 - before.0,
        after.1 - before.1
    );
    Ok(())
}

/// The caller's (unschedule, schedule) counts.
pub fn my_counts() -> (u32, u32) {
    model::current().map(|l| l.counts()).unwrap_or((0, 0))
}

/// Run `f` with the caller's lwp marked as in a `_nowrap`/SPIN section.
pub fn nowrap<R>(f: impl FnOnce() -> R) -> R {
    let l = model::current();
    if let Some(l) = l {
        l.nowrap.store(true, Ordering::SeqCst);
    }
    let r = f();
    if let Some(l) = l {
        l.nowrap.store(false, Ordering::SeqCst);
    }
    r
}
