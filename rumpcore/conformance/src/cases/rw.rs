//! Reader/writer locks: sharing, exclusion, tryenter, tryupgrade,
//! downgrade, held, contention.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use rumpuser_abi::{RumpuserRw, RUMPUSER_RW_READER, RUMPUSER_RW_WRITER};

use crate::model;
use crate::sys;
use crate::util::{ensure, join_all, spawn, wait_until, CaseResult, Exit, Shared, Sink};
use crate::Config;

fn new_rw() -> Shared<RumpuserRw> {
    let mut rw = core::ptr::null_mut();
    // SAFETY: valid out-pointer.
    unsafe { sys::rumpuser_rw_init(&mut rw) };
    Shared(rw)
}

fn is_held(ty: i32, rw: Shared<RumpuserRw>) -> bool {
    let mut h = 0;
    // SAFETY: live lock, valid out-pointer.
    unsafe { sys::rumpuser_rw_held(ty, rw.get(), &mut h) };
    h != 0
}

/// tryenter of `ty` from another thread; returns its result (exiting again
/// if it got the lock).
fn try_from_other(ty: i32, rw: Shared<RumpuserRw>) -> Result<i32, alloc::string::String> {
    let seen = Arc::new(AtomicI32::new(-1));
    let s = seen.clone();
    spawn(c"cf-rw-try", true, move || {
        // SAFETY: live lock; exited only if taken.
        let rv = unsafe { sys::rumpuser_rw_tryenter(ty, rw.get()) };
        if rv == 0 {
            // SAFETY: we hold it.
            unsafe { sys::rumpuser_rw_exit(rw.get()) };
        }
        s.store(rv, Ordering::SeqCst);
        Exit::Return
    })?
    .join()?;
    Ok(seen.load(Ordering::SeqCst))
}

fn destroy(rw: Shared<RumpuserRw>) {
    // SAFETY: free; destroyed once.
    unsafe { sys::rumpuser_rw_destroy(rw.get()) };
}

/// A read hold lets other readers in and keeps writers out.
pub fn readers_share(_: &Config<'_>) -> CaseResult {
    let rw = new_rw();
    // SAFETY: live lock.
    unsafe { sys::rumpuser_rw_enter(RUMPUSER_RW_READER, rw.get()) };
    let r = try_from_other(RUMPUSER_RW_READER, rw)?;
    let w = try_from_other(RUMPUSER_RW_WRITER, rw)?;
    // SAFETY: we hold it.
    unsafe { sys::rumpuser_rw_exit(rw.get()) };
    ensure!(r == 0, "reader tryenter under a read hold returned {r}");
    ensure!(w != 0, "writer tryenter under a read hold succeeded");
    let w = try_from_other(RUMPUSER_RW_WRITER, rw)?;
    ensure!(w == 0, "writer tryenter on a free lock returned {w}");
    destroy(rw);
    Ok(())
}

/// A write hold keeps readers and writers out.
pub fn writer_excludes(_: &Config<'_>) -> CaseResult {
    let rw = new_rw();
    // SAFETY: live lock, free.
    let rv = unsafe { sys::rumpuser_rw_tryenter(RUMPUSER_RW_WRITER, rw.get()) };
    ensure!(rv == 0, "writer tryenter on a free lock returned {rv}");
    let r = try_from_other(RUMPUSER_RW_READER, rw)?;
    let w = try_from_other(RUMPUSER_RW_WRITER, rw)?;
    // SAFETY: we hold it.
    unsafe { sys::rumpuser_rw_exit(rw.get()) };
    ensure!(r != 0, "reader tryenter under a write hold succeeded");
    ensure!(w != 0, "writer tryenter under a write hold succeeded");
    let r = try_from_other(RUMPUSER_RW_READER, rw)?;
    ensure!(r == 0, "reader tryenter on a free lock returned {r}");
    destroy(rw);
    Ok(())
}

/// tryupgrade succeeds for a sole reader and fails with another reader.
pub fn tryupgrade(_: &Config<'_>) -> CaseResult {
    let rw = new_rw();
    // SAFETY: live lock.
    unsafe { sys::rumpuser_rw_enter(RUMPUSER_RW_READER, rw.get()) };
    // SAFETY: we hold it as reader.
    let rv = unsafe { sys::rumpuser_rw_tryupgrade(rw.get()) };
    ensure!(rv == 0, "tryupgrade of the sole reader returned {rv}");
    ensure!(
        is_held(RUMPUSER_RW_WRITER, rw),
        "not write-held after tryupgrade"
    );
    let r = try_from_other(RUMPUSER_RW_READER, rw)?;
    // SAFETY: we hold it.
    unsafe { sys::rumpuser_rw_exit(rw.get()) };
    ensure!(r != 0, "reader got in after tryupgrade");

    // Another reader holds on: upgrade must fail.
    let holding = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let (h, rel) = (holding.clone(), release.clone());
    let kid = spawn(c"cf-rw-reader", true, move || {
        // SAFETY: live lock.
        unsafe { sys::rumpuser_rw_enter(RUMPUSER_RW_READER, rw.get()) };
        h.store(true, Ordering::SeqCst);
        wait_until(10_000, || rel.load(Ordering::SeqCst));
        // SAFETY: we hold it.
        unsafe { sys::rumpuser_rw_exit(rw.get()) };
        Exit::Return
    })?;
    let got = wait_until(5_000, || holding.load(Ordering::SeqCst));
    // SAFETY: live lock.
    unsafe { sys::rumpuser_rw_enter(RUMPUSER_RW_READER, rw.get()) };
    // SAFETY: we hold it as reader.
    let rv = unsafe { sys::rumpuser_rw_tryupgrade(rw.get()) };
    // SAFETY: we hold it (as writer if the upgrade wrongly succeeded).
    unsafe { sys::rumpuser_rw_exit(rw.get()) };
    release.store(true, Ordering::SeqCst);
    kid.join()?;
    ensure!(got, "reader thread did not take the lock");
    ensure!(rv != 0, "tryupgrade succeeded with another reader holding");
    destroy(rw);
    Ok(())
}

