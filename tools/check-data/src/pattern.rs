//! A seeded byte pattern over an address space (a disk): the byte at any
//! offset follows from the seed and the offset alone, so a writer can fill
//! any range in any order and a checker can verify any range without the
//! writer's history.

use crate::rng::mix64;

/// The pattern for one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    seed: u64,
}

impl Pattern {
    /// The pattern for `seed`.
    pub const fn new(seed: u64) -> Self {
        Pattern { seed }
    }

    /// The eight bytes at offsets `8 * index ..`, as a little-endian word.
    fn word(&self, index: u64) -> u64 {
        mix64(self.seed ^ index.wrapping_mul(0xd6e8_feb8_6659_fd93))
    }

    /// Fills `buf` with the bytes at offsets `offset ..`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut at = offset;
        let mut rest = buf;
        while !rest.is_empty() {
            let word = self.word(at / 8).to_le_bytes();
            let skip = (at % 8) as usize;
            let n = (8 - skip).min(rest.len());
            rest[..n].copy_from_slice(&word[skip..skip + n]);
            rest = &mut rest[n..];
            at += n as u64;
        }
    }

    /// The offset of the first byte of `data` (which holds the bytes at
    /// `offset ..`) that differs from the pattern, if any.
    pub fn first_mismatch(&self, offset: u64, data: &[u8]) -> Option<u64> {
        let mut expected = [0u8; 512];
        let mut done = 0;
        while done < data.len() {
            let n = (data.len() - done).min(expected.len());
            let at = offset + done as u64;
            self.fill(at, &mut expected[..n]);
            if let Some(i) = (0..n).find(|&i| expected[i] != data[done + i]) {
                return Some(at + i as u64);
            }
            done += n;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_range_matches_the_whole() {
        let p = Pattern::new(42);
        let mut whole = [0u8; 300];
        p.fill(1000, &mut whole);
        for start in [0usize, 1, 7, 8, 9, 100, 299] {
            for len in [0usize, 1, 5, 8, 17, 300 - start] {
                let len = len.min(300 - start);
                let mut part = [0u8; 300];
                p.fill(1000 + start as u64, &mut part[..len]);
                assert_eq!(&part[..len], &whole[start..start + len]);
            }
        }
        assert_eq!(p.first_mismatch(1000, &whole), None);
        whole[123] ^= 1;
        assert_eq!(p.first_mismatch(1000, &whole), Some(1123));
        let mut other = [0u8; 64];
        Pattern::new(43).fill(1000, &mut other);
        assert_ne!(&other[..], &whole[..64]);
    }
}
