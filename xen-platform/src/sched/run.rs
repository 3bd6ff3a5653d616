//! The scheduler on the machine: thread stacks, the context switch, the
//! idle loop that blocks the vCPU, timers, wait queues and thread slots.

use super::irqlock::IrqLock;
use super::table::{Core, Join, Slot, WaitList, WaitResult, TLS_SLOTS};
use super::SchedError;
use crate::arch::x86_64::{irq, switch};
use crate::error::XenError;
use crate::mm::stack::Stack;
use crate::services::Port;
use crate::{evtchn, time};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Most threads alive at once (including main).
pub const MAX_THREADS: usize = 256;
/// Stack size of [`spawn`]ed threads (bytes, plus a guard page).
pub const STACK_SIZE: usize = 64 * 1024;

/// Threads' bookkeeping, saved stack pointers and stacks.
struct Sched {
    core: Core<MAX_THREADS>,
    rsp: [u64; MAX_THREADS],
    stacks: [Option<Stack>; MAX_THREADS],
}

static SCHED: IrqLock<Sched> = IrqLock::new(Sched {
    core: Core::new(),
    rsp: [0; MAX_THREADS],
    stacks: [const { None }; MAX_THREADS],
});

/// No timer armed.
const NO_TIMER: u64 = u64::MAX;

/// Per-vCPU state.
struct Cpu {
    /// Slot of the running thread.
    current: AtomicUsize,
    /// The running thread's slots (saved into its table entry on switch).
    tls: [AtomicUsize; TLS_SLOTS],
    /// Deadline the one-shot timer is armed for, or NO_TIMER.
    timer_armed: AtomicU64,
    /// The timer fired since the timer queue was last checked.
    timer_fired: AtomicBool,
    /// Counters for [`stats`].
    switches: AtomicU64,
    halts: AtomicU64,
    timer_events: AtomicU64,
}

static CPU0: Cpu = Cpu {
    current: AtomicUsize::new(0),
    tls: [const { AtomicUsize::new(0) }; TLS_SLOTS],
    timer_armed: AtomicU64::new(NO_TIMER),
    timer_fired: AtomicBool::new(false),
    switches: AtomicU64::new(0),
    halts: AtomicU64::new(0),
    timer_events: AtomicU64::new(0),
};

/// Scheduler counters of vCPU 0 since boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Context switches.
    pub switches: u64,
    /// Times the idle loop blocked the vCPU (`sti; hlt`).
    pub halts: u64,
    /// One-shot timer events (VIRQ_TIMER).
    pub timer_events: u64,
}

/// The scheduler's counters: an idle guest shows few halts per second (one
/// per timer or event), a spinning one would show many.
pub fn stats() -> Stats {
    let cpu = this_cpu();
    Stats {
        switches: cpu.switches.load(Ordering::Relaxed),
        halts: cpu.halts.load(Ordering::Relaxed),
        timer_events: cpu.timer_events.load(Ordering::Relaxed),
    }
}

/// Prints the scheduler's state on the console: the clock, the armed
/// timer, each thread's state and deadline, the timer queue. For
/// post-mortems of a guest that stopped making progress.
pub fn dump() {
    use alloc::vec::Vec;
    let cpu = this_cpu();
    let now = time::monotonic_ns();
    let (threads, queue) = {
        let s = SCHED.lock();
        let threads: Vec<_> = s
            .core
            .live_threads()
            .map(|(slot, t)| (slot, t.name, t.state, t.deadline, t.result))
            .collect();
        let queue: Vec<_> = s.core.timer_queue().collect();
        (threads, queue)
    };
    let armed = cpu.timer_armed.load(Ordering::Relaxed);
    let rel = |d: u64| d as i128 - now as i128;
    crate::println!(
        "sched: now {now} ns, timer armed {}, fired {}, current slot {}",
        if armed == NO_TIMER {
            alloc::string::String::from("no")
        } else {
            alloc::format!("at now{:+} ns", rel(armed))
        },
        cpu.timer_fired.load(Ordering::Relaxed),
        current_slot()
    );
    for (slot, name, state, deadline, result) in threads {
        crate::println!(
            "sched: slot {slot} {name:?} {state:?} deadline {:?} last wait {result:?}",
            deadline.map(rel)
        );
    }
    crate::println!("sched: timer queue {queue:?}");
}

fn this_cpu() -> &'static Cpu {
    &CPU0
}

fn current_slot() -> Slot {
    this_cpu().current.load(Ordering::Relaxed)
}

