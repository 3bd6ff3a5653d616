//! Mutexes, reader/writer locks and condition variables for the rumpuser
//! interface (`rumpuser_mutex_*`, `rumpuser_rw_*`, `rumpuser_cv_*`), and
//! the sleeping lock the drivers' state sits behind. Atomics for the fast
//! paths, scheduler wait queues for the slow ones; no unsafe code.
//!
//! Rump CPU discipline (the ABI's rule): a blocking `enter` first tries
//! without blocking, and only when it must wait gives the rump CPU back
//! (`backend_unschedule`) and takes it again after the lock is held. SPIN
//! mutexes and the `_nowrap` calls wait holding the CPU. A condition
//! variable wait gives the CPU back (with the mutex as interlock) before
//! it releases the mutex; on wake-up it takes the mutex and then the CPU,
//! except for SPIN mutexes, where it takes the CPU first and then the
//! mutex (so a thread never waits for a CPU while holding a spin mutex).

use super::hyp;
use super::threads::curlwp;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::ffi::{c_int, c_void};
use core::ops::{Deref, DerefMut};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use rumpuser_abi::{Lwp, RUMPUSER_MTX_SPIN};
use xen_platform::sched::{Event, IrqLock, WaitQueue, WaitResult};

/// `struct rumpuser_mtx`.
pub struct Mutex {
    locked: AtomicBool,
    owner: AtomicPtr<Lwp>,
    waiting: AtomicUsize,
    queue: WaitQueue,
    spin: bool,
}

impl Mutex {
    /// A free mutex with `rumpuser_mutex_init` flags.
    pub fn new(flags: c_int) -> Mutex {
        Mutex {
            locked: AtomicBool::new(false),
            owner: AtomicPtr::new(ptr::null_mut()),
            waiting: AtomicUsize::new(0),
            queue: WaitQueue::new(),
            spin: flags & RUMPUSER_MTX_SPIN != 0,
        }
    }

    /// Whether it was made with `RUMPUSER_MTX_SPIN`.
    pub fn is_spin(&self) -> bool {
        self.spin
    }

