//! The C declarations of every hypercall (the symbols of [`crate::HYPERCALLS`],
//! with the signatures of [`crate::sig`]), for whatever calls them: a rump
//! kernel, the conformance suite. Nothing here is defined in this crate;
//! the linker resolves each symbol to the platform the program is built
//! with (rumpuser-xen or rumpuser-hosted), and only the symbols a program
//! uses must exist.
#![allow(missing_docs)]

use core::ffi::{c_char, c_int, c_long, c_void};

use crate::hyperup::RumpuserHyperup;
use crate::sig::{RumpComploadFn, RumpModinitFn, RumpSymloadFn, RumpuserBioDone, RumpuserThreadFn};
use crate::types::{
    Iovec, Lwp, RumpuserCv, RumpuserIovec, RumpuserMtx, RumpuserRw, VirtifSc, VirtifUser,
};

extern "C" {
    pub fn rumpuser_init(version: c_int, hyp: *const RumpuserHyperup) -> c_int;

    pub fn rumpuser_malloc(len: usize, alignment: c_int, memp: *mut *mut c_void) -> c_int;
    pub fn rumpuser_free(mem: *mut c_void, len: usize);
    pub fn rumpuser_anonmmap(
        pref: *mut c_void,
        len: usize,
        alignbit: c_int,
        exec: c_int,
        memp: *mut *mut c_void,
    ) -> c_int;
    pub fn rumpuser_unmap(mem: *mut c_void, len: usize);

    pub fn rumpuser_open(path: *const c_char, mode: c_int, fdp: *mut c_int) -> c_int;
    pub fn rumpuser_close(fd: c_int) -> c_int;
    pub fn rumpuser_getfileinfo(path: *const c_char, size: *mut u64, ty: *mut c_int) -> c_int;
    pub fn rumpuser_bio(
        fd: c_int,
        op: c_int,
        data: *mut c_void,
        len: usize,
        off: i64,
        done: Option<RumpuserBioDone>,
        arg: *mut c_void,
    );
    pub fn rumpuser_iovread(
        fd: c_int,
        iov: *mut RumpuserIovec,
        n: usize,
        off: i64,
        ret: *mut usize,
    ) -> c_int;
    pub fn rumpuser_iovwrite(
        fd: c_int,
        iov: *const RumpuserIovec,
        n: usize,
        off: i64,
        ret: *mut usize,
    ) -> c_int;
    pub fn rumpuser_syncfd(fd: c_int, flags: c_int, start: u64, len: u64) -> c_int;

    pub fn rumpuser_clock_gettime(clock: c_int, sec: *mut i64, nsec: *mut c_long) -> c_int;
    pub fn rumpuser_clock_sleep(clock: c_int, sec: i64, nsec: c_long) -> c_int;

    pub fn rumpuser_getparam(name: *const c_char, buf: *mut c_void, buflen: usize) -> c_int;
    pub fn rumpuser_seterrno(e: c_int);
    pub fn rumpuser_kill(pid: i64, sig: c_int) -> c_int;
    pub fn rumpuser_exit(status: c_int) -> !;
    pub fn rumpuser_daemonize_begin() -> c_int;
    pub fn rumpuser_daemonize_done(error: c_int) -> c_int;
    pub fn rumpuser_putchar(c: c_int);
    pub fn rumpuser_dprintf(fmt: *const c_char, ...);
    pub fn rumpuser_getrandom(buf: *mut c_void, len: usize, flags: c_int, ret: *mut usize)
        -> c_int;
    pub fn rumpuser_dl_bootstrap(
        modinit: Option<RumpModinitFn>,
        symload: Option<RumpSymloadFn>,
        compload: Option<RumpComploadFn>,
    );

    pub fn rumpuser_thread_create(
        f: Option<RumpuserThreadFn>,
        arg: *mut c_void,
        name: *const c_char,
        mustjoin: c_int,
        prio: c_int,
        cpuidx: c_int,
        cookie: *mut *mut c_void,
    ) -> c_int;
    pub fn rumpuser_thread_exit() -> !;
    pub fn rumpuser_thread_join(cookie: *mut c_void) -> c_int;
    pub fn rumpuser_curlwpop(op: c_int, l: *mut Lwp);
    pub fn rumpuser_curlwp() -> *mut Lwp;

    pub fn rumpuser_mutex_init(mtx: *mut *mut RumpuserMtx, flags: c_int);
    pub fn rumpuser_mutex_enter(mtx: *mut RumpuserMtx);
    pub fn rumpuser_mutex_enter_nowrap(mtx: *mut RumpuserMtx);
    pub fn rumpuser_mutex_tryenter(mtx: *mut RumpuserMtx) -> c_int;
    pub fn rumpuser_mutex_exit(mtx: *mut RumpuserMtx);
    pub fn rumpuser_mutex_destroy(mtx: *mut RumpuserMtx);
    pub fn rumpuser_mutex_owner(mtx: *mut RumpuserMtx, l: *mut *mut Lwp);

    pub fn rumpuser_rw_init(rw: *mut *mut RumpuserRw);
    pub fn rumpuser_rw_enter(ty: c_int, rw: *mut RumpuserRw);
    pub fn rumpuser_rw_tryenter(ty: c_int, rw: *mut RumpuserRw) -> c_int;
    pub fn rumpuser_rw_tryupgrade(rw: *mut RumpuserRw) -> c_int;
    pub fn rumpuser_rw_downgrade(rw: *mut RumpuserRw);
    pub fn rumpuser_rw_exit(rw: *mut RumpuserRw);
    pub fn rumpuser_rw_destroy(rw: *mut RumpuserRw);
    pub fn rumpuser_rw_held(ty: c_int, rw: *mut RumpuserRw, held: *mut c_int);

    pub fn rumpuser_cv_init(cv: *mut *mut RumpuserCv);
    pub fn rumpuser_cv_destroy(cv: *mut RumpuserCv);
    pub fn rumpuser_cv_wait(cv: *mut RumpuserCv, mtx: *mut RumpuserMtx);
    pub fn rumpuser_cv_wait_nowrap(cv: *mut RumpuserCv, mtx: *mut RumpuserMtx);
    pub fn rumpuser_cv_timedwait(
        cv: *mut RumpuserCv,
        mtx: *mut RumpuserMtx,
        sec: i64,
        nsec: i64,
    ) -> c_int;
    pub fn rumpuser_cv_signal(cv: *mut RumpuserCv);
    pub fn rumpuser_cv_broadcast(cv: *mut RumpuserCv);
    pub fn rumpuser_cv_has_waiters(cv: *mut RumpuserCv, n: *mut c_int);

    pub fn rumpcomp_virt_create(
        unit: *const c_char,
        sc: *mut VirtifSc,
        mac: *mut u8,
        handle: *mut *mut VirtifUser,
    ) -> c_int;
    pub fn rumpcomp_virt_send(handle: *mut VirtifUser, iov: *mut Iovec, n: usize);
    pub fn rumpcomp_virt_dying(handle: *mut VirtifUser) -> c_int;
    pub fn rumpcomp_virt_destroy(handle: *mut VirtifUser);
}
