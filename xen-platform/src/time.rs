//! Time: Xen's PV clock (`xen.h`, `struct vcpu_time_info`, the version
//! protocol and TSC scaling), the wall clock (`shared_info.wc_*`) and the
//! one-shot timer (`vcpu.h`, `VCPUOP_set_singleshot_timer`, raising
//! `VIRQ_TIMER`).
//!
//! [`monotonic_ns`] is Xen system time: nanoseconds since the host booted,
//! the time base of timer deadlines. The scaling math is plain functions,
//! unit-tested on the host.

/// Scales a TSC delta to nanoseconds as `vcpu_time_info` describes: shift
/// left by `tsc_shift` (right if negative), then multiply by the 32.32
/// fixed-point `tsc_to_system_mul` and keep the integer part.
pub fn scale_delta(delta: u64, tsc_to_system_mul: u32, tsc_shift: i8) -> u64 {
    let shifted = if tsc_shift >= 0 {
        delta << tsc_shift.unsigned_abs()
    } else {
        delta >> tsc_shift.unsigned_abs()
    };
    ((u128::from(shifted) * u128::from(tsc_to_system_mul)) >> 32) as u64
}

/// One consistent copy of a `vcpu_time_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PvClock {
    /// TSC value at `system_time`.
    pub tsc_timestamp: u64,
    /// System time (ns) at `tsc_timestamp`.
    pub system_time: u64,
    /// 32.32 fixed-point ns per (shifted) TSC tick.
    pub tsc_to_system_mul: u32,
    /// Power-of-two pre-shift of the TSC delta.
    pub tsc_shift: i8,
}

impl PvClock {
    /// System time (ns) at TSC value `tsc`. A TSC below the timestamp (the
    /// snapshot is a little ahead of this CPU's counter) counts as zero
    /// elapsed.
    pub fn system_time_at(&self, tsc: u64) -> u64 {
        let delta = tsc.saturating_sub(self.tsc_timestamp);
        self.system_time
            .wrapping_add(scale_delta(delta, self.tsc_to_system_mul, self.tsc_shift))
    }
}

/// Wall-clock time (seconds, nanoseconds since the Unix epoch) from the
/// shared-info wall clock at system time 0 (`wc_sec_hi:wc_sec`, `wc_nsec`)
/// plus the current system time.
pub fn wall_clock_from(wc_sec: u64, wc_nsec: u32, system_ns: u64) -> (u64, u32) {
    let total_ns = u128::from(wc_nsec) + u128::from(system_ns);
    let sec = wc_sec + (total_ns / 1_000_000_000) as u64;
    (sec, (total_ns % 1_000_000_000) as u32)
}

/// Whether a reader of Xen's versioned data must retry: the version was odd
/// (update in progress) or changed while reading.
pub fn must_retry(version_before: u32, version_after: u32) -> bool {
    version_before & 1 != 0 || version_before != version_after
}

#[cfg(target_os = "none")]
mod xen {
    use super::{must_retry, wall_clock_from, PvClock};
    use crate::arch::x86_64::tsc;
    use crate::error::XenError;
    use crate::hypercall;
    use crate::shared_info::shared_info_ptr;
    use core::ptr::{addr_of, read_volatile};
    use core::sync::atomic::{fence, AtomicU64, Ordering};
    use xen_abi::shared_info;

    fn shared() -> *const shared_info {
        match shared_info_ptr() {
            Some(p) => p,
            None => core::ptr::null(),
        }
    }

    /// A consistent snapshot of vCPU 0's `vcpu_time_info` (None before the
    /// shared-info page is mapped).
    pub fn pv_clock() -> Option<PvClock> {
        let si = shared();
        if si.is_null() {
            return None;
        }
        loop {
            // SAFETY: `si` is the mapped shared-info page (valid for the
            // domain's life); Xen writes it concurrently, so every field is
            // read with a volatile read of a plain integer, and the version
            // protocol below discards torn snapshots.
            let (before, snap, after) = unsafe {
                let t = addr_of!((*si).vcpu_info[0].time);
                let before = read_volatile(addr_of!((*t).version));
                fence(Ordering::Acquire);
                let snap = PvClock {
                    tsc_timestamp: read_volatile(addr_of!((*t).tsc_timestamp)),
                    system_time: read_volatile(addr_of!((*t).system_time)),
                    tsc_to_system_mul: read_volatile(addr_of!((*t).tsc_to_system_mul)),
                    tsc_shift: read_volatile(addr_of!((*t).tsc_shift)),
                };
                fence(Ordering::Acquire);
                let after = read_volatile(addr_of!((*t).version));
                (before, snap, after)
            };
            if !must_retry(before, after) {
                return Some(snap);
            }
            core::hint::spin_loop();
        }
    }

    /// The PV clock record and the TSC read right after it (diagnostics:
    /// what [`monotonic_ns`] computes from).
    pub fn clock_sample() -> Option<(PvClock, u64)> {
        pv_clock().map(|c| (c, tsc::rdtsc()))
    }

