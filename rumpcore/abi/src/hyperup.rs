//! `struct rumpuser_hyperup`: the upcalls the kernel hands the platform in
//! `rumpuser_init`.

use core::ffi::{c_char, c_int, c_long, c_void};

use crate::types::{Lwp, Pid};

/// `void (*)(void)`: `schedule`, `unschedule`, `lwproc_release`, `lwpexit`.
pub type HypVoid = unsafe extern "C" fn();
/// `backend_unschedule(int nlocks, int *nlocks_out, void *interlock)`.
pub type HypBackendUnschedule = unsafe extern "C" fn(c_int, *mut c_int, *mut c_void);
/// `backend_schedule(int nlocks, void *interlock)`.
pub type HypBackendSchedule = unsafe extern "C" fn(c_int, *mut c_void);
/// `lwproc_switch(struct lwp *)`.
pub type HypLwprocSwitch = unsafe extern "C" fn(*mut Lwp);
/// `lwproc_rfork(void *, int, const char *) -> int`.
pub type HypLwprocRfork = unsafe extern "C" fn(*mut c_void, c_int, *const c_char) -> c_int;
/// `lwproc_newlwp(pid_t) -> int`.
pub type HypLwprocNewlwp = unsafe extern "C" fn(Pid) -> c_int;
/// `lwproc_curlwp(void) -> struct lwp *`.
pub type HypLwprocCurlwp = unsafe extern "C" fn() -> *mut Lwp;
/// `syscall(int, void *, long *) -> int`.
pub type HypSyscall = unsafe extern "C" fn(c_int, *mut c_void, *mut c_long) -> c_int;
/// `execnotify(const char *)`.
pub type HypExecnotify = unsafe extern "C" fn(*const c_char);
/// `getpid(void) -> pid_t`.
pub type HypGetpid = unsafe extern "C" fn() -> Pid;

/// `struct rumpuser_hyperup`: 13 function pointers, then `void *extra[8]`.
///
/// Every hypercall is entered holding a rump virtual CPU. One that may block
/// calls [`backend_unschedule`](Self::backend_unschedule) first and
/// [`backend_schedule`](Self::backend_schedule) before returning; `_nowrap`
/// variants and SPIN mutexes never give up the CPU. A platform thread that
/// calls into the kernel becomes a kernel thread once (`schedule`,
/// `lwproc_newlwp(0)`, `unschedule`) and wraps each call with
/// `backend_schedule(0, NULL)` / `backend_unschedule(0, &n, NULL)`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RumpuserHyperup {
    /// `hyp_schedule`: take a rump CPU.
    pub schedule: Option<HypVoid>,
    /// `hyp_unschedule`: give the rump CPU back.
    pub unschedule: Option<HypVoid>,
    /// `hyp_backend_unschedule`: release the CPU before blocking.
    pub backend_unschedule: Option<HypBackendUnschedule>,
    /// `hyp_backend_schedule`: take a CPU again after blocking.
    pub backend_schedule: Option<HypBackendSchedule>,
    /// `hyp_lwproc_switch`: switch the current lwp.
    pub lwproc_switch: Option<HypLwprocSwitch>,
    /// `hyp_lwproc_release`: release the current lwp.
    pub lwproc_release: Option<HypVoid>,
    /// `hyp_lwproc_rfork`: fork a process context.
    pub lwproc_rfork: Option<HypLwprocRfork>,
    /// `hyp_lwproc_newlwp`: create an lwp in process `pid` and switch to it.
    pub lwproc_newlwp: Option<HypLwprocNewlwp>,
    /// `hyp_lwproc_curlwp`: the kernel's current lwp.
    pub lwproc_curlwp: Option<HypLwprocCurlwp>,
    /// `hyp_syscall`: run a system call (remote clients).
    pub syscall: Option<HypSyscall>,
    /// `hyp_lwpexit`: the current lwp exits.
    pub lwpexit: Option<HypVoid>,
    /// `hyp_execnotify`: an exec happened (remote clients).
    pub execnotify: Option<HypExecnotify>,
    /// `hyp_getpid`: the current process id.
    pub getpid: Option<HypGetpid>,
    /// `hyp_extra`: reserved, unused by version 17.
    pub extra: [*mut c_void; 8],
}

impl RumpuserHyperup {
    /// A table with every upcall absent and `extra` null.
    pub const EMPTY: Self = Self {
        schedule: None,
        unschedule: None,
        backend_unschedule: None,
        backend_schedule: None,
        lwproc_switch: None,
        lwproc_release: None,
        lwproc_rfork: None,
        lwproc_newlwp: None,
        lwproc_curlwp: None,
        syscall: None,
        lwpexit: None,
        execnotify: None,
        getpid: None,
        extra: [core::ptr::null_mut(); 8],
    };
}

// SAFETY: the table is plain function pointers and reserved pointers the
// platform never dereferences; sharing it between threads is what the ABI
// intends (the kernel passes one table for the whole process).
unsafe impl Sync for RumpuserHyperup {}
// SAFETY: as for `Sync`: no thread-affine state inside.
unsafe impl Send for RumpuserHyperup {}
