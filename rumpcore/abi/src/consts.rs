//! Mode, type, operation and flag constants of the hypercalls.

use core::ffi::c_int;

/// The only hypercall interface version this ABI describes; `rumpuser_init`
/// must fail for any other.
pub const RUMPUSER_VERSION: c_int = 17;

/// `rumpuser_open` mode: read only.
pub const RUMPUSER_OPEN_RDONLY: c_int = 0x0000;
/// `rumpuser_open` mode: write only.
pub const RUMPUSER_OPEN_WRONLY: c_int = 0x0001;
/// `rumpuser_open` mode: read and write.
pub const RUMPUSER_OPEN_RDWR: c_int = 0x0002;
/// `rumpuser_open` mode: mask of the access-mode bits.
pub const RUMPUSER_OPEN_ACCMODE: c_int = 0x0003;
/// `rumpuser_open` mode: create the file if missing.
pub const RUMPUSER_OPEN_CREATE: c_int = 0x0004;
/// `rumpuser_open` mode: with CREATE, fail if the file exists.
pub const RUMPUSER_OPEN_EXCL: c_int = 0x0008;
/// `rumpuser_open` mode: the descriptor will be used with `rumpuser_bio`.
pub const RUMPUSER_OPEN_BIO: c_int = 0x0010;

/// `rumpuser_getfileinfo` type: something else.
pub const RUMPUSER_FT_OTHER: c_int = 0;
/// `rumpuser_getfileinfo` type: directory.
pub const RUMPUSER_FT_DIR: c_int = 1;
/// `rumpuser_getfileinfo` type: regular file.
pub const RUMPUSER_FT_REG: c_int = 2;
/// `rumpuser_getfileinfo` type: block device.
pub const RUMPUSER_FT_BLK: c_int = 3;
/// `rumpuser_getfileinfo` type: character device.
pub const RUMPUSER_FT_CHR: c_int = 4;

/// `rumpuser_bio` op bit: read.
pub const RUMPUSER_BIO_READ: c_int = 0x01;
/// `rumpuser_bio` op bit: write.
pub const RUMPUSER_BIO_WRITE: c_int = 0x02;
/// `rumpuser_bio` op bit: synchronous (stable storage before `done`).
pub const RUMPUSER_BIO_SYNC: c_int = 0x04;

/// `rumpuser_syncfd` flag: sync reads.
pub const RUMPUSER_SYNCFD_READ: c_int = 0x01;
/// `rumpuser_syncfd` flag: sync writes.
pub const RUMPUSER_SYNCFD_WRITE: c_int = 0x02;
/// `rumpuser_syncfd` flag: barrier (order earlier writes before later ones).
pub const RUMPUSER_SYNCFD_BARRIER: c_int = 0x04;
/// `rumpuser_syncfd` flag: wait for stable storage.
pub const RUMPUSER_SYNCFD_SYNC: c_int = 0x08;

/// Clock: wall time (for `clock_sleep`: a relative interval).
pub const RUMPUSER_CLOCK_RELWALL: c_int = 0;
/// Clock: monotonic time (for `clock_sleep`: an absolute deadline).
pub const RUMPUSER_CLOCK_ABSMONO: c_int = 1;

/// `rumpuser_mutex_init` flag: spin mutex, never gives up the rump CPU.
pub const RUMPUSER_MTX_SPIN: c_int = 0x01;
/// `rumpuser_mutex_init` flag: a kernel mutex (owner tracked).
pub const RUMPUSER_MTX_KMUTEX: c_int = 0x02;

/// rwlock lock type: shared (reader).
pub const RUMPUSER_RW_READER: c_int = 0;
/// rwlock lock type: exclusive (writer).
pub const RUMPUSER_RW_WRITER: c_int = 1;

/// `rumpuser_curlwpop`: a new lwp exists.
pub const RUMPUSER_LWP_CREATE: c_int = 0;
/// `rumpuser_curlwpop`: an lwp is gone.
pub const RUMPUSER_LWP_DESTROY: c_int = 1;
/// `rumpuser_curlwpop`: make the lwp current on this thread.
pub const RUMPUSER_LWP_SET: c_int = 2;
/// `rumpuser_curlwpop`: this thread has no current lwp any more.
pub const RUMPUSER_LWP_CLEAR: c_int = 3;

/// `rumpuser_getrandom` flag: block until truly random bytes are available.
pub const RUMPUSER_RANDOM_HARD: c_int = 0x01;
/// `rumpuser_getrandom` flag: do not block.
pub const RUMPUSER_RANDOM_NOWAIT: c_int = 0x02;

/// `rumpuser_getparam` name: the number of virtual CPUs (decimal string).
pub const RUMPUSER_PARAM_NCPU: &str = "_RUMPUSER_NCPU";
/// `rumpuser_getparam` name: the host name.
pub const RUMPUSER_PARAM_HOSTNAME: &str = "_RUMPUSER_HOSTNAME";
/// [`RUMPUSER_PARAM_NCPU`] as a NUL-terminated C string.
pub const RUMPUSER_PARAM_NCPU_C: &core::ffi::CStr = c"_RUMPUSER_NCPU";
/// [`RUMPUSER_PARAM_HOSTNAME`] as a NUL-terminated C string.
pub const RUMPUSER_PARAM_HOSTNAME_C: &core::ffi::CStr = c"_RUMPUSER_HOSTNAME";
/// `rumpuser_getparam` name NetBSD's kernels ask for: the memory the
/// kernel may use, in bytes (decimal; a `k`, `m` or `g` suffix scales).
pub const RUMP_PARAM_MEMLIMIT: &str = "RUMP_MEMLIMIT";
/// [`RUMP_PARAM_MEMLIMIT`] as a NUL-terminated C string.
pub const RUMP_PARAM_MEMLIMIT_C: &core::ffi::CStr = c"RUMP_MEMLIMIT";

/// Largest number of iovecs in one `rumpcomp_virt_send` frame.
pub const VIRT_MAX_IOVECS: usize = 32;
/// Length of the MAC address `rumpcomp_virt_create` fills in.
pub const VIRT_MAC_LEN: usize = 6;
/// Block size every `rumpuser_bio` length is a multiple of.
pub const BIO_BLOCK: usize = 512;
/// Largest `rumpuser_bio` transfer with NetBSD's defaults (MAXPHYS).
pub const BIO_MAXPHYS: usize = 64 * 1024;
