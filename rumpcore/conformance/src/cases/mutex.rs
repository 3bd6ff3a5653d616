//! Mutexes: enter/exit, owner, tryenter, SPIN and `_nowrap` never
//! unscheduling, KMUTEX under contention.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use rumpuser_abi::errno::EBUSY;
use rumpuser_abi::{RumpuserMtx, RUMPUSER_MTX_KMUTEX, RUMPUSER_MTX_SPIN};

use crate::model;
use crate::sys;
use crate::util::{ensure, join_all, my_counts, nowrap, spawn, CaseResult, Exit, Shared, Sink};
use crate::Config;

/// A new mutex with `flags`.
pub(crate) fn new_mutex(flags: i32) -> Shared<RumpuserMtx> {
    let mut m = core::ptr::null_mut();
    // SAFETY: valid out-pointer.
    unsafe { sys::rumpuser_mutex_init(&mut m, flags) };
    Shared(m)
}

fn owner(m: Shared<RumpuserMtx>) -> *mut rumpuser_abi::Lwp {
    let mut l = core::ptr::null_mut();
    // SAFETY: live mutex, valid out-pointer.
    unsafe { sys::rumpuser_mutex_owner(m.get(), &mut l) };
    l
}

/// Enter/exit a KMUTEX; the owner is the caller's lwp while held, none after.
pub fn enter_exit_owner(_: &Config<'_>) -> CaseResult {
    let m = new_mutex(RUMPUSER_MTX_KMUTEX);
    ensure!(!m.get().is_null(), "mutex_init gave null");
    let me = model::current()
        .map(|l| l.as_lwp())
        .unwrap_or(core::ptr::null_mut());
    ensure!(owner(m).is_null(), "fresh mutex has owner {:p}", owner(m));
    for _ in 0..100 {
        // SAFETY: live mutex, not held by us.
        unsafe { sys::rumpuser_mutex_enter(m.get()) };
        let o = owner(m);
        // SAFETY: held by us.
        unsafe { sys::rumpuser_mutex_exit(m.get()) };
        ensure!(o == me, "owner while held is {o:p}, want {me:p}");
        ensure!(owner(m).is_null(), "owner after exit is {:p}", owner(m));
    }
    // SAFETY: not held; destroyed once.
    unsafe { sys::rumpuser_mutex_destroy(m.get()) };
    Ok(())
}

/// tryenter: 0 when free, EBUSY when another thread holds it.
pub fn tryenter_busy(_: &Config<'_>) -> CaseResult {
    let m = new_mutex(RUMPUSER_MTX_KMUTEX);
    // SAFETY: live mutex, free.
    let rv = unsafe { sys::rumpuser_mutex_tryenter(m.get()) };
    ensure!(rv == 0, "tryenter on a free mutex returned {rv}");
    let seen = Arc::new(AtomicI32::new(-1));
    let s2 = seen.clone();
    let kid = spawn(c"cf-tryenter", true, move || {
        // SAFETY: live mutex; only exited if we got it.
        let rv = unsafe { sys::rumpuser_mutex_tryenter(m.get()) };
        if rv == 0 {
            // SAFETY: we got it.
            unsafe { sys::rumpuser_mutex_exit(m.get()) };
        }
        s2.store(rv, Ordering::SeqCst);
        Exit::Return
    })?;
    kid.join()?;
    let me = model::current()
        .map(|l| l.as_lwp())
        .unwrap_or(core::ptr::null_mut());
    let o = owner(m);
    // SAFETY: held by us.
    unsafe { sys::rumpuser_mutex_exit(m.get()) };
    let rv = seen.load(Ordering::SeqCst);
    ensure!(
        rv == EBUSY,
        "tryenter on a held mutex returned {rv}, want EBUSY ({EBUSY})"
    );
    ensure!(o == me, "owner after tryenter is {o:p}, want {me:p}");
    let s3 = seen.clone();
    let kid = spawn(c"cf-tryenter2", true, move || {
        // SAFETY: live mutex.
        let rv = unsafe { sys::rumpuser_mutex_tryenter(m.get()) };
        if rv == 0 {
            // SAFETY: we got it.
            unsafe { sys::rumpuser_mutex_exit(m.get()) };
        }
        s3.store(rv, Ordering::SeqCst);
        Exit::Return
    })?;
    kid.join()?;
    let rv = seen.load(Ordering::SeqCst);
    ensure!(rv == 0, "tryenter on a released mutex returned {rv}");
    // SAFETY: free; destroyed once.
    unsafe { sys::rumpuser_mutex_destroy(m.get()) };
    Ok(())
}

