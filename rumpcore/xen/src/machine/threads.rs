//! Threads for the rumpuser interface (`rumpuser_thread_*`,
//! `rumpuser_curlwp*`, `rumpuser_seterrno`) on the platform's cooperative
//! scheduler. The current lwp and the errno are per-thread slots
//! (`sched::get_tls`/`set_tls`): reading `curlwp` is one load.

use super::hyp;
use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::string::String;
use core::ffi::c_int;
use core::sync::atomic::{AtomicUsize, Ordering};
use rumpuser_abi::errno::{EAGAIN, EINVAL, ENOMEM};
use rumpuser_abi::Lwp;
use xen_platform::sched::{self, IrqLock, JoinHandle, SchedError};

/// Slot of the current lwp.
const LWP_SLOT: usize = 0;
/// Slot of the errno `rumpuser_seterrno` set.
const ERRNO_SLOT: usize = 1;

/// Stack size of rump kernel threads (bytes); `rumpuser.stack_kib=N` on
/// the command line changes it.
static STACK_BYTES: AtomicUsize = AtomicUsize::new(256 * 1024);

/// Sets the stack size of threads created from now on.
pub fn set_stack_bytes(bytes: usize) {
    STACK_BYTES.store(bytes.max(16 * 1024), Ordering::Relaxed);
}

/// The calling thread's current lwp (null if none).
#[inline]
pub fn curlwp() -> *mut Lwp {
    sched::get_tls(LWP_SLOT) as *mut Lwp
}

/// Sets the calling thread's current lwp.
#[inline]
pub fn set_curlwp(l: *mut Lwp) {
    sched::set_tls(LWP_SLOT, l as usize)
}

/// The errno last set on this thread with `rumpuser_seterrno` (the
/// client API's `errno`).
pub fn errno() -> c_int {
    sched::get_tls(ERRNO_SLOT) as c_int
}

/// Sets this thread's errno.
pub fn set_errno(e: c_int) {
    sched::set_tls(ERRNO_SLOT, e as u32 as usize)
}

/// Names of threads, kept for good: the scheduler wants `&'static str`
/// and the kernel names its threads from a small set.
static NAMES: IrqLock<BTreeSet<&'static str>> = IrqLock::new(BTreeSet::new());

fn intern(name: &str) -> &'static str {
    if let Some(&n) = NAMES.lock().get(name) {
        return n;
    }
    let leaked: &'static str = String::from(name).leak();
    NAMES.lock().insert(leaked);
    leaked
}

/// Starts a thread running `body`; with `join`, returns the handle that
/// `rumpuser_thread_join` waits on.
pub fn create(
    name: &str,
    join: bool,
    body: impl FnOnce() + Send + 'static,
) -> Result<Option<JoinHandle>, c_int> {
    let name = intern(name);
    let stack = STACK_BYTES.load(Ordering::Relaxed);
    match sched::spawn_with_stack(name, stack, body) {
        Ok(h) if join => Ok(Some(h)),
        // Dropping the handle detaches the thread.
        Ok(_) => Ok(None),
        Err(SchedError::TooManyThreads) => Err(EAGAIN),
        Err(SchedError::Memory(_)) => Err(ENOMEM),
        Err(SchedError::StackTooSmall) => Err(EINVAL),
    }
}

/// Waits for a joinable thread, giving the rump CPU back meanwhile.
pub fn join(handle: Box<JoinHandle>) {
    hyp::blocking(move || handle.join());
}
