//! The `extern "C"` edge of the core hypercalls: initialisation, memory,
//! threads and curlwp, mutexes, rwlocks, condition variables, clocks,
//! parameters, randomness, console, exit and the small ones. Each function
//! checks and converts its raw arguments and calls the safe parts.
//!
//! `rumpuser_dprintf` is C-variadic, which stable Rust cannot define. It is
//! defined here with the format and five more integer parameters: under
//! the x86-64 System V convention a variadic caller passes its first
//! integer-class arguments in exactly those registers, so conversions of
//! the first five integer or pointer arguments are formatted; any after
//! them (on the stack) print as `<?>`, and floating point is not
//! formatted.

use super::sync::{Cv, CvWait, Mutex, RwLock};
use super::{blk, cmdline, hostname, hyp, mem, random, threads, virt};
use crate::{params, printf};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_long, c_void, CStr};
use core::ptr;
use rumpuser_abi::errno::{EBUSY, EINVAL, ENOSYS, ETIMEDOUT};
use rumpuser_abi::sig::{RumpComploadFn, RumpModinitFn, RumpSymloadFn, RumpuserThreadFn};
use rumpuser_abi::{
    Lwp, RumpuserCv, RumpuserHyperup, RumpuserMtx, RumpuserRw, RUMPUSER_CLOCK_ABSMONO,
    RUMPUSER_CLOCK_RELWALL, RUMPUSER_LWP_CLEAR, RUMPUSER_LWP_SET, RUMPUSER_RW_WRITER,
    RUMPUSER_VERSION,
};
use xen_platform::sched::{self, IrqLock, JoinHandle};
use xen_platform::{console, println, start, time};

/// `rumpuser_exit`'s value for a kernel panic (`RUMPUSER_PANIC`).
const RUMPUSER_PANIC: c_int = -1;
/// `rumpuser_kill`'s pid for the calling process (`RUMPUSER_PID_SELF`).
const PID_SELF: i64 = -1;

const NS_PER_SEC: u64 = 1_000_000_000;

/// A C string argument as text; `None` for null or invalid UTF-8.
///
/// # Safety
/// `p` is null or a NUL-terminated string that outlives `'a`.
unsafe fn text<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated (the caller's contract).
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

/// Stores `v` through an out pointer if it is not null.
///
/// # Safety
/// `p` is null or valid for a write of `T`.
unsafe fn put<T>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY: non-null and writable (the caller's contract).
        unsafe { p.write(v) };
    }
}

/// Keeps every hypercall in the image: the guest calls `init`, which
/// calls this, so the linker sees a reference to each symbol even if the
/// kernel linked in uses only some.
pub(super) fn keep_symbols() {
    let table: [*const (); 57] = [
        rumpuser_init as *const (),
        rumpuser_malloc as *const (),
        rumpuser_free as *const (),
        rumpuser_anonmmap as *const (),
        rumpuser_unmap as *const (),
        blk::edge::rumpuser_open as *const (),
        blk::edge::rumpuser_close as *const (),
        blk::edge::rumpuser_getfileinfo as *const (),
        blk::edge::rumpuser_bio as *const (),
        blk::edge::rumpuser_iovread as *const (),
        blk::edge::rumpuser_iovwrite as *const (),
        blk::edge::rumpuser_syncfd as *const (),
        rumpuser_clock_gettime as *const (),
        rumpuser_clock_sleep as *const (),
        rumpuser_getparam as *const (),
        rumpuser_seterrno as *const (),
        rumpuser_geterrno as *const (),
        rumpuser_kill as *const (),
        rumpuser_exit as *const (),
        rumpuser_putchar as *const (),
        rumpuser_dprintf as *const (),
        rumpuser_getrandom as *const (),
        rumpuser_dl_bootstrap as *const (),
        rumpuser_daemonize_begin as *const (),
        rumpuser_daemonize_done as *const (),
        rumpuser_thread_create as *const (),
        rumpuser_thread_exit as *const (),
        rumpuser_thread_join as *const (),
        rumpuser_curlwpop as *const (),
        rumpuser_curlwp as *const (),
        rumpuser_mutex_init as *const (),
        rumpuser_mutex_enter as *const (),
        rumpuser_mutex_enter_nowrap as *const (),
        rumpuser_mutex_tryenter as *const (),
        rumpuser_mutex_exit as *const (),
        rumpuser_mutex_destroy as *const (),
        rumpuser_mutex_owner as *const (),
        rumpuser_rw_init as *const (),
        rumpuser_rw_enter as *const (),
        rumpuser_rw_tryenter as *const (),
        rumpuser_rw_tryupgrade as *const (),
        rumpuser_rw_downgrade as *const (),
        rumpuser_rw_exit as *const (),
        rumpuser_rw_destroy as *const (),
        rumpuser_rw_held as *const (),
        rumpuser_cv_init as *const (),
        rumpuser_cv_destroy as *const (),
        rumpuser_cv_wait as *const (),
        rumpuser_cv_wait_nowrap as *const (),
        rumpuser_cv_timedwait as *const (),
        rumpuser_cv_signal as *const (),
        rumpuser_cv_broadcast as *const (),
        rumpuser_cv_has_waiters as *const (),
        virt::edge::rumpcomp_virt_create as *const (),
        virt::edge::rumpcomp_virt_send as *const (),
        virt::edge::rumpcomp_virt_dying as *const (),
        virt::edge::rumpcomp_virt_destroy as *const (),
    ];
    core::hint::black_box(&table);
}

