//! Condition variables: signal, broadcast, timedwait (timeout and wakeup),
//! `_nowrap`, has_waiters, a producer/consumer under contention.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, Ordering};

use rumpuser_abi::errno::ETIMEDOUT;
use rumpuser_abi::{RumpuserCv, RumpuserMtx, RUMPUSER_MTX_KMUTEX};

use super::mutex::new_mutex;
use crate::model;
use crate::spin::Spin;
use crate::sys;
use crate::util::{
    check_wrapped, ensure, join_all, my_counts, now_ns, nowrap, spawn, wait_until, CaseResult,
    Exit, Shared, Sink,
};
use crate::Config;

fn new_cv() -> Shared<RumpuserCv> {
    let mut cv = core::ptr::null_mut();
    // SAFETY: valid out-pointer.
    unsafe { sys::rumpuser_cv_init(&mut cv) };
    Shared(cv)
}

fn waiters(cv: Shared<RumpuserCv>, m: Shared<RumpuserMtx>) -> i32 {
    let mut n = 0;
    // SAFETY: live objects; the kernel asks with the interlock held.
    unsafe {
        sys::rumpuser_mutex_enter(m.get());
        sys::rumpuser_cv_has_waiters(cv.get(), &mut n);
        sys::rumpuser_mutex_exit(m.get());
    }
    n
}

fn destroy(cv: Shared<RumpuserCv>, m: Shared<RumpuserMtx>) {
    // SAFETY: no waiters, mutex free; each destroyed once.
    unsafe {
        sys::rumpuser_cv_destroy(cv.get());
        sys::rumpuser_mutex_destroy(m.get());
    }
}

/// Under `m`, set `flag` and wake waiters (all if `all`).
fn post(cv: Shared<RumpuserCv>, m: Shared<RumpuserMtx>, flag: &AtomicBool, all: bool) {
    // SAFETY: live objects; the mutex is exited right after.
    unsafe {
        sys::rumpuser_mutex_enter(m.get());
        flag.store(true, Ordering::SeqCst);
        if all {
            sys::rumpuser_cv_broadcast(cv.get());
        } else {
            sys::rumpuser_cv_signal(cv.get());
        }
        sys::rumpuser_mutex_exit(m.get());
    }
}

/// A waiter thread: wait on `cv` until `flag`, checking the wrap rule and
/// that it holds the mutex on return.
fn waiter(
    cv: Shared<RumpuserCv>,
    m: Shared<RumpuserMtx>,
    flag: Arc<AtomicBool>,
    sink: Arc<Sink>,
    use_nowrap: bool,
) -> Result<crate::util::Child, alloc::string::String> {
    spawn(c"cf-cv-waiter", true, move || {
        let before = my_counts();
        let me = model::current().map(|l| l.as_lwp());
        // SAFETY: live objects; the mutex is held around the waits.
        unsafe { sys::rumpuser_mutex_enter(m.get()) };
        let mut waited = false;
        while !flag.load(Ordering::SeqCst) {
            waited = true;
            if use_nowrap {
                // SAFETY: as above.
                nowrap(|| unsafe { sys::rumpuser_cv_wait_nowrap(cv.get(), m.get()) });
            } else {
                // SAFETY: as above.
                unsafe { sys::rumpuser_cv_wait(cv.get(), m.get()) };
            }
            let mut o = core::ptr::null_mut();
            // SAFETY: live mutex, valid out-pointer.
            unsafe { sys::rumpuser_mutex_owner(m.get(), &mut o) };
            if Some(o) != me {
                sink.fail(format!(
                    "after cv_wait the mutex owner is {o:p}, not the waiter"
                ));
            }
        }
        // SAFETY: held by us.
        unsafe { sys::rumpuser_mutex_exit(m.get()) };
        if let Err(e) = check_wrapped("cv_wait", before) {
            sink.fail(e);
        }
        if use_nowrap && my_counts() != before {
            sink.fail("cv_wait_nowrap called backend_(un)schedule".into());
        }
        if !use_nowrap && waited && my_counts().0 == before.0 {
            sink.fail("cv_wait blocked without backend_unschedule".into());
        }
        Exit::Return
    })
}

