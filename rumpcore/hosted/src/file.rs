//! Files and block devices: open/close/getfileinfo, iovread/iovwrite,
//! syncfd, and `bio` completed by worker threads that became kernel
//! threads.

use core::ffi::{c_char, c_int, c_void};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use rumpuser_abi::sig::RumpuserBioDone;
use rumpuser_abi::{
    errno as nb, RumpuserIovec, RUMPUSER_BIO_READ, RUMPUSER_BIO_SYNC, RUMPUSER_BIO_WRITE,
    RUMPUSER_FT_BLK, RUMPUSER_FT_CHR, RUMPUSER_FT_DIR, RUMPUSER_FT_OTHER, RUMPUSER_FT_REG,
    RUMPUSER_OPEN_ACCMODE, RUMPUSER_OPEN_CREATE, RUMPUSER_OPEN_EXCL, RUMPUSER_SYNCFD_BARRIER,
    RUMPUSER_SYNCFD_SYNC, RUMPUSER_SYNCFD_WRITE,
};

use crate::errno::last;
use crate::hyp;

/// `BLKGETSIZE64` (linux/fs.h): a block device's size in bytes.
const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;

/// `rumpuser_open`: mode bits to Linux flags; NetBSD errno on failure.
///
/// # Safety
/// `path` NUL-terminated; `fdp` writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_open(path: *const c_char, mode: c_int, fdp: *mut c_int) -> c_int {
    let mut flags = match mode & RUMPUSER_OPEN_ACCMODE {
        0 => libc::O_RDONLY,
        1 => libc::O_WRONLY,
        2 => libc::O_RDWR,
        _ => return nb::EINVAL,
    } | libc::O_CLOEXEC;
    if mode & RUMPUSER_OPEN_CREATE != 0 {
        flags |= libc::O_CREAT;
    }
    if mode & RUMPUSER_OPEN_EXCL != 0 {
        flags |= libc::O_EXCL;
    }
    // SAFETY: NUL-terminated path from the caller.
    let fd = hyp::blocking(|| unsafe { libc::open(path, flags, 0o644 as libc::c_uint) });
    if fd < 0 {
        return last();
    }
    // SAFETY: writable out-pointer.
    unsafe { *fdp = fd };
    0
}

/// `rumpuser_close`.
///
/// # Safety
/// `fd` must be a descriptor from `rumpuser_open` (or invalid).
#[no_mangle]
pub unsafe extern "C" fn rumpuser_close(fd: c_int) -> c_int {
    // SAFETY: closing the caller's descriptor.
    if unsafe { libc::close(fd) } != 0 {
        return last();
    }
    0
}

/// `rumpuser_getfileinfo`: size and type (block devices sized by ioctl).
///
/// # Safety
/// `path` NUL-terminated; `size`/`ty` writable or null.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_getfileinfo(
    path: *const c_char,
    size: *mut u64,
    ty: *mut c_int,
) -> c_int {
    // SAFETY: zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: NUL-terminated path, valid out-buffer.
    if unsafe { libc::stat(path, &mut st) } != 0 {
        return last();
    }
    let (t, mut sz) = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => (RUMPUSER_FT_REG, st.st_size as u64),
        libc::S_IFDIR => (RUMPUSER_FT_DIR, 0),
        libc::S_IFBLK => (RUMPUSER_FT_BLK, 0),
        libc::S_IFCHR => (RUMPUSER_FT_CHR, 0),
        _ => (RUMPUSER_FT_OTHER, 0),
    };
    if t == RUMPUSER_FT_BLK {
        // SAFETY: NUL-terminated path.
        let fd = unsafe { libc::open(path, libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return last();
        }
        let mut bytes = 0u64;
        // SAFETY: BLKGETSIZE64 writes one u64.
        let rv = unsafe { libc::ioctl(fd, BLKGETSIZE64, &mut bytes) };
        let e = if rv != 0 { last() } else { 0 };
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
        if e != 0 {
            return e;
        }
        sz = bytes;
    }
    // SAFETY: writable out-pointers (null skipped).
    unsafe {
        if !size.is_null() {
            *size = sz;
        }
        if !ty.is_null() {
            *ty = t;
        }
    }
    0
}

fn rw_result(n: isize, ret: *mut usize) -> c_int {
    if n < 0 {
        return last();
    }
    // SAFETY: the caller's writable out-pointer.
    unsafe { *ret = n as usize };
    0
}

/// `rumpuser_iovread`: preadv at `off` (readv when `off` is -1).
///
/// # Safety
/// `iov` has `n` entries of writable memory; `ret` writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_iovread(
    fd: c_int,
    iov: *mut RumpuserIovec,
    n: usize,
    off: i64,
    ret: *mut usize,
) -> c_int {
    // `struct rumpuser_iovec` and `struct iovec` share one layout.
    let v = iov as *const libc::iovec;
    let got = hyp::blocking(|| {
        // SAFETY: the caller's iovecs and descriptor.
        unsafe {
            if off == -1 {
                libc::readv(fd, v, n as c_int)
            } else {
                libc::preadv(fd, v, n as c_int, off)
            }
        }
    });
    rw_result(got, ret)
}

