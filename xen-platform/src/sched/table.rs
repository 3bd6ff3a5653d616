//! The scheduler's bookkeeping, free of machine state so it is unit-tested
//! on the host: a fixed table of threads, the FIFO run queue, the timer
//! queue ordered by deadline, wait lists, exit and join. Links are slot
//! indices inside the table, so waking never allocates (it runs in event
//! handlers).

/// A slot in the thread table.
pub type Slot = usize;

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitResult {
    /// Woken by `wake_one`/`wake_all` (or the condition became true).
    Woken,
    /// The deadline passed first.
    TimedOut,
}

/// The life of a thread slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Unused slot.
    Free,
    /// In the run queue.
    Runnable,
    /// On the CPU.
    Running,
    /// Waiting for a wake-up, its deadline or a thread to exit.
    Blocked,
    /// Finished; the slot lives until joined (or reaped when detached).
    Exited,
}

/// One thread's bookkeeping.
#[derive(Debug, Clone, Copy)]
pub struct Thread {
    /// Where it is in its life.
    pub state: State,
    /// Unique id (never reused).
    pub id: u64,
    /// Name given at spawn.
    pub name: &'static str,
    /// Deadline while in the timer queue (system time, ns).
    pub deadline: Option<u64>,
    /// How its last wait ended.
    pub result: WaitResult,
    /// The thread waiting in `join` for this one.
    pub joiner: Option<Slot>,
    /// Nobody will join it: reap its slot when it exits.
    pub detached: bool,
    /// Per-thread values (the rump layer keeps `curlwp` and `errno`).
    pub tls: [usize; TLS_SLOTS],
    run_next: Option<Slot>,
    timer_next: Option<Slot>,
    wait_next: Option<Slot>,
}

/// Number of per-thread `usize` slots.
pub const TLS_SLOTS: usize = 2;

impl Thread {
    const FREE: Thread = Thread {
        state: State::Free,
        id: 0,
        name: "",
        deadline: None,
        result: WaitResult::Woken,
        joiner: None,
        detached: false,
        tls: [0; TLS_SLOTS],
        run_next: None,
        timer_next: None,
        wait_next: None,
    };
}

/// A FIFO list of threads waiting for a wake-up (the list part of a
/// `WaitQueue`; its links live in the threads' slots).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WaitList {
    head: Option<Slot>,
    tail: Option<Slot>,
}

impl WaitList {
    /// An empty list.
    pub const fn new() -> WaitList {
        WaitList {
            head: None,
            tail: None,
        }
    }

    /// Whether no thread is on the list.
    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }
}

/// The thread table and queues of one scheduler, for up to `N` threads.
#[derive(Debug)]
pub struct Core<const N: usize> {
    threads: [Thread; N],
    run_head: Option<Slot>,
    run_tail: Option<Slot>,
    timers: Option<Slot>,
    next_id: u64,
    zombies: usize,
}

/// What [`Core::join`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// The target had exited; its slot is freed now (release its stack).
    Freed,
    /// The target is long gone (slot already freed or reused).
    Gone,
    /// The joiner is blocked until the target exits; call again then.
    Blocked,
}

/// Errors of the scheduler's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreError {
    /// Every thread slot is in use.
    TooManyThreads,
}

impl<const N: usize> Default for Core<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Core<N> {
    /// A table whose slot 0 is the running thread `main` (id 0).
    pub const fn new() -> Core<N> {
        let mut threads = [Thread::FREE; N];
        threads[0].state = State::Running;
        threads[0].name = "main";
        Core {
            threads,
            run_head: None,
            run_tail: None,
            timers: None,
            next_id: 1,
            zombies: 0,
        }
    }

    /// The thread in `slot`.
    pub fn thread(&self, slot: Slot) -> &Thread {
        &self.threads[slot]
    }

    /// The thread in `slot`, mutably (for its TLS values).
    pub fn thread_mut(&mut self, slot: Slot) -> &mut Thread {
        &mut self.threads[slot]
    }

