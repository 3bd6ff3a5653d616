//! Kernel locks over the rumpuser mutex and condition-variable hypercalls:
//! [`KMutex`] guards data, [`KCond`] waits with the rump CPU released.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

use rumpuser_abi::{RumpuserCv, RumpuserMtx, RUMPUSER_MTX_KMUTEX};

use crate::sys;

/// Data behind a rumpuser mutex.
pub struct KMutex<T> {
    mtx: *mut RumpuserMtx,
    /// Use the `_nowrap` calls: never give up the rump CPU (for the CPU's
    /// own lock, which is taken without a CPU).
    nowrap: bool,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, which exists only
// while the rumpuser mutex is held, so one thread at a time touches it.
unsafe impl<T: Send> Sync for KMutex<T> {}
// SAFETY: the mutex handle is a platform object usable from any thread.
unsafe impl<T: Send> Send for KMutex<T> {}

impl<T> KMutex<T> {
    /// A kernel mutex (contended entry releases the rump CPU).
    pub fn new(data: T) -> Self {
        Self::with_mode(data, false)
    }

    /// A mutex whose entry and waits never release the rump CPU.
    pub fn new_nowrap(data: T) -> Self {
        Self::with_mode(data, true)
    }

    fn with_mode(data: T, nowrap: bool) -> Self {
        let mut mtx = core::ptr::null_mut();
        // SAFETY: a writable out-pointer; the platform allocates the mutex.
        unsafe { sys::rumpuser_mutex_init(&mut mtx, RUMPUSER_MTX_KMUTEX) };
        KMutex {
            mtx,
            nowrap,
            data: UnsafeCell::new(data),
        }
    }

    /// Takes the mutex.
    pub fn lock(&self) -> KGuard<'_, T> {
        if self.nowrap {
            // SAFETY: a live mutex made by `rumpuser_mutex_init`.
            unsafe { sys::rumpuser_mutex_enter_nowrap(self.mtx) };
        } else {
            // SAFETY: as above.
            unsafe { sys::rumpuser_mutex_enter(self.mtx) };
        }
        KGuard { m: self }
    }
}

/// Holding a [`KMutex`].
pub struct KGuard<'a, T> {
    m: &'a KMutex<T>,
}

impl<T> KGuard<'_, T> {
    /// Waits on `cv`, releasing the mutex (and, unless the mutex is
    /// `nowrap`, the rump CPU) meanwhile.
    pub fn wait(&mut self, cv: &KCond) {
        if self.m.nowrap {
            // SAFETY: live objects; this guard proves we hold the mutex and
            // its `&mut self` that no reference into the data is alive.
            unsafe { sys::rumpuser_cv_wait_nowrap(cv.cv, self.m.mtx) };
        } else {
            // SAFETY: as above.
            unsafe { sys::rumpuser_cv_wait(cv.cv, self.m.mtx) };
        }
    }

    /// Waits on `cv` for at most `ns` nanoseconds; false on timeout.
    pub fn timedwait(&mut self, cv: &KCond, ns: u64) -> bool {
        let sec = (ns / 1_000_000_000) as i64;
        let nsec = (ns % 1_000_000_000) as i64;
        // SAFETY: as for `wait`.
        unsafe { sys::rumpuser_cv_timedwait(cv.cv, self.m.mtx, sec, nsec) == 0 }
    }
}

impl<T> Deref for KGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the mutex: no other thread has access.
        unsafe { &*self.m.data.get() }
    }
}

impl<T> DerefMut for KGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes the borrow unique.
        unsafe { &mut *self.m.data.get() }
    }
}

impl<T> Drop for KGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: we hold the mutex.
        unsafe { sys::rumpuser_mutex_exit(self.m.mtx) };
    }
}

/// A rumpuser condition variable.
pub struct KCond {
    cv: *mut RumpuserCv,
}

// SAFETY: a platform object, usable from any thread.
unsafe impl Sync for KCond {}
// SAFETY: as above.
unsafe impl Send for KCond {}

impl KCond {
    /// A new condition variable.
    pub fn new() -> Self {
        let mut cv = core::ptr::null_mut();
        // SAFETY: a writable out-pointer.
        unsafe { sys::rumpuser_cv_init(&mut cv) };
        KCond { cv }
    }

    /// Wakes one waiter.
    pub fn signal(&self) {
        // SAFETY: a live cv.
        unsafe { sys::rumpuser_cv_signal(self.cv) };
    }

    /// Wakes every waiter.
    pub fn broadcast(&self) {
        // SAFETY: a live cv.
        unsafe { sys::rumpuser_cv_broadcast(self.cv) };
    }
}

impl Default for KCond {
    fn default() -> Self {
        Self::new()
    }
}
