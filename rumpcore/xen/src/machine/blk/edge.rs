//! The `extern "C"` edge of the file hypercalls: `rumpuser_open`,
//! `_close`, `_getfileinfo`, `_bio`, `_iovread`, `_iovwrite`, `_syncfd`.

use super::{close, disk_of, file_info, iov_offset, open, set_pos, Disk, OnDone, Outcome};
use crate::machine::hyp;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use blkfront::BlkOp;
use core::ffi::{c_char, c_int, c_void, CStr};
use rumpuser_abi::errno::{EBADF, EINVAL, ENOENT};
use rumpuser_abi::sig::RumpuserBioDone;
use rumpuser_abi::{
    RumpuserIovec, BIO_BLOCK, RUMPUSER_BIO_READ, RUMPUSER_BIO_SYNC, RUMPUSER_BIO_WRITE,
    RUMPUSER_FT_BLK, RUMPUSER_SYNCFD_BARRIER, RUMPUSER_SYNCFD_SYNC, RUMPUSER_SYNCFD_WRITE,
};

/// A path argument; `None` for null or non-UTF-8.
///
/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn path<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated (the caller's contract).
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

/// `rumpuser_open`: a disk by name (`xvda`, `/dev/xvda`, `51712`).
#[no_mangle]
pub unsafe extern "C" fn rumpuser_open(p: *const c_char, mode: c_int, fdp: *mut c_int) -> c_int {
    // SAFETY: the kernel passes a NUL-terminated path.
    let Some(p) = (unsafe { path(p) }) else {
        return ENOENT;
    };
    if fdp.is_null() {
        return EINVAL;
    }
    match open(p, mode) {
        Ok(fd) => {
            // SAFETY: non-null, the caller's out pointer.
            unsafe { fdp.write(fd) };
            0
        }
        Err(e) => e,
    }
}

/// `rumpuser_close`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_close(fd: c_int) -> c_int {
    close(fd).err().unwrap_or(0)
}

/// `rumpuser_getfileinfo`: disks are block devices of their capacity.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_getfileinfo(
    p: *const c_char,
    size: *mut u64,
    kind: *mut c_int,
) -> c_int {
    // SAFETY: the kernel passes a NUL-terminated path.
    let Some(p) = (unsafe { path(p) }) else {
        return ENOENT;
    };
    match file_info(p) {
        Ok(bytes) => {
            // SAFETY: the caller's out pointers (null ones are skipped).
            unsafe {
                if !size.is_null() {
                    size.write(bytes);
                }
                if !kind.is_null() {
                    kind.write(RUMPUSER_FT_BLK);
                }
            }
            0
        }
        Err(e) => e,
    }
}

/// A `bio` request's completion: the kernel's callback and buffer.
struct BioDone {
    done: RumpuserBioDone,
    arg: *mut c_void,
    buf: *mut u8,
    len: usize,
}

// SAFETY: the kernel keeps the buffer and the argument alive until `done`
// is called, whichever thread calls it.
unsafe impl Send for BioDone {}

impl BioDone {
    /// Calls `done` at once, from the hypercall (the caller holds a CPU).
    fn now(self, bytes: usize, error: c_int) {
        // SAFETY: the kernel's callback with its own argument.
        unsafe { (self.done)(self.arg, bytes, error) };
    }

    /// Hands a finished request back, from the disk thread: copies a
    /// read's data into the kernel's buffer and calls `done` holding a
    /// rump CPU (as a kernel thread).
    fn later(self, disk: &Disk, outcome: Outcome) {
        let (bytes, error) = match outcome {
            Ok(Some(data)) => {
                let n = data.len().min(self.len);
                // SAFETY: the kernel's buffer of `len` bytes, alive until
                // `done` (ABI); `n` <= `len`; the data is ours.
                unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.buf, n) };
                (n, 0)
            }
            Ok(None) => (self.len, 0),
            Err(e) => (0, e),
        };
        if disk.enter_kernel_once() {
            hyp::in_kernel(|| self.now(bytes, error));
        } else {
            self.now(bytes, error);
        }
    }
}

