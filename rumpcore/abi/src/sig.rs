//! Function-pointer types of every hypercall, named after the symbol
//! (`rumpuser_bio_done` → [`RumpuserBioDone`]). Implementations export
//! functions of exactly these types; link checks and callers can coerce
//! to them to pin the signatures.

use core::ffi::{c_char, c_int, c_long, c_void};

use crate::hyperup::RumpuserHyperup;
use crate::types::{
    Iovec, Lwp, RumpuserCv, RumpuserIovec, RumpuserMtx, RumpuserRw, VirtifSc, VirtifUser,
};

/// `int rumpuser_init(int version, const struct rumpuser_hyperup *hyp)`.
pub type RumpuserInit = unsafe extern "C" fn(c_int, *const RumpuserHyperup) -> c_int;

/// `int rumpuser_malloc(size_t len, int alignment, void **memp)`.
pub type RumpuserMalloc = unsafe extern "C" fn(usize, c_int, *mut *mut c_void) -> c_int;
/// `void rumpuser_free(void *mem, size_t len)`.
pub type RumpuserFree = unsafe extern "C" fn(*mut c_void, usize);
/// `int rumpuser_anonmmap(void *pref, size_t len, int alignbit, int exec, void **memp)`.
pub type RumpuserAnonmmap =
    unsafe extern "C" fn(*mut c_void, usize, c_int, c_int, *mut *mut c_void) -> c_int;
/// `void rumpuser_unmap(void *, size_t)`.
pub type RumpuserUnmap = unsafe extern "C" fn(*mut c_void, usize);

/// `int rumpuser_open(const char *path, int mode, int *fdp)`.
pub type RumpuserOpen = unsafe extern "C" fn(*const c_char, c_int, *mut c_int) -> c_int;
/// `int rumpuser_close(int fd)`.
pub type RumpuserClose = unsafe extern "C" fn(c_int) -> c_int;
/// `int rumpuser_getfileinfo(const char *path, uint64_t *size, int *type)`.
pub type RumpuserGetfileinfo = unsafe extern "C" fn(*const c_char, *mut u64, *mut c_int) -> c_int;
/// The `done` callback of `rumpuser_bio`: `void (*)(void *arg, size_t bytes_done, int error)`.
pub type RumpuserBioDone = unsafe extern "C" fn(*mut c_void, usize, c_int);
/// `void rumpuser_bio(int fd, int op, void *data, size_t len, int64_t off, done, void *arg)`.
pub type RumpuserBio = unsafe extern "C" fn(
    c_int,
    c_int,
    *mut c_void,
    usize,
    i64,
    Option<RumpuserBioDone>,
    *mut c_void,
);
/// `int rumpuser_iovread(int fd, struct rumpuser_iovec *, size_t n, int64_t off, size_t *ret)`.
pub type RumpuserIovread =
    unsafe extern "C" fn(c_int, *mut RumpuserIovec, usize, i64, *mut usize) -> c_int;
/// `int rumpuser_iovwrite(int fd, const struct rumpuser_iovec *, size_t n, int64_t off, size_t *ret)`.
pub type RumpuserIovwrite =
    unsafe extern "C" fn(c_int, *const RumpuserIovec, usize, i64, *mut usize) -> c_int;
/// `int rumpuser_syncfd(int fd, int flags, uint64_t start, uint64_t len)`.
pub type RumpuserSyncfd = unsafe extern "C" fn(c_int, c_int, u64, u64) -> c_int;

/// `int rumpuser_clock_gettime(int clock, int64_t *sec, long *nsec)`.
pub type RumpuserClockGettime = unsafe extern "C" fn(c_int, *mut i64, *mut c_long) -> c_int;
/// `int rumpuser_clock_sleep(int clock, int64_t sec, long nsec)`.
pub type RumpuserClockSleep = unsafe extern "C" fn(c_int, i64, c_long) -> c_int;