/// Count `iters` increments by each of `threads` threads under `m`, with a
/// read-modify-write that is only exact under mutual exclusion.
fn hammer(
    name: &core::ffi::CStr,
    m: Shared<RumpuserMtx>,
    threads: usize,
    iters: usize,
    enter: unsafe extern "C" fn(*mut RumpuserMtx),
    in_nowrap: bool,
) -> CaseResult {
    let counter = Arc::new(AtomicU64::new(0));
    let sink = Sink::new();
    let mut kids = Vec::new();
    for _ in 0..threads {
        let c = counter.clone();
        let s = sink.clone();
        kids.push(spawn(name, true, move || {
            for i in 0..iters {
                let body = || {
                    // SAFETY: live mutex; exited right after.
                    unsafe { enter(m.get()) };
                    let v = c.load(Ordering::Relaxed);
                    for _ in 0..(i % 4) {
                        core::hint::spin_loop();
                    }
                    c.store(v + 1, Ordering::Relaxed);
                    // SAFETY: held by us.
                    unsafe { sys::rumpuser_mutex_exit(m.get()) };
                };
                if in_nowrap {
                    nowrap(body);
                } else {
                    body();
                }
                if !model::holds_cpu() {
                    s.fail("mutex enter returned without the rump CPU".into());
                    break;
                }
            }
            Exit::Return
        })?);
    }
    join_all(kids)?;
    sink.result()?;
    let got = counter.load(Ordering::SeqCst);
    let want = (threads * iters) as u64;
    ensure!(
        got == want,
        "counter {got}, want {want}: mutual exclusion failed"
    );
    Ok(())
}

/// SPIN mutexes never call backend_unschedule, contended or not.
pub fn spin_never_unschedules(cfg: &Config<'_>) -> CaseResult {
    let m = new_mutex(RUMPUSER_MTX_SPIN);
    let before = my_counts();
    nowrap(|| {
        for _ in 0..100 {
            // SAFETY: live mutex.
            unsafe { sys::rumpuser_mutex_enter(m.get()) };
            // SAFETY: held by us.
            unsafe { sys::rumpuser_mutex_exit(m.get()) };
        }
    });
    ensure!(
        my_counts() == before,
        "SPIN mutex enter/exit called backend_(un)schedule"
    );
    hammer(
        c"cf-spin",
        m,
        cfg.threads.min(2),
        cfg.iterations / 2,
        sys::rumpuser_mutex_enter,
        true,
    )?;
    // SAFETY: free; destroyed once.
    unsafe { sys::rumpuser_mutex_destroy(m.get()) };
    Ok(())
}

/// `threads` × `iterations` increments under a KMUTEX are exact.
pub fn kmutex_contention(cfg: &Config<'_>) -> CaseResult {
    let m = new_mutex(RUMPUSER_MTX_KMUTEX);
    hammer(
        c"cf-kmutex",
        m,
        cfg.threads,
        cfg.iterations,
        sys::rumpuser_mutex_enter,
        false,
    )?;
    // SAFETY: free; destroyed once.
    unsafe { sys::rumpuser_mutex_destroy(m.get()) };
    Ok(())
}

/// `mutex_enter_nowrap` excludes and never unschedules.
pub fn enter_nowrap(cfg: &Config<'_>) -> CaseResult {
    for flags in [0, RUMPUSER_MTX_KMUTEX] {
        let m = new_mutex(flags);
        let before = my_counts();
        nowrap(|| {
            // SAFETY: live mutex.
            unsafe { sys::rumpuser_mutex_enter_nowrap(m.get()) };
            // SAFETY: held by us.
            unsafe { sys::rumpuser_mutex_exit(m.get()) };
        });
        ensure!(
            my_counts() == before,
            "enter_nowrap called backend_(un)schedule"
        );
        hammer(
            c"cf-nowrap",
            m,
            cfg.threads.min(2),
            cfg.iterations / 4,
            sys::rumpuser_mutex_enter_nowrap,
            true,
        )?;
        // SAFETY: free; destroyed once.
        unsafe { sys::rumpuser_mutex_destroy(m.get()) };
    }
    Ok(())
}
