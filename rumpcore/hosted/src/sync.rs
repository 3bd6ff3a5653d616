//! Mutexes, reader/writer locks and condition variables on `std::sync`,
//! with the scheduling rule: a path that may block releases the rump CPU
//! (`backend_unschedule`) first and takes it back after; SPIN mutexes and
//! `_nowrap` calls never release it.

use core::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rumpuser_abi::{
    errno, Lwp, RumpuserCv, RumpuserMtx, RumpuserRw, RUMPUSER_MTX_SPIN, RUMPUSER_RW_WRITER,
};

use crate::hyp;
use crate::thread::curlwp;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `struct rumpuser_mtx`.
struct Mtx {
    flags: c_int,
    held: Mutex<bool>,
    cond: Condvar,
    owner: AtomicPtr<Lwp>,
}

impl Mtx {
    fn try_raw(&self) -> bool {
        let mut h = lock(&self.held);
        if *h {
            return false;
        }
        *h = true;
        true
    }

    fn lock_raw(&self) {
        let mut h = lock(&self.held);
        while *h {
            h = self.cond.wait(h).unwrap_or_else(|e| e.into_inner());
        }
        *h = true;
    }

    fn unlock_raw(&self) {
        *lock(&self.held) = false;
        self.cond.notify_one();
    }

    fn spin(&self) -> bool {
        self.flags & RUMPUSER_MTX_SPIN != 0
    }

    fn set_owner(&self) {
        self.owner.store(curlwp(), Ordering::Release);
    }
}

/// # Safety
/// `m` must come from `rumpuser_mutex_init` and not be destroyed.
unsafe fn mtx<'a>(m: *mut RumpuserMtx) -> &'a Mtx {
    // SAFETY: the caller's contract.
    unsafe { &*(m as *const Mtx) }
}

/// `rumpuser_mutex_init`.
///
/// # Safety
/// `mp` must be writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_init(mp: *mut *mut RumpuserMtx, flags: c_int) {
    let m = Box::new(Mtx {
        flags,
        held: Mutex::new(false),
        cond: Condvar::new(),
        owner: AtomicPtr::new(core::ptr::null_mut()),
    });
    // SAFETY: writable out-pointer.
    unsafe { *mp = Box::into_raw(m) as *mut RumpuserMtx };
}

/// `rumpuser_mutex_enter`: try first; if contended, a non-SPIN mutex
/// releases the rump CPU while it waits.
///
/// # Safety
/// A live mutex.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_enter(m: *mut RumpuserMtx) {
    // SAFETY: caller's contract.
    let m = unsafe { mtx(m) };
    if !m.try_raw() {
        if m.spin() {
            m.lock_raw();
        } else {
            hyp::blocking(|| m.lock_raw());
        }
    }
    m.set_owner();
}

/// `rumpuser_mutex_enter_nowrap`: never releases the rump CPU.
///
/// # Safety
/// A live mutex.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_enter_nowrap(m: *mut RumpuserMtx) {
    // SAFETY: caller's contract.
    let m = unsafe { mtx(m) };
    m.lock_raw();
    m.set_owner();
}

/// `rumpuser_mutex_tryenter`: 0 or EBUSY.
///
/// # Safety
/// A live mutex.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_tryenter(m: *mut RumpuserMtx) -> c_int {
    // SAFETY: caller's contract.
    let m = unsafe { mtx(m) };
    if m.try_raw() {
        m.set_owner();
        0
    } else {
        errno::EBUSY
    }
}

/// `rumpuser_mutex_exit`.
///
/// # Safety
/// A live mutex held by the caller.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_exit(m: *mut RumpuserMtx) {
    // SAFETY: caller's contract.
    let m = unsafe { mtx(m) };
    m.owner.store(core::ptr::null_mut(), Ordering::Release);
    m.unlock_raw();
}

/// `rumpuser_mutex_destroy`.
///
/// # Safety
/// A live, free mutex, not used again.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_destroy(m: *mut RumpuserMtx) {
    // SAFETY: made by `rumpuser_mutex_init`, destroyed once.
    drop(unsafe { Box::from_raw(m as *mut Mtx) });
}

/// `rumpuser_mutex_owner`: the holder's lwp, or null.
///
/// # Safety
/// A live mutex; `lp` writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_owner(m: *mut RumpuserMtx, lp: *mut *mut Lwp) {
    // SAFETY: caller's contract.
    unsafe { *lp = mtx(m).owner.load(Ordering::Acquire) };
}

/// Reader/writer state.
#[derive(Default)]
struct RwState {
    readers: u32,
    writer: bool,
    writer_lwp: usize,
}

/// `struct rumpuser_rw`.
#[derive(Default)]
struct Rw {
    st: Mutex<RwState>,
    cond: Condvar,
}

