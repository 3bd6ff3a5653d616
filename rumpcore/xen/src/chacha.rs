//! A ChaCha20-based random generator for `rumpuser_getrandom` on CPUs
//! without RDRAND/RDSEED: the ChaCha20 block function of RFC 8439 (section
//! 2.3), keyed from an entropy pool, with fast key erasure (each request's
//! first block re-keys the generator, so earlier output cannot be
//! recomputed from the state). Pure logic, tested on the host against the
//! RFC's test vector.

/// "expand 32-byte k", the ChaCha constants.
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

fn quarter_round(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// The ChaCha20 block function: 64 bytes of key stream for `key`, block
/// `counter` and `nonce` (RFC 8439 layout: 32-bit counter, 96-bit nonce).
pub fn block(key: &[u8; 32], counter: u32, nonce: &[u8; 12]) -> [u8; 64] {
    let mut input = [0u32; 16];
    input[..4].copy_from_slice(&SIGMA);
    for (i, w) in key.chunks_exact(4).enumerate() {
        input[4 + i] = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    input[12] = counter;
    for (i, w) in nonce.chunks_exact(4).enumerate() {
        input[13 + i] = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    let mut s = input;
    for _ in 0..10 {
        quarter_round(&mut s, 0, 4, 8, 12);
        quarter_round(&mut s, 1, 5, 9, 13);
        quarter_round(&mut s, 2, 6, 10, 14);
        quarter_round(&mut s, 3, 7, 11, 15);
        quarter_round(&mut s, 0, 5, 10, 15);
        quarter_round(&mut s, 1, 6, 11, 12);
        quarter_round(&mut s, 2, 7, 8, 13);
        quarter_round(&mut s, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for (i, chunk) in out.chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&s[i].wrapping_add(input[i]).to_le_bytes());
    }
    out
}

/// A seeded generator: a 256-bit key, re-keyed after every request.
#[derive(Clone)]
pub struct ChaChaRng {
    key: [u8; 32],
    /// Requests served (the nonce), so two requests never share a stream
    /// even if re-keying were skipped.
    requests: u64,
}

impl ChaChaRng {
    /// A generator keyed by mixing `seed` material into an all-zero key.
    pub fn new() -> ChaChaRng {
        ChaChaRng {
            key: [0; 32],
            requests: 0,
        }
    }

    /// Mixes `material` into the key: each 32-byte piece is XORed in and
    /// the key is replaced by the first half of a block under it, so every
    /// bit of material affects every bit of the key.
    pub fn mix(&mut self, material: &[u8]) {
        for piece in material.chunks(32) {
            for (k, m) in self.key.iter_mut().zip(piece) {
                *k ^= m;
            }
            self.rekey(u32::MAX);
        }
    }

    fn rekey(&mut self, counter: u32) {
        let b = block(&self.key, counter, &self.nonce());
        self.key.copy_from_slice(&b[..32]);
    }

    fn nonce(&self) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&self.requests.to_le_bytes());
        n
    }

    /// Fills `out` with key stream, then re-keys (fast key erasure).
    pub fn fill(&mut self, out: &mut [u8]) {
        let nonce = self.nonce();
        // Block 0 becomes the next key; output starts at block 1.
        let next = block(&self.key, 0, &nonce);
        for (i, chunk) in out.chunks_mut(64).enumerate() {
            // A request of 256 GiB would wrap the counter; requests are
            // far smaller, and the wrap would still not repeat block 0.
            let counter = (i as u32).wrapping_add(1).max(1);
            let b = block(&self.key, counter, &nonce);
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
        self.key.copy_from_slice(&next[..32]);
        self.requests = self.requests.wrapping_add(1);
    }
}

impl Default for ChaChaRng {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8439, 2.3.2: the block function test vector.
    #[test]
    fn block_matches_rfc8439() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce = [0, 0, 0, 0x09, 0, 0, 0, 0x4a, 0, 0, 0, 0];
        let out = block(&key, 1, &nonce);
        let expected: [u8; 64] = [
            0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20,
            0x71, 0xc4, 0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22, 0xaa, 0x9a,
            0xc3, 0xd4, 0x6c, 0x4e, 0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa, 0x09, 0x14, 0xc2,
            0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2, 0xb5, 0x12, 0x9c, 0xd1, 0xde, 0x16, 0x4e, 0xb9,
            0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e,
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn requests_differ_and_depend_on_the_seed() {
        let mut a = ChaChaRng::new();
        a.mix(b"seed one");
        let mut b = ChaChaRng::new();
        b.mix(b"seed two");
        let (mut x, mut y, mut z) = ([0u8; 100], [0u8; 100], [0u8; 100]);
        a.fill(&mut x);
        a.fill(&mut y);
        b.fill(&mut z);
        assert_ne!(x, y);
        assert_ne!(x, z);
        assert!(x.iter().any(|&v| v != 0));
    }

    #[test]
    fn output_is_roughly_balanced() {
        let mut r = ChaChaRng::new();
        r.mix(&42u64.to_le_bytes());
        let mut buf = [0u8; 4096];
        r.fill(&mut buf);
        let ones: u32 = buf.iter().map(|b| b.count_ones()).sum();
        let bits = 4096 * 8;
        assert!((ones as i64 - bits / 2).abs() < 600, "{ones} of {bits}");
    }
}