    /// The largest time [`monotonic_ns`] returned so far.
    static LAST_NS: AtomicU64 = AtomicU64::new(0);

    /// Xen system time in nanoseconds (monotonic; 0 before the shared-info
    /// page is mapped).
    ///
    /// Xen rewrites the record from the calibration of the physical CPU the
    /// vCPU last ran on; records of two physical CPUs can disagree by a few
    /// microseconds (more under emulation), so a reading can fall behind an
    /// earlier one. Without `PVCLOCK_TSC_STABLE_BIT` promises, readings are
    /// clamped to never go backwards.
    pub fn monotonic_ns() -> u64 {
        match pv_clock() {
            Some(c) => {
                let now = c.system_time_at(tsc::rdtsc());
                LAST_NS.fetch_max(now, Ordering::Relaxed).max(now)
            }
            None => 0,
        }
    }

    /// Wall-clock time: (seconds, nanoseconds) since the Unix epoch, from
    /// the shared-info wall clock plus system time; (0, 0) before the
    /// shared-info page is mapped.
    pub fn wall_clock() -> (u64, u32) {
        let si = shared();
        if si.is_null() {
            return (0, 0);
        }
        loop {
            // SAFETY: as in `pv_clock`: volatile reads of integers of the
            // mapped shared-info page, checked by `wc_version`.
            let (before, sec_lo, sec_hi, nsec, after) = unsafe {
                let before = read_volatile(addr_of!((*si).wc_version));
                fence(Ordering::Acquire);
                let sec_lo = read_volatile(addr_of!((*si).wc_sec));
                let sec_hi = read_volatile(addr_of!((*si).wc_sec_hi));
                let nsec = read_volatile(addr_of!((*si).wc_nsec));
                fence(Ordering::Acquire);
                let after = read_volatile(addr_of!((*si).wc_version));
                (before, sec_lo, sec_hi, nsec, after)
            };
            if !must_retry(before, after) {
                let sec = (u64::from(sec_hi) << 32) | u64::from(sec_lo);
                return wall_clock_from(sec, nsec, monotonic_ns());
            }
            core::hint::spin_loop();
        }
    }

    /// Nanoseconds vCPU 0 has spent running (on a physical CPU), from
    /// `VCPUOP_get_runstate_info`: what `xl list` shows as CPU time.
    pub fn cpu_time_ns() -> Result<u64, XenError> {
        let info = hypercall::vcpu_runstate_info(0)?;
        Ok(info.time[xen_abi::RUNSTATE_running as usize])
    }

    /// Arms vCPU 0's one-shot timer: `VIRQ_TIMER` fires at system time
    /// `deadline_ns` (at once if already past).
    pub fn set_timer(deadline_ns: u64) -> Result<(), XenError> {
        hypercall::vcpu_set_singleshot_timer(0, deadline_ns)
    }
}

#[cfg(target_os = "none")]
pub use xen::{clock_sample, cpu_time_ns, monotonic_ns, pv_clock, set_timer, wall_clock};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_matches_the_fixed_point_definition() {
        // mul = 2^32 means 1 ns per tick.
        assert_eq!(scale_delta(1000, 0x8000_0000, 1), 1000);
        assert_eq!(scale_delta(1000, 0x8000_0000, 0), 500);
        assert_eq!(scale_delta(1000, 0x8000_0000, -1), 250);
        // A 3 GHz TSC: mul = 2^32 / 3 with shift 0 gives ns = ticks / 3.
        let mul = ((1u64 << 32) / 3) as u32;
        assert_eq!(scale_delta(3_000_000_000, mul, 0), 999_999_999);
        // Large deltas do not overflow (u128 product).
        assert_eq!(
            scale_delta(u64::MAX >> 1, 0xffff_ffff, 1),
            0xffff_fffe_ffff_fffe
        );
    }

    #[test]
    fn system_time_adds_the_scaled_delta_and_clamps_backwards_tsc() {
        let c = PvClock {
            tsc_timestamp: 1_000,
            system_time: 5_000_000,
            tsc_to_system_mul: 0x8000_0000,
            tsc_shift: 1,
        };
        assert_eq!(c.system_time_at(1_000), 5_000_000);
        assert_eq!(c.system_time_at(3_500), 5_002_500);
        assert_eq!(c.system_time_at(10), 5_000_000);
    }

    #[test]
    fn version_protocol() {
        assert!(!must_retry(4, 4));
        assert!(must_retry(5, 5));
        assert!(must_retry(4, 6));
    }

    #[test]
    fn wall_clock_normalises_nanoseconds() {
        assert_eq!(wall_clock_from(100, 0, 0), (100, 0));
        assert_eq!(wall_clock_from(100, 999_999_999, 2), (101, 1));
        assert_eq!(
            wall_clock_from(1 << 33, 500_000_000, 3_600_000_000_000),
            ((1 << 33) + 3600, 500_000_000)
        );
    }
}