impl Rw {
    fn try_take(&self, st: &mut RwState, writer: bool) -> bool {
        if writer {
            if st.writer || st.readers > 0 {
                return false;
            }
            st.writer = true;
            st.writer_lwp = curlwp() as usize;
        } else {
            if st.writer {
                return false;
            }
            st.readers += 1;
        }
        true
    }
}

/// # Safety
/// `rw` must come from `rumpuser_rw_init` and not be destroyed.
unsafe fn rwl<'a>(rw: *mut RumpuserRw) -> &'a Rw {
    // SAFETY: the caller's contract.
    unsafe { &*(rw as *const Rw) }
}

/// `rumpuser_rw_init`.
///
/// # Safety
/// `rwp` must be writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_init(rwp: *mut *mut RumpuserRw) {
    // SAFETY: writable out-pointer.
    unsafe { *rwp = Box::into_raw(Box::<Rw>::default()) as *mut RumpuserRw };
}

/// `rumpuser_rw_enter`: releases the rump CPU if it has to wait.
///
/// # Safety
/// A live lock.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_enter(ty: c_int, rw: *mut RumpuserRw) {
    // SAFETY: caller's contract.
    let rw = unsafe { rwl(rw) };
    let writer = ty == RUMPUSER_RW_WRITER;
    if rw.try_take(&mut lock(&rw.st), writer) {
        return;
    }
    hyp::blocking(|| {
        let mut st = lock(&rw.st);
        while !rw.try_take(&mut st, writer) {
            st = rw.cond.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    });
    if writer {
        // The lwp is the same after re-scheduling; record it again anyway.
        lock(&rw.st).writer_lwp = curlwp() as usize;
    }
}

/// `rumpuser_rw_tryenter`: 0 or EBUSY.
///
/// # Safety
/// A live lock.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_tryenter(ty: c_int, rw: *mut RumpuserRw) -> c_int {
    // SAFETY: caller's contract.
    let rw = unsafe { rwl(rw) };
    if rw.try_take(&mut lock(&rw.st), ty == RUMPUSER_RW_WRITER) {
        0
    } else {
        errno::EBUSY
    }
}

/// `rumpuser_rw_tryupgrade`: 0 if the caller was the only reader.
///
/// # Safety
/// A live lock the caller holds as reader.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_tryupgrade(rw: *mut RumpuserRw) -> c_int {
    // SAFETY: caller's contract.
    let rw = unsafe { rwl(rw) };
    let mut st = lock(&rw.st);
    if st.readers == 1 && !st.writer {
        st.readers = 0;
        st.writer = true;
        st.writer_lwp = curlwp() as usize;
        0
    } else {
        errno::EBUSY
    }
}

/// `rumpuser_rw_downgrade`: write hold → read hold.
///
/// # Safety
/// A live lock the caller holds as writer.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_downgrade(rw: *mut RumpuserRw) {
    // SAFETY: caller's contract.
    let rw = unsafe { rwl(rw) };
    let mut st = lock(&rw.st);
    st.writer = false;
    st.writer_lwp = 0;
    st.readers += 1;
    drop(st);
    rw.cond.notify_all();
}

/// `rumpuser_rw_exit`.
///
/// # Safety
/// A live lock the caller holds.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_exit(rw: *mut RumpuserRw) {
    // SAFETY: caller's contract.
    let rw = unsafe { rwl(rw) };
    let mut st = lock(&rw.st);
    if st.writer {
        st.writer = false;
        st.writer_lwp = 0;
    } else {
        st.readers = st.readers.saturating_sub(1);
    }
    drop(st);
    rw.cond.notify_all();
}

/// `rumpuser_rw_destroy`.
///
/// # Safety
/// A live, free lock, not used again.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_destroy(rw: *mut RumpuserRw) {
    // SAFETY: made by `rumpuser_rw_init`, destroyed once.
    drop(unsafe { Box::from_raw(rw as *mut Rw) });
}

/// `rumpuser_rw_held`: READER = read-held by anyone; WRITER = write-held
/// by the caller's lwp.
///
/// # Safety
/// A live lock; `held` writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_held(ty: c_int, rw: *mut RumpuserRw, held: *mut c_int) {
    // SAFETY: caller's contract.
    let st = lock(&unsafe { rwl(rw) }.st);
    let h = if ty == RUMPUSER_RW_WRITER {
        st.writer && st.writer_lwp == curlwp() as usize
    } else {
        st.readers > 0
    };
    // SAFETY: writable out-pointer.
    unsafe { *held = h as c_int };
}

/// `struct rumpuser_cv`: a wake-up generation counter.
#[derive(Default)]
struct Cv {
    seq: Mutex<u64>,
    cond: Condvar,
    waiters: AtomicI32,
}

