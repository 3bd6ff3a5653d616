//! Files and block devices: open/close errors, getfileinfo, bio (write then
//! read back, completion context, many in flight, largest transfer),
//! iovread/iovwrite, syncfd. The disk comes from [`Config::disk_path`] and
//! is overwritten in its first MiB.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};

use rumpuser_abi::errno::{EBADF, ENOENT};
use rumpuser_abi::{
    RumpuserIovec, RUMPUSER_BIO_READ, RUMPUSER_BIO_SYNC, RUMPUSER_BIO_WRITE, RUMPUSER_FT_BLK,
    RUMPUSER_FT_REG, RUMPUSER_OPEN_BIO, RUMPUSER_OPEN_RDWR, RUMPUSER_SYNCFD_BARRIER,
    RUMPUSER_SYNCFD_SYNC, RUMPUSER_SYNCFD_WRITE,
};

use crate::model;
use crate::sys;
use crate::util::{ensure, wait_until, CaseResult};
use crate::Config;

/// A NUL-terminated copy of a path.
fn cpath(p: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(p.len() + 1);
    v.extend_from_slice(p.as_bytes());
    v.push(0);
    v
}

const MISSING: &str = "/nonexistent/rumpuser-conformance-missing";

/// A page-aligned buffer from `rumpuser_malloc`.
struct Buf {
    p: *mut u8,
    len: usize,
}

impl Buf {
    fn new(len: usize) -> Result<Self, String> {
        let mut p: *mut c_void = core::ptr::null_mut();
        // SAFETY: valid out-pointer.
        let rv = unsafe { sys::rumpuser_malloc(len, 4096, &mut p) };
        ensure!(
            rv == 0 && !p.is_null(),
            "malloc({len}) for a buffer failed: {rv}"
        );
        Ok(Self {
            p: p as *mut u8,
            len,
        })
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `len` bytes we own.
        unsafe { core::slice::from_raw_parts_mut(self.p, self.len) }
    }

    fn fill(&mut self, seed: u32) {
        for (i, b) in self.bytes().iter_mut().enumerate() {
            *b = pattern(seed, i);
        }
    }

    fn check(&mut self, seed: u32, what: &str) -> CaseResult {
        let bad = self
            .bytes()
            .iter()
            .enumerate()
            .position(|(i, b)| *b != pattern(seed, i));
        match bad {
            Some(i) => Err(format!("{what}: byte {i} differs from what was written")),
            None => Ok(()),
        }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this length.
        unsafe { sys::rumpuser_free(self.p as *mut c_void, self.len) };
    }
}

fn pattern(seed: u32, i: usize) -> u8 {
    (i as u32)
        .wrapping_mul(31)
        .wrapping_add(seed.wrapping_mul(0x9e37_79b9) >> 24)
        .wrapping_add((i >> 9) as u32) as u8
}

/// Open the configured disk read-write for bio.
fn open_disk(cfg: &Config<'_>) -> Result<i32, String> {
    let path = cpath(cfg.disk_path.unwrap_or(""));
    let mut fd = -1;
    // SAFETY: NUL-terminated path, valid out-pointer.
    let rv = unsafe {
        sys::rumpuser_open(
            path.as_ptr() as *const c_char,
            RUMPUSER_OPEN_RDWR | RUMPUSER_OPEN_BIO,
            &mut fd,
        )
    };
    ensure!(rv == 0, "open({:?}) failed: {rv}", cfg.disk_path);
    ensure!(fd >= 0, "open gave fd {fd}");
    Ok(fd)
}

fn close(fd: i32) -> CaseResult {
    // SAFETY: plain hypercall.
    let rv = unsafe { sys::rumpuser_close(fd) };
    ensure!(rv == 0, "close({fd}) failed: {rv}");
    Ok(())
}

/// Opening or statting a missing path gives ENOENT.
pub fn missing(_: &Config<'_>) -> CaseResult {
    let p = cpath(MISSING);
    let mut fd = -1;
    // SAFETY: NUL-terminated path, valid out-pointer.
    let rv =
        unsafe { sys::rumpuser_open(p.as_ptr() as *const c_char, RUMPUSER_OPEN_RDWR, &mut fd) };
    ensure!(
        rv == ENOENT,
        "open(missing) returned {rv}, want ENOENT ({ENOENT})"
    );
    let (mut size, mut ty) = (0u64, -1);
    // SAFETY: as above.
    let rv = unsafe { sys::rumpuser_getfileinfo(p.as_ptr() as *const c_char, &mut size, &mut ty) };
    ensure!(
        rv == ENOENT,
        "getfileinfo(missing) returned {rv}, want ENOENT ({ENOENT})"
    );
    Ok(())
}