/// VIRQ_TIMER: the one-shot timer fired (the idle loop re-arms as needed).
fn timer_event(_port: Port) {
    let cpu = this_cpu();
    cpu.timer_armed.store(NO_TIMER, Ordering::Relaxed);
    cpu.timer_fired.store(true, Ordering::Relaxed);
    cpu.timer_events.fetch_add(1, Ordering::Relaxed);
}

/// Binds VIRQ_TIMER, stops the periodic timer and enables event delivery.
/// Called once by the start code with interrupts off, after the event
/// channel upcall is registered.
pub(crate) fn init() -> Result<(), XenError> {
    // PVH vCPUs may start with a periodic tick; we use one-shot timers only.
    let _ = crate::hypercall::vcpu_stop_periodic_timer(0);
    let port = evtchn::bind_virq(xen_abi::VIRQ_TIMER)?;
    evtchn::bind_handler(port, timer_event);
    irq::enable();
    Ok(())
}

/// Makes sure the one-shot timer fires no later than `deadline`. An
/// earlier armed time is kept (its firing just re-arms), which saves a
/// hypercall whenever a waiter is woken before its deadline.
fn arm_timer(deadline: u64) {
    let cpu = this_cpu();
    if deadline < cpu.timer_armed.load(Ordering::Relaxed) && time::set_timer(deadline).is_ok() {
        cpu.timer_armed.store(deadline, Ordering::Relaxed);
    }
}

/// Switches to the next runnable thread, idling (vCPU blocked in Xen)
/// while there is none. The running thread must already be queued again
/// (yield), blocked or exited. Call with interrupts disabled; returns (with
/// them still disabled) once this thread runs again.
///
/// The clock is read only when the timer fired or nothing is runnable
/// (reading the TSC may trap to Xen), and the one-shot timer always
/// tracks the earliest deadline, so sleepers wake on time even while other
/// threads keep running.
fn reschedule() {
    let cpu = this_cpu();
    loop {
        let mut s = SCHED.lock();
        let fired = cpu.timer_fired.swap(false, Ordering::Relaxed);
        if (fired || !s.core.has_runnable()) && s.core.next_deadline().is_some() {
            s.core.expire(time::monotonic_ns());
        }
        if let Some(d) = s.core.next_deadline() {
            arm_timer(d);
        }
        if let Some(next) = s.core.pick_next() {
            let cur = cpu.current.load(Ordering::Relaxed);
            if next == cur {
                return;
            }
            for i in 0..TLS_SLOTS {
                s.core.thread_mut(cur).tls[i] = cpu.tls[i].load(Ordering::Relaxed);
                cpu.tls[i].store(s.core.thread(next).tls[i], Ordering::Relaxed);
            }
            cpu.current.store(next, Ordering::Relaxed);
            cpu.switches.fetch_add(1, Ordering::Relaxed);
            let save: *mut u64 = &mut s.rsp[cur];
            let next_rsp = s.rsp[next];
            drop(s);
            // SAFETY: interrupts are off and this is the only vCPU, so
            // nothing else touches `rsp[cur]` (in the static SCHED) until we
            // are resumed; `next_rsp` was saved by `switch` or made by
            // `prepare` for `next`, which is not running and whose stack is
            // alive (stacks are freed only for exited, switched-away
            // threads).
            unsafe { switch::switch(save, next_rsp) };
            after_switch();
            return;
        }
        drop(s);
        // An armed time that has passed means the timer's event was lost
        // (as other deliveries are, now and then, under nested
        // virtualisation): the armed time would hold back every later one,
        // so count the timer as fired and look at the deadlines again.
        let now = time::monotonic_ns();
        if cpu.timer_armed.load(Ordering::Relaxed) <= now {
            cpu.timer_armed.store(NO_TIMER, Ordering::Relaxed);
            cpu.timer_fired.store(true, Ordering::Relaxed);
            continue;
        }

        cpu.halts.fetch_add(1, Ordering::Relaxed);
        // Checked above with interrupts off; an event since then makes the
        // `hlt` return at once.
        irq::enable_and_halt_then_disable();
    }
}

/// Runs on the thread just switched to: frees exited detached threads.
fn after_switch() {
    let mut s = SCHED.lock();
    let s = &mut *s;
    let stacks = &mut s.stacks;
    s.core
        .reap(current_slot(), |slot| drop(stacks[slot].take()));
}

/// A thread's unique id (main is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(pub u64);

/// The running thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    /// Its id.
    pub id: ThreadId,
    /// The name given at spawn.
    pub name: &'static str,
}

/// The running thread's id and name.
pub fn current() -> Current {
    let s = SCHED.lock();
    let t = s.core.thread(current_slot());
    Current {
        id: ThreadId(t.id),
        name: t.name,
    }
}