/// `rumpuser_iovwrite`: pwritev at `off` (writev when `off` is -1).
///
/// # Safety
/// `iov` has `n` entries of readable memory; `ret` writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_iovwrite(
    fd: c_int,
    iov: *const RumpuserIovec,
    n: usize,
    off: i64,
    ret: *mut usize,
) -> c_int {
    let v = iov as *const libc::iovec;
    let got = hyp::blocking(|| {
        // SAFETY: the caller's iovecs and descriptor.
        unsafe {
            if off == -1 {
                libc::writev(fd, v, n as c_int)
            } else {
                libc::pwritev(fd, v, n as c_int, off)
            }
        }
    });
    rw_result(got, ret)
}

/// `rumpuser_syncfd`: fsync for WRITE, BARRIER or SYNC; READ needs nothing.
///
/// # Safety
/// Always safe; `unsafe` for the ABI's uniformity.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_syncfd(fd: c_int, flags: c_int, _start: u64, _len: u64) -> c_int {
    if flags & (RUMPUSER_SYNCFD_WRITE | RUMPUSER_SYNCFD_BARRIER | RUMPUSER_SYNCFD_SYNC) == 0 {
        return 0;
    }
    // SAFETY: fsync of the caller's descriptor.
    if hyp::blocking(|| unsafe { libc::fsync(fd) }) != 0 {
        return last();
    }
    0
}

/// One `rumpuser_bio` request.
struct Job {
    fd: c_int,
    op: c_int,
    data: usize,
    len: usize,
    off: i64,
    done: RumpuserBioDone,
    arg: usize,
}

const WORKERS: usize = 2;

fn queue() -> &'static Sender<Job> {
    static Q: OnceLock<Sender<Job>> = OnceLock::new();
    Q.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..WORKERS {
            let rx = rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("rumpuser-bio{i}"))
                .spawn(move || worker(rx));
        }
        tx
    })
}

fn worker(rx: Arc<Mutex<Receiver<Job>>>) {
    hyp::become_kernel_thread();
    loop {
        let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(j) => j,
            Err(_) => return,
        };
        let (bytes, error) = perform(&job);
        // SAFETY: the kernel's completion callback with its argument,
        // called once, holding a rump CPU.
        hyp::kernel_call(|| unsafe { (job.done)(job.arg as *mut c_void, bytes, error) });
    }
}

/// Do the transfer: all of it, or the bytes before the first error.
fn perform(j: &Job) -> (usize, c_int) {
    let mut done = 0usize;
    while done < j.len {
        let p = (j.data + done) as *mut c_void;
        let off = j.off + done as i64;
        // SAFETY: the kernel's buffer of `len` bytes stays valid until
        // `done` is called.
        let n = unsafe {
            if j.op & RUMPUSER_BIO_WRITE != 0 {
                libc::pwrite(j.fd, p, j.len - done, off)
            } else {
                libc::pread(j.fd, p, j.len - done, off)
            }
        };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return (done, last());
        }
        if n == 0 {
            // Reading past the end.
            return (
                done,
                if j.op & RUMPUSER_BIO_READ != 0 {
                    nb::EIO
                } else {
                    nb::ENOSPC
                },
            );
        }
        done += n as usize;
    }
    if j.op & (RUMPUSER_BIO_WRITE | RUMPUSER_BIO_SYNC) == (RUMPUSER_BIO_WRITE | RUMPUSER_BIO_SYNC) {
        // SAFETY: fdatasync of the kernel's descriptor.
        if unsafe { libc::fdatasync(j.fd) } != 0 {
            return (done, last());
        }
    }
    (done, 0)
}

/// `rumpuser_bio`: queue the request; a worker thread (a kernel thread)
/// does it and calls `done` holding a rump CPU.
///
/// # Safety
/// `data` valid for `len` bytes until `done` runs; `fd` open.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_bio(
    fd: c_int,
    op: c_int,
    data: *mut c_void,
    len: usize,
    off: i64,
    done: Option<RumpuserBioDone>,
    arg: *mut c_void,
) {
    let Some(done) = done else { return };
    let job = Job {
        fd,
        op,
        data: data as usize,
        len,
        off,
        done,
        arg: arg as usize,
    };
    if let Err(e) = queue().send(job) {
        // No worker: complete here (the caller holds a CPU).
        let j = e.0;
        let (bytes, error) = perform(&j);
        // SAFETY: as in the worker.
        unsafe { (j.done)(j.arg as *mut c_void, bytes, error) };
    }
}
