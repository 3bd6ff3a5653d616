//! Bookkeeping of sent packets (`io/netif.h` tx side): which request ids
//! are in flight, which packet each belongs to, how many extra-info slots
//! await their `NETIF_RSP_NULL` answer, and checking every
//! `netif_tx_response` against that. Pure logic, fed random responses in
//! tests.
//!
//! A response must name an id that is in flight and not yet answered, with
//! a status `netif.h` defines; a `NETIF_RSP_NULL` answers an extra-info
//! slot and is only accepted while one is outstanding. The ids of a packet
//! are released together when its last slot is answered, so a late
//! duplicate can never hit a reused id of the same packet.

use alloc::vec::Vec;

use crate::wire::{TxResponse, NETIF_RSP_DROPPED, NETIF_RSP_ERROR, NETIF_RSP_NULL, NETIF_RSP_OKAY};

/// How the backend answered a packet (the worst of its slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TxOutcome {
    /// Every slot `NETIF_RSP_OKAY`.
    Sent,
    /// Some slot `NETIF_RSP_DROPPED`.
    Dropped,
    /// Some slot `NETIF_RSP_ERROR`.
    Error,
}

/// What one response did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxDone {
    /// The data slot answered: its buffer may be released now.
    pub answered: Option<u16>,
    /// A packet completed: `(bytes, outcome)`.
    pub packet: Option<(u32, TxOutcome)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    Pending,
    Answered,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    state: State,
    /// The packet's first id.
    head: u16,
    /// The packet's next id (a chain from the head).
    next: Option<u16>,
    /// At the head: slots of the packet not yet answered.
    remaining: u16,
    /// At the head: bytes of the packet.
    len: u32,
    /// At the head: the worst outcome so far.
    outcome: TxOutcome,
}

const FREE: Slot = Slot {
    state: State::Free,
    head: 0,
    next: None,
    remaining: 0,
    len: 0,
    outcome: TxOutcome::Sent,
};

/// The in-flight tx ids of one ring.
#[derive(Debug, Clone)]
pub struct TxTracker {
    slots: Vec<Slot>,
    /// Free ids, lowest on top.
    free: Vec<u16>,
    /// Extra-info slots sent and not yet answered.
    extras: u32,
    /// Packets not yet completed.
    packets: u32,
}

impl TxTracker {
    /// Ids `0..size` (`size` <= 65536), all free.
    pub fn new(size: u32) -> TxTracker {
        let n = size.min(1 << 16) as usize;
        TxTracker {
            slots: alloc::vec![FREE; n],
            free: (0..n as u32).rev().map(|i| i as u16).collect(),
            extras: 0,
            packets: 0,
        }
    }

    /// Ids free for new slots.
    pub fn free_ids(&self) -> usize {
        self.free.len()
    }

    /// Packets sent and not completed.
    pub fn packets_in_flight(&self) -> u32 {
        self.packets
    }

    /// Extra-info slots not yet answered.
    pub fn extras_in_flight(&self) -> u32 {
        self.extras
    }

    /// Registers a packet of `len` bytes over `n` ids (taken here) plus
    /// `extras` extra-info slots; returns the ids in slot order, or `None`
    /// (nothing taken) if not enough are free or `n` is 0.
    pub fn start_packet(&mut self, n: usize, len: u32, extras: u32) -> Option<Vec<u16>> {
        if n == 0 || n > self.free.len() || n > usize::from(u16::MAX) {
            return None;
        }
        let ids: Vec<u16> = (0..n).filter_map(|_| self.free.pop()).collect();
        let head = ids[0];
        for (i, &id) in ids.iter().enumerate() {
            self.slots[usize::from(id)] = Slot {
                state: State::Pending,
                head,
                next: ids.get(i + 1).copied(),
                remaining: 0,
                len: 0,
                outcome: TxOutcome::Sent,
            };
        }
        let h = &mut self.slots[usize::from(head)];
        h.remaining = n as u16;
        h.len = len;
        self.extras += extras;
        self.packets += 1;
        Some(ids)
    }

    /// Undoes [`TxTracker::start_packet`] for a packet that was never
    /// published.
    pub fn abort_packet(&mut self, ids: &[u16], extras: u32) {
        for &id in ids.iter().rev() {
            if let Some(s) = self.slots.get_mut(usize::from(id)) {
                if s.state != State::Free {
                    *s = FREE;
                    self.free.push(id);
                }
            }
        }
        self.extras = self.extras.saturating_sub(extras);
        self.packets = self.packets.saturating_sub(1);
    }

