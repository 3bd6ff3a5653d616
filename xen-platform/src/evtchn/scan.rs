//! The fair pending-port scan of the 2-level event channel ABI
//! (`xen.h`, `evtchn_pending_sel` / `evtchn_pending[]` / `evtchn_mask[]`),
//! as a pure function over bitmaps so it is unit-tested on the host.
//!
//! The scan resumes just after the port it serviced last, so a port that
//! is raised again and again cannot starve the others: every pending port
//! is serviced once before any port is serviced twice.

/// Bits per selector / pending word (`xen_ulong_t` on x86_64).
pub const WORD_BITS: usize = 64;
/// Pending words in `shared_info` (2-level ABI: 64 x 64 = 4096 ports).
pub const WORDS: usize = 64;
/// Ports of the 2-level ABI.
pub const PORTS: usize = WORDS * WORD_BITS;

/// Where the next scan starts, and which pending words may hold events
/// (the guest's copy of `evtchn_pending_sel`, accumulated across upcalls).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scanner {
    /// Selector bits taken from `vcpu_info.evtchn_pending_sel` and not yet
    /// found empty.
    pub sel: u64,
    /// The port the next scan starts at (one past the last serviced).
    pub next: usize,
}

impl Scanner {
    /// A scanner starting at port 0 with nothing selected.
    pub const fn new() -> Scanner {
        Scanner { sel: 0, next: 0 }
    }

    /// Adds selector bits just taken (atomically exchanged with 0) from
    /// `evtchn_pending_sel`.
    pub fn add_sel(&mut self, sel: u64) {
        self.sel |= sel;
    }

    /// Finds the next deliverable port, cyclically from `self.next`.
    /// `deliverable(w)` returns word `w` of `pending & !mask`. Selector
    /// bits of words found empty are dropped. On success the scan position
    /// moves past the returned port; the caller must then clear that
    /// port's pending bit (before running its handler) and call `next`
    /// again until it returns `None`.
    pub fn next(&mut self, mut deliverable: impl FnMut(usize) -> u64) -> Option<usize> {
        let start_word = (self.next / WORD_BITS) % WORDS;
        let start_bit = self.next % WORD_BITS;
        // Step WORDS revisits the start word for its bits below start_bit.
        for step in 0..=WORDS {
            let w = (start_word + step) % WORDS;
            if self.sel & (1 << w) == 0 {
                continue;
            }
            let bits = deliverable(w);
            let candidates = if step == 0 {
                bits & (u64::MAX << start_bit)
            } else if step == WORDS {
                bits & ((1u64 << start_bit) - 1)
            } else {
                bits
            };
            if candidates != 0 {
                let port = w * WORD_BITS + candidates.trailing_zeros() as usize;
                self.next = (port + 1) % PORTS;
                return Some(port);
            }
            if bits == 0 {
                self.sel &= !(1 << w);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated pending/mask bitmap.
    struct Bitmaps {
        pending: [u64; WORDS],
        mask: [u64; WORDS],
    }

    impl Bitmaps {
        fn new() -> Self {
            Bitmaps {
                pending: [0; WORDS],
                mask: [0; WORDS],
            }
        }
        fn raise(&mut self, port: usize, sc: &mut Scanner) {
            self.pending[port / 64] |= 1 << (port % 64);
            sc.add_sel(1 << (port / 64));
        }
        /// One scan step: find, then clear the pending bit like the handler.
        fn step(&mut self, sc: &mut Scanner) -> Option<usize> {
            let p = sc.next(|w| self.pending[w] & !self.mask[w])?;
            assert_ne!(self.pending[p / 64] & (1 << (p % 64)), 0);
            self.pending[p / 64] &= !(1 << (p % 64));
            Some(p)
        }
    }

    #[test]
    fn empty_finds_nothing_and_drops_selector() {
        let mut b = Bitmaps::new();
        let mut sc = Scanner::new();
        sc.add_sel(0b1010);
        assert_eq!(b.step(&mut sc), None);
        assert_eq!(sc.sel, 0);
    }

    #[test]
    fn services_every_port_once_in_cyclic_order() {
        let mut b = Bitmaps::new();
        let mut sc = Scanner::new();
        for p in [5, 64, 4095, 700, 0, 63] {
            b.raise(p, &mut sc);
        }
        let mut got = vec![];
        while let Some(p) = b.step(&mut sc) {
            got.push(p);
        }
        assert_eq!(got, vec![0, 5, 63, 64, 700, 4095]);
        assert_eq!(sc.sel, 0);
        // The position wrapped past 4095 to 0.
        assert_eq!(sc.next, 0);
    }

    #[test]
    fn busy_port_does_not_starve_others() {
        let mut b = Bitmaps::new();
        let mut sc = Scanner::new();
        let others = [3usize, 100, 2000, 4000];
        for &p in &others {
            b.raise(p, &mut sc);
        }
        b.raise(10, &mut sc);
        let mut seen = vec![];
        // Port 10 is raised again every time it is serviced.
        for _ in 0..20 {
            let p = b.step(&mut sc).unwrap();
            if p == 10 {
                b.raise(10, &mut sc);
            } else {
                seen.push(p);
            }
            if seen.len() == others.len() {
                break;
            }
        }
        seen.sort();
        assert_eq!(seen, others);
    }

    #[test]
    fn ports_below_the_start_in_the_same_word_are_found_after_wrap() {
        let mut b = Bitmaps::new();
        let mut sc = Scanner { sel: 0, next: 40 };
        b.raise(2, &mut sc);
        assert_eq!(b.step(&mut sc), Some(2));
        b.raise(41, &mut sc);
        b.raise(1, &mut sc);
        assert_eq!(b.step(&mut sc), Some(41));
        assert_eq!(b.step(&mut sc), Some(1));
        assert_eq!(b.step(&mut sc), None);
    }

    #[test]
    fn masked_ports_stay_pending_and_are_skipped() {
        let mut b = Bitmaps::new();
        let mut sc = Scanner::new();
        b.mask[0] = 1 << 7;
        b.raise(7, &mut sc);
        b.raise(8, &mut sc);
        assert_eq!(b.step(&mut sc), Some(8));
        assert_eq!(b.step(&mut sc), None);
        assert_ne!(b.pending[0] & (1 << 7), 0);
        // Unmasking (Xen sets the selector again) delivers it.
        b.mask[0] = 0;
        sc.add_sel(1);
        assert_eq!(b.step(&mut sc), Some(7));
    }

    #[test]
    fn raised_during_scan_is_not_lost() {
        let mut b = Bitmaps::new();
        let mut sc = Scanner::new();
        b.raise(9, &mut sc);
        assert_eq!(b.step(&mut sc), Some(9));
        // Raised again while its handler ran (pending was cleared first).
        b.raise(9, &mut sc);
        assert_eq!(b.step(&mut sc), Some(9));
        assert_eq!(b.step(&mut sc), None);
    }
}
