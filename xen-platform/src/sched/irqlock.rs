//! A spin lock that also disables interrupts (event upcalls) while held,
//! for state shared between threads and event handlers. With one vCPU the
//! spin never waits; it keeps the code right when vCPUs are added.

use crate::arch::x86_64::irq;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Runs `f` with interrupts disabled, restoring the previous state after.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let was = irq::disable();
    let r = f();
    irq::restore(was);
    r
}

/// A value behind a spin lock taken with interrupts disabled.
pub struct IrqLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to the value to one holder at a time
// (the flag is taken with an atomic swap), so sharing the lock is sound
// when the value may be sent between threads.
unsafe impl<T: Send> Sync for IrqLock<T> {}

/// Access to an [`IrqLock`]'s value; unlocks and restores the interrupt
/// state on drop.
pub struct IrqLockGuard<'a, T> {
    lock: &'a IrqLock<T>,
    irqs_were_enabled: bool,
}

impl<T> IrqLock<T> {
    /// A new, unlocked lock.
    pub const fn new(value: T) -> Self {
        IrqLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Disables interrupts and takes the lock. Taking it again on the same
    /// vCPU while held deadlocks: keep critical sections short and call no
    /// code that might take the same lock.
    pub fn lock(&self) -> IrqLockGuard<'_, T> {
        let irqs_were_enabled = irq::disable();
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        IrqLockGuard {
            lock: self,
            irqs_were_enabled,
        }
    }
}

impl<T> Deref for IrqLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference to the
        // value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for IrqLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively (and `&mut self`
        // makes this the only access through the guard).
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for IrqLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
        irq::restore(self.irqs_were_enabled);
    }
}