// ---- initialisation -------------------------------------------------

/// `rumpuser_init`: accepts version 17 only and keeps the upcalls.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_init(version: c_int, hyp: *const RumpuserHyperup) -> c_int {
    if version != RUMPUSER_VERSION || hyp.is_null() {
        return EINVAL;
    }
    // SAFETY: non-null, and the kernel passes a valid table (copied here).
    let table = unsafe { hyp.read() };
    hyp::set(table);
    0
}

// ---- memory ---------------------------------------------------------

/// `rumpuser_malloc`: `len` bytes aligned to `alignment` (0: any).
#[no_mangle]
pub unsafe extern "C" fn rumpuser_malloc(
    len: usize,
    alignment: c_int,
    memp: *mut *mut c_void,
) -> c_int {
    let Ok(align) = usize::try_from(alignment) else {
        return EINVAL;
    };
    if memp.is_null() {
        return EINVAL;
    }
    match mem::alloc(len, align, false) {
        Ok(p) => {
            // SAFETY: `memp` is non-null and the caller's out pointer.
            unsafe { memp.write(p.cast()) };
            0
        }
        Err(e) => e,
    }
}

/// `rumpuser_free`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_free(mem: *mut c_void, len: usize) {
    mem::free(mem.cast(), len);
}

/// `rumpuser_anonmmap`: zeroed, page-aligned (or `2^alignbit`) memory.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_anonmmap(
    _pref: *mut c_void,
    len: usize,
    alignbit: c_int,
    _exec: c_int,
    memp: *mut *mut c_void,
) -> c_int {
    if memp.is_null() {
        return EINVAL;
    }
    match mem::map(len, alignbit) {
        Ok(p) => {
            // SAFETY: `memp` is non-null and the caller's out pointer.
            unsafe { memp.write(p.cast()) };
            0
        }
        Err(e) => e,
    }
}

/// `rumpuser_unmap`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_unmap(addr: *mut c_void, len: usize) {
    mem::unmap(addr.cast(), len);
}

// ---- threads ---------------------------------------------------------

/// A thread body and its argument, moved to the new thread.
struct Start {
    f: RumpuserThreadFn,
    arg: *mut c_void,
}

// SAFETY: the kernel hands the argument to the thread it creates; the
// pointer is only used there.
unsafe impl Send for Start {}

impl Start {
    fn run(self) {
        // SAFETY: the kernel's thread body with the argument it gave.
        unsafe { (self.f)(self.arg) };
    }
}

/// `rumpuser_thread_create`: a platform thread; with `mustjoin`, `*cookie`
/// is what `rumpuser_thread_join` takes.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_thread_create(
    f: Option<RumpuserThreadFn>,
    arg: *mut c_void,
    name: *const c_char,
    mustjoin: c_int,
    _prio: c_int,
    _cpuidx: c_int,
    cookie: *mut *mut c_void,
) -> c_int {
    let Some(f) = f else {
        return EINVAL;
    };
    if mustjoin != 0 && cookie.is_null() {
        return EINVAL;
    }
    // SAFETY: the kernel passes null or a NUL-terminated name.
    let name = unsafe { text(name) }.unwrap_or("rumpthread");
    let start = Start { f, arg };
    match threads::create(name, mustjoin != 0, move || start.run()) {
        Ok(Some(handle)) => {
            let c = Box::into_raw(Box::new(handle));
            // SAFETY: `cookie` is non-null (checked) and the caller's.
            unsafe { cookie.write(c.cast()) };
            0
        }
        Ok(None) => 0,
        Err(e) => e,
    }
}

