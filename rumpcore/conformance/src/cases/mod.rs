//! The cases, one module per hypercall group, and the table that lists them.

mod clock;
mod cv;
mod file;
mod init;
mod mem;
mod misc;
mod mutex;
mod param;
mod rw;
mod thread;
#[cfg(feature = "virt")]
mod virt;

use crate::util::CaseResult;
use crate::Config;

/// One conformance case.
pub struct Case {
    /// Its name (what `run`'s filter matches).
    pub name: &'static str,
    /// Whether it applies to a configuration.
    pub applies: fn(&Config<'_>) -> bool,
    /// The test itself.
    pub run: fn(&Config<'_>) -> CaseResult,
}

fn always(_: &Config<'_>) -> bool {
    true
}

fn with_disk(c: &Config<'_>) -> bool {
    c.disk_path.is_some()
}

#[cfg(feature = "virt")]
fn with_virt(c: &Config<'_>) -> bool {
    c.virt_unit.is_some()
}

#[cfg(feature = "virt")]
fn with_echo(c: &Config<'_>) -> bool {
    c.virt_unit.is_some() && c.expect_echo
}

macro_rules! case {
    ($name:literal, $applies:expr, $f:path) => {
        Case {
            name: $name,
            applies: $applies,
            run: $f,
        }
    };
}

/// Every case, in run order.
pub static CASES: &[Case] = &[
    case!("init_version", always, init::version),
    case!("malloc_alignment", always, mem::alignment),
    case!("malloc_enomem", always, mem::enomem),
    case!("anonmmap", always, mem::anonmmap),
    case!("thread_join", always, thread::join),
    case!("thread_detached", always, thread::detached),
    case!("thread_exit", always, thread::exit),
    case!("curlwp_per_thread", always, thread::curlwp_per_thread),
    case!("curlwpop_ops", always, thread::curlwpop_ops),
    case!("mutex_enter_exit_owner", always, mutex::enter_exit_owner),
    case!("mutex_tryenter_busy", always, mutex::tryenter_busy),
    case!(
        "mutex_spin_never_unschedules",
        always,
        mutex::spin_never_unschedules
    ),
    case!("mutex_kmutex_contention", always, mutex::kmutex_contention),
    case!("mutex_enter_nowrap", always, mutex::enter_nowrap),
    case!("rw_readers_share", always, rw::readers_share),
    case!("rw_writer_excludes", always, rw::writer_excludes),
    case!("rw_tryupgrade", always, rw::tryupgrade),
    case!("rw_downgrade", always, rw::downgrade),
    case!("rw_held", always, rw::held),
    case!("rw_contention", always, rw::contention),
    case!("cv_signal", always, cv::signal),
    case!("cv_broadcast", always, cv::broadcast),
    case!("cv_timedwait_timeout", always, cv::timedwait_timeout),
    case!("cv_timedwait_signalled", always, cv::timedwait_signalled),
    case!("cv_wait_nowrap", always, cv::wait_nowrap),
    case!("cv_producer_consumer", always, cv::producer_consumer),
    case!("clock_monotonic", always, clock::monotonic),
    case!("clock_wall", always, clock::wall),
    case!("clock_sleep_relwall", always, clock::sleep_relwall),
    case!("clock_sleep_absmono", always, clock::sleep_absmono),
    case!("getparam_ncpu", always, param::ncpu),
    case!("getparam_hostname", always, param::hostname),
    case!("getparam_unknown", always, param::unknown),
    case!("getparam_small_buffer", always, param::small_buffer),
    case!("getrandom", always, misc::getrandom),
    case!("seterrno", always, misc::seterrno),
    case!("console", always, misc::console),
    case!("dl_bootstrap", always, misc::dl_bootstrap),
    case!("file_missing", always, file::missing),
    case!("file_badfd", always, file::badfd),
    case!("file_getfileinfo", with_disk, file::getfileinfo),
    case!("bio_write_read", with_disk, file::bio_write_read),
    case!("bio_many_in_flight", with_disk, file::bio_many),
    case!("bio_max_transfer", with_disk, file::bio_max),
    case!("iov_write_read", with_disk, file::iov_write_read),
    case!("syncfd", with_disk, file::syncfd),
    #[cfg(feature = "virt")]
    case!("virt_create", with_virt, virt::create_case),
    #[cfg(feature = "virt")]
    case!("virt_send", with_virt, virt::send_case),
    #[cfg(feature = "virt")]
    case!("virt_echo", with_echo, virt::echo),
    #[cfg(feature = "virt")]
    case!("virt_destroy", with_virt, virt::destroy_case),
];
