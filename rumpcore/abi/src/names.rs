//! The symbol names a platform must export (for link checks).

/// Every hypercall symbol a platform image must define: all `rumpuser_*`
/// of version 17 and the four `rumpcomp_virt_*` network calls.
pub const HYPERCALLS: &[&str] = &[
    "rumpuser_init",
    // memory
    "rumpuser_malloc",
    "rumpuser_free",
    "rumpuser_anonmmap",
    "rumpuser_unmap",
    // files and block devices
    "rumpuser_open",
    "rumpuser_close",
    "rumpuser_getfileinfo",
    "rumpuser_bio",
    "rumpuser_iovread",
    "rumpuser_iovwrite",
    "rumpuser_syncfd",
    // time
    "rumpuser_clock_gettime",
    "rumpuser_clock_sleep",
    // parameters and misc
    "rumpuser_getparam",
    "rumpuser_seterrno",
    "rumpuser_kill",
    "rumpuser_exit",
    "rumpuser_putchar",
    "rumpuser_dprintf",
    "rumpuser_getrandom",
    "rumpuser_dl_bootstrap",
    "rumpuser_daemonize_begin",
    "rumpuser_daemonize_done",
    // threads
    "rumpuser_thread_create",
    "rumpuser_thread_exit",
    "rumpuser_thread_join",
    "rumpuser_curlwpop",
    "rumpuser_curlwp",
    // mutexes
    "rumpuser_mutex_init",
    "rumpuser_mutex_enter",
    "rumpuser_mutex_enter_nowrap",
    "rumpuser_mutex_tryenter",
    "rumpuser_mutex_exit",
    "rumpuser_mutex_destroy",
    "rumpuser_mutex_owner",
    // rwlocks
    "rumpuser_rw_init",
    "rumpuser_rw_enter",
    "rumpuser_rw_tryenter",
    "rumpuser_rw_tryupgrade",
    "rumpuser_rw_downgrade",
    "rumpuser_rw_exit",
    "rumpuser_rw_destroy",
    "rumpuser_rw_held",
    // condition variables
    "rumpuser_cv_init",
    "rumpuser_cv_destroy",
    "rumpuser_cv_wait",
    "rumpuser_cv_wait_nowrap",
    "rumpuser_cv_timedwait",
    "rumpuser_cv_signal",
    "rumpuser_cv_broadcast",
    "rumpuser_cv_has_waiters",
    // network interface
    "rumpcomp_virt_create",
    "rumpcomp_virt_send",
    "rumpcomp_virt_dying",
    "rumpcomp_virt_destroy",
];

/// The symbol the kernel (not the platform) provides for received frames.
pub const KERNEL_DELIVERPKT: &str = "rump_virtif_virt_deliverpkt";
