//! Clocks (`CLOCK_REALTIME`, `CLOCK_MONOTONIC`) and sleeps, the CPU released.

use core::ffi::{c_int, c_long};

use rumpuser_abi::{errno, RUMPUSER_CLOCK_ABSMONO, RUMPUSER_CLOCK_RELWALL};

use crate::hyp;

/// `rumpuser_clock_gettime`: 0 = wall time, 1 = monotonic.
///
/// # Safety
/// `sec` and `nsec` must be writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_clock_gettime(
    clock: c_int,
    sec: *mut i64,
    nsec: *mut c_long,
) -> c_int {
    let id = match clock {
        RUMPUSER_CLOCK_RELWALL => libc::CLOCK_REALTIME,
        RUMPUSER_CLOCK_ABSMONO => libc::CLOCK_MONOTONIC,
        _ => return errno::EINVAL,
    };
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid timespec.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return crate::errno::last();
    }
    // SAFETY: writable out-pointers.
    unsafe {
        *sec = ts.tv_sec;
        *nsec = ts.tv_nsec;
    }
    0
}

/// `rumpuser_clock_sleep`: wall = relative interval, monotonic = absolute
/// deadline; never returns early (EINTR is retried).
///
/// # Safety
/// Always safe; `unsafe` for the ABI's uniformity.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_clock_sleep(clock: c_int, sec: i64, nsec: c_long) -> c_int {
    let (flags, id, ts) = match clock {
        RUMPUSER_CLOCK_RELWALL => {
            // Turn the interval into a monotonic deadline so EINTR retries
            // do not lengthen or shorten it.
            let mut now = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: valid timespec.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
            let total = now.tv_nsec + nsec.max(0);
            let ts = libc::timespec {
                tv_sec: now.tv_sec + sec.max(0) + total / 1_000_000_000,
                tv_nsec: (total % 1_000_000_000) as c_long,
            };
            (libc::TIMER_ABSTIME, libc::CLOCK_MONOTONIC, ts)
        }
        RUMPUSER_CLOCK_ABSMONO => (
            libc::TIMER_ABSTIME,
            libc::CLOCK_MONOTONIC,
            libc::timespec {
                tv_sec: sec,
                tv_nsec: nsec.clamp(0, 999_999_999),
            },
        ),
        _ => return errno::EINVAL,
    };
    hyp::blocking(|| loop {
        // SAFETY: valid timespec; no remainder needed with TIMER_ABSTIME.
        let rv = unsafe { libc::clock_nanosleep(id, flags, &ts, core::ptr::null_mut()) };
        match rv {
            0 => return 0,
            libc::EINTR => continue,
            e => return crate::errno::from_linux(e),
        }
    })
}