/// Reads per-thread slot `index` (< [`TLS_SLOTS`]; panics otherwise).
#[inline]
pub fn get_tls(index: usize) -> usize {
    this_cpu().tls[index].load(Ordering::Relaxed)
}

/// Writes per-thread slot `index` (< [`TLS_SLOTS`]; panics otherwise).
#[inline]
pub fn set_tls(index: usize, value: usize) {
    this_cpu().tls[index].store(value, Ordering::Relaxed)
}

/// Lets the other runnable threads run first.
pub fn yield_now() {
    let was = irq::disable();
    SCHED.lock().core.yield_slot(current_slot());
    reschedule();
    irq::restore(was);
}

/// Sleeps until system time `deadline_ns`; returns at once if it passed.
pub fn sleep_until(deadline_ns: u64) {
    let was = irq::disable();
    let blocked = SCHED
        .lock()
        .core
        .block(current_slot(), Some(deadline_ns), time::monotonic_ns());
    if blocked {
        reschedule();
    }
    irq::restore(was);
}

/// Sleeps for `ns` nanoseconds.
pub fn sleep_ns(ns: u64) {
    sleep_until(time::monotonic_ns().saturating_add(ns));
}

/// Ends the running thread (its joiner is woken). Ending `main` powers the
/// domain off, as returning from `main` does.
pub fn exit() -> ! {
    irq::disable();
    let cur = current_slot();
    if cur == 0 {
        crate::start::poweroff();
    }
    SCHED.lock().core.exit(cur);
    reschedule();
    unreachable!("an exited thread was resumed");
}

/// First code of a new thread: takes its closure from the top of its
/// stack, runs it, and exits.
extern "C" fn thread_entry<F: FnOnce() + Send + 'static>(closure: u64) -> ! {
    // SAFETY: `spawn` moved an `F` to this address on the thread's stack,
    // above the first frame, and nothing else reads it; it is moved out
    // exactly once, here.
    let f = unsafe { (closure as *mut F).read() };
    after_switch();
    irq::enable();
    f();
    exit()
}

/// Starts a thread running `f` on a [`STACK_SIZE`] stack.
pub fn spawn<F: FnOnce() + Send + 'static>(
    name: &'static str,
    f: F,
) -> Result<JoinHandle, SchedError> {
    spawn_with_stack(name, STACK_SIZE, f)
}

/// Starts a thread running `f` on a stack of `stack_bytes` (plus a guard
/// page). The new thread runs when the caller next blocks or yields.
pub fn spawn_with_stack<F: FnOnce() + Send + 'static>(
    name: &'static str,
    stack_bytes: usize,
    f: F,
) -> Result<JoinHandle, SchedError> {
    let stack = Stack::new(stack_bytes).map_err(SchedError::Memory)?;
    let top = stack.top() as u64;
    let align = align_of::<F>().max(16) as u64;
    let closure = top.saturating_sub(size_of::<F>() as u64) & !(align - 1);
    // Room for the closure, the start frame and a little of the thread.
    if closure < stack.bottom() as u64 + 1024 {
        return Err(SchedError::StackTooSmall);
    }
    // SAFETY: `closure` is suitably aligned, within the new stack (checked
    // above) and not yet used by anyone; the `F` is moved there and read
    // back exactly once by `thread_entry` (or dropped below on failure).
    unsafe { (closure as *mut F).write(f) };
    // SAFETY: the words below `closure & !15` are unused memory of the new
    // stack (at least 1 KiB, checked above).
    let rsp = unsafe { switch::prepare(closure & !15, thread_entry::<F>, closure) };
    let mut s = SCHED.lock();
    let slot = match s.core.create(name) {
        Ok(slot) => slot,
        Err(_) => {
            drop(s);
            // SAFETY: the closure was written above and never started.
            unsafe { core::ptr::drop_in_place(closure as *mut F) };
            return Err(SchedError::TooManyThreads);
        }
    };
    s.rsp[slot] = rsp;
    s.stacks[slot] = Some(stack);
    s.core.start(slot);
    let id = s.core.thread(slot).id;
    Ok(JoinHandle { slot, id })
}

/// Owns the right to wait for a thread's end. Dropping it detaches the
/// thread (its slot and stack are freed when it exits).
#[derive(Debug)]
pub struct JoinHandle {
    slot: Slot,
    id: u64,
}

impl JoinHandle {
    /// The thread's id.
    pub fn id(&self) -> ThreadId {
        ThreadId(self.id)
    }

