//! The requests of the layer above between `submit` and their
//! [`Completion`]: each waits in the software queue until all of it is on
//! the ring (a large request goes out as several ring requests, as slots
//! free up), then until every part is answered; finished requests wait in
//! the completion list for `poll`.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::counters::Counters;
use crate::error::BlkError;
use crate::request::{Completion, Kind, RequestTag};

/// One request of the layer above.
#[derive(Debug)]
pub(crate) struct UserReq {
    /// The caller's cookie.
    pub(crate) tag: u64,
    /// blkfront's name for it.
    pub(crate) request: RequestTag,
    pub(crate) kind: Kind,
    /// Byte offset on the disk.
    pub(crate) offset: u64,
    /// Bytes (0 for flush and barrier).
    pub(crate) len: u64,
    /// Read: the buffer being filled; write: the data.
    pub(crate) buf: Vec<u8>,
    /// Bytes put on the ring so far (all of it for non-data requests once
    /// sent).
    pub(crate) issued: u64,
    /// Whether it is still (partly) to be sent.
    pub(crate) queued: bool,
    /// Ring requests sent and not yet answered.
    pub(crate) parts: u32,
    /// The first error of a part.
    pub(crate) error: Option<BlkError>,
}

/// Every request between submit and completion.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    slab: Vec<Option<UserReq>>,
    free: Vec<usize>,
    /// Requests with something still to send, oldest first.
    pub(crate) queue: VecDeque<usize>,
    /// Finished, waiting for `poll`.
    pub(crate) done: VecDeque<Completion>,
    next: u64,
    live: usize,
}

impl Requests {
    /// Requests submitted and not completed.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Registers a request and queues it; its name.
    pub(crate) fn add(
        &mut self,
        tag: u64,
        kind: Kind,
        offset: u64,
        len: u64,
        buf: Vec<u8>,
    ) -> RequestTag {
        self.next += 1;
        let request = RequestTag(self.next);
        let r = UserReq {
            tag,
            request,
            kind,
            offset,
            len,
            buf,
            issued: 0,
            queued: true,
            parts: 0,
            error: None,
        };
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i] = Some(r);
                i
            }
            None => {
                self.slab.push(Some(r));
                self.slab.len() - 1
            }
        };
        self.queue.push_back(slot);
        self.live += 1;
        request
    }

    /// The request in `slot`.
    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut UserReq> {
        self.slab.get_mut(slot)?.as_mut()
    }

    /// Marks `slot` as entirely sent (takes it off the queue front).
    pub(crate) fn sent_all(&mut self, slot: usize) {
        if let Some(r) = self.get_mut(slot) {
            r.queued = false;
        }
        if self.queue.front() == Some(&slot) {
            self.queue.pop_front();
        } else {
            self.queue.retain(|&s| s != slot);
        }
    }

    /// Records an error for `slot`: nothing more of it is sent.
    pub(crate) fn set_error(&mut self, slot: usize, e: BlkError) {
        let queued = match self.get_mut(slot) {
            Some(r) => {
                r.error.get_or_insert(e);
                r.queued
            }
            None => return,
        };
        if queued {
            self.sent_all(slot);
        }
    }

    /// Completes `slot` if nothing of it is queued or on the ring.
    pub(crate) fn finish_if_done(&mut self, slot: usize, counters: &mut Counters) {
        match self.get_mut(slot) {
            Some(r) if !r.queued && r.parts == 0 => {}
            _ => return,
        }
        let Some(r) = self.slab[slot].take() else {
            return;
        };
        self.free.push(slot);
        self.live -= 1;
        let result = match r.error {
            None => Ok(()),
            Some(e) => Err(e),
        };
        if result.is_ok() {
            counters.completed_ok += 1;
            match r.kind {
                Kind::Read => counters.bytes_read += r.len,
                Kind::Write => counters.bytes_written += r.len,
                _ => {}
            }
        } else {
            counters.errors += 1;
        }
        let data = match r.kind {
            Kind::Read if result.is_ok() => Some(r.buf),
            Kind::Write => Some(r.buf),
            _ => None,
        };
        self.done.push_back(Completion {
            tag: r.tag,
            request: r.request,
            result,
            data,
        });
    }

    /// Fails every request (the data path is gone): none is on the ring
    /// any more.
    pub(crate) fn fail_all(&mut self, e: &BlkError, counters: &mut Counters) {
        self.queue.clear();
        for slot in 0..self.slab.len() {
            if let Some(r) = self.slab[slot].as_mut() {
                r.error.get_or_insert(e.clone());
                r.queued = false;
                r.parts = 0;
                self.finish_if_done(slot, counters);
            }
        }
    }

    /// Takes the completion of `request` out of the list, if it is there.
    pub(crate) fn take_done(&mut self, request: RequestTag) -> Option<Completion> {
        let i = self.done.iter().position(|c| c.request == request)?;
        self.done.remove(i)
    }
}
