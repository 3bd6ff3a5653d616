//! Threads: create/join, detached threads, `thread_exit`, curlwp.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use rumpuser_abi::{
    RUMPUSER_LWP_CLEAR, RUMPUSER_LWP_CREATE, RUMPUSER_LWP_DESTROY, RUMPUSER_LWP_SET,
};

use crate::model::{self, TestLwp};
use crate::sys;
use crate::util::{ensure, join_all, spawn, CaseResult, Exit, Sink};
use crate::Config;

/// Joinable threads run their body; join returns after it with 0.
pub fn join(_: &Config<'_>) -> CaseResult {
    let hits = Arc::new(AtomicU32::new(0));
    let mut kids = Vec::new();
    for _ in 0..4 {
        let h = hits.clone();
        kids.push(spawn(c"cf-join", true, move || {
            h.fetch_add(1, Ordering::SeqCst);
            Exit::Return
        })?);
    }
    join_all(kids)?;
    ensure!(
        hits.load(Ordering::SeqCst) == 4,
        "{} of 4 bodies ran",
        hits.load(Ordering::SeqCst)
    );
    Ok(())
}

/// A detached thread (mustjoin 0) runs to completion on its own.
pub fn detached(_: &Config<'_>) -> CaseResult {
    let hits = Arc::new(AtomicU32::new(0));
    let mut kids = Vec::new();
    for _ in 0..3 {
        let h = hits.clone();
        kids.push(spawn(c"cf-detached", false, move || {
            h.fetch_add(1, Ordering::SeqCst);
            Exit::Return
        })?);
    }
    join_all(kids)?;
    ensure!(
        hits.load(Ordering::SeqCst) == 3,
        "{} of 3 bodies ran",
        hits.load(Ordering::SeqCst)
    );
    Ok(())
}

/// `rumpuser_thread_exit` ends joinable and detached threads; join works.
pub fn exit(_: &Config<'_>) -> CaseResult {
    let hits = Arc::new(AtomicU32::new(0));
    let a = {
        let h = hits.clone();
        spawn(c"cf-exit-j", true, move || {
            h.fetch_add(1, Ordering::SeqCst);
            Exit::ThreadExit
        })?
    };
    let b = {
        let h = hits.clone();
        spawn(c"cf-exit-d", false, move || {
            h.fetch_add(1, Ordering::SeqCst);
            Exit::ThreadExit
        })?
    };
    join_all([a, b])?;
    ensure!(
        hits.load(Ordering::SeqCst) == 2,
        "{} of 2 bodies ran",
        hits.load(Ordering::SeqCst)
    );
    Ok(())
}

/// Each thread sees its own lwp as curlwp, also after blocking.
pub fn curlwp_per_thread(_: &Config<'_>) -> CaseResult {
    let sink = Sink::new();
    let mut kids = Vec::new();
    for _ in 0..4 {
        let s = sink.clone();
        let slot = Arc::new(AtomicU32::new(0));
        let slot2 = slot.clone();
        let child = spawn(c"cf-curlwp", true, move || {
            crate::util::wait_until(5_000, || slot2.load(Ordering::SeqCst) != 0);
            let want = slot2.load(Ordering::SeqCst);
            for _ in 0..3 {
                let got = model::current().map(|l| l.id);
                if got != Some(want) {
                    s.fail(format!("thread of lwp {want} sees curlwp {got:?}"));
                }
                crate::util::sleep_ms(1);
            }
            Exit::Return
        })?;
        slot.store(child.lwp.id, Ordering::SeqCst);
        kids.push(child);
    }
    join_all(kids)?;
    sink.result()
}

/// CREATE, SET, CLEAR and DESTROY on the calling thread.
pub fn curlwpop_ops(_: &Config<'_>) -> CaseResult {
    // SAFETY: plain hypercall.
    let main = unsafe { sys::rumpuser_curlwp() };
    ensure!(!main.is_null(), "the suite's main thread has no curlwp");
    let other = TestLwp::new();
    let l = other.as_lwp();
    // SAFETY: `other` lives to the end of this function, past DESTROY, and
    // `main` is the suite's live main lwp. No other hypercall runs while
    // the main lwp is cleared.
    let (during, cleared) = unsafe {
        sys::rumpuser_curlwpop(RUMPUSER_LWP_CREATE, l);
        sys::rumpuser_curlwpop(RUMPUSER_LWP_CLEAR, main);
        sys::rumpuser_curlwpop(RUMPUSER_LWP_SET, l);
        let during = sys::rumpuser_curlwp();
        sys::rumpuser_curlwpop(RUMPUSER_LWP_CLEAR, l);
        let cleared = sys::rumpuser_curlwp();
        sys::rumpuser_curlwpop(RUMPUSER_LWP_SET, main);
        sys::rumpuser_curlwpop(RUMPUSER_LWP_DESTROY, l);
        (during, cleared)
    };
    ensure!(during == l, "curlwp after SET is {during:p}, want {l:p}");
    ensure!(
        cleared.is_null(),
        "curlwp after CLEAR is {cleared:p}, want null"
    );
    // SAFETY: plain hypercall.
    let back = unsafe { sys::rumpuser_curlwp() };
    ensure!(
        back == main,
        "curlwp after re-SET is {back:p}, want {main:p}"
    );
    Ok(())
}