fn wake_case(n: usize, all: bool, use_nowrap: bool) -> CaseResult {
    let (cv, m) = (new_cv(), new_mutex(RUMPUSER_MTX_KMUTEX));
    ensure!(waiters(cv, m) == 0, "fresh cv has waiters");
    let flag = Arc::new(AtomicBool::new(false));
    let sink = Sink::new();
    let mut kids = Vec::new();
    for _ in 0..n {
        kids.push(waiter(cv, m, flag.clone(), sink.clone(), use_nowrap)?);
    }
    let all_waiting = wait_until(5_000, || waiters(cv, m) == n as i32);
    let seen = waiters(cv, m);
    if all {
        post(cv, m, &flag, true);
    } else {
        // One signal per waiter; each wakes at least one.
        for _ in 0..n {
            post(cv, m, &flag, false);
        }
    }
    join_all(kids)?;
    sink.result()?;
    ensure!(all_waiting, "has_waiters reported {seen}, want {n}");
    ensure!(
        waiters(cv, m) == 0,
        "has_waiters non-zero after every waiter left"
    );
    destroy(cv, m);
    Ok(())
}

/// `cv_signal` wakes a waiter; `cv_wait` released and re-took CPU and mutex.
pub fn signal(_: &Config<'_>) -> CaseResult {
    wake_case(1, false, false)
}

/// `cv_broadcast` wakes every waiter; has_waiters counts them.
pub fn broadcast(_: &Config<'_>) -> CaseResult {
    wake_case(3, true, false)
}

/// `cv_wait_nowrap` waits without giving up the rump CPU.
pub fn wait_nowrap(_: &Config<'_>) -> CaseResult {
    wake_case(1, false, true)
}

/// `cv_timedwait` with nobody signalling returns ETIMEDOUT, not early,
/// holding the mutex and the CPU.
pub fn timedwait_timeout(_: &Config<'_>) -> CaseResult {
    let (cv, m) = (new_cv(), new_mutex(RUMPUSER_MTX_KMUTEX));
    let me = model::current().map(|l| l.as_lwp());
    for ms in [30i64, 120] {
        let before = my_counts();
        // SAFETY: live objects; the mutex is held around the wait.
        unsafe { sys::rumpuser_mutex_enter(m.get()) };
        let t0 = now_ns();
        // SAFETY: as above.
        let rv = unsafe { sys::rumpuser_cv_timedwait(cv.get(), m.get(), 0, ms * 1_000_000) };
        let dt = now_ns() - t0;
        let mut o = core::ptr::null_mut();
        // SAFETY: live mutex, valid out-pointer.
        unsafe { sys::rumpuser_mutex_owner(m.get(), &mut o) };
        // SAFETY: held by us.
        unsafe { sys::rumpuser_mutex_exit(m.get()) };
        ensure!(
            rv == ETIMEDOUT,
            "timedwait({ms} ms) returned {rv}, want ETIMEDOUT ({ETIMEDOUT})"
        );
        ensure!(
            dt >= ms * 1_000_000,
            "timedwait({ms} ms) returned after {} us: early",
            dt / 1000
        );
        ensure!(
            dt < ms * 1_000_000 + 2_000_000_000,
            "timedwait({ms} ms) took {} ms",
            dt / 1_000_000
        );
        ensure!(Some(o) == me, "after timedwait the mutex owner is {o:p}");
        check_wrapped("cv_timedwait", before)?;
        let (u0, _) = before;
        ensure!(
            my_counts().0 > u0,
            "cv_timedwait blocked without backend_unschedule"
        );
    }
    destroy(cv, m);
    Ok(())
}

/// A signalled `cv_timedwait` returns 0 well before its timeout.
pub fn timedwait_signalled(_: &Config<'_>) -> CaseResult {
    let (cv, m) = (new_cv(), new_mutex(RUMPUSER_MTX_KMUTEX));
    let flag = Arc::new(AtomicBool::new(false));
    let rv = Arc::new(AtomicI32::new(-1));
    let took = Arc::new(AtomicI64::new(0));
    let (f, r, t) = (flag.clone(), rv.clone(), took.clone());
    let kid = spawn(c"cf-cv-timed", true, move || {
        let t0 = now_ns();
        let mut last = -1;
        // SAFETY: live objects; the mutex is held around the wait.
        unsafe { sys::rumpuser_mutex_enter(m.get()) };
        while !f.load(Ordering::SeqCst) {
            // SAFETY: as above.
            last = unsafe { sys::rumpuser_cv_timedwait(cv.get(), m.get(), 10, 0) };
            if last != 0 {
                break;
            }
        }
        // SAFETY: held by us.
        unsafe { sys::rumpuser_mutex_exit(m.get()) };
        r.store(last, Ordering::SeqCst);
        t.store(now_ns() - t0, Ordering::SeqCst);
        Exit::Return
    })?;
    let waiting = wait_until(5_000, || waiters(cv, m) == 1);
    post(cv, m, &flag, false);
    kid.join()?;
    ensure!(waiting, "the waiter never showed in has_waiters");
    let (rv, took) = (rv.load(Ordering::SeqCst), took.load(Ordering::SeqCst));
    ensure!(rv == 0, "signalled timedwait returned {rv}");
    ensure!(
        took < 9_000_000_000,
        "signalled timedwait took {} ms",
        took / 1_000_000
    );
    destroy(cv, m);
    Ok(())
}

