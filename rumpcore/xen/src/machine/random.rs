//! `rumpuser_getrandom`: RDRAND (and RDSEED for `RUMPUSER_RANDOM_HARD`)
//! when CPUID says the CPU has them (CPUID.1:ECX bit 30, CPUID.7.0:EBX
//! bit 18), else the ChaCha20 generator of [`crate::chacha`] seeded from
//! TSC jitter, the clocks and xenstore values of this domain.

use crate::chacha::ChaChaRng;
use alloc::string::String;
use core::arch::x86_64::{__cpuid, __cpuid_count, _rdrand64_step, _rdseed64_step, _rdtsc};
use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};
use rumpuser_abi::RUMPUSER_RANDOM_HARD;
use xen_platform::sched::IrqLock;
use xen_platform::time;
use xen_platform::xenstore::{Tx, XenstoreOps};

/// Where random bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RandomSource {
    /// The CPU's RDRAND, and RDSEED for HARD requests.
    RdrandRdseed,
    /// The CPU's RDRAND (no RDSEED).
    Rdrand,
    /// The ChaCha20 generator (no RDRAND on this CPU).
    ChaCha,
}

impl fmt::Display for RandomSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RandomSource::RdrandRdseed => "RDRAND, and RDSEED for RUMPUSER_RANDOM_HARD",
            RandomSource::Rdrand => "RDRAND (the CPU has no RDSEED)",
            RandomSource::ChaCha => {
                "a ChaCha20 generator seeded from TSC jitter and xenstore (the CPU has no RDRAND)"
            }
        })
    }
}

const UNKNOWN: u8 = 0;
static SOURCE: AtomicU8 = AtomicU8::new(UNKNOWN);
static RNG: IrqLock<Option<ChaChaRng>> = IrqLock::new(None);

/// The source in use (found on first use).
pub fn source() -> RandomSource {
    match SOURCE.load(Ordering::Relaxed) {
        1 => RandomSource::RdrandRdseed,
        2 => RandomSource::Rdrand,
        3 => RandomSource::ChaCha,
        _ => {
            let s = detect();
            SOURCE.store(
                match s {
                    RandomSource::RdrandRdseed => 1,
                    RandomSource::Rdrand => 2,
                    RandomSource::ChaCha => 3,
                },
                Ordering::Relaxed,
            );
            s
        }
    }
}

fn detect() -> RandomSource {
    let leaf1 = __cpuid(1);
    let rdrand = leaf1.ecx & (1 << 30) != 0;
    let max_leaf = __cpuid(0).eax;
    let rdseed = max_leaf >= 7 && __cpuid_count(7, 0).ebx & (1 << 18) != 0;
    // A CPU that claims RDRAND but never delivers is treated as without.
    match (
        rdrand && rdrand64().is_some(),
        rdseed && rdseed64().is_some(),
    ) {
        (true, true) => RandomSource::RdrandRdseed,
        (true, false) => RandomSource::Rdrand,
        _ => RandomSource::ChaCha,
    }
}

fn rdrand64() -> Option<u64> {
    #[target_feature(enable = "rdrand")]
    fn step() -> Option<u64> {
        let mut v = 0;
        (_rdrand64_step(&mut v) == 1).then_some(v)
    }
    // RDRAND may fail transiently; Intel's guidance is 10 tries.
    // SAFETY: the CPU supports RDRAND: callers check CPUID first.
    (0..10).find_map(|_| unsafe { step() })
}

fn rdseed64() -> Option<u64> {
    #[target_feature(enable = "rdseed")]
    fn step() -> Option<u64> {
        let mut v = 0;
        (_rdseed64_step(&mut v) == 1).then_some(v)
    }
    // RDSEED runs dry more easily than RDRAND: a few more tries.
    // SAFETY: the CPU supports RDSEED: callers check CPUID first.
    (0..100).find_map(|_| unsafe { step() })
}

fn tsc() -> u64 {
    // SAFETY: RDTSC reads the time-stamp counter; no memory is touched.
    unsafe { _rdtsc() }
}

/// Entropy for the generator: TSC jitter around clock reads (each a
/// trip through the PV clock, whose cost varies with the host), the
/// clocks, and values only this domain's xenstore knows.
fn seed() -> ChaChaRng {
    let mut rng = ChaChaRng::new();
    let mut samples = [0u8; 512];
    for chunk in samples.chunks_mut(8) {
        let t0 = tsc();
        let m = time::monotonic_ns();
        let t1 = tsc();
        let v = (t1.wrapping_sub(t0)).rotate_left(17) ^ m ^ t1;
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    rng.mix(&samples);
    let (sec, nsec) = time::wall_clock();
    rng.mix(&sec.to_le_bytes());
    rng.mix(&nsec.to_le_bytes());
    if let Ok(xs) = xen_platform::xenstore::xen::xenstore() {
        let mut material = String::new();
        for key in [
            "domid",
            "name",
            "vm",
            "device/vif/0/mac",
            "console/ring-ref",
        ] {
            if let Ok(v) = xs.read(Tx::NONE, key) {
                material.push_str(&v);
                material.push('\n');
            }
        }
        rng.mix(material.as_bytes());
    }
    rng.mix(&tsc().to_le_bytes());
    rng
}

fn fill_chacha(out: &mut [u8]) {
    let mut g = RNG.lock();
    if g.is_none() {
        drop(g);
        // Seeding reads xenstore (it blocks): outside the lock.
        let fresh = seed();
        g = RNG.lock();
        g.get_or_insert(fresh);
    }
    if let Some(rng) = g.as_mut() {
        rng.fill(out);
    }
}

/// Fills `out` with random bytes (`flags`: `RUMPUSER_RANDOM_*`).
pub fn fill(out: &mut [u8], flags: i32) {
    let src = source();
    if src == RandomSource::ChaCha {
        return fill_chacha(out);
    }
    let hard = flags & RUMPUSER_RANDOM_HARD != 0 && src == RandomSource::RdrandRdseed;
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let word = if hard {
            rdseed64().or_else(rdrand64)
        } else {
            rdrand64()
        };
        match word {
            Some(w) => chunk.copy_from_slice(&w.to_le_bytes()[..chunk.len()]),
            None => return fill_chacha(&mut out[i * 8..]),
        }
    }
}
