//! The simulated wire between simulated netbacks: loopback (a guest's
//! frames come back to it) and a two-guest link, with seeded drop,
//! duplicate, reorder and corrupt faults.

use std::vec::Vec;

use super::netback::{SimFrame, SimNetback};
use super::rng::XorShift;
use crate::tx::TxChecksum;

/// Fault rates in percent per frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireFaults {
    /// Frames lost.
    pub drop_pct: u32,
    /// Frames delivered twice.
    pub dup_pct: u32,
    /// Frames swapped with a later one.
    pub reorder_pct: u32,
    /// Frames with a byte flipped (their checksum flags cleared, as a
    /// real link would not vouch for them).
    pub corrupt_pct: u32,
}

/// What the wire did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireStats {
    /// Frames offered to the wire.
    pub offered: u64,
    /// Frames handed on (duplicates included).
    pub delivered: u64,
    /// Frames lost.
    pub dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Swaps made.
    pub reordered: u64,
    /// Frames corrupted.
    pub corrupted: u64,
}

/// A link with seeded faults.
#[derive(Debug, Clone)]
pub struct Wire {
    rng: XorShift,
    /// The fault rates.
    pub faults: WireFaults,
    stats: WireStats,
}

impl Wire {
    /// A wire with `faults`, reproducible from `seed`.
    pub fn new(seed: u64, faults: WireFaults) -> Wire {
        Wire {
            rng: XorShift::new(seed),
            faults,
            stats: WireStats::default(),
        }
    }

    /// What the wire did so far.
    pub fn stats(&self) -> WireStats {
        self.stats
    }

    /// Applies the faults to a batch of frames.
    pub fn transfer(&mut self, frames: Vec<SimFrame>) -> Vec<SimFrame> {
        let mut out = Vec::new();
        for mut f in frames {
            self.stats.offered += 1;
            if self.rng.chance(self.faults.drop_pct) {
                self.stats.dropped += 1;
                continue;
            }
            if !f.data.is_empty() && self.rng.chance(self.faults.corrupt_pct) {
                let i = self.rng.below(f.data.len() as u64) as usize;
                f.data[i] ^= 1 << self.rng.below(8);
                f.csum = TxChecksum::None;
                self.stats.corrupted += 1;
            }
            if self.rng.chance(self.faults.dup_pct) {
                out.push(f.clone());
                self.stats.duplicated += 1;
            }
            out.push(f);
        }
        for i in 0..out.len().saturating_sub(1) {
            if self.rng.chance(self.faults.reorder_pct) {
                let j = self.rng.range_usize(i + 1, out.len() - 1);
                out.swap(i, j);
                self.stats.reordered += 1;
            }
        }
        self.stats.delivered += out.len() as u64;
        out
    }

    /// Sends what `nb`'s guest sent back to it.
    pub fn loopback(&mut self, nb: &mut SimNetback) {
        for f in self.transfer(nb.take_sent()) {
            nb.deliver(f);
        }
    }

    /// Carries frames both ways between two guests' backends.
    pub fn carry(&mut self, a: &mut SimNetback, b: &mut SimNetback) {
        for f in self.transfer(a.take_sent()) {
            b.deliver(f);
        }
        for f in self.transfer(b.take_sent()) {
            a.deliver(f);
        }
    }
}
