//! The rumpuser v17 and `rumpcomp_virt_*` hypercalls this kernel calls,
//! declared against rumpuser-abi's types (the platform defines them).

use core::ffi::{c_char, c_int, c_long, c_void};

use rumpuser_abi::sig::RumpuserThreadFn;
use rumpuser_abi::{Iovec, Lwp, RumpuserCv, RumpuserHyperup, RumpuserMtx, VirtifSc, VirtifUser};

extern "C" {
    pub fn rumpuser_init(version: c_int, hyp: *const RumpuserHyperup) -> c_int;
    pub fn rumpuser_clock_gettime(clock: c_int, sec: *mut i64, nsec: *mut c_long) -> c_int;
    pub fn rumpuser_seterrno(e: c_int);
    pub fn rumpuser_getparam(name: *const c_char, buf: *mut c_void, buflen: usize) -> c_int;
    pub fn rumpuser_thread_create(
        f: Option<RumpuserThreadFn>,
        arg: *mut c_void,
        name: *const c_char,
        mustjoin: c_int,
        prio: c_int,
        cpuidx: c_int,
        cookie: *mut *mut c_void,
    ) -> c_int;
    pub fn rumpuser_curlwpop(op: c_int, l: *mut Lwp);
    pub fn rumpuser_curlwp() -> *mut Lwp;

    pub fn rumpuser_mutex_init(mp: *mut *mut RumpuserMtx, flags: c_int);
    pub fn rumpuser_mutex_enter(m: *mut RumpuserMtx);
    pub fn rumpuser_mutex_enter_nowrap(m: *mut RumpuserMtx);
    pub fn rumpuser_mutex_exit(m: *mut RumpuserMtx);

    pub fn rumpuser_cv_init(cvp: *mut *mut RumpuserCv);
    pub fn rumpuser_cv_wait(cv: *mut RumpuserCv, m: *mut RumpuserMtx);
    pub fn rumpuser_cv_wait_nowrap(cv: *mut RumpuserCv, m: *mut RumpuserMtx);
    pub fn rumpuser_cv_timedwait(
        cv: *mut RumpuserCv,
        m: *mut RumpuserMtx,
        sec: i64,
        nsec: i64,
    ) -> c_int;
    pub fn rumpuser_cv_signal(cv: *mut RumpuserCv);
    pub fn rumpuser_cv_broadcast(cv: *mut RumpuserCv);

    pub fn rumpcomp_virt_create(
        unit: *const c_char,
        sc: *mut VirtifSc,
        mac: *mut u8,
        handle: *mut *mut VirtifUser,
    ) -> c_int;
    pub fn rumpcomp_virt_send(h: *mut VirtifUser, iov: *mut Iovec, n: usize);
}

extern "C" {
    pub fn rumpuser_open(path: *const c_char, mode: c_int, fdp: *mut c_int) -> c_int;
    pub fn rumpuser_close(fd: c_int) -> c_int;
    pub fn rumpuser_getfileinfo(path: *const c_char, size: *mut u64, ty: *mut c_int) -> c_int;
    pub fn rumpuser_bio(
        fd: c_int,
        op: c_int,
        data: *mut c_void,
        len: usize,
        off: i64,
        done: Option<rumpuser_abi::sig::RumpuserBioDone>,
        arg: *mut c_void,
    );
    pub fn rumpuser_syncfd(fd: c_int, flags: c_int, start: u64, len: u64) -> c_int;
}