/// `int rumpuser_getparam(const char *name, void *buf, size_t buflen)`.
pub type RumpuserGetparam = unsafe extern "C" fn(*const c_char, *mut c_void, usize) -> c_int;
/// `void rumpuser_seterrno(int)`.
pub type RumpuserSeterrno = unsafe extern "C" fn(c_int);
/// `int rumpuser_kill(int64_t pid, int sig)`.
pub type RumpuserKill = unsafe extern "C" fn(i64, c_int) -> c_int;
/// `void rumpuser_exit(int)` (never returns).
pub type RumpuserExit = unsafe extern "C" fn(c_int) -> !;
/// `void rumpuser_putchar(int)`.
pub type RumpuserPutchar = unsafe extern "C" fn(c_int);
/// `void rumpuser_dprintf(const char *fmt, ...)`. Rust cannot define a
/// C-variadic function on stable; this is the type of the fixed part, as a
/// caller passing only the format sees it.
pub type RumpuserDprintf = unsafe extern "C" fn(*const c_char, ...);
/// `int rumpuser_getrandom(void *buf, size_t len, int flags, size_t *ret)`.
pub type RumpuserGetrandom = unsafe extern "C" fn(*mut c_void, usize, c_int, *mut usize) -> c_int;

/// `rump_modinit_fn` passed to `rumpuser_dl_bootstrap`.
pub type RumpModinitFn = unsafe extern "C" fn(*const c_void, *const c_void, c_int);
/// `rump_symload_fn` passed to `rumpuser_dl_bootstrap`.
pub type RumpSymloadFn = unsafe extern "C" fn(*mut c_void, u64, *mut c_char, u64);
/// `rump_compload_fn` passed to `rumpuser_dl_bootstrap`.
pub type RumpComploadFn = unsafe extern "C" fn(*const c_void);
/// `void rumpuser_dl_bootstrap(modinit, symload, compload)`.
pub type RumpuserDlBootstrap =
    unsafe extern "C" fn(Option<RumpModinitFn>, Option<RumpSymloadFn>, Option<RumpComploadFn>);
/// `int rumpuser_daemonize_begin(void)`.
pub type RumpuserDaemonizeBegin = unsafe extern "C" fn() -> c_int;
/// `int rumpuser_daemonize_done(int)`.
pub type RumpuserDaemonizeDone = unsafe extern "C" fn(c_int) -> c_int;

/// A thread body: `void *(*f)(void *)`.
pub type RumpuserThreadFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
/// `int rumpuser_thread_create(f, void *arg, const char *name, int mustjoin,
/// int prio, int cpuidx, void **cookie)`.
pub type RumpuserThreadCreate = unsafe extern "C" fn(
    Option<RumpuserThreadFn>,
    *mut c_void,
    *const c_char,
    c_int,
    c_int,
    c_int,
    *mut *mut c_void,
) -> c_int;
/// `void rumpuser_thread_exit(void)` (never returns).
pub type RumpuserThreadExit = unsafe extern "C" fn() -> !;
/// `int rumpuser_thread_join(void *cookie)`.
pub type RumpuserThreadJoin = unsafe extern "C" fn(*mut c_void) -> c_int;
/// `void rumpuser_curlwpop(int op, struct lwp *l)`.
pub type RumpuserCurlwpop = unsafe extern "C" fn(c_int, *mut Lwp);
/// `struct lwp *rumpuser_curlwp(void)`.
pub type RumpuserCurlwp = unsafe extern "C" fn() -> *mut Lwp;

/// `void rumpuser_mutex_init(struct rumpuser_mtx **, int flags)`.
pub type RumpuserMutexInit = unsafe extern "C" fn(*mut *mut RumpuserMtx, c_int);
/// `void rumpuser_mutex_enter(struct rumpuser_mtx *)` (also `_enter_nowrap`,
/// `_exit`, `_destroy`).
pub type RumpuserMutexOp = unsafe extern "C" fn(*mut RumpuserMtx);
/// `int rumpuser_mutex_tryenter(struct rumpuser_mtx *)`: 0 or EBUSY.
pub type RumpuserMutexTryenter = unsafe extern "C" fn(*mut RumpuserMtx) -> c_int;
/// `void rumpuser_mutex_owner(struct rumpuser_mtx *, struct lwp **)`.
pub type RumpuserMutexOwner = unsafe extern "C" fn(*mut RumpuserMtx, *mut *mut Lwp);

