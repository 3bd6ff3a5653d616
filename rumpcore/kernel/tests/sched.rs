//! The virtual CPU behind the upcall table, on the hosted platform: one
//! holder at a time across many threads, a temporary lwp only while
//! scheduled, and the CPU given up while a kernel thread sleeps on a
//! condition variable (the hypercall rule). One kernel per process.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use rumpcore_kernel::klock::{KCond, KMutex};
use rumpcore_kernel::sched::{hyp_schedule, hyp_unschedule};
use rumpuser_abi::Lwp;

extern crate rumpuser_hosted;

extern "C" {
    fn rump_init() -> c_int;
    fn rumpuser_curlwp() -> *mut Lwp;
}

fn curlwp() -> *mut Lwp {
    // SAFETY: a plain hypercall.
    unsafe { rumpuser_curlwp() }
}

#[test]
fn virtual_cpu() {
    // SAFETY: a plain client call.
    assert_eq!(unsafe { rump_init() }, 0);

    // Mutual exclusion, and implicit lwps come and go.
    let inside = Arc::new(AtomicBool::new(false));
    let entries = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (inside, entries) = (inside.clone(), entries.clone());
            std::thread::spawn(move || {
                for _ in 0..500 {
                    assert!(curlwp().is_null());
                    hyp_schedule();
                    assert!(!curlwp().is_null());
                    assert!(!inside.swap(true, Ordering::SeqCst), "two CPU holders");
                    entries.fetch_add(1, Ordering::Relaxed);
                    std::hint::spin_loop();
                    inside.store(false, Ordering::SeqCst);
                    hyp_unschedule();
                    assert!(curlwp().is_null());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(entries.load(Ordering::Relaxed), 8 * 500);

    // A thread sleeping on a cv (CPU held before) lets another take the
    // CPU and wake it; a watchdog turns a hang into a failure.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        sleep_and_wake();
        let _ = tx.send(());
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("the CPU was not released during cv_wait");
}

/// The sleeper takes the CPU, marks itself waiting (1) and sleeps on the
/// cv until woken (2). The waker can only see 1 once the sleeper is inside
/// `cv_wait` (the mark and the wait happen under the mutex), and it sees
/// it holding the CPU: so the sleeper gave the CPU up.
fn sleep_and_wake() {
    let shared = Arc::new((KMutex::new(0u32), KCond::new()));
    let s2 = shared.clone();
    let sleeper = std::thread::spawn(move || {
        hyp_schedule();
        let (m, cv) = &*s2;
        let mut g = m.lock();
        *g = 1;
        while *g != 2 {
            g.wait(cv);
        }
        drop(g);
        hyp_unschedule();
    });
    let (m, cv) = &*shared;
    loop {
        hyp_schedule();
        let mut g = m.lock();
        let seen = *g == 1;
        if seen {
            *g = 2;
            cv.broadcast();
        }
        drop(g);
        hyp_unschedule();
        if seen {
            break;
        }
        std::thread::yield_now();
    }
    sleeper.join().unwrap();
}