    fn try_take(&self) -> bool {
        self.locked
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the lock, blocking this platform thread (not giving up the
    /// rump CPU) while it is held.
    fn take(&self) {
        if self.try_take() {
            return;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.queue.wait_for(|| self.try_take(), None);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    fn set_owner(&self) {
        self.owner.store(curlwp(), Ordering::Relaxed);
    }

    /// `rumpuser_mutex_enter`: SPIN mutexes as `enter_nowrap`; others give
    /// the rump CPU back while they wait.
    pub fn enter(&self) {
        if self.spin {
            return self.enter_nowrap();
        }
        if !self.try_take() {
            hyp::blocking(|| self.take());
        }
        self.set_owner();
    }

    /// `rumpuser_mutex_enter_nowrap`: waits holding the rump CPU.
    pub fn enter_nowrap(&self) {
        self.take();
        self.set_owner();
    }

    /// `rumpuser_mutex_tryenter`: true if it was free (and is now ours).
    pub fn try_enter(&self) -> bool {
        let got = self.try_take();
        if got {
            self.set_owner();
        }
        got
    }

    /// `rumpuser_mutex_exit`.
    pub fn exit(&self) {
        self.owner.store(ptr::null_mut(), Ordering::Relaxed);
        self.locked.store(false, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.queue.wake_one();
        }
    }

    /// `rumpuser_mutex_owner`: the lwp that holds it (null when free).
    pub fn owner(&self) -> *mut Lwp {
        if self.locked.load(Ordering::Acquire) {
            self.owner.load(Ordering::Relaxed)
        } else {
            ptr::null_mut()
        }
    }

    /// The mutex as the `interlock` argument of the scheduling upcalls.
    fn as_interlock(&self) -> *mut c_void {
        ptr::from_ref(self).cast_mut().cast()
    }
}

/// The writer bit of [`RwLock`]'s state; the rest counts readers.
const WRITER: usize = 1 << (usize::BITS - 1);

/// `struct rumpuser_rw`: readers share, a writer excludes everyone;
/// waiting writers hold back new blocking readers (no writer starves).
pub struct RwLock {
    state: AtomicUsize,
    writer: AtomicPtr<Lwp>,
    writers_waiting: AtomicUsize,
    waiting: AtomicUsize,
    queue: WaitQueue,
}

impl Default for RwLock {
    fn default() -> Self {
        Self::new()
    }
}

impl RwLock {
    /// A free lock.
    pub fn new() -> RwLock {
        RwLock {
            state: AtomicUsize::new(0),
            writer: AtomicPtr::new(ptr::null_mut()),
            writers_waiting: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            queue: WaitQueue::new(),
        }
    }

    fn try_read(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & WRITER != 0 {
                return false;
            }
            match self
                .state
                .compare_exchange_weak(s, s + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    fn try_write(&self) -> bool {
        let got = self
            .state
            .compare_exchange(0, WRITER, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok();
        if got {
            self.writer.store(curlwp(), Ordering::Relaxed);
        }
        got
    }

    fn wait(&self, write: bool) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        if write {
            self.writers_waiting.fetch_add(1, Ordering::SeqCst);
            self.queue.wait_for(|| self.try_write(), None);
            self.writers_waiting.fetch_sub(1, Ordering::SeqCst);
        } else {
            self.queue.wait_for(
                || self.writers_waiting.load(Ordering::SeqCst) == 0 && self.try_read(),
                None,
            );
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    /// `rumpuser_rw_enter`: gives the rump CPU back while it waits.
    pub fn enter(&self, write: bool) {
        if !self.try_enter(write) {
            hyp::blocking(|| self.wait(write));
            if write {
                self.writer.store(curlwp(), Ordering::Relaxed);
            }
        }
    }

    /// `rumpuser_rw_tryenter`: true if taken without waiting.
    pub fn try_enter(&self, write: bool) -> bool {
        if write {
            self.try_write()
        } else {
            self.writers_waiting.load(Ordering::SeqCst) == 0 && self.try_read()
        }
    }

    /// `rumpuser_rw_tryupgrade`: the only reader becomes the writer.
    pub fn try_upgrade(&self) -> bool {
        let got = self
            .state
            .compare_exchange(1, WRITER, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok();
        if got {
            self.writer.store(curlwp(), Ordering::Relaxed);
        }
        got
    }

    /// `rumpuser_rw_downgrade`: the writer becomes a reader.
    pub fn downgrade(&self) {
        self.writer.store(ptr::null_mut(), Ordering::Relaxed);
        self.state.store(1, Ordering::SeqCst);
        self.wake();
    }

    /// `rumpuser_rw_exit`: releases a write hold or one read hold.
    pub fn exit(&self) {
        if self.state.load(Ordering::Relaxed) & WRITER != 0 {
            self.writer.store(ptr::null_mut(), Ordering::Relaxed);
            self.state.store(0, Ordering::SeqCst);
        } else {
            self.state.fetch_sub(1, Ordering::SeqCst);
        }
        self.wake();
    }

    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.queue.wake_all();
        }
    }

    /// `rumpuser_rw_held`: WRITER: held for writing by the calling lwp;
    /// READER: held for reading (by anyone; readers are not tracked).
    pub fn held(&self, write: bool) -> bool {
        let s = self.state.load(Ordering::Acquire);
        if write {
            s & WRITER != 0 && self.writer.load(Ordering::Relaxed) == curlwp()
        } else {
            s & !WRITER > 0
        }
    }
}

/// `struct rumpuser_cv`: waiters queue in arrival order, each on its own
/// event, so a signal wakes exactly the longest waiter.
pub struct Cv {
    waiters: IrqLock<VecDeque<Arc<Event>>>,
}

impl Default for Cv {
    fn default() -> Self {
        Self::new()
    }
}

/// How a condition variable wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvWait {
    /// Signalled or broadcast.
    Signalled,
    /// The deadline passed first.
    TimedOut,
}

impl Cv {
    /// A condition variable nobody waits on.
    pub fn new() -> Cv {
        Cv {
            waiters: IrqLock::new(VecDeque::new()),
        }
    }

    /// `rumpuser_cv_wait` (`wrap`: give the rump CPU back while waiting),
    /// `_wait_nowrap`, `_timedwait` (deadline in monotonic ns). Called
    /// holding `mtx`; returns holding it again.
    pub fn wait(&self, mtx: &Mutex, deadline_ns: Option<u64>, wrap: bool) -> CvWait {
        let me = Arc::new(Event::new());
        self.waiters.lock().push_back(Arc::clone(&me));
        let interlock = mtx.as_interlock();
        let nlocks = if wrap {
            hyp::backend_unschedule(interlock)
        } else {
            0
        };
        mtx.exit();
        let woke = me.wait(deadline_ns);
        // A signal that raced with the deadline removed us from the queue:
        // it counts as a wake-up (the signal is not lost).
        let outcome = {
            let mut w = self.waiters.lock();
            match w.iter().position(|e| Arc::ptr_eq(e, &me)) {
                Some(i) => {
                    w.remove(i);
                    CvWait::TimedOut
                }
                None => CvWait::Signalled,
            }
        };
        debug_assert!(woke == WaitResult::TimedOut || outcome == CvWait::Signalled);
        if !wrap {
            mtx.enter_nowrap();
        } else if mtx.is_spin() {
            hyp::backend_schedule(nlocks, interlock);
            mtx.enter_nowrap();
        } else {
            mtx.take();
            hyp::backend_schedule(nlocks, interlock);
            mtx.set_owner();
        }
        outcome
    }

    /// `rumpuser_cv_signal`: wakes the longest waiter, if any.
    pub fn signal(&self) {
        let mut w = self.waiters.lock();
        if let Some(e) = w.pop_front() {
            e.signal();
        }
    }

    /// `rumpuser_cv_broadcast`: wakes every waiter.
    pub fn broadcast(&self) {
        let mut w = self.waiters.lock();
        for e in w.drain(..) {
            e.signal();
        }
    }

    /// `rumpuser_cv_has_waiters`: how many wait.
    pub fn waiters(&self) -> usize {
        self.waiters.lock().len()
    }
}

/// A lock for platform state (drivers) that waits by sleeping, so a
/// holder may block (xenstore, an event) without stalling other threads.
/// The value is moved out to the holder and back on release (safe code;
/// box large values so that the move is a pointer copy).
pub struct SleepLock<T> {
    slot: IrqLock<Option<T>>,
    queue: WaitQueue,
}

/// The holder's access to a [`SleepLock`]'s value.
pub struct SleepGuard<'a, T> {
    lock: &'a SleepLock<T>,
    value: Option<T>,
}

impl<T: Send> SleepLock<T> {
    /// A lock holding `value`.
    pub const fn new(value: T) -> SleepLock<T> {
        SleepLock {
            slot: IrqLock::new(Some(value)),
            queue: WaitQueue::new(),
        }
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Option<SleepGuard<'_, T>> {
        let value = self.slot.lock().take()?;
        Some(SleepGuard {
            lock: self,
            value: Some(value),
        })
    }

    /// Takes the lock, sleeping while someone else holds it (holding the
    /// rump CPU: callers that hold one use [`SleepLock::lock_rump`]).
    pub fn lock(&self) -> SleepGuard<'_, T> {
        let mut value = None;
        self.queue.wait_for(
            || {
                value = self.slot.lock().take();
                value.is_some()
            },
            None,
        );
        SleepGuard { lock: self, value }
    }

    /// Takes the lock from a hypercall: without waiting if it is free,
    /// else giving the rump CPU back while waiting.
    pub fn lock_rump(&self) -> SleepGuard<'_, T> {
        match self.try_lock() {
            Some(g) => g,
            None => hyp::blocking(|| self.lock()),
        }
    }
}

impl<T> Deref for SleepGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_ref().expect("held")
    }
}

impl<T> DerefMut for SleepGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("held")
    }
}

impl<T> Drop for SleepGuard<'_, T> {
    fn drop(&mut self) {
        *self.lock.slot.lock() = self.value.take();
        self.lock.queue.wake_one();
    }
}