/// # Safety
/// `cv` must come from `rumpuser_cv_init` and not be destroyed.
unsafe fn cvr<'a>(cv: *mut RumpuserCv) -> &'a Cv {
    // SAFETY: the caller's contract.
    unsafe { &*(cv as *const Cv) }
}

/// Wait on `cv` releasing `m` (and, with `wrap`, the rump CPU first).
/// Returns false on timeout.
fn cv_wait_common(cv: &Cv, m: &Mtx, wrap: bool, deadline: Option<Instant>) -> bool {
    let il = m as *const Mtx as *mut c_void;
    let nlocks = if wrap { hyp::unschedule(il) } else { 0 };
    cv.waiters.fetch_add(1, Ordering::SeqCst);
    let mut g = lock(&cv.seq);
    let gen = *g;
    // Release the mutex only with the generation lock held: a signaller
    // needs both, so no wake-up is lost.
    m.owner.store(core::ptr::null_mut(), Ordering::Release);
    m.unlock_raw();
    let mut woken = true;
    while *g == gen {
        match deadline {
            None => g = cv.cond.wait(g).unwrap_or_else(|e| e.into_inner()),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    woken = false;
                    break;
                }
                g = cv
                    .cond
                    .wait_timeout(g, d - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    }
    drop(g);
    cv.waiters.fetch_sub(1, Ordering::SeqCst);
    if wrap && m.spin() {
        // A spin mutex is taken while holding a CPU: CPU first, then lock.
        hyp::schedule(nlocks, il);
        m.lock_raw();
    } else {
        m.lock_raw();
        if wrap {
            hyp::schedule(nlocks, il);
        }
    }
    m.set_owner();
    woken
}

/// `rumpuser_cv_init`.
///
/// # Safety
/// `cvp` must be writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_init(cvp: *mut *mut RumpuserCv) {
    // SAFETY: writable out-pointer.
    unsafe { *cvp = Box::into_raw(Box::<Cv>::default()) as *mut RumpuserCv };
}

/// `rumpuser_cv_destroy`.
///
/// # Safety
/// A live cv without waiters, not used again.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_destroy(cv: *mut RumpuserCv) {
    // SAFETY: made by `rumpuser_cv_init`, destroyed once.
    drop(unsafe { Box::from_raw(cv as *mut Cv) });
}

/// `rumpuser_cv_wait`: releases the rump CPU and the mutex, re-takes both.
///
/// # Safety
/// Live objects; the caller holds `m`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_wait(cv: *mut RumpuserCv, m: *mut RumpuserMtx) {
    // SAFETY: caller's contract.
    unsafe { cv_wait_common(cvr(cv), mtx(m), true, None) };
}

/// `rumpuser_cv_wait_nowrap`: as `cv_wait` but keeps the rump CPU.
///
/// # Safety
/// Live objects; the caller holds `m`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_wait_nowrap(cv: *mut RumpuserCv, m: *mut RumpuserMtx) {
    // SAFETY: caller's contract.
    unsafe { cv_wait_common(cvr(cv), mtx(m), false, None) };
}

/// `rumpuser_cv_timedwait`: relative timeout; 0 if woken, ETIMEDOUT.
///
/// # Safety
/// Live objects; the caller holds `m`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_timedwait(
    cv: *mut RumpuserCv,
    m: *mut RumpuserMtx,
    sec: i64,
    nsec: i64,
) -> c_int {
    let d = Duration::from_secs(sec.max(0) as u64) + Duration::from_nanos(nsec.max(0) as u64);
    let deadline = Instant::now().checked_add(d);
    // SAFETY: caller's contract.
    let woken = unsafe { cv_wait_common(cvr(cv), mtx(m), true, deadline) };
    if woken {
        0
    } else {
        errno::ETIMEDOUT
    }
}

/// `rumpuser_cv_signal`: wake at least one waiter.
///
/// # Safety
/// A live cv.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_signal(cv: *mut RumpuserCv) {
    // SAFETY: caller's contract.
    let cv = unsafe { cvr(cv) };
    *lock(&cv.seq) += 1;
    cv.cond.notify_one();
}

/// `rumpuser_cv_broadcast`: wake every waiter.
///
/// # Safety
/// A live cv.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_broadcast(cv: *mut RumpuserCv) {
    // SAFETY: caller's contract.
    let cv = unsafe { cvr(cv) };
    *lock(&cv.seq) += 1;
    cv.cond.notify_all();
}

/// `rumpuser_cv_has_waiters`.
///
/// # Safety
/// A live cv; `n` writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_has_waiters(cv: *mut RumpuserCv, n: *mut c_int) {
    // SAFETY: caller's contract.
    unsafe { *n = cvr(cv).waiters.load(Ordering::SeqCst) };
}
