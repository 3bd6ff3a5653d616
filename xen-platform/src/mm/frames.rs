//! The physical frame allocator: a bitmap of 4 KiB guest frames, filled from
//! the PVH memory map (`arch-x86/hvm/start_info.h`, `hvm_memmap_table_entry`)
//! minus reserved ranges. Pure logic, tested on the host.

use super::MemError;

/// Bytes per frame.
pub const FRAME_SIZE: u64 = 4096;

/// A bitmap allocator over frames `0..WORDS * 64` (bit set = free).
pub struct FrameBitmap<const WORDS: usize> {
    bits: [u64; WORDS],
    free: usize,
    /// Word index where the last single-frame search succeeded.
    hint: usize,
}

impl<const WORDS: usize> Default for FrameBitmap<WORDS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const WORDS: usize> FrameBitmap<WORDS> {
    /// An allocator with no free frames.
    pub const fn new() -> Self {
        Self {
            bits: [0; WORDS],
            free: 0,
            hint: 0,
        }
    }

    /// How many frames the bitmap can describe.
    pub const fn capacity_frames() -> u64 {
        WORDS as u64 * 64
    }

    /// Frames currently free.
    pub fn free_frames(&self) -> usize {
        self.free
    }

    fn is_free(&self, frame: u64) -> bool {
        self.bits[(frame / 64) as usize] & (1 << (frame % 64)) != 0
    }

    fn set(&mut self, frame: u64, free: bool) {
        let w = &mut self.bits[(frame / 64) as usize];
        let bit = 1u64 << (frame % 64);
        if free && *w & bit == 0 {
            *w |= bit;
            self.free += 1;
        } else if !free && *w & bit != 0 {
            *w &= !bit;
            self.free -= 1;
        }
    }

    /// Marks the whole frames inside the byte range `[addr, addr + size)` as
    /// free (partial frames at the ends are left out; frames beyond the
    /// bitmap are ignored).
    pub fn add_free_bytes(&mut self, addr: u64, size: u64) {
        let start = addr.div_ceil(FRAME_SIZE);
        let end = (addr.saturating_add(size) / FRAME_SIZE).min(Self::capacity_frames());
        for f in start..end.max(start) {
            self.set(f, true);
        }
    }

    /// Marks every frame touched by the byte range `[addr, addr + size)` as
    /// used (partial frames at the ends included).
    pub fn reserve_bytes(&mut self, addr: u64, size: u64) {
        if size == 0 {
            return;
        }
        let start = addr / FRAME_SIZE;
        let end = addr
            .saturating_add(size)
            .div_ceil(FRAME_SIZE)
            .min(Self::capacity_frames());
        for f in start..end.max(start) {
            self.set(f, false);
        }
    }

    /// Allocates `n` contiguous frames; returns the first frame number.
    pub fn alloc(&mut self, n: usize) -> Result<u64, MemError> {
        if n == 0 {
            return Err(MemError::BadSize);
        }
        if n > self.free {
            return Err(MemError::OutOfMemory);
        }
        let first = if n == 1 {
            self.find_one()
        } else {
            self.find_run(n as u64)
        }
        .ok_or(MemError::OutOfMemory)?;
        for f in first..first + n as u64 {
            self.set(f, false);
        }
        Ok(first)
    }

    fn find_one(&mut self) -> Option<u64> {
        let hint = self.hint.min(WORDS.saturating_sub(1));
        let w = (hint..WORDS).chain(0..hint).find(|&w| self.bits[w] != 0)?;
        self.hint = w;
        Some(w as u64 * 64 + u64::from(self.bits[w].trailing_zeros()))
    }

    fn find_run(&self, n: u64) -> Option<u64> {
        let cap = Self::capacity_frames();
        let mut run_start = 0;
        let mut run_len = 0;
        let mut f = 0;
        while f < cap {
            if f % 64 == 0 && self.bits[(f / 64) as usize] == 0 {
                // A whole used word ends any run.
                run_len = 0;
                f += 64;
                continue;
            }
            if self.is_free(f) {
                if run_len == 0 {
                    run_start = f;
                }
                run_len += 1;
                if run_len == n {
                    return Some(run_start);
                }
            } else {
                run_len = 0;
            }
            f += 1;
        }
        None
    }

    /// Frees `n` frames from `first`; all of them must be allocated (in
    /// range and not free), else nothing changes.
    pub fn free(&mut self, first: u64, n: usize) -> Result<(), MemError> {
        let end = first
            .checked_add(n as u64)
            .filter(|&e| e <= Self::capacity_frames() && n > 0)
            .ok_or(MemError::NotAllocated)?;
        if (first..end).any(|f| self.is_free(f)) {
            return Err(MemError::NotAllocated);
        }
        for f in first..end {
            self.set(f, true);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_clipped_to_whole_frames() {
        let mut b = FrameBitmap::<4>::new();
        assert_eq!(FrameBitmap::<4>::capacity_frames(), 256);
        b.add_free_bytes(0x800, 3 * 4096); // frames 1, 2 whole; 0 and 3 partial
        assert_eq!(b.free_frames(), 2);
        b.add_free_bytes(100 * 4096, 1000 * 4096); // clipped at 256
        assert_eq!(b.free_frames(), 2 + 156);
        b.reserve_bytes(100 * 4096 + 1, 1); // touches frame 100 only
        assert_eq!(b.free_frames(), 157);
        b.reserve_bytes(0, 0);
        assert_eq!(b.free_frames(), 157);
        b.add_free_bytes(u64::MAX - 10, 100); // saturates, nothing added
        assert_eq!(b.free_frames(), 157);
    }

    #[test]
    fn alloc_free_single_and_runs() {
        let mut b = FrameBitmap::<4>::new();
        b.add_free_bytes(10 * 4096, 20 * 4096); // frames 10..30
        b.reserve_bytes(15 * 4096, 4096); // hole at 15
        assert_eq!(b.free_frames(), 19);
        assert_eq!(b.alloc(1), Ok(10));
        assert_eq!(b.alloc(6), Ok(16)); // 11..15 is only 4 long
        assert_eq!(b.alloc(4), Ok(11));
        assert_eq!(b.free_frames(), 8);
        assert_eq!(b.alloc(9), Err(MemError::OutOfMemory));
        assert_eq!(b.alloc(0), Err(MemError::BadSize));
        assert_eq!(b.free(16, 6), Ok(()));
        assert_eq!(b.free(16, 1), Err(MemError::NotAllocated));
        assert_eq!(b.free(15, 1), Ok(())); // reserved frames can be given back
        assert_eq!(b.free(255, 2), Err(MemError::NotAllocated));
        assert_eq!(b.free_frames(), 15);
        assert_eq!(b.alloc(15), Ok(15)); // 15..30 is one run now
        assert_eq!(b.alloc(1), Err(MemError::OutOfMemory));
    }

    #[test]
    fn exhaustion_and_reuse() {
        let mut b = FrameBitmap::<2>::new();
        b.add_free_bytes(0, 128 * 4096);
        let got: Vec<u64> = (0..128).map(|_| b.alloc(1).unwrap()).collect();
        assert_eq!(got, (0..128).collect::<Vec<_>>());
        assert_eq!(b.alloc(1), Err(MemError::OutOfMemory));
        b.free(70, 1).unwrap();
        assert_eq!(b.alloc(1), Ok(70));
        b.free(3, 1).unwrap();
        assert_eq!(b.alloc(1), Ok(3)); // wraps around the hint
    }
}