/// `rumpuser_thread_exit`: ends the calling thread.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_thread_exit() -> ! {
    sched::exit()
}

/// `rumpuser_thread_join`: waits for a `mustjoin` thread (without the
/// rump CPU).
#[no_mangle]
pub unsafe extern "C" fn rumpuser_thread_join(cookie: *mut c_void) -> c_int {
    if cookie.is_null() {
        return EINVAL;
    }
    // SAFETY: a cookie from `rumpuser_thread_create` (a boxed handle),
    // joined once, as the ABI says.
    let handle = unsafe { Box::from_raw(cookie.cast::<JoinHandle>()) };
    threads::join(handle);
    0
}

/// `rumpuser_curlwpop`: SET and CLEAR change this thread's lwp; CREATE
/// and DESTROY need nothing here.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_curlwpop(op: c_int, l: *mut Lwp) {
    match op {
        RUMPUSER_LWP_SET => threads::set_curlwp(l),
        RUMPUSER_LWP_CLEAR => threads::set_curlwp(ptr::null_mut()),
        _ => {}
    }
}

/// `rumpuser_curlwp`: this thread's lwp (one load of a thread slot).
#[no_mangle]
pub unsafe extern "C" fn rumpuser_curlwp() -> *mut Lwp {
    threads::curlwp()
}

/// `rumpuser_seterrno`: this thread's errno.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_seterrno(error: c_int) {
    threads::set_errno(error);
}

/// `int rumpuser_geterrno(void)`: the errno this thread's last
/// `rumpuser_seterrno` stored, for clients (the platform's equivalent of
/// the host libc `errno` that NetBSD's clients read).
#[no_mangle]
pub extern "C" fn rumpuser_geterrno() -> c_int {
    threads::errno()
}

// ---- mutexes ----------------------------------------------------------

/// The mutex behind a handle.
///
/// # Safety
/// `p` came from `rumpuser_mutex_init` and is not destroyed.
unsafe fn mtx<'a>(p: *mut RumpuserMtx) -> &'a Mutex {
    // SAFETY: handles are boxed `Mutex`es (the caller's contract).
    unsafe { &*p.cast::<Mutex>() }
}

/// `rumpuser_mutex_init`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_init(mtxp: *mut *mut RumpuserMtx, flags: c_int) {
    let m = Box::into_raw(Box::new(Mutex::new(flags)));
    // SAFETY: the caller's out pointer.
    unsafe { put(mtxp, m.cast()) };
}

/// `rumpuser_mutex_enter`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_enter(m: *mut RumpuserMtx) {
    // SAFETY: a live handle (ABI contract).
    unsafe { mtx(m) }.enter();
}

/// `rumpuser_mutex_enter_nowrap`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_enter_nowrap(m: *mut RumpuserMtx) {
    // SAFETY: a live handle (ABI contract).
    unsafe { mtx(m) }.enter_nowrap();
}

/// `rumpuser_mutex_tryenter`: 0, or EBUSY.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_tryenter(m: *mut RumpuserMtx) -> c_int {
    // SAFETY: a live handle (ABI contract).
    if unsafe { mtx(m) }.try_enter() {
        0
    } else {
        EBUSY
    }
}

/// `rumpuser_mutex_exit`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_exit(m: *mut RumpuserMtx) {
    // SAFETY: a live handle (ABI contract).
    unsafe { mtx(m) }.exit();
}

/// `rumpuser_mutex_destroy`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_destroy(m: *mut RumpuserMtx) {
    if !m.is_null() {
        // SAFETY: a handle from `rumpuser_mutex_init`, destroyed once.
        drop(unsafe { Box::from_raw(m.cast::<Mutex>()) });
    }
}

/// `rumpuser_mutex_owner`: the holding lwp, or null.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_mutex_owner(m: *mut RumpuserMtx, lp: *mut *mut Lwp) {
    // SAFETY: a live handle and the caller's out pointer.
    unsafe { put(lp, mtx(m).owner()) };
}

