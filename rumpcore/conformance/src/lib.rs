//! rumpuser-conformance: one suite of the rumpuser v17 hypercall contracts
//! (and the `rumpcomp_virt_*` network calls) that runs against whichever
//! implementation is linked into the binary: hosted on Linux in
//! `cargo test`, or inside a Xen guest.
//!
//! The suite plays the kernel: it passes its own `rumpuser_hyperup` table
//! to `rumpuser_init`, with a virtual-CPU model ([`model`]) that checks the
//! scheduling rule (blocking hypercalls release the CPU through
//! `backend_unschedule` and take it back before returning; `_nowrap` calls
//! and SPIN mutexes never do; upcalls into the kernel come from threads that
//! hold a CPU).
//!
//! ```ignore
//! let cfg = Config { disk_path: Some("xvda"), disk_bytes: 64 << 20, ..Config::default() };
//! let (passed, failed) = rumpuser_conformance::run(&cfg, None, &mut |name, r| log(name, r));
//! ```
//!
//! The suite's state (the upcall table, the lwps) is global: run one suite
//! at a time in a process.
#![no_std]

extern crate alloc;

mod cases;
pub mod model;
mod spin;
mod sys;
mod util;

use alloc::format;
use alloc::string::String;
use core::sync::atomic::Ordering;

use rumpuser_abi::{
    RUMPUSER_LWP_CLEAR, RUMPUSER_LWP_CREATE, RUMPUSER_LWP_DESTROY, RUMPUSER_LWP_SET,
    RUMPUSER_VERSION,
};

pub use cases::{Case, CASES};

/// What the suite may use on this platform.
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    /// A block device or file the file/bio cases may overwrite (hosted: a
    /// temporary file; Xen: e.g. `xvda`). `None` skips those cases.
    pub disk_path: Option<&'a str>,
    /// Its size in bytes (at least 1 MiB); 0 = do not check the size.
    pub disk_bytes: u64,
    /// A `virt` unit for `rumpcomp_virt_create` (e.g. `"0"`). `None` skips
    /// the virt cases (they also need the `virt` feature).
    pub virt_unit: Option<&'a str>,
    /// Whether the other end of the unit echoes every frame back.
    pub expect_echo: bool,
    /// Threads in the contention cases.
    pub threads: usize,
    /// Iterations per thread in the contention cases.
    pub iterations: usize,
}

impl Default for Config<'_> {
    fn default() -> Self {
        Self {
            disk_path: None,
            disk_bytes: 0,
            virt_unit: None,
            expect_echo: false,
            threads: 4,
            iterations: 2000,
        }
    }
}

/// Run every case whose name contains `filter` (all when `None`), calling
/// `report` after each; returns (passed, failed). Cases that do not apply
/// to `config` (no disk, no virt unit) are not run and not counted.
///
/// Calls `rumpuser_init(17, table)` first (a failure there is reported as
/// case `init` and stops the run); the calling thread becomes the suite's
/// main lwp holding a rump CPU.
pub fn run(
    config: &Config<'_>,
    filter: Option<&str>,
    report: &mut dyn FnMut(&str, &Result<(), String>),
) -> (usize, usize) {
    // SAFETY: the table is a static that outlives the platform's use.
    let rv = unsafe { sys::rumpuser_init(RUMPUSER_VERSION, &model::HYPERUP) };
    if rv != 0 {
        report("init", &Err(format!("rumpuser_init(17) failed: {rv}")));
        return (0, 1);
    }
    let main = model::TestLwp::new();
    // SAFETY: `main` lives until after DESTROY below.
    unsafe {
        sys::rumpuser_curlwpop(RUMPUSER_LWP_CREATE, main.as_lwp());
        sys::rumpuser_curlwpop(RUMPUSER_LWP_SET, main.as_lwp());
    }
    model::schedule();
    let (mut passed, mut failed) = (0, 0);
    for case in CASES {
        if filter.is_some_and(|f| !case.name.contains(f)) || !(case.applies)(config) {
            continue;
        }
        model::reset_violations();
        let mut r = (case.run)(config);
        if r.is_ok() {
            if let Some((n, first)) = model::violations() {
                r = Err(format!("{n} scheduling-rule violation(s), first: {first}"));
            } else if !main.cpu.load(Ordering::SeqCst) {
                r = Err("the main thread lost its rump CPU".into());
                model::schedule();
            } else if model::current().map(|l| l.id) != Some(main.id) {
                r = Err("the main thread's curlwp changed".into());
            }
        }
        if r.is_ok() {
            passed += 1;
        } else {
            failed += 1;
        }
        report(case.name, &r);
        // Start the next case from a clean model whatever happened.
        // SAFETY: re-SET our own live lwp.
        unsafe { sys::rumpuser_curlwpop(RUMPUSER_LWP_SET, main.as_lwp()) };
        main.cpu.store(true, Ordering::SeqCst);
        main.nowrap.store(false, Ordering::SeqCst);
    }
    model::unschedule();
    // SAFETY: as above; nothing uses `main` after DESTROY.
    unsafe {
        sys::rumpuser_curlwpop(RUMPUSER_LWP_CLEAR, main.as_lwp());
        sys::rumpuser_curlwpop(RUMPUSER_LWP_DESTROY, main.as_lwp());
    }
    (passed, failed)
}

/// The names of every case, in run order.
pub fn case_names() -> impl Iterator<Item = &'static str> {
    CASES.iter().map(|c| c.name)
}
