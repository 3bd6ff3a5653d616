//! Bookkeeping of the requests on the ring (`io/blkif.h` ids): which ids
//! are in flight, what each request was, and checking every
//! `blkif_response` against that. Pure logic, fed random responses in
//! tests.
//!
//! An id is `generation << 32 | slot`, the generation counting the slot's
//! uses, so a late or repeated answer for a slot that was reused is still
//! caught. A response must name an id in flight, carry the operation of
//! its request (for an indirect request either `BLKIF_OP_INDIRECT` or the
//! `indirect_op`; Linux blkback answers with the latter) and a status
//! `blkif.h` defines. Anything else is the backend's fault.

use alloc::vec::Vec;

use crate::wire::{Response, RSP_EOPNOTSUPP, RSP_ERROR, RSP_OKAY};

/// How the backend answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `BLKIF_RSP_OKAY`.
    Okay,
    /// `BLKIF_RSP_ERROR`.
    Error,
    /// `BLKIF_RSP_EOPNOTSUPP`.
    NotSupported,
}

impl Outcome {
    /// The outcome of a status; `None` for a status `blkif.h` does not
    /// define.
    pub fn from_status(status: i16) -> Option<Outcome> {
        match status {
            RSP_OKAY => Some(Outcome::Okay),
            RSP_ERROR => Some(Outcome::Error),
            RSP_EOPNOTSUPP => Some(Outcome::NotSupported),
            _ => None,
        }
    }
}

/// A request on the ring and the caller's data about it.
#[derive(Debug)]
pub struct Sent<T> {
    /// The `operation` byte sent.
    pub operation: u8,
    /// For `BLKIF_OP_INDIRECT`: the `indirect_op`.
    pub indirect_op: Option<u8>,
    /// The caller's data.
    pub payload: T,
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    sent: Option<Sent<T>>,
}

/// The ids of one ring.
#[derive(Debug)]
pub struct IdTable<T> {
    slots: Vec<Slot<T>>,
    /// Free slots, lowest on top.
    free: Vec<u32>,
}

/// The slot of an id.
fn slot_of(id: u64) -> usize {
    (id & 0xffff_ffff) as usize
}

impl<T> IdTable<T> {
    /// `size` ids, all free.
    pub fn new(size: u32) -> IdTable<T> {
        IdTable {
            slots: (0..size)
                .map(|_| Slot {
                    generation: 0,
                    sent: None,
                })
                .collect(),
            free: (0..size).rev().collect(),
        }
    }

    /// Ids free.
    pub fn free(&self) -> usize {
        self.free.len()
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Registers a request; its id, or `Err(sent)` when every id is in use.
    pub fn insert(&mut self, sent: Sent<T>) -> Result<u64, Sent<T>> {
        let Some(slot) = self.free.pop() else {
            return Err(sent);
        };
        let s = &mut self.slots[slot as usize];
        s.generation = s.generation.wrapping_add(1);
        s.sent = Some(sent);
        Ok(u64::from(s.generation) << 32 | u64::from(slot))
    }

    /// Undoes [`IdTable::insert`] for a request that was never published.
    pub fn remove(&mut self, id: u64) -> Option<Sent<T>> {
        let s = self.slots.get_mut(slot_of(id))?;
        if u64::from(s.generation) != id >> 32 {
            return None;
        }
        let sent = s.sent.take()?;
        self.free.push(slot_of(id) as u32);
        Some(sent)
    }

    /// Checks a response; on success the id is free again and its request
    /// comes back with the outcome. `Err(reason)` for a violation (nothing
    /// changes then).
    pub fn complete(&mut self, rsp: &Response) -> Result<(Sent<T>, Outcome), &'static str> {
        let slot = self
            .slots
            .get_mut(slot_of(rsp.id))
            .ok_or("response id not in flight")?;
        if u64::from(slot.generation) != rsp.id >> 32 {
            return Err("response id not in flight");
        }
        let sent = slot.sent.as_ref().ok_or("response id answered twice")?;
        if rsp.operation != sent.operation && Some(rsp.operation) != sent.indirect_op {
            return Err("response operation does not match the request");
        }
        let outcome = Outcome::from_status(rsp.status).ok_or("response status unknown")?;
        let sent = slot.sent.take().ok_or("response id answered twice")?;
        self.free.push(slot_of(rsp.id) as u32);
        Ok((sent, outcome))
    }