/// `void rumpuser_rw_init(struct rumpuser_rw **)`.
pub type RumpuserRwInit = unsafe extern "C" fn(*mut *mut RumpuserRw);
/// `void rumpuser_rw_enter(int type, struct rumpuser_rw *)`.
pub type RumpuserRwEnter = unsafe extern "C" fn(c_int, *mut RumpuserRw);
/// `int rumpuser_rw_tryenter(int type, struct rumpuser_rw *)`.
pub type RumpuserRwTryenter = unsafe extern "C" fn(c_int, *mut RumpuserRw) -> c_int;
/// `int rumpuser_rw_tryupgrade(struct rumpuser_rw *)`.
pub type RumpuserRwTryupgrade = unsafe extern "C" fn(*mut RumpuserRw) -> c_int;
/// `void rumpuser_rw_downgrade(struct rumpuser_rw *)` (also `_exit`, `_destroy`).
pub type RumpuserRwOp = unsafe extern "C" fn(*mut RumpuserRw);
/// `void rumpuser_rw_held(int type, struct rumpuser_rw *, int *held)`.
pub type RumpuserRwHeld = unsafe extern "C" fn(c_int, *mut RumpuserRw, *mut c_int);

/// `void rumpuser_cv_init(struct rumpuser_cv **)`.
pub type RumpuserCvInit = unsafe extern "C" fn(*mut *mut RumpuserCv);
/// `void rumpuser_cv_destroy(struct rumpuser_cv *)` (also `_signal`, `_broadcast`).
pub type RumpuserCvOp = unsafe extern "C" fn(*mut RumpuserCv);
/// `void rumpuser_cv_wait(struct rumpuser_cv *, struct rumpuser_mtx *)`
/// (also `_wait_nowrap`).
pub type RumpuserCvWait = unsafe extern "C" fn(*mut RumpuserCv, *mut RumpuserMtx);
/// `int rumpuser_cv_timedwait(cv, mtx, int64_t sec, int64_t nsec)`: relative;
/// 0 or ETIMEDOUT.
pub type RumpuserCvTimedwait =
    unsafe extern "C" fn(*mut RumpuserCv, *mut RumpuserMtx, i64, i64) -> c_int;
/// `void rumpuser_cv_has_waiters(struct rumpuser_cv *, int *n)`.
pub type RumpuserCvHasWaiters = unsafe extern "C" fn(*mut RumpuserCv, *mut c_int);

/// `int rumpcomp_virt_create(const char *unit, struct virtif_sc *sc,
/// uint8_t mac[6], struct virtif_user **handle)`.
pub type RumpcompVirtCreate =
    unsafe extern "C" fn(*const c_char, *mut VirtifSc, *mut u8, *mut *mut VirtifUser) -> c_int;
/// `void rumpcomp_virt_send(struct virtif_user *, struct iovec *, size_t n)`.
pub type RumpcompVirtSend = unsafe extern "C" fn(*mut VirtifUser, *mut Iovec, usize);
/// `int rumpcomp_virt_dying(struct virtif_user *)`.
pub type RumpcompVirtDying = unsafe extern "C" fn(*mut VirtifUser) -> c_int;
/// `void rumpcomp_virt_destroy(struct virtif_user *)`.
pub type RumpcompVirtDestroy = unsafe extern "C" fn(*mut VirtifUser);
/// Kernel-provided `void rump_virtif_virt_deliverpkt(struct virtif_sc *sc,
/// struct iovec *, size_t n)`: hand a received frame to the kernel.
pub type RumpVirtifVirtDeliverpkt = unsafe extern "C" fn(*mut VirtifSc, *mut Iovec, usize);