// ---- rwlocks ------------------------------------------------------------

/// The lock behind a handle.
///
/// # Safety
/// `p` came from `rumpuser_rw_init` and is not destroyed.
unsafe fn rwl<'a>(p: *mut RumpuserRw) -> &'a RwLock {
    // SAFETY: handles are boxed `RwLock`s (the caller's contract).
    unsafe { &*p.cast::<RwLock>() }
}

/// `rumpuser_rw_init`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_init(rwp: *mut *mut RumpuserRw) {
    let l = Box::into_raw(Box::new(RwLock::new()));
    // SAFETY: the caller's out pointer.
    unsafe { put(rwp, l.cast()) };
}

/// `rumpuser_rw_enter`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_enter(kind: c_int, rw: *mut RumpuserRw) {
    // SAFETY: a live handle (ABI contract).
    unsafe { rwl(rw) }.enter(kind == RUMPUSER_RW_WRITER);
}

/// `rumpuser_rw_tryenter`: 0, or EBUSY.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_tryenter(kind: c_int, rw: *mut RumpuserRw) -> c_int {
    // SAFETY: a live handle (ABI contract).
    if unsafe { rwl(rw) }.try_enter(kind == RUMPUSER_RW_WRITER) {
        0
    } else {
        EBUSY
    }
}

/// `rumpuser_rw_tryupgrade`: 0, or EBUSY.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_tryupgrade(rw: *mut RumpuserRw) -> c_int {
    // SAFETY: a live handle (ABI contract).
    if unsafe { rwl(rw) }.try_upgrade() {
        0
    } else {
        EBUSY
    }
}

/// `rumpuser_rw_downgrade`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_downgrade(rw: *mut RumpuserRw) {
    // SAFETY: a live handle (ABI contract).
    unsafe { rwl(rw) }.downgrade();
}

/// `rumpuser_rw_exit`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_exit(rw: *mut RumpuserRw) {
    // SAFETY: a live handle (ABI contract).
    unsafe { rwl(rw) }.exit();
}

/// `rumpuser_rw_destroy`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_destroy(rw: *mut RumpuserRw) {
    if !rw.is_null() {
        // SAFETY: a handle from `rumpuser_rw_init`, destroyed once.
        drop(unsafe { Box::from_raw(rw.cast::<RwLock>()) });
    }
}

/// `rumpuser_rw_held`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_rw_held(kind: c_int, rw: *mut RumpuserRw, held: *mut c_int) {
    // SAFETY: a live handle and the caller's out pointer.
    unsafe { put(held, c_int::from(rwl(rw).held(kind == RUMPUSER_RW_WRITER))) };
}

// ---- condition variables -------------------------------------------------

/// The condition variable behind a handle.
///
/// # Safety
/// `p` came from `rumpuser_cv_init` and is not destroyed.
unsafe fn cvar<'a>(p: *mut RumpuserCv) -> &'a Cv {
    // SAFETY: handles are boxed `Cv`s (the caller's contract).
    unsafe { &*p.cast::<Cv>() }
}

/// `rumpuser_cv_init`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_init(cvp: *mut *mut RumpuserCv) {
    let c = Box::into_raw(Box::new(Cv::new()));
    // SAFETY: the caller's out pointer.
    unsafe { put(cvp, c.cast()) };
}

/// `rumpuser_cv_destroy`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_destroy(cv: *mut RumpuserCv) {
    if !cv.is_null() {
        // SAFETY: a handle from `rumpuser_cv_init`, destroyed once.
        drop(unsafe { Box::from_raw(cv.cast::<Cv>()) });
    }
}

/// `rumpuser_cv_wait`: gives the rump CPU back while waiting.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_wait(cv: *mut RumpuserCv, m: *mut RumpuserMtx) {
    // SAFETY: live handles (ABI contract).
    let (cv, m) = unsafe { (cvar(cv), mtx(m)) };
    cv.wait(m, None, true);
}

/// `rumpuser_cv_wait_nowrap`: waits holding the rump CPU.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_wait_nowrap(cv: *mut RumpuserCv, m: *mut RumpuserMtx) {
    // SAFETY: live handles (ABI contract).
    let (cv, m) = unsafe { (cvar(cv), mtx(m)) };
    cv.wait(m, None, false);
}