    /// Takes a free slot for a new, not yet runnable thread (state
    /// Blocked until [`Core::start`]).
    pub fn create(&mut self, name: &'static str) -> Result<Slot, CoreError> {
        let slot = self
            .threads
            .iter()
            .position(|t| t.state == State::Free)
            .ok_or(CoreError::TooManyThreads)?;
        let id = self.next_id;
        self.next_id += 1;
        self.threads[slot] = Thread {
            state: State::Blocked,
            id,
            name,
            ..Thread::FREE
        };
        Ok(slot)
    }

    /// Makes a created thread runnable.
    pub fn start(&mut self, slot: Slot) {
        self.make_runnable(slot);
    }

    /// Gives up a slot made by [`Core::create`] that never started.
    pub fn abandon(&mut self, slot: Slot) {
        self.threads[slot] = Thread::FREE;
    }

    fn make_runnable(&mut self, slot: Slot) {
        let t = &mut self.threads[slot];
        debug_assert!(t.state != State::Runnable && t.state != State::Free);
        t.state = State::Runnable;
        t.run_next = None;
        match self.run_tail {
            Some(tail) => self.threads[tail].run_next = Some(slot),
            None => self.run_head = Some(slot),
        }
        self.run_tail = Some(slot);
    }

    /// Puts the running thread `slot` at the end of the run queue.
    pub fn yield_slot(&mut self, slot: Slot) {
        debug_assert_eq!(self.threads[slot].state, State::Running);
        self.make_runnable(slot);
    }

    /// Takes the next runnable thread off the run queue and marks it
    /// running.
    pub fn pick_next(&mut self) -> Option<Slot> {
        let slot = self.run_head?;
        self.run_head = self.threads[slot].run_next.take();
        if self.run_head.is_none() {
            self.run_tail = None;
        }
        self.threads[slot].state = State::Running;
        Some(slot)
    }

    /// Whether any thread is runnable.
    pub fn has_runnable(&self) -> bool {
        self.run_head.is_some()
    }

    fn timer_insert(&mut self, slot: Slot, deadline: u64) {
        self.threads[slot].deadline = Some(deadline);
        // After all entries with deadline <= this one (FIFO among equals).
        let mut prev: Option<Slot> = None;
        let mut cur = self.timers;
        while let Some(c) = cur {
            if self.threads[c].deadline.is_some_and(|d| d > deadline) {
                break;
            }
            prev = Some(c);
            cur = self.threads[c].timer_next;
        }
        self.threads[slot].timer_next = cur;
        match prev {
            Some(p) => self.threads[p].timer_next = Some(slot),
            None => self.timers = Some(slot),
        }
    }

    fn timer_remove(&mut self, slot: Slot) {
        if self.threads[slot].deadline.take().is_none() {
            return;
        }
        let next = self.threads[slot].timer_next.take();
        if self.timers == Some(slot) {
            self.timers = next;
            return;
        }
        let mut cur = self.timers;
        while let Some(c) = cur {
            if self.threads[c].timer_next == Some(slot) {
                self.threads[c].timer_next = next;
                return;
            }
            cur = self.threads[c].timer_next;
        }
    }

    /// Slots in use and their threads (diagnostics).
    pub fn live_threads(&self) -> impl Iterator<Item = (Slot, &Thread)> {
        self.threads
            .iter()
            .enumerate()
            .filter(|(_, t)| t.state != State::Free)
    }