/// downgrade turns a write hold into a read hold that admits readers.
pub fn downgrade(_: &Config<'_>) -> CaseResult {
    let rw = new_rw();
    // SAFETY: live lock.
    unsafe { sys::rumpuser_rw_enter(RUMPUSER_RW_WRITER, rw.get()) };
    // SAFETY: we hold it as writer.
    unsafe { sys::rumpuser_rw_downgrade(rw.get()) };
    let hr = is_held(RUMPUSER_RW_READER, rw);
    let hw = is_held(RUMPUSER_RW_WRITER, rw);
    let r = try_from_other(RUMPUSER_RW_READER, rw)?;
    let w = try_from_other(RUMPUSER_RW_WRITER, rw)?;
    // SAFETY: we hold it as reader.
    unsafe { sys::rumpuser_rw_exit(rw.get()) };
    ensure!(hr, "not read-held after downgrade");
    ensure!(!hw, "still write-held after downgrade");
    ensure!(r == 0, "reader tryenter after downgrade returned {r}");
    ensure!(w != 0, "writer got in after downgrade");
    destroy(rw);
    Ok(())
}

/// `rw_held` reports read and write holds and their absence.
pub fn held(_: &Config<'_>) -> CaseResult {
    let rw = new_rw();
    ensure!(!is_held(RUMPUSER_RW_READER, rw), "free lock read-held");
    ensure!(!is_held(RUMPUSER_RW_WRITER, rw), "free lock write-held");
    // SAFETY: live lock.
    unsafe { sys::rumpuser_rw_enter(RUMPUSER_RW_READER, rw.get()) };
    let (r1, w1) = (
        is_held(RUMPUSER_RW_READER, rw),
        is_held(RUMPUSER_RW_WRITER, rw),
    );
    // SAFETY: we hold it.
    unsafe { sys::rumpuser_rw_exit(rw.get()) };
    // SAFETY: live lock.
    unsafe { sys::rumpuser_rw_enter(RUMPUSER_RW_WRITER, rw.get()) };
    let w2 = is_held(RUMPUSER_RW_WRITER, rw);
    // SAFETY: we hold it.
    unsafe { sys::rumpuser_rw_exit(rw.get()) };
    ensure!(r1 && !w1, "read hold: held(READER)={r1} held(WRITER)={w1}");
    ensure!(w2, "write hold: held(WRITER) false");
    ensure!(!is_held(RUMPUSER_RW_WRITER, rw), "write-held after exit");
    ensure!(!is_held(RUMPUSER_RW_READER, rw), "read-held after exit");
    destroy(rw);
    Ok(())
}

/// Writers increment two counters together, readers see them equal; the
/// final count is exact. Every enter comes back holding the CPU.
pub fn contention(cfg: &Config<'_>) -> CaseResult {
    let rw = new_rw();
    let a = Arc::new(AtomicU64::new(0));
    let b = Arc::new(AtomicU64::new(0));
    let sink = Sink::new();
    let iters = cfg.iterations / 4;
    let mut kids = Vec::new();
    for t in 0..cfg.threads.max(2) {
        let (a, b, s) = (a.clone(), b.clone(), sink.clone());
        let writer = t % 2 == 0;
        kids.push(spawn(c"cf-rw", true, move || {
            for _ in 0..iters {
                let ty = if writer {
                    RUMPUSER_RW_WRITER
                } else {
                    RUMPUSER_RW_READER
                };
                // SAFETY: live lock; exited below.
                unsafe { sys::rumpuser_rw_enter(ty, rw.get()) };
                if writer {
                    let v = a.load(Ordering::Relaxed);
                    core::hint::spin_loop();
                    a.store(v + 1, Ordering::Relaxed);
                    b.store(v + 1, Ordering::Relaxed);
                } else {
                    let (x, y) = (a.load(Ordering::Relaxed), b.load(Ordering::Relaxed));
                    if x != y {
                        s.fail(format!("reader saw a half-done write ({x} vs {y})"));
                    }
                }
                // SAFETY: we hold it.
                unsafe { sys::rumpuser_rw_exit(rw.get()) };
                if !model::holds_cpu() {
                    s.fail("rw_enter returned without the rump CPU".into());
                    break;
                }
            }
            Exit::Return
        })?);
    }
    let writers = cfg.threads.max(2).div_ceil(2);
    join_all(kids)?;
    sink.result()?;
    let got = a.load(Ordering::SeqCst);
    let want = (writers * iters) as u64;
    ensure!(
        got == want,
        "counter {got}, want {want}: writers were not exclusive"
    );
    destroy(rw);
    Ok(())
}