/// `rumpuser_bio`: asynchronous; `done` runs on the disk's thread (or at
/// once, in this call, when the request is refused).
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
    let Some(done) = done else {
        return;
    };
    let bio = BioDone {
        done,
        arg,
        buf: data.cast(),
        len,
    };
    let Ok((disk, readable, writable)) = disk_of(fd) else {
        return bio.now(0, EBADF);
    };
    let read = op & RUMPUSER_BIO_READ != 0;
    let write = op & RUMPUSER_BIO_WRITE != 0;
    if read == write || (read && !readable) || (write && !writable) {
        return bio.now(0, if read == write { EINVAL } else { EBADF });
    }
    let Ok(offset) = u64::try_from(off) else {
        return bio.now(0, EINVAL);
    };
    if len == 0 {
        return bio.now(0, 0);
    }
    if data.is_null() || len % BIO_BLOCK != 0 {
        return bio.now(0, EINVAL);
    }
    let blk_op = if read {
        BlkOp::Read { offset, len }
    } else {
        // SAFETY: the kernel's buffer of `len` bytes (non-null, checked),
        // alive until `done`; copied now.
        let bytes = unsafe { core::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec();
        BlkOp::Write {
            offset,
            data: bytes,
        }
    };
    let sync = write && op & RUMPUSER_BIO_SYNC != 0;
    let d = Arc::clone(&disk);
    let on_done: OnDone = Box::new(move |outcome| match (outcome, d.sync_op()) {
        // A SYNC write is done once the flush after it is.
        (Ok(_), Some(flush)) if sync => {
            let d2 = Arc::clone(&d);
            let finish: OnDone = Box::new(move |o: Outcome| bio.later(&d2, o.map(|_| None)));
            if let Err((e, finish)) = d.submit(flush, finish, false) {
                finish(Err(e));
            }
        }
        (outcome, _) => bio.later(&d, outcome),
    });
    if let Err((e, _)) = disk.submit(blk_op, on_done, true) {
        // The callback was not queued: tell the kernel now (we hold its
        // CPU). The closure owned `bio`, so call through a fresh one.
        // SAFETY: the kernel's callback with its own argument.
        unsafe { done(arg, 0, e) };
    }
}

/// The iovecs of a call.
///
/// # Safety
/// `iov` points at `n` iovecs (or `n` is 0).
unsafe fn iovecs<'a>(iov: *const RumpuserIovec, n: usize) -> Option<&'a [RumpuserIovec]> {
    if n == 0 {
        return Some(&[]);
    }
    if iov.is_null() {
        return None;
    }
    // SAFETY: `n` iovecs at a non-null `iov` (the caller's contract).
    Some(unsafe { core::slice::from_raw_parts(iov, n) })
}

/// `rumpuser_iovread`: reads into the iovecs at `off` (-1: the
/// descriptor's position); `*ret` is the bytes read (short at the end).
#[no_mangle]
pub unsafe extern "C" fn rumpuser_iovread(
    fd: c_int,
    iov: *mut RumpuserIovec,
    n: usize,
    off: i64,
    ret: *mut usize,
) -> c_int {
    // SAFETY: the kernel passes `n` iovecs.
    let Some(vecs) = (unsafe { iovecs(iov, n) }) else {
        return EINVAL;
    };
    let (disk, readable, _) = match disk_of(fd) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if !readable {
        return EBADF;
    }
    let (offset, moves) = match iov_offset(fd, off) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let total = vecs.iter().map(|v| v.len).sum();
    let data = match disk.read_at(offset, total) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let mut at = 0;
    for v in vecs {
        let n = v.len.min(data.len() - at);
        if n > 0 {
            // SAFETY: each iovec is a writable buffer of `len` bytes (ABI);
            // `n` <= `len` and `at + n` <= the data read.
            unsafe { core::ptr::copy_nonoverlapping(data[at..].as_ptr(), v.base.cast(), n) };
        }
        at += n;
    }
    if moves {
        set_pos(fd, offset + at as u64);
    }
    if !ret.is_null() {
        // SAFETY: the caller's out pointer.
        unsafe { ret.write(at) };
    }
    0
}

/// `rumpuser_iovwrite`: writes the iovecs at `off` (-1: the descriptor's
/// position); `*ret` is the bytes written.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_iovwrite(
    fd: c_int,
    iov: *const RumpuserIovec,
    n: usize,
    off: i64,
    ret: *mut usize,
) -> c_int {
    // SAFETY: the kernel passes `n` iovecs.
    let Some(vecs) = (unsafe { iovecs(iov, n) }) else {
        return EINVAL;
    };
    let (disk, _, writable) = match disk_of(fd) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if !writable {
        return EBADF;
    }
    let (offset, moves) = match iov_offset(fd, off) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let mut data = Vec::with_capacity(vecs.iter().map(|v| v.len).sum());
    for v in vecs.iter().filter(|v| v.len > 0) {
        // SAFETY: each iovec is a readable buffer of `len` bytes (ABI).
        data.extend_from_slice(unsafe { core::slice::from_raw_parts(v.base.cast::<u8>(), v.len) });
    }
    let written = match disk.write_at(offset, &data) {
        Ok(w) => w,
        Err(e) => return e,
    };
    if moves {
        set_pos(fd, offset + written as u64);
    }
    if !ret.is_null() {
        // SAFETY: the caller's out pointer.
        unsafe { ret.write(written) };
    }
    0
}

/// `rumpuser_syncfd`: WRITE, SYNC or BARRIER flush the disk (its cache,
/// or a barrier where the backend has no flush); READ alone is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_syncfd(fd: c_int, flags: c_int, _start: u64, _len: u64) -> c_int {
    let (disk, _, _) = match disk_of(fd) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if flags & (RUMPUSER_SYNCFD_WRITE | RUMPUSER_SYNCFD_SYNC | RUMPUSER_SYNCFD_BARRIER) == 0 {
        return 0;
    }
    disk.sync().err().unwrap_or(0)
}
