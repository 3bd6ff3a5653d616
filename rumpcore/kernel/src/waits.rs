//! Who waits for which sockets: a blocked call sleeps on a condition
//! variable of its own, registered with the sockets it waits for (none:
//! any change, e.g. configuration), so an event wakes only the waiters
//! of the sockets it concerns instead of every sleeping thread. The list
//! lives in the kernel's state, so registering, waiting and waking all
//! happen under the kernel mutex and no wake-up is lost.

use alloc::sync::Arc;
use alloc::vec::Vec;

use rumpcore_net::SocketHandle;

use crate::klock::KCond;

/// One registered waiter.
struct Waiter {
    id: u64,
    /// The sockets it waits for; empty: any event.
    on: Vec<SocketHandle>,
    cv: Arc<KCond>,
}

/// The waiters of one kernel.
#[derive(Default)]
pub struct WaitList {
    waiters: Vec<Waiter>,
    /// Condition variables of finished waits, for reuse (the platform
    /// objects are not freed).
    spare: Vec<Arc<KCond>>,
    next: u64,
}

/// A registration, to be ended with [`WaitList::remove`].
pub struct WaitTicket {
    id: u64,
    /// The condition variable to sleep on.
    pub cv: Arc<KCond>,
}

impl WaitList {
    /// Registers a waiter for `on` (empty: any event).
    pub fn add(&mut self, on: &[SocketHandle]) -> WaitTicket {
        let cv = self.spare.pop().unwrap_or_else(|| Arc::new(KCond::new()));
        let id = self.next;
        self.next += 1;
        self.waiters.push(Waiter {
            id,
            on: on.to_vec(),
            cv: cv.clone(),
        });
        WaitTicket { id, cv }
    }

    /// Ends a registration.
    pub fn remove(&mut self, t: WaitTicket) {
        if let Some(i) = self.waiters.iter().position(|w| w.id == t.id) {
            self.waiters.swap_remove(i);
        }
        self.spare.push(t.cv);
    }

    /// Wakes the waiters of any socket in `woken`, and those waiting for
    /// any event; with `all`, every waiter.
    pub fn wake(&self, woken: &[SocketHandle], all: bool) {
        for w in &self.waiters {
            if all || w.on.is_empty() || w.on.iter().any(|h| woken.contains(h)) {
                w.cv.signal();
            }
        }
    }
}
