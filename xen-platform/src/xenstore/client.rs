//! The xenstore client (`io/xs_wire.h`): request ids, matching replies to
//! requests, watch events queued per token as they arrive interleaved with
//! replies, and the [`XenstoreOps`] implementation over any pair of
//! [`RingHalf`]s and a [`Waiter`] (the blocking primitive of the platform).
//!
//! Several threads may use one client: each queues its request, then pumps
//! the rings (whoever pumps dispatches every reply and event it finds) and
//! waits until its own reply is there. The lock is never held while waiting.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use spin::Mutex;

use super::ring::{MessageReader, MessageWriter, RingHalf};
use super::wire::{self, Header, Reply, Request};
use super::{Tx, XenstoreOps, XsError};
use crate::error::XenError;

/// How the client blocks: waiting for the peer, notifying it, and waking
/// other local threads. The real platform waits on the xenstore event
/// channel with a wait queue; tests run a simulated xenstored.
pub trait Waiter {
    /// Waits until `ready()` holds, the peer signalled (an event on the
    /// xenstore port), or `deadline_ns` (absolute monotonic ns) passed;
    /// returns false only in the last case. Returning early is fine: the
    /// client re-checks the rings. `ready` is short and never blocks (it
    /// may run with interrupts off).
    fn wait(&self, ready: &mut dyn FnMut() -> bool, deadline_ns: Option<u64>) -> bool;
    /// Notifies xenstored that the rings changed (the event channel).
    fn notify_peer(&self) -> Result<(), XenError>;
    /// Wakes other threads blocked in [`Waiter::wait`]: the thread that
    /// pumped the rings may have dispatched what they wait for.
    fn wake_waiters(&self) {}
}

/// Most events queued for one watch token; further events are dropped (and
/// counted) until the owner drains the queue. A watch only says "look
/// again", so a consumer that re-reads the node loses no value.
pub const WATCH_QUEUE_MAX: usize = 4096;

/// Events of the watches registered with one token.
#[derive(Debug, Default)]
struct WatchQueue {
    /// Paths that fired, oldest first.
    events: VecDeque<String>,
    /// Watches registered with this token.
    watches: usize,
}

/// Mutable state, behind the client's lock.
#[derive(Debug, Default)]
struct State {
    next_req_id: u32,
    writer: MessageWriter,
    reader: MessageReader,
    /// Requests sent whose replies have not arrived.
    pending: BTreeSet<u32>,
    /// Requests whose callers gave up (timeout): their replies are dropped.
    abandoned: BTreeSet<u32>,
    /// Replies that arrived, by request id, for their callers to take.
    replies: BTreeMap<u32, (Header, Vec<u8>)>,
    /// Watch events per token.
    watches: BTreeMap<String, WatchQueue>,
    /// Watch events dropped because a queue was full or the token unknown.
    dropped_events: u64,
    /// Set when the peer misbehaved: the connection is not used again.
    broken: Option<XsError>,
    /// Cached home path.
    domain_path: Option<String>,
}

/// The state of a connection at one moment (see [`Client::snapshot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Request ring (cons, prod).
    pub req: (u32, u32),
    /// Response ring (cons, prod).
    pub rsp: (u32, u32),
    /// Requests queued but not yet all in the ring.
    pub unsent: bool,
    /// Requests awaiting replies.
    pub pending_requests: usize,
    /// Watch events queued for their tokens' consumers.
    pub queued_events: usize,
    /// Watch events dropped so far.
    pub dropped_events: u64,
    /// The peer misbehaved and the connection is down.
    pub broken: bool,
}

impl core::fmt::Display for Snapshot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "req cons {} prod {}, rsp cons {} prod {}, unsent {}, awaiting {}, queued events {}, dropped {}, broken {}",
            self.req.0,
            self.req.1,
            self.rsp.0,
            self.rsp.1,
            self.unsent as u8,
            self.pending_requests,
            self.queued_events,
            self.dropped_events,
            self.broken as u8
        )
    }
}

/// A xenstore client over the request ring `req` and the response ring
/// `rsp` of a `xenstore_domain_interface` (or simulated rings).
pub struct Client<R, W> {
    req: R,
    rsp: R,
    waiter: W,
    state: Mutex<State>,
}

impl<R: RingHalf, W: Waiter> Client<R, W> {
    /// A client writing requests to `req` and reading replies from `rsp`.
    pub fn new(req: R, rsp: R, waiter: W) -> Self {
        Client {
            req,
            rsp,
            waiter,
            state: Mutex::new(State {
                next_req_id: 1,
                ..State::default()
            }),
        }
    }

