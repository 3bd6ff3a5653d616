//! Clocks: monotonic never goes backwards, wall time is plausible, sleeps
//! are not early and release the CPU.

use core::ffi::c_long;

use rumpuser_abi::{RUMPUSER_CLOCK_ABSMONO, RUMPUSER_CLOCK_RELWALL};

use crate::sys;
use crate::util::{check_wrapped, ensure, my_counts, now_ns, CaseResult};
use crate::Config;

fn gettime(clock: i32) -> Result<(i64, i64), alloc::string::String> {
    let (mut s, mut ns): (i64, c_long) = (0, 0);
    // SAFETY: valid out-pointers.
    let rv = unsafe { sys::rumpuser_clock_gettime(clock, &mut s, &mut ns) };
    ensure!(rv == 0, "clock_gettime({clock}) failed: {rv}");
    ensure!(
        (0..1_000_000_000).contains(&ns),
        "clock_gettime({clock}) nsec {ns} out of range"
    );
    Ok((s, ns))
}

/// 10000 monotonic readings never decrease.
pub fn monotonic(_: &Config<'_>) -> CaseResult {
    let mut last = gettime(RUMPUSER_CLOCK_ABSMONO)?;
    for _ in 0..10_000 {
        let t = gettime(RUMPUSER_CLOCK_ABSMONO)?;
        ensure!(t >= last, "monotonic clock went back: {last:?} -> {t:?}");
        last = t;
    }
    Ok(())
}

/// Wall time is after 2020 and before 2200.
pub fn wall(_: &Config<'_>) -> CaseResult {
    let (s, _) = gettime(RUMPUSER_CLOCK_RELWALL)?;
    ensure!(
        (1_577_836_800..7_258_118_400).contains(&s),
        "wall clock {s} s is implausible"
    );
    Ok(())
}

/// A relative wall-clock sleep lasts at least its interval.
pub fn sleep_relwall(_: &Config<'_>) -> CaseResult {
    for (sec, nsec) in [(0i64, 20_000_000i64), (0, 1), (0, 0)] {
        let before = my_counts();
        let t0 = now_ns();
        // SAFETY: plain hypercall.
        let rv = unsafe { sys::rumpuser_clock_sleep(RUMPUSER_CLOCK_RELWALL, sec, nsec as c_long) };
        let dt = now_ns() - t0;
        ensure!(rv == 0, "clock_sleep(RELWALL, {sec}, {nsec}) failed: {rv}");
        ensure!(
            dt >= sec * 1_000_000_000 + nsec,
            "relative sleep of {nsec} ns returned after {dt} ns"
        );
        ensure!(
            dt < 2_000_000_000,
            "relative sleep of {nsec} ns took {} ms",
            dt / 1_000_000
        );
        check_wrapped("clock_sleep", before)?;
    }
    Ok(())
}

/// An absolute monotonic sleep returns at or after its deadline; a past
/// deadline returns at once.
pub fn sleep_absmono(_: &Config<'_>) -> CaseResult {
    let before = my_counts();
    let deadline = now_ns() + 25_000_000;
    let (s, ns) = (deadline / 1_000_000_000, deadline % 1_000_000_000);
    // SAFETY: plain hypercall.
    let rv = unsafe { sys::rumpuser_clock_sleep(RUMPUSER_CLOCK_ABSMONO, s, ns as c_long) };
    let now = now_ns();
    ensure!(rv == 0, "clock_sleep(ABSMONO) failed: {rv}");
    ensure!(
        now >= deadline,
        "absolute sleep returned {} us early",
        (deadline - now) / 1000
    );
    ensure!(
        now - deadline < 2_000_000_000,
        "absolute sleep overslept by {} ms",
        (now - deadline) / 1_000_000
    );
    check_wrapped("clock_sleep", before)?;
    let t0 = now_ns();
    let past = t0 - 1_000_000_000;
    // SAFETY: plain hypercall.
    let rv = unsafe {
        sys::rumpuser_clock_sleep(
            RUMPUSER_CLOCK_ABSMONO,
            past / 1_000_000_000,
            (past % 1_000_000_000) as c_long,
        )
    };
    let dt = now_ns() - t0;
    ensure!(rv == 0, "clock_sleep(ABSMONO, past) failed: {rv}");
    ensure!(
        dt < 500_000_000,
        "sleep to a past deadline took {} ms",
        dt / 1_000_000
    );
    Ok(())
}