/// Bounded buffer: producers and consumers under one mutex and two cvs;
/// every item arrives exactly once.
pub fn producer_consumer(cfg: &Config<'_>) -> CaseResult {
    const CAP: usize = 4;
    let m = new_mutex(RUMPUSER_MTX_KMUTEX);
    let (not_empty, not_full) = (new_cv(), new_cv());
    let buf = Arc::new(Spin::new(VecDeque::<u64>::new()));
    let consumed = Arc::new(AtomicU64::new(0));
    let sum = Arc::new(AtomicU64::new(0));
    let producers = cfg.threads.div_ceil(2).max(1);
    let consumers = (cfg.threads / 2).max(1);
    let items = (cfg.iterations / 2) as u64;
    let total = producers as u64 * items;
    let sink = Sink::new();
    let mut kids = Vec::new();
    for _ in 0..producers {
        let b = buf.clone();
        kids.push(spawn(c"cf-producer", true, move || {
            for v in 1..=items {
                // SAFETY: live objects; the mutex is held around the waits.
                unsafe { sys::rumpuser_mutex_enter(m.get()) };
                while b.with(|q| q.len()) >= CAP {
                    // SAFETY: as above.
                    unsafe { sys::rumpuser_cv_wait(not_full.get(), m.get()) };
                }
                b.with(|q| q.push_back(v));
                // SAFETY: as above.
                unsafe {
                    sys::rumpuser_cv_signal(not_empty.get());
                    sys::rumpuser_mutex_exit(m.get());
                }
            }
            Exit::Return
        })?);
    }
    for _ in 0..consumers {
        let (b, c, s, sk) = (buf.clone(), consumed.clone(), sum.clone(), sink.clone());
        kids.push(spawn(c"cf-consumer", true, move || {
            loop {
                // SAFETY: live objects; the mutex is held around the waits.
                unsafe { sys::rumpuser_mutex_enter(m.get()) };
                while b.with(|q| q.is_empty()) && c.load(Ordering::SeqCst) < total {
                    // SAFETY: as above.
                    unsafe { sys::rumpuser_cv_wait(not_empty.get(), m.get()) };
                }
                if c.load(Ordering::SeqCst) >= total {
                    // SAFETY: held by us.
                    unsafe { sys::rumpuser_mutex_exit(m.get()) };
                    break;
                }
                let Some(v) = b.with(|q| q.pop_front()) else {
                    sk.fail("woken consumer found the buffer empty and not done".into());
                    // SAFETY: held by us.
                    unsafe { sys::rumpuser_mutex_exit(m.get()) };
                    break;
                };
                s.fetch_add(v, Ordering::SeqCst);
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                // SAFETY: as above.
                unsafe {
                    sys::rumpuser_cv_signal(not_full.get());
                    if n == total {
                        sys::rumpuser_cv_broadcast(not_empty.get());
                    }
                    sys::rumpuser_mutex_exit(m.get());
                }
            }
            Exit::Return
        })?);
    }
    join_all(kids)?;
    sink.result()?;
    let want = producers as u64 * items * (items + 1) / 2;
    let got = sum.load(Ordering::SeqCst);
    ensure!(got == want, "consumers summed {got}, want {want}");
    ensure!(
        consumed.load(Ordering::SeqCst) == total,
        "consumed {} of {total}",
        consumed.load(Ordering::SeqCst)
    );
    // SAFETY: no waiters left; destroyed once.
    unsafe { sys::rumpuser_cv_destroy(not_full.get()) };
    destroy(not_empty, m);
    Ok(())
}