/// `rumpuser_cv_timedwait`: a relative timeout; 0 or ETIMEDOUT.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_timedwait(
    cv: *mut RumpuserCv,
    m: *mut RumpuserMtx,
    sec: i64,
    nsec: i64,
) -> c_int {
    // SAFETY: live handles (ABI contract).
    let (cv, m) = unsafe { (cvar(cv), mtx(m)) };
    let deadline = time::monotonic_ns().saturating_add(duration_ns(sec, nsec));
    match cv.wait(m, Some(deadline), true) {
        CvWait::Signalled => 0,
        CvWait::TimedOut => ETIMEDOUT,
    }
}

/// `rumpuser_cv_signal`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_signal(cv: *mut RumpuserCv) {
    // SAFETY: a live handle (ABI contract).
    unsafe { cvar(cv) }.signal();
}

/// `rumpuser_cv_broadcast`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_broadcast(cv: *mut RumpuserCv) {
    // SAFETY: a live handle (ABI contract).
    unsafe { cvar(cv) }.broadcast();
}

/// `rumpuser_cv_has_waiters`: how many threads wait.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_cv_has_waiters(cv: *mut RumpuserCv, n: *mut c_int) {
    // SAFETY: a live handle and the caller's out pointer.
    unsafe { put(n, cvar(cv).waiters().min(c_int::MAX as usize) as c_int) };
}

// ---- clocks -------------------------------------------------------------

/// Nanoseconds of a (sec, nsec) interval; negative parts count as zero.
fn duration_ns(sec: i64, nsec: i64) -> u64 {
    let sec = u64::try_from(sec).unwrap_or(0);
    let nsec = u64::try_from(nsec).unwrap_or(0);
    sec.saturating_mul(NS_PER_SEC).saturating_add(nsec)
}

/// `rumpuser_clock_gettime`: RELWALL is the wall clock (shared info),
/// ABSMONO Xen's system time.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_clock_gettime(
    clock: c_int,
    sec: *mut i64,
    nsec: *mut c_long,
) -> c_int {
    let (s, ns) = match clock {
        RUMPUSER_CLOCK_RELWALL => {
            let (s, ns) = time::wall_clock();
            (s, u64::from(ns))
        }
        RUMPUSER_CLOCK_ABSMONO => {
            let t = time::monotonic_ns();
            (t / NS_PER_SEC, t % NS_PER_SEC)
        }
        _ => return EINVAL,
    };
    // SAFETY: the caller's out pointers.
    unsafe {
        put(sec, s as i64);
        put(nsec, ns as c_long);
    }
    0
}

/// `rumpuser_clock_sleep`: RELWALL sleeps an interval, ABSMONO until a
/// monotonic deadline; without the rump CPU.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_clock_sleep(clock: c_int, sec: i64, nsec: c_long) -> c_int {
    let deadline = match clock {
        RUMPUSER_CLOCK_RELWALL => time::monotonic_ns().saturating_add(duration_ns(sec, nsec)),
        RUMPUSER_CLOCK_ABSMONO => duration_ns(sec, nsec),
        _ => return EINVAL,
    };
    hyp::blocking(|| sched::sleep_until(deadline));
    0
}

// ---- parameters, randomness ------------------------------------------------

/// `rumpuser_getparam`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_getparam(
    name: *const c_char,
    buf: *mut c_void,
    buflen: usize,
) -> c_int {
    // SAFETY: the kernel passes a NUL-terminated name.
    let Some(name) = (unsafe { text(name) }) else {
        return EINVAL;
    };
    if buf.is_null() && buflen > 0 {
        return EINVAL;
    }
    let out: &mut [u8] = if buflen == 0 {
        &mut []
    } else {
        // SAFETY: `buf` is non-null and valid for `buflen` bytes (ABI).
        unsafe { core::slice::from_raw_parts_mut(buf.cast(), buflen) }
    };
    let mem = xen_platform::mm::stats();
    let facts = params::Facts {
        hostname: &hostname(),
        cmdline: cmdline(),
        mem_bytes: mem.free_bytes + mem.used_bytes,
    };
    params::getparam(name, &facts, out)
}