/// close and iovread on a descriptor never opened give EBADF.
pub fn badfd(_: &Config<'_>) -> CaseResult {
    // SAFETY: plain hypercall on an invalid descriptor.
    let rv = unsafe { sys::rumpuser_close(-1) };
    ensure!(rv == EBADF, "close(-1) returned {rv}, want EBADF ({EBADF})");
    let mut b = [0u8; 512];
    let mut iov = RumpuserIovec {
        base: b.as_mut_ptr() as *mut c_void,
        len: b.len(),
    };
    let mut ret = 0usize;
    // SAFETY: one valid iovec, valid out-pointer.
    let rv = unsafe { sys::rumpuser_iovread(-1, &mut iov, 1, 0, &mut ret) };
    ensure!(
        rv == EBADF,
        "iovread(-1) returned {rv}, want EBADF ({EBADF})"
    );
    Ok(())
}

/// getfileinfo of the disk: a block device or regular file of the
/// configured size.
pub fn getfileinfo(cfg: &Config<'_>) -> CaseResult {
    let p = cpath(cfg.disk_path.unwrap_or(""));
    let (mut size, mut ty) = (0u64, -1);
    // SAFETY: NUL-terminated path, valid out-pointers.
    let rv = unsafe { sys::rumpuser_getfileinfo(p.as_ptr() as *const c_char, &mut size, &mut ty) };
    ensure!(rv == 0, "getfileinfo({:?}) failed: {rv}", cfg.disk_path);
    ensure!(
        ty == RUMPUSER_FT_BLK || ty == RUMPUSER_FT_REG,
        "getfileinfo type {ty}, want BLK (3) or REG (2)"
    );
    ensure!(
        cfg.disk_bytes == 0 || size == cfg.disk_bytes,
        "getfileinfo size {size}, want {}",
        cfg.disk_bytes
    );
    Ok(())
}

/// Completion records for a batch of bio requests.
struct Slot {
    done: AtomicBool,
    bytes: AtomicUsize,
    error: AtomicI32,
}

struct Batch {
    slots: Vec<Slot>,
    completed: AtomicU32,
}

impl Batch {
    fn new(n: usize) -> Arc<Self> {
        let slots = (0..n)
            .map(|_| Slot {
                done: AtomicBool::new(false),
                bytes: AtomicUsize::new(0),
                error: AtomicI32::new(-1),
            })
            .collect();
        Arc::new(Self {
            slots,
            completed: AtomicU32::new(0),
        })
    }
}

struct Arg {
    batch: Arc<Batch>,
    index: usize,
}

unsafe extern "C" fn bio_done(arg: *mut c_void, bytes: usize, error: i32) {
    // SAFETY: `arg` is the `Box<Arg>` leaked by `submit`, completed once.
    let arg = unsafe { alloc::boxed::Box::from_raw(arg as *mut Arg) };
    if !model::holds_cpu() {
        model::violation(format!(
            "bio done({}) called without a rump CPU (or curlwp)",
            arg.index
        ));
    }
    let slot = &arg.batch.slots[arg.index];
    if slot.done.swap(true, Ordering::SeqCst) {
        model::violation(format!("bio request {} completed twice", arg.index));
    }
    slot.bytes.store(bytes, Ordering::SeqCst);
    slot.error.store(error, Ordering::SeqCst);
    arg.batch.completed.fetch_add(1, Ordering::SeqCst);
}

fn submit(fd: i32, op: i32, buf: &mut Buf, off: i64, batch: &Arc<Batch>, index: usize) {
    let arg = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(Arg {
        batch: batch.clone(),
        index,
    }));
    // SAFETY: `buf` stays alive until the batch completes (or is leaked on
    // timeout by `wait_batch`'s caller); `arg` is handed to `bio_done`.
    unsafe {
        sys::rumpuser_bio(
            fd,
            op,
            buf.p as *mut c_void,
            buf.len,
            off,
            Some(bio_done),
            arg as *mut c_void,
        )
    };
}

/// Wait for a batch; on timeout leak `bufs` (the platform may still write).
fn wait_batch(batch: &Arc<Batch>, bufs: &mut Vec<Buf>, what: &str) -> CaseResult {
    let n = batch.slots.len() as u32;
    if !wait_until(20_000, || batch.completed.load(Ordering::SeqCst) >= n) {
        let got = batch.completed.load(Ordering::SeqCst);
        core::mem::forget(core::mem::take(bufs));
        return Err(format!(
            "{what}: {got} of {n} bio requests completed in 20 s"
        ));
    }
    for (i, (s, b)) in batch.slots.iter().zip(bufs.iter()).enumerate() {
        let (e, got) = (
            s.error.load(Ordering::SeqCst),
            s.bytes.load(Ordering::SeqCst),
        );
        ensure!(e == 0, "{what}: request {i} failed: {e}");
        ensure!(
            got == b.len,
            "{what}: request {i} did {got} of {} bytes",
            b.len
        );
    }
    Ok(())
}