    /// The waiter (e.g. to share it with other users of the event channel).
    pub fn waiter(&self) -> &W {
        &self.waiter
    }

    /// A snapshot of the rings and the client's queues, for diagnostics.
    pub fn snapshot(&self) -> Snapshot {
        let st = self.state.lock();
        Snapshot {
            req: (self.req.cons(), self.req.prod()),
            rsp: (self.rsp.cons(), self.rsp.prod()),
            unsent: !st.writer.is_empty(),
            pending_requests: st.pending.len(),
            queued_events: st.watches.values().map(|q| q.events.len()).sum(),
            dropped_events: st.dropped_events,
            broken: st.broken.is_some(),
        }
    }

    /// Watch events dropped so far (queue full, or no watch with the token).
    pub fn dropped_events(&self) -> u64 {
        self.state.lock().dropped_events
    }

    /// Moves bytes both ways once: writes queued requests (notifying the
    /// peer) and dispatches every complete reply and watch event. Call from
    /// the event-channel handler's thread, or let the operations do it.
    pub fn pump(&self) -> Result<(), XsError> {
        let mut st = self.state.lock();
        self.pump_locked(&mut st)
    }

    fn pump_locked(&self, st: &mut State) -> Result<(), XsError> {
        if let Some(e) = &st.broken {
            return Err(e.clone());
        }
        match self.pump_inner(st) {
            Ok(()) => Ok(()),
            Err(e @ XsError::Malformed(_)) => {
                st.broken = Some(e.clone());
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    fn pump_inner(&self, st: &mut State) -> Result<(), XsError> {
        let mut notify = false;
        let mut dispatched = false;
        if !st.writer.is_empty() && st.writer.poll(&self.req)? > 0 {
            notify = true;
        }
        let rsp_cons = self.rsp.cons();
        while let Some((h, payload)) = st.reader.poll(&self.rsp, wire::check_reply_header)? {
            dispatched = true;
            if h.type_ == xen_abi::XS_WATCH_EVENT {
                let ev = wire::decode_watch_event(&payload)?;
                match st.watches.get_mut(&ev.token) {
                    Some(q) if q.events.len() < WATCH_QUEUE_MAX => q.events.push_back(ev.path),
                    _ => st.dropped_events += 1,
                }
            } else if st.pending.remove(&h.req_id) {
                st.replies.insert(h.req_id, (h, payload));
            } else if !st.abandoned.remove(&h.req_id) {
                return Err(XsError::Malformed("reply to no pending request (req_id)"));
            }
        }
        // Space freed in the response ring: xenstored may be waiting for it.
        if self.rsp.cons() != rsp_cons {
            notify = true;
        }
        if dispatched {
            self.waiter.wake_waiters();
        }
        if notify {
            self.waiter.notify_peer()?;
        }
        Ok(())
    }

    /// Sends `req` and waits for its reply (until `deadline_ns`).
    pub fn call(
        &self,
        tx: Tx,
        req: &Request<'_>,
        deadline_ns: Option<u64>,
    ) -> Result<Reply, XsError> {
        let req_id = {
            let mut st = self.state.lock();
            if let Some(e) = &st.broken {
                return Err(e.clone());
            }
            let mut req_id = st.next_req_id;
            // Skip ids still in use after a wrap of the counter.
            while st.pending.contains(&req_id) || st.abandoned.contains(&req_id) {
                req_id = req_id.wrapping_add(1);
            }
            st.next_req_id = req_id.wrapping_add(1);
            let msg = wire::encode_request(req_id, tx, req)?;
            st.writer.push(&msg);
            st.pending.insert(req_id);
            req_id
        };
        loop {
            {
                let mut st = self.state.lock();
                let pumped = self.pump_locked(&mut st);
                if let Some((h, payload)) = st.replies.remove(&req_id) {
                    return wire::decode_reply(req_id, req, &h, &payload).inspect_err(|e| {
                        if matches!(e, XsError::Malformed(_)) {
                            st.broken = Some(e.clone());
                        }
                    });
                }
                pumped?;
            }
            let mut ready = || {
                // Nobody holds the lock while a thread waits (threads switch
                // only when blocking); if someone does, look again at once.
                self.state
                    .try_lock()
                    .is_none_or(|st| st.replies.contains_key(&req_id) || st.broken.is_some())
            };
            if !self.waiter.wait(&mut ready, deadline_ns) {
                let mut st = self.state.lock();
                if let Some((h, payload)) = st.replies.remove(&req_id) {
                    return wire::decode_reply(req_id, req, &h, &payload);
                }
                st.pending.remove(&req_id);
                st.abandoned.insert(req_id);
                return Err(XsError::Timeout);
            }
        }
    }

    fn expect_ok(reply: Reply) -> Result<(), XsError> {
        match reply {
            Reply::Ok => Ok(()),
            _ => Err(XsError::Malformed("unexpected reply kind")),
        }
    }
}

impl<R: RingHalf, W: Waiter> XenstoreOps for Client<R, W> {
    fn read(&self, tx: Tx, path: &str) -> Result<String, XsError> {
        match self.call(tx, &Request::Read(path), None)? {
            Reply::Value(v) => Ok(v),
            _ => Err(XsError::Malformed("unexpected reply kind")),
        }
    }

    fn write(&self, tx: Tx, path: &str, value: &str) -> Result<(), XsError> {
        Self::expect_ok(self.call(tx, &Request::Write(path, value.as_bytes()), None)?)
    }

    fn mkdir(&self, tx: Tx, path: &str) -> Result<(), XsError> {
        Self::expect_ok(self.call(tx, &Request::Mkdir(path), None)?)
    }

    fn rm(&self, tx: Tx, path: &str) -> Result<(), XsError> {
        Self::expect_ok(self.call(tx, &Request::Rm(path), None)?)
    }

    fn directory(&self, tx: Tx, path: &str) -> Result<Vec<String>, XsError> {
        match self.call(tx, &Request::Directory(path), None)? {
            Reply::Names(n) => Ok(n),
            _ => Err(XsError::Malformed("unexpected reply kind")),
        }
    }

    fn watch(&self, path: &str, token: &str) -> Result<(), XsError> {
        // The queue must exist before the request goes out: the first event
        // may arrive right behind the reply.
        self.state
            .lock()
            .watches
            .entry(String::from(token))
            .or_default()
            .watches += 1;
        let result = self
            .call(Tx::NONE, &Request::Watch(path, token), None)
            .and_then(Self::expect_ok);
        if result.is_err() {
            self.forget_watch(token);
        }
        result
    }

    fn unwatch(&self, path: &str, token: &str) -> Result<(), XsError> {
        Self::expect_ok(self.call(Tx::NONE, &Request::Unwatch(path, token), None)?)?;
        self.forget_watch(token);
        Ok(())
    }

    fn next_watch_event(
        &self,
        token: &str,
        deadline_ns: Option<u64>,
    ) -> Result<Option<String>, XsError> {
        loop {
            {
                let mut st = self.state.lock();
                let pumped = self.pump_locked(&mut st);
                let Some(q) = st.watches.get_mut(token) else {
                    return Err(XsError::BadRequest("no watch with this token"));
                };
                if let Some(path) = q.events.pop_front() {
                    return Ok(Some(path));
                }
                pumped?;
            }
            let mut ready = || {
                self.state.try_lock().is_none_or(|st| {
                    st.broken.is_some()
                        || st.watches.get(token).is_none_or(|q| !q.events.is_empty())
                })
            };
            if !self.waiter.wait(&mut ready, deadline_ns) {
                let mut st = self.state.lock();
                return Ok(st.watches.get_mut(token).and_then(|q| q.events.pop_front()));
            }
        }
    }

    fn transaction_start(&self) -> Result<Tx, XsError> {
        match self.call(Tx::NONE, &Request::TransactionStart, None)? {
            Reply::Tx(tx) => Ok(tx),
            _ => Err(XsError::Malformed("unexpected reply kind")),
        }
    }

    fn transaction_end(&self, tx: Tx, commit: bool) -> Result<(), XsError> {
        Self::expect_ok(self.call(tx, &Request::TransactionEnd(commit), None)?)
    }

    fn domain_path(&self) -> Result<String, XsError> {
        if let Some(p) = &self.state.lock().domain_path {
            return Ok(p.clone());
        }
        let domid = self.read(Tx::NONE, "domid")?;
        let domid = wire::parse_decimal(&domid)
            .and_then(|d| u16::try_from(d).ok())
            .ok_or(XsError::Malformed("domid key is not a domain id"))?;
        let path = match self.call(
            Tx::NONE,
            &Request::GetDomainPath(crate::services::DomId(domid)),
            None,
        )? {
            Reply::Path(p) => p,
            _ => return Err(XsError::Malformed("unexpected reply kind")),
        };
        self.state.lock().domain_path = Some(path.clone());
        Ok(path)
    }
}

impl<R, W> Client<R, W> {
    fn forget_watch(&self, token: &str) {
        let mut st = self.state.lock();
        if let Some(q) = st.watches.get_mut(token) {
            q.watches = q.watches.saturating_sub(1);
            if q.watches == 0 {
                st.watches.remove(token);
            }
        }
    }
}

/// The real client against the simulated xenstored over byte rings.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::DomId;
    use crate::sim::xenstore::{ring_client, Fault, SimRingClient, SimXenstore, SimXs};
    use crate::xenstore::transaction;
    use alloc::string::ToString;

    fn setup() -> (SimRingClient, SimXs) {
        let d = SimXenstore::new();
        let guest = d.connect(DomId(7));
        // Start the ring indices just below the u32 wrap.
        (ring_client(guest, u32::MAX - 300), d.connect(DomId(0)))
    }

    #[test]
    fn operations_round_trip_over_the_rings() {
        let (c, _) = setup();
        assert_eq!(c.read(Tx::NONE, "domid").unwrap(), "7");
        assert_eq!(c.domain_path().unwrap(), "/local/domain/7");
        c.write(Tx::NONE, "device/vif/0/state", "1").unwrap();
        c.mkdir(Tx::NONE, "device/vbd").unwrap();
        assert_eq!(c.directory(Tx::NONE, "device").unwrap(), ["vbd", "vif"]);
        assert_eq!(c.read(Tx::NONE, "missing"), Err(XsError::NoEnt));
        c.rm(Tx::NONE, "device").unwrap();
        assert_eq!(c.directory(Tx::NONE, "device"), Err(XsError::NoEnt));
        // Values and replies bigger than the 1 KiB rings.
        let big = "x".repeat(4000);
        c.write(Tx::NONE, "big", &big).unwrap();
        assert_eq!(c.read(Tx::NONE, "big").unwrap(), big);
        for i in 0..200 {
            c.write(Tx::NONE, &alloc::format!("many/k{i:03}"), "v")
                .unwrap();
        }
        assert_eq!(c.directory(Tx::NONE, "many").unwrap().len(), 200);
        // Refused locally, nothing sent.
        assert!(matches!(
            c.read(Tx::NONE, "a//b"),
            Err(XsError::BadRequest(_))
        ));
    }

    #[test]
    fn watch_events_interleave_with_replies() {
        let (c, dom0) = setup();
        c.watch("control/shutdown", "sd").unwrap();
        c.watch("data", "data").unwrap();
        // Initial events.
        assert_eq!(
            c.next_watch_event("sd", Some(10_000_000)).unwrap().unwrap(),
            "control/shutdown"
        );
        assert_eq!(
            c.next_watch_event("data", Some(10_000_000))
                .unwrap()
                .unwrap(),
            "data"
        );
        for i in 0..1000 {
            dom0.write(Tx::NONE, "/local/domain/7/data", &i.to_string())
                .unwrap();
            // Replies to our own requests arrive among the events.
            if i % 100 == 0 {
                c.read(Tx::NONE, "domid").unwrap();
            }
        }
        dom0.write(Tx::NONE, "/local/domain/7/control/shutdown", "poweroff")
            .unwrap();
        let mut n = 0;
        while let Some(p) = c
            .next_watch_event("data", Some(c.waiter().now_ns() + 5_000_000))
            .unwrap()
        {
            assert_eq!(p, "data");
            n += 1;
        }
        assert_eq!(n, 1000, "none lost, none duplicated");
        assert_eq!(
            c.next_watch_event("sd", None).unwrap().unwrap(),
            "control/shutdown"
        );
        assert_eq!(c.read(Tx::NONE, "control/shutdown").unwrap(), "poweroff");
        c.unwatch("data", "data").unwrap();
        assert!(matches!(
            c.next_watch_event("data", Some(0)),
            Err(XsError::BadRequest(_))
        ));
        assert_eq!(c.dropped_events(), 0);
        // A deadline passes without events.
        let d = c.waiter().now_ns() + 3_000_000;
        assert_eq!(c.next_watch_event("sd", Some(d)).unwrap(), None);
    }

    #[test]
    fn transactions_over_the_rings_retry_on_eagain() {
        let (c, dom0) = setup();
        c.write(Tx::NONE, "n", "1").unwrap();
        let mut attempts = 0;
        transaction(&c, |tx| {
            attempts += 1;
            let n: u32 = c.read(tx, "n")?.parse().unwrap();
            if attempts == 1 {
                dom0.write(Tx::NONE, "/local/domain/7/n", "10").unwrap();
            }
            c.write(tx, "n", &(n * 2).to_string())
        })
        .unwrap();
        assert_eq!(attempts, 2);
        assert_eq!(c.read(Tx::NONE, "n").unwrap(), "20");
    }

    /// Several threads share one client: every reply reaches the thread
    /// that asked, whoever pumped the rings, while watch events flow.
    #[test]
    fn threads_share_a_client() {
        let (c, dom0) = setup();
        let c = alloc::sync::Arc::new(c);
        c.watch("w", "w").unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let key = alloc::format!("t{t}/k{i}");
                        let value = alloc::format!("{t}-{i}");
                        c.write(Tx::NONE, &key, &value).unwrap();
                        assert_eq!(c.read(Tx::NONE, &key).unwrap(), value);
                    }
                })
            })
            .collect();
        for i in 0..100 {
            dom0.write(Tx::NONE, "/local/domain/7/w", &i.to_string())
                .unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
        let mut n = 0;
        while c
            .next_watch_event("w", Some(c.waiter().now_ns() + 5_000_000))
            .unwrap()
            .is_some()
        {
            n += 1;
        }
        assert_eq!(n, 101);
        assert_eq!(c.directory(Tx::NONE, "t3").unwrap().len(), 50);
    }

    /// A peer that answers with random bytes: every call ends in an error
    /// (never a panic, never a hang past the deadline).
    #[test]
    fn random_bytes_from_the_peer_give_errors() {
        use crate::xenstore::ring::{write, ByteRing};
        use alloc::sync::Arc;
        use core::cell::Cell;

        struct Garbage {
            rsp: Arc<ByteRing>,
            seed: Cell<u64>,
            waits: Cell<u64>,
        }
        impl Waiter for Garbage {
            fn wait(&self, _: &mut dyn FnMut() -> bool, deadline_ns: Option<u64>) -> bool {
                let mut bytes = [0u8; 48];
                for b in bytes.iter_mut() {
                    // xorshift64
                    let mut x = self.seed.get();
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    self.seed.set(x);
                    *b = x as u8;
                }
                // Sometimes a plausible header: small type and length.
                if self.seed.get() % 3 == 0 {
                    bytes[1..4].fill(0);
                    bytes[13..16].fill(0);
                }
                let _ = write(&*self.rsp, &bytes);
                self.waits.set(self.waits.get() + 1);
                deadline_ns.is_none_or(|d| self.waits.get() < d)
            }
            fn notify_peer(&self) -> Result<(), XenError> {
                Ok(())
            }
        }
        for seed in 1..200u64 {
            let req = Arc::new(ByteRing::new(0));
            let rsp = Arc::new(ByteRing::new(seed as u32));
            let c = Client::new(
                req,
                rsp.clone(),
                Garbage {
                    rsp,
                    seed: Cell::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                    waits: Cell::new(0),
                },
            );
            for _ in 0..3 {
                assert!(c.call(Tx::NONE, &Request::Read("k"), Some(100)).is_err());
            }
        }
    }

    fn broken_by(fault: Fault) -> XsError {
        let (c, _) = setup();
        c.read(Tx::NONE, "domid").unwrap();
        c.waiter().server().inject(fault);
        let e = c.read(Tx::NONE, "domid").unwrap_err();
        // After the peer misbehaved, the connection stays down.
        if matches!(e, XsError::Malformed(_)) {
            assert_eq!(c.read(Tx::NONE, "domid").unwrap_err(), e);
        }
        e
    }

    #[test]
    fn a_misbehaving_xenstored_gives_errors_not_panics() {
        for f in [
            Fault::Garbage,
            Fault::WrongReqId,
            Fault::OversizedLen,
            Fault::BadUtf8,
            Fault::BadIndices,
        ] {
            assert!(matches!(broken_by(f), XsError::Malformed(_)), "{f:?}");
        }
    }

    #[test]
    fn a_dropped_reply_times_out_and_the_connection_survives() {
        let (c, _) = setup();
        c.waiter().server().inject(Fault::DropReply);
        let d = c.waiter().now_ns() + 5_000_000;
        assert_eq!(
            c.call(Tx::NONE, &Request::Read("domid"), Some(d)),
            Err(XsError::Timeout)
        );
        // The connection still works.
        assert_eq!(c.read(Tx::NONE, "domid").unwrap(), "7");
    }
}