    /// Waits until the thread has exited, then frees its stack.
    pub fn join(self) {
        let me = core::mem::ManuallyDrop::new(self);
        let was = irq::disable();
        loop {
            let mut s = SCHED.lock();
            match s.core.join(current_slot(), me.slot, me.id) {
                Join::Freed => {
                    let stack = s.stacks[me.slot].take();
                    drop(s);
                    drop(stack);
                    break;
                }
                Join::Gone => break,
                Join::Blocked => {
                    drop(s);
                    reschedule();
                }
            }
        }
        irq::restore(was);
    }
}

impl Drop for JoinHandle {
    fn drop(&mut self) {
        let mut s = SCHED.lock();
        if s.core.detach(self.slot, self.id) {
            let stack = s.stacks[self.slot].take();
            drop(s);
            drop(stack);
        }
    }
}

/// Threads waiting for a wake-up; see the module docs. Wakes may come from
/// event handlers. A wake with nobody waiting is not remembered: waiters
/// check their condition first ([`WaitQueue::wait_for`]).
pub struct WaitQueue {
    /// Protected by the SCHED lock.
    list: UnsafeCell<WaitList>,
}

// SAFETY: `list` is only accessed while holding the SCHED lock.
unsafe impl Sync for WaitQueue {}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueue {
    /// An empty queue.
    pub const fn new() -> WaitQueue {
        WaitQueue {
            list: UnsafeCell::new(WaitList::new()),
        }
    }

    /// Blocks the running thread on the queue; interrupts must be off.
    fn block_current(&self, deadline_ns: Option<u64>) -> WaitResult {
        let cur = current_slot();
        {
            let mut s = SCHED.lock();
            // SAFETY: the SCHED lock is held.
            let list = unsafe { &mut *self.list.get() };
            let now = deadline_ns.map_or(0, |_| time::monotonic_ns());
            if !s.core.block_on(list, cur, deadline_ns, now) {
                return WaitResult::TimedOut;
            }
        }
        reschedule();
        let mut s = SCHED.lock();
        let r = s.core.thread(cur).result;
        if r == WaitResult::TimedOut {
            // SAFETY: the SCHED lock is held.
            let list = unsafe { &mut *self.list.get() };
            s.core.unlink(list, cur);
        }
        r
    }

    /// Sleeps until woken or until `deadline_ns` (None: no deadline).
    pub fn wait_until(&self, deadline_ns: Option<u64>) -> WaitResult {
        let was = irq::disable();
        let r = self.block_current(deadline_ns);
        irq::restore(was);
        r
    }

    /// Waits until `cond()` holds: `Woken` at once if it already does, else
    /// after a wake-up finds it true; `TimedOut` if `deadline_ns` passes
    /// with it false. `cond` runs with interrupts off: keep it short and
    /// never block in it.
    pub fn wait_for(&self, mut cond: impl FnMut() -> bool, deadline_ns: Option<u64>) -> WaitResult {
        let was = irq::disable();
        let r = loop {
            if cond() {
                break WaitResult::Woken;
            }
            if self.block_current(deadline_ns) == WaitResult::TimedOut {
                break if cond() {
                    WaitResult::Woken
                } else {
                    WaitResult::TimedOut
                };
            }
        };
        irq::restore(was);
        r
    }

    /// Wakes the longest-waiting thread; false if none was waiting.
    pub fn wake_one(&self) -> bool {
        let mut s = SCHED.lock();
        // SAFETY: the SCHED lock is held.
        let list = unsafe { &mut *self.list.get() };
        s.core.wake_one(list)
    }

    /// Wakes every waiting thread; returns how many.
    pub fn wake_all(&self) -> usize {
        let mut s = SCHED.lock();
        // SAFETY: the SCHED lock is held.
        let list = unsafe { &mut *self.list.get() };
        s.core.wake_all(list)
    }
}

/// A one-consumer signal that remembers a wake-up given before the wait
/// (auto-reset): [`Event::signal`] from a thread or an event handler,
/// [`Event::wait`] in the thread that consumes it.
pub struct Event {
    set: AtomicBool,
    queue: WaitQueue,
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl Event {
    /// An unsignalled event.
    pub const fn new() -> Event {
        Event {
            set: AtomicBool::new(false),
            queue: WaitQueue::new(),
        }
    }

    /// Sets the event and wakes one waiter (never blocks; handler-safe).
    pub fn signal(&self) {
        self.set.store(true, Ordering::Release);
        self.queue.wake_one();
    }

    /// Waits until the event is set, then clears it: `Woken` (at once if it
    /// was already set) or `TimedOut` once `deadline_ns` passed unset.
    pub fn wait(&self, deadline_ns: Option<u64>) -> WaitResult {
        self.queue
            .wait_for(|| self.set.swap(false, Ordering::AcqRel), deadline_ns)
    }
}