    /// Slots in the timer queue, earliest first (diagnostics).
    pub fn timer_queue(&self) -> impl Iterator<Item = Slot> + '_ {
        core::iter::successors(self.timers, |&s| self.threads[s].timer_next).take(N)
    }

    /// The earliest deadline in the timer queue.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.and_then(|s| self.threads[s].deadline)
    }

    /// Makes every thread whose deadline is at or before `now` runnable
    /// with result TimedOut; returns how many.
    pub fn expire(&mut self, now: u64) -> usize {
        let mut n = 0;
        while let Some(slot) = self.timers {
            match self.threads[slot].deadline {
                Some(d) if d <= now => {}
                _ => break,
            }
            self.timers = self.threads[slot].timer_next.take();
            self.threads[slot].deadline = None;
            if self.threads[slot].state == State::Blocked {
                self.threads[slot].result = WaitResult::TimedOut;
                self.make_runnable(slot);
                n += 1;
            }
        }
        n
    }

    /// Blocks the running thread `slot` until woken or until `deadline`.
    /// Returns false (and does not block) if the deadline is already at or
    /// before `now`.
    pub fn block(&mut self, slot: Slot, deadline: Option<u64>, now: u64) -> bool {
        debug_assert_eq!(self.threads[slot].state, State::Running);
        if deadline.is_some_and(|d| d <= now) {
            self.threads[slot].result = WaitResult::TimedOut;
            return false;
        }
        self.threads[slot].state = State::Blocked;
        self.threads[slot].result = WaitResult::Woken;
        if let Some(d) = deadline {
            self.timer_insert(slot, d);
        }
        true
    }

    /// Like [`Core::block`], and appends `slot` to `list`.
    pub fn block_on(
        &mut self,
        list: &mut WaitList,
        slot: Slot,
        deadline: Option<u64>,
        now: u64,
    ) -> bool {
        if !self.block(slot, deadline, now) {
            return false;
        }
        self.threads[slot].wait_next = None;
        match list.tail {
            Some(t) => self.threads[t].wait_next = Some(slot),
            None => list.head = Some(slot),
        }
        list.tail = Some(slot);
        true
    }

    /// Takes `slot` off `list` if it is still there (after a timeout).
    pub fn unlink(&mut self, list: &mut WaitList, slot: Slot) {
        let mut prev: Option<Slot> = None;
        let mut cur = list.head;
        while let Some(c) = cur {
            let next = self.threads[c].wait_next;
            if c == slot {
                match prev {
                    Some(p) => self.threads[p].wait_next = next,
                    None => list.head = next,
                }
                if list.tail == Some(slot) {
                    list.tail = prev;
                }
                self.threads[slot].wait_next = None;
                return;
            }
            prev = cur;
            cur = next;
        }
    }

    /// Wakes a blocked thread (result Woken); false if it was not blocked.
    pub fn wake(&mut self, slot: Slot) -> bool {
        if self.threads[slot].state != State::Blocked {
            return false;
        }
        self.timer_remove(slot);
        self.threads[slot].result = WaitResult::Woken;
        self.make_runnable(slot);
        true
    }

    /// Wakes the first thread on `list` that is still blocked (threads
    /// that timed out but have not yet run are dropped from the list).
    pub fn wake_one(&mut self, list: &mut WaitList) -> bool {
        while let Some(slot) = list.head {
            list.head = self.threads[slot].wait_next.take();
            if list.head.is_none() {
                list.tail = None;
            }
            if self.wake(slot) {
                return true;
            }
        }
        false
    }

    /// Wakes every thread on `list`; returns how many were blocked.
    pub fn wake_all(&mut self, list: &mut WaitList) -> usize {
        let mut n = 0;
        while self.wake_one(list) {
            n += 1;
        }
        n
    }

    /// Ends the running thread `slot`: wakes its joiner; a detached thread
    /// becomes a zombie to reap once no longer on the CPU.
    pub fn exit(&mut self, slot: Slot) {
        debug_assert_eq!(self.threads[slot].state, State::Running);
        self.threads[slot].state = State::Exited;
        if let Some(j) = self.threads[slot].joiner.take() {
            self.wake(j);
        }
        if self.threads[slot].detached {
            self.zombies += 1;
        }
    }

    /// `joiner` (running) waits for `target` (id `id`) to exit.
    pub fn join(&mut self, joiner: Slot, target: Slot, id: u64) -> Join {
        let t = &self.threads[target];
        if t.id != id || t.state == State::Free {
            return Join::Gone;
        }
        if t.state == State::Exited {
            self.threads[target] = Thread::FREE;
            return Join::Freed;
        }
        self.threads[target].joiner = Some(joiner);
        let blocked = self.block(joiner, None, 0);
        debug_assert!(blocked);
        Join::Blocked
    }

    /// Nobody will join `target` (id `id`): free it now if it has exited,
    /// else when it exits. Returns whether the slot was freed now.
    pub fn detach(&mut self, target: Slot, id: u64) -> bool {
        let t = &mut self.threads[target];
        if t.id != id || t.state == State::Free {
            return false;
        }
        if t.state == State::Exited {
            *t = Thread::FREE;
            return true;
        }
        t.detached = true;
        false
    }

    /// Frees the slots of exited detached threads other than `current`,
    /// calling `free(slot)` for each (to release its stack).
    pub fn reap(&mut self, current: Slot, mut free: impl FnMut(Slot)) {
        if self.zombies == 0 {
            return;
        }
        for slot in 0..N {
            let t = &self.threads[slot];
            if slot != current && t.state == State::Exited && t.detached {
                self.threads[slot] = Thread::FREE;
                self.zombies -= 1;
                free(slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type C = Core<8>;

    fn spawn(c: &mut C, name: &'static str) -> Slot {
        let s = c.create(name).unwrap();
        c.start(s);
        s
    }

    /// Switches like the platform does: the running `cur` already blocked or
    /// yielded; returns the next.
    fn next(c: &mut C) -> Slot {
        c.pick_next().expect("something runnable")
    }

    #[test]
    fn run_queue_is_fifo_and_yield_goes_last() {
        let mut c = C::new();
        let a = spawn(&mut c, "a");
        let b = spawn(&mut c, "b");
        c.yield_slot(0);
        assert_eq!(next(&mut c), a);
        c.yield_slot(a);
        assert_eq!(next(&mut c), b);
        c.yield_slot(b);
        assert_eq!(next(&mut c), 0);
        assert_eq!(next(&mut c), a);
        assert!(!c.has_runnable() || c.pick_next() == Some(b));
    }

    #[test]
    fn table_full_is_an_error_and_ids_are_unique() {
        let mut c = Core::<3>::new();
        let a = c.create("a").unwrap();
        let b = c.create("b").unwrap();
        assert_eq!(c.create("c"), Err(CoreError::TooManyThreads));
        assert_ne!(c.thread(a).id, c.thread(b).id);
        c.abandon(a);
        let a2 = c.create("a2").unwrap();
        assert_eq!(a2, a);
        assert!(c.thread(a2).id > c.thread(b).id);
    }

    #[test]
    fn timers_expire_in_deadline_order_fifo_among_equals() {
        let mut c = C::new();
        let s: Vec<Slot> = (0..4).map(|_| c.create("t").unwrap()).collect();
        for &x in &s {
            c.start(x);
        }
        for _ in 0..4 {
            let x = next(&mut c);
            let d = [300, 100, 200, 100][s.iter().position(|&y| y == x).unwrap()];
            assert!(c.block(x, Some(d), 0));
        }
        assert_eq!(c.next_deadline(), Some(100));
        assert_eq!(c.expire(99), 0);
        assert_eq!(c.expire(150), 2);
        assert_eq!(next(&mut c), s[1]);
        assert_eq!(next(&mut c), s[3]);
        assert_eq!(c.thread(s[1]).result, WaitResult::TimedOut);
        assert_eq!(c.expire(1000), 2);
        assert_eq!(next(&mut c), s[2]);
        assert_eq!(next(&mut c), s[0]);
        assert_eq!(c.next_deadline(), None);
    }

    #[test]
    fn sleeping_until_a_past_deadline_returns_at_once() {
        let mut c = C::new();
        assert!(!c.block(0, Some(50), 50));
        assert_eq!(c.thread(0).state, State::Running);
        assert_eq!(c.thread(0).result, WaitResult::TimedOut);
        let mut l = WaitList::new();
        assert!(!c.block_on(&mut l, 0, Some(10), 20));
        assert!(l.is_empty());
    }

    #[test]
    fn wake_before_wait_is_not_remembered_by_the_list() {
        // The list is condition-variable like: the waiter checks its
        // condition (with interrupts off) before it blocks.
        let mut c = C::new();
        let mut l = WaitList::new();
        assert!(!c.wake_one(&mut l));
        assert!(c.block_on(&mut l, 0, None, 0));
        assert!(c.wake_one(&mut l));
        assert_eq!(next(&mut c), 0);
        assert_eq!(c.thread(0).result, WaitResult::Woken);
    }

    #[test]
    fn woken_before_the_deadline_leaves_the_timer_queue() {
        let mut c = C::new();
        let mut l = WaitList::new();
        assert!(c.block_on(&mut l, 0, Some(100), 0));
        assert!(c.wake_one(&mut l));
        assert_eq!(c.next_deadline(), None);
        assert_eq!(c.expire(200), 0);
        assert_eq!(next(&mut c), 0);
        assert_eq!(c.thread(0).result, WaitResult::Woken);
    }

    #[test]
    fn timeout_then_wake_wakes_the_next_waiter() {
        let mut c = C::new();
        let a = spawn(&mut c, "a");
        let mut l = WaitList::new();
        // main waits with a deadline, a without.
        assert!(c.block_on(&mut l, 0, Some(100), 0));
        assert_eq!(next(&mut c), a);
        assert!(c.block_on(&mut l, a, None, 0));
        // The timeout fires before main ran again; then a wake comes.
        assert_eq!(c.expire(100), 1);
        assert!(c.wake_one(&mut l));
        assert_eq!(next(&mut c), 0);
        assert_eq!(c.thread(0).result, WaitResult::TimedOut);
        // main unlinks itself (already gone: no-op).
        c.unlink(&mut l, 0);
        assert_eq!(next(&mut c), a);
        assert_eq!(c.thread(a).result, WaitResult::Woken);
        assert!(l.is_empty());
    }

    #[test]
    fn timed_out_waiter_unlinks_itself_from_the_middle() {
        let mut c = C::new();
        let a = spawn(&mut c, "a");
        let b = spawn(&mut c, "b");
        let mut l = WaitList::new();
        assert!(c.block_on(&mut l, 0, None, 0));
        assert_eq!(next(&mut c), a);
        assert!(c.block_on(&mut l, a, Some(5), 0));
        assert_eq!(next(&mut c), b);
        assert!(c.block_on(&mut l, b, None, 0));
        assert_eq!(c.expire(5), 1);
        assert_eq!(next(&mut c), a);
        c.unlink(&mut l, a);
        assert_eq!(c.wake_all(&mut l), 2);
        assert_eq!(next(&mut c), 0);
        assert_eq!(next(&mut c), b);
        assert!(l.is_empty());
    }

    #[test]
    fn wake_then_timeout_keeps_woken() {
        let mut c = C::new();
        let mut l = WaitList::new();
        assert!(c.block_on(&mut l, 0, Some(10), 0));
        assert_eq!(c.wake_all(&mut l), 1);
        assert_eq!(c.expire(10), 0);
        assert_eq!(next(&mut c), 0);
        assert_eq!(c.thread(0).result, WaitResult::Woken);
        assert!(!c.wake(0));
    }

    #[test]
    fn join_of_an_exited_thread_returns_at_once_and_frees_the_slot() {
        let mut c = C::new();
        let a = spawn(&mut c, "a");
        let id = c.thread(a).id;
        c.yield_slot(0);
        assert_eq!(next(&mut c), a);
        c.exit(a);
        assert_eq!(next(&mut c), 0);
        assert_eq!(c.join(0, a, id), Join::Freed);
        assert_eq!(c.thread(a).state, State::Free);
        // Joining again (stale id) returns too.
        assert_eq!(c.join(0, a, id), Join::Gone);
    }

    #[test]
    fn join_blocks_until_exit() {
        let mut c = C::new();
        let a = spawn(&mut c, "a");
        let id = c.thread(a).id;
        assert_eq!(c.join(0, a, id), Join::Blocked);
        assert_eq!(next(&mut c), a);
        c.exit(a);
        assert_eq!(next(&mut c), 0);
        assert_eq!(c.join(0, a, id), Join::Freed);
    }

    #[test]
    fn detached_threads_are_reaped_off_cpu() {
        let mut c = C::new();
        let a = spawn(&mut c, "a");
        let b = spawn(&mut c, "b");
        assert!(!c.detach(a, c.thread(a).id));
        c.yield_slot(0);
        assert_eq!(next(&mut c), a);
        c.exit(a);
        let mut freed = vec![];
        c.reap(a, |s| freed.push(s));
        assert!(freed.is_empty());
        assert_eq!(next(&mut c), b);
        c.reap(b, |s| freed.push(s));
        assert_eq!(freed, vec![a]);
        assert_eq!(c.thread(a).state, State::Free);
        // Detaching an exited thread frees it at once.
        c.exit(b);
        assert!(c.detach(b, c.thread(b).id));
    }
}
