//! The cost of the hypercalls a rump kernel calls most often, called
//! through their C symbols as a kernel would: `rumpuser_curlwp` and an
//! uncontended KMUTEX `rumpuser_mutex_enter` + `rumpuser_mutex_exit`.
//! Timed with the PV clock over the whole loop (and in TSC ticks).

use core::arch::x86_64::_rdtsc;
use core::hint::black_box;
use rumpuser_abi::{Lwp, RumpuserMtx, RUMPUSER_MTX_KMUTEX};
use xen_platform::time;

unsafe extern "C" {
    fn rumpuser_dprintf(fmt: *const core::ffi::c_char, ...);
    fn rumpuser_curlwp() -> *mut Lwp;
    fn rumpuser_mutex_init(mtx: *mut *mut RumpuserMtx, flags: i32);
    fn rumpuser_mutex_enter(mtx: *mut RumpuserMtx);
    fn rumpuser_mutex_exit(mtx: *mut RumpuserMtx);
    fn rumpuser_mutex_destroy(mtx: *mut RumpuserMtx);
}

/// Calls `rumpuser_dprintf` as C code would, with integer, string and
/// hex conversions (the Xen implementation formats the first five
/// integer-class arguments).
pub fn dprintf_conversions() {
    // SAFETY: a NUL-terminated format whose conversions match the
    // arguments (int, int, string, unsigned int, unsigned long).
    unsafe {
        rumpuser_dprintf(
            c"rumpcheck: dprintf %d %d %s %#x %lu\n".as_ptr(),
            42i32,
            -7i32,
            c"ok".as_ptr(),
            255u32,
            u64::MAX,
        )
    };
}

/// Per-operation costs.
pub struct Figures {
    /// `rumpuser_curlwp`, ns.
    pub curlwp_ns: f64,
    /// Mutex enter + exit, ns.
    pub mutex_ns: f64,
    /// `rumpuser_curlwp`, TSC ticks.
    pub curlwp_ticks: f64,
    /// Mutex enter + exit, TSC ticks.
    pub mutex_ticks: f64,
}

fn tsc() -> u64 {
    // SAFETY: RDTSC only reads the time-stamp counter.
    unsafe { _rdtsc() }
}

/// Times `f` run `n` times: (ns, ticks) per run.
fn time_loop(n: u64, mut f: impl FnMut()) -> (f64, f64) {
    let (t0, c0) = (time::monotonic_ns(), tsc());
    for _ in 0..n {
        f();
    }
    let (t1, c1) = (time::monotonic_ns(), tsc());
    (
        (t1 - t0) as f64 / n as f64,
        c1.wrapping_sub(c0) as f64 / n as f64,
    )
}

/// Runs both benchmarks `n` times each.
pub fn run(n: u64) -> Figures {
    let (curlwp_ns, curlwp_ticks) = time_loop(n, || {
        // SAFETY: a plain hypercall with no arguments.
        black_box(unsafe { rumpuser_curlwp() });
    });
    let mut m: *mut RumpuserMtx = core::ptr::null_mut();
    // SAFETY: a valid out pointer.
    unsafe { rumpuser_mutex_init(&mut m, RUMPUSER_MTX_KMUTEX) };
    let m = black_box(m);
    let (mutex_ns, mutex_ticks) = time_loop(n, || {
        // SAFETY: a live mutex, entered and left by this thread only.
        unsafe {
            rumpuser_mutex_enter(m);
            rumpuser_mutex_exit(m);
        }
    });
    // SAFETY: free, destroyed once.
    unsafe { rumpuser_mutex_destroy(m) };
    Figures {
        curlwp_ns,
        mutex_ns,
        curlwp_ticks,
        mutex_ticks,
    }
}