/// `rumpuser_getrandom`: always the whole buffer.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_getrandom(
    buf: *mut c_void,
    len: usize,
    flags: c_int,
    ret: *mut usize,
) -> c_int {
    if len > 0 {
        if buf.is_null() {
            return EINVAL;
        }
        // SAFETY: non-null and valid for `len` bytes (ABI).
        let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        random::fill(out, flags);
    }
    // SAFETY: the caller's out pointer.
    unsafe { put(ret, len) };
    0
}

// ---- console, exit, misc ------------------------------------------------------

/// `rumpuser_putchar` output waiting for its newline.
static LINE: IrqLock<Vec<u8>> = IrqLock::new(Vec::new());
/// A partial line is written out at this length.
const LINE_MAX: usize = 256;

fn flush_line() {
    let line = core::mem::take(&mut *LINE.lock());
    if !line.is_empty() {
        console::write_bytes(&line);
    }
}

/// `rumpuser_putchar`: to the console, a line at a time.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_putchar(c: c_int) {
    let full = {
        let mut l = LINE.lock();
        l.push(c as u8);
        c as u8 == b'\n' || l.len() >= LINE_MAX
    };
    if full {
        flush_line();
    }
}

/// The variadic arguments of `rumpuser_dprintf` that arrived in registers.
struct RegisterArgs {
    regs: [u64; 5],
    used: usize,
}

impl printf::Args for RegisterArgs {
    fn next(&mut self) -> Option<u64> {
        let v = self.regs.get(self.used).copied();
        self.used += 1;
        v
    }

    fn c_str(&mut self, ptr: u64, max: usize) -> Vec<u8> {
        let p = ptr as *const u8;
        let mut out = Vec::new();
        while out.len() < max {
            // SAFETY: the format says this argument is a string: a
            // NUL-terminated C string (the caller's contract, as for C's
            // printf); reading stops at its NUL.
            let b = unsafe { p.add(out.len()).read() };
            if b == 0 {
                break;
            }
            out.push(b);
        }
        out
    }
}

/// `rumpuser_dprintf(fmt, ...)`: formats with the first five integer or
/// pointer arguments (see the module docs) and writes to the console.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_dprintf(
    fmt: *const c_char,
    a1: u64,
    a2: u64,
    a3: u64,
    a4: u64,
    a5: u64,
) {
    if fmt.is_null() {
        return;
    }
    // SAFETY: the format is a NUL-terminated string (ABI).
    let fmt = unsafe { CStr::from_ptr(fmt) }.to_bytes();
    let mut args = RegisterArgs {
        regs: [a1, a2, a3, a4, a5],
        used: 0,
    };
    let mut out = Vec::new();
    printf::format(fmt, &mut args, &mut |b| out.extend_from_slice(b));
    flush_line();
    console::write_bytes(&out);
}

/// `rumpuser_exit`: -1 (`RUMPUSER_PANIC`) crashes the domain with a
/// message; any other value powers it off.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_exit(value: c_int) -> ! {
    flush_line();
    if value == RUMPUSER_PANIC {
        println!("rumpuser: the rump kernel panicked (rumpuser_exit(RUMPUSER_PANIC)): crashing the domain");
        start::crash()
    }
    println!("rumpuser: rumpuser_exit({value}): powering off");
    start::poweroff()
}

/// `rumpuser_kill`: signal 0 to ourselves checks we exist; any other
/// signal to ourselves ends the domain as a crash (there is no signal
/// delivery, and the kernel sends itself SIGABRT-like signals to die);
/// other processes do not exist here.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_kill(pid: i64, sig: c_int) -> c_int {
    if sig < 0 {
        return EINVAL;
    }
    if pid != PID_SELF {
        return ENOSYS;
    }
    if sig == 0 {
        return 0;
    }
    flush_line();
    println!("rumpuser: rumpuser_kill(self, signal {sig}): crashing the domain");
    start::crash()
}

/// `rumpuser_dl_bootstrap`: nothing to load in a static image.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_dl_bootstrap(
    _modinit: Option<RumpModinitFn>,
    _symload: Option<RumpSymloadFn>,
    _compload: Option<RumpComploadFn>,
) {
}

/// `rumpuser_daemonize_begin`: a DomU has no terminal to leave.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_daemonize_begin() -> c_int {
    0
}

/// `rumpuser_daemonize_done`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_daemonize_done(_error: c_int) -> c_int {
    0
}