    /// Takes every request in flight (the backend went away).
    pub fn drain(&mut self) -> Vec<Sent<T>> {
        let mut out = Vec::new();
        for (i, s) in self.slots.iter_mut().enumerate() {
            if let Some(sent) = s.sent.take() {
                out.push(sent);
                self.free.push(i as u32);
            }
        }
        out
    }

    /// The ids in flight (for tests and malicious backends).
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.sent.is_some())
            .map(|(i, s)| u64::from(s.generation) << 32 | i as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{OP_FLUSH_DISKCACHE, OP_INDIRECT, OP_READ, OP_WRITE};

    fn sent(operation: u8, payload: u32) -> Sent<u32> {
        Sent {
            operation,
            indirect_op: None,
            payload,
        }
    }

    fn rsp(id: u64, operation: u8, status: i16) -> Response {
        Response {
            id,
            operation,
            status,
        }
    }

    #[test]
    fn responses_in_any_order() {
        let mut t = IdTable::new(4);
        let a = t.insert(sent(OP_READ, 1)).unwrap();
        let b = t.insert(sent(OP_WRITE, 2)).unwrap();
        let c = t
            .insert(Sent {
                operation: OP_INDIRECT,
                indirect_op: Some(OP_WRITE),
                payload: 3,
            })
            .unwrap();
        let d = t
            .insert(Sent {
                operation: OP_INDIRECT,
                indirect_op: Some(OP_READ),
                payload: 4,
            })
            .unwrap();
        assert!(t.insert(sent(OP_READ, 5)).is_err());
        assert_eq!(t.in_flight(), 4);
        let (s, o) = t.complete(&rsp(b, OP_WRITE, RSP_ERROR)).unwrap();
        assert_eq!((s.payload, o), (2, Outcome::Error));
        // Either operation for an indirect request.
        assert_eq!(t.complete(&rsp(c, OP_WRITE, 0)).unwrap().0.payload, 3);
        assert_eq!(t.complete(&rsp(d, OP_INDIRECT, 0)).unwrap().0.payload, 4);
        assert_eq!(
            t.complete(&rsp(a, OP_READ, -2)).unwrap().1,
            Outcome::NotSupported
        );
        assert_eq!(t.free(), 4);
        // The slot is reused with a new generation: the old id is stale.
        let e = t.insert(sent(OP_FLUSH_DISKCACHE, 6)).unwrap();
        assert_eq!(e & 0xffff_ffff, a & 0xffff_ffff);
        assert_ne!(e, a);
        assert!(t
            .complete(&rsp(a, OP_READ, 0))
            .unwrap_err()
            .contains("not in flight"));
        assert_eq!(t.ids().collect::<Vec<_>>(), [e]);
        assert_eq!(t.drain().len(), 1);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn violations_change_nothing() {
        let mut t = IdTable::new(2);
        let a = t.insert(sent(OP_READ, 1)).unwrap();
        assert!(t
            .complete(&rsp(a ^ 1, OP_READ, 0))
            .unwrap_err()
            .contains("not in flight"));
        assert!(t.complete(&rsp(a + (1 << 32), OP_READ, 0)).is_err());
        assert!(t.complete(&rsp(u64::MAX, OP_READ, 0)).is_err());
        assert!(t
            .complete(&rsp(a, OP_WRITE, 0))
            .unwrap_err()
            .contains("operation"));
        assert!(t.complete(&rsp(a, OP_INDIRECT, 0)).is_err());
        assert!(t
            .complete(&rsp(a, OP_READ, 1))
            .unwrap_err()
            .contains("status"));
        assert!(t.complete(&rsp(a, OP_READ, -3)).is_err());
        assert_eq!(t.in_flight(), 1);
        t.complete(&rsp(a, OP_READ, 0)).unwrap();
        assert!(t
            .complete(&rsp(a, OP_READ, 0))
            .unwrap_err()
            .contains("twice"));
        // Removing an unpublished request frees its id.
        let b = t.insert(sent(OP_WRITE, 2)).unwrap();
        assert_eq!(t.remove(b).unwrap().payload, 2);
        assert!(t.remove(b).is_none());
        assert_eq!(t.free(), 2);
    }
}