    /// Checks and applies one response.
    pub fn complete(&mut self, rsp: TxResponse) -> Result<TxDone, &'static str> {
        let outcome = match rsp.status {
            NETIF_RSP_NULL => {
                if self.extras == 0 {
                    return Err("tx NULL response with no extra info outstanding");
                }
                self.extras -= 1;
                return Ok(TxDone {
                    answered: None,
                    packet: None,
                });
            }
            NETIF_RSP_OKAY => TxOutcome::Sent,
            NETIF_RSP_DROPPED => TxOutcome::Dropped,
            NETIF_RSP_ERROR => TxOutcome::Error,
            _ => return Err("tx response status unknown"),
        };
        let id = rsp.id;
        let head = match self.slots.get(usize::from(id)) {
            Some(s) if s.state == State::Pending => s.head,
            Some(s) if s.state == State::Answered => return Err("tx response id answered twice"),
            _ => return Err("tx response id not in flight"),
        };
        self.slots[usize::from(id)].state = State::Answered;
        let h = &mut self.slots[usize::from(head)];
        h.outcome = h.outcome.max(outcome);
        h.remaining -= 1;
        let packet = if h.remaining == 0 {
            let done = (h.len, h.outcome);
            self.release_chain(head);
            self.packets -= 1;
            Some(done)
        } else {
            None
        };
        Ok(TxDone {
            answered: Some(id),
            packet,
        })
    }

    fn release_chain(&mut self, head: u16) {
        let mut at = Some(head);
        while let Some(id) = at {
            at = self.slots[usize::from(id)].next;
            self.slots[usize::from(id)] = FREE;
            self.free.push(id);
        }
    }

    /// Ids whose slot is still unanswered (their buffers are with the
    /// backend).
    pub fn pending_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state == State::Pending)
            .map(|(i, _)| i as u16)
    }

    /// Forgets everything (the backend went away); returns the packets
    /// that were in flight.
    pub fn clear(&mut self) -> u32 {
        let lost = self.packets;
        *self = TxTracker::new(self.slots.len() as u32);
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsp(id: u16, status: i16) -> TxResponse {
        TxResponse { id, status }
    }

    #[test]
    fn packets_complete_when_every_slot_is_answered() {
        let mut t = TxTracker::new(8);
        let a = t.start_packet(3, 9000, 1).unwrap();
        assert_eq!(a, [0, 1, 2]);
        let b = t.start_packet(1, 60, 0).unwrap();
        assert_eq!(b, [3]);
        assert_eq!(t.free_ids(), 4);
        assert_eq!(t.packets_in_flight(), 2);
        // Out of order, with the NULL for the extra slot.
        assert_eq!(
            t.complete(rsp(3, NETIF_RSP_OKAY)),
            Ok(TxDone {
                answered: Some(3),
                packet: Some((60, TxOutcome::Sent))
            })
        );
        assert_eq!(t.complete(rsp(0, NETIF_RSP_OKAY)).unwrap().packet, None);
        assert_eq!(t.complete(rsp(77, NETIF_RSP_NULL)).unwrap().answered, None);
        assert!(t.complete(rsp(0, NETIF_RSP_NULL)).is_err());
        assert_eq!(t.complete(rsp(2, NETIF_RSP_DROPPED)).unwrap().packet, None);
        // The head's id is not reused before the packet completes.
        assert_eq!(t.free_ids(), 5);
        assert!(t
            .complete(rsp(0, NETIF_RSP_OKAY))
            .unwrap_err()
            .contains("twice"));
        assert_eq!(
            t.complete(rsp(1, NETIF_RSP_ERROR)).unwrap().packet,
            Some((9000, TxOutcome::Error))
        );
        assert_eq!(t.free_ids(), 8);
        assert_eq!(t.packets_in_flight(), 0);
        assert!(t
            .complete(rsp(1, NETIF_RSP_OKAY))
            .unwrap_err()
            .contains("not in flight"));
    }

    #[test]
    fn bad_responses() {
        let mut t = TxTracker::new(4);
        t.start_packet(1, 10, 0).unwrap();
        assert!(t.complete(rsp(0, 2)).unwrap_err().contains("status"));
        assert!(t.complete(rsp(0, -3)).unwrap_err().contains("status"));
        assert!(t.complete(rsp(4, 0)).unwrap_err().contains("not in flight"));
        assert!(t.complete(rsp(u16::MAX, 0)).is_err());
        assert!(t.complete(rsp(1, 0)).is_err());
        assert!(t.complete(rsp(0, NETIF_RSP_NULL)).is_err());
        assert_eq!(t.pending_ids().collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn exhaustion_abort_and_clear() {
        let mut t = TxTracker::new(4);
        assert!(t.start_packet(5, 1, 0).is_none());
        assert!(t.start_packet(0, 1, 0).is_none());
        let ids = t.start_packet(4, 1, 2).unwrap();
        assert!(t.start_packet(1, 1, 0).is_none());
        t.abort_packet(&ids, 2);
        assert_eq!(t.free_ids(), 4);
        assert_eq!(t.extras_in_flight(), 0);
        assert_eq!(t.packets_in_flight(), 0);
        assert_eq!(t.start_packet(2, 1, 0).unwrap(), [0, 1]);
        t.start_packet(1, 1, 1).unwrap();
        assert_eq!(t.clear(), 2);
        assert_eq!(t.free_ids(), 4);
        assert_eq!(t.pending_ids().count(), 0);
    }
}