/// Write `count` buffers of `len` bytes at `base` + i*len, then read them
/// back into fresh buffers and compare.
fn write_read(
    cfg: &Config<'_>,
    count: usize,
    len: usize,
    base: i64,
    seed: u32,
    sync: bool,
) -> CaseResult {
    let fd = open_disk(cfg)?;
    let r = (|| {
        let mut bufs = Vec::new();
        for i in 0..count {
            let mut b = Buf::new(len)?;
            b.fill(seed + i as u32);
            bufs.push(b);
        }
        let batch = Batch::new(count);
        let op = RUMPUSER_BIO_WRITE | if sync { RUMPUSER_BIO_SYNC } else { 0 };
        for (i, b) in bufs.iter_mut().enumerate() {
            submit(fd, op, b, base + (i * len) as i64, &batch, i);
        }
        wait_batch(&batch, &mut bufs, "bio write")?;
        let mut back = Vec::new();
        for _ in 0..count {
            let mut b = Buf::new(len)?;
            b.bytes().fill(0);
            back.push(b);
        }
        let batch = Batch::new(count);
        for (i, b) in back.iter_mut().enumerate() {
            submit(fd, RUMPUSER_BIO_READ, b, base + (i * len) as i64, &batch, i);
        }
        wait_batch(&batch, &mut back, "bio read")?;
        for (i, b) in back.iter_mut().enumerate() {
            b.check(seed + i as u32, &format!("bio read of request {i}"))?;
        }
        Ok(())
    })();
    close(fd)?;
    r
}

/// One 4 KiB write, then a read of it, matches; done runs holding a CPU.
pub fn bio_write_read(cfg: &Config<'_>) -> CaseResult {
    write_read(cfg, 1, 4096, 0, 1, false)?;
    write_read(cfg, 1, 512, 8192, 2, true)
}

/// 32 requests in flight all complete, each exactly once, with the data.
pub fn bio_many(cfg: &Config<'_>) -> CaseResult {
    write_read(cfg, 32, 4096, 64 * 1024, 100, false)
}

/// The largest transfer NetBSD issues (64 KiB).
pub fn bio_max(cfg: &Config<'_>) -> CaseResult {
    write_read(cfg, 2, 64 * 1024, 256 * 1024, 200, false)
}

/// iovwrite of three pieces, iovread back in two different pieces.
pub fn iov_write_read(cfg: &Config<'_>) -> CaseResult {
    let fd = open_disk(cfg)?;
    let r = (|| {
        let mut src = Buf::new(4096)?;
        src.fill(300);
        let base = src.p;
        let w = [(0usize, 512usize), (512, 2048), (2560, 1536)];
        let iov: Vec<RumpuserIovec> = w
            .map(|(o, l)| RumpuserIovec {
                base: base.wrapping_add(o) as *mut c_void,
                len: l,
            })
            .into_iter()
            .collect();
        let mut ret = 0usize;
        // SAFETY: iovecs into a live buffer; valid out-pointer.
        let rv =
            unsafe { sys::rumpuser_iovwrite(fd, iov.as_ptr(), iov.len(), 512 * 1024, &mut ret) };
        ensure!(rv == 0, "iovwrite failed: {rv}");
        ensure!(ret == 4096, "iovwrite wrote {ret} of 4096");
        let mut dst = Buf::new(4096)?;
        dst.bytes().fill(0);
        let dbase = dst.p;
        let mut iov: Vec<RumpuserIovec> = [(0usize, 1024usize), (1024, 3072)]
            .map(|(o, l)| RumpuserIovec {
                base: dbase.wrapping_add(o) as *mut c_void,
                len: l,
            })
            .into_iter()
            .collect();
        // SAFETY: as above.
        let rv =
            unsafe { sys::rumpuser_iovread(fd, iov.as_mut_ptr(), iov.len(), 512 * 1024, &mut ret) };
        ensure!(rv == 0, "iovread failed: {rv}");
        ensure!(ret == 4096, "iovread read {ret} of 4096");
        dst.check(300, "iovread")
    })();
    close(fd)?;
    r
}

/// syncfd with write, barrier and sync flags succeeds.
pub fn syncfd(cfg: &Config<'_>) -> CaseResult {
    let fd = open_disk(cfg)?;
    let r = (|| {
        for flags in [
            RUMPUSER_SYNCFD_WRITE,
            RUMPUSER_SYNCFD_BARRIER,
            RUMPUSER_SYNCFD_WRITE | RUMPUSER_SYNCFD_SYNC,
        ] {
            // SAFETY: plain hypercall on an open descriptor.
            let rv = unsafe { sys::rumpuser_syncfd(fd, flags, 0, 0) };
            ensure!(rv == 0, "syncfd(flags {flags}) failed: {rv}");
        }
        Ok(())
    })();
    close(fd)?;
    r
}
