//! The time-stamp counter (RDTSC), the input of Xen's PV clock
//! (`xen.h`, `struct vcpu_time_info`). RDTSCP is not used: it is not
//! emulated everywhere.

/// Reads the time-stamp counter.
#[inline]
pub(crate) fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: RDTSC only reads the counter (CR4.TSD is clear: we run in
    // ring 0 anyway).
    unsafe {
        core::arch::asm!("lfence", "rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}
