//! Files for the rumpuser interface: host paths `xvda` .. `xvdz` (also
//! `/dev/xvdX`) or a vbd number name the domain's blkfront disks, opened
//! (connected) on first use and kept for the domain's life. `bio` submits
//! to blkfront and completes from the disk's own platform thread, a
//! kernel thread that waits on the disk's event channel and calls `done`
//! holding a rump CPU; `iovread`/`iovwrite`/`syncfd` go the same way and
//! wait for their answer without the rump CPU. Unaligned `iov` transfers
//! read (and write back) the whole sectors around them.
//!
//! The `extern "C"` functions are in [`edge`].

pub mod edge;

use super::hyp;
use super::sync::SleepLock;
use crate::params;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use blkfront::{BlkError, BlkOp, BlkRequest, Blkfront, Config};
use core::ffi::c_int;
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};
use rumpuser_abi::errno::{
    EAGAIN, EBADF, EEXIST, EINVAL, EIO, EMFILE, ENOENT, ENOMEM, ENOSPC, ENXIO, EOPNOTSUPP, EROFS,
    ETIMEDOUT,
};
use rumpuser_abi::{RUMPUSER_OPEN_ACCMODE, RUMPUSER_OPEN_CREATE, RUMPUSER_OPEN_EXCL};
use xen_platform::evtchn::{self, XenEventChannels};
use xen_platform::grant::{self, XenGrantTable};
use xen_platform::mm::shared::XenPageAllocator;
use xen_platform::sched::{self, Event, IrqLock, WaitResult};
use xen_platform::xenstore::xen::{self as xs, EvtchnWaiter, XenClient};
use xen_platform::{println, time};

/// The driver type on Xen.
type Driver = Blkfront<
    XenEventChannels,
    &'static XenGrantTable,
    XenPageAllocator,
    &'static XenClient<EvtchnWaiter>,
>;

/// What a finished request hands back: a read's data, or an errno.
pub type Outcome = Result<Option<Vec<u8>>, c_int>;

/// Called once when a request finishes, on the disk's thread (no rump
/// CPU held; a bio completion takes one itself).
pub type OnDone = Box<dyn FnOnce(Outcome) + Send>;

/// Longest a disk may take to connect.
const CONNECT_TIMEOUT_NS: u64 = 30_000_000_000;
/// Longest a waiting `iov`/`sync` call waits for its request.
const REQUEST_TIMEOUT_NS: u64 = 120_000_000_000;
/// The disk thread looks at the backend's state after this long without
/// an answer while requests are in flight.
const STALL_CHECK_NS: u64 = 1_000_000_000;
/// Largest piece of one `iov` transfer sent as one request.
const IOV_CHUNK: usize = 256 * 1024;
/// Stack of a disk thread.
const DISK_STACK: usize = 64 * 1024;

/// The driver and the requests it has in flight, behind the disk's lock.
struct Io {
    drv: Driver,
    pending: BTreeMap<u64, OnDone>,
    next_tag: u64,
}

/// An open disk.
pub struct Disk {
    name: String,
    io: SleepLock<Box<Io>>,
    port: Option<xen_platform::services::Port>,
    capacity: u64,
    sector: u64,
    read_only: bool,
    flush: bool,
    barrier: bool,
    /// The disk thread became a kernel thread.
    kernel_thread: AtomicBool,
}

/// Maps a blkfront error to a NetBSD errno.
fn errno_of(e: &BlkError) -> c_int {
    match e {
        BlkError::ReadOnly => EROFS,
        BlkError::BadArgument(_) => EINVAL,
        BlkError::NotSupported(_) => EOPNOTSUPP,
        BlkError::Busy(_) => EAGAIN,
        BlkError::OutOfMemory => ENOMEM,
        BlkError::NotConnected | BlkError::Disconnected(_) | BlkError::Detached => ENXIO,
        BlkError::Timeout => ETIMEDOUT,
        _ => EIO,
    }
}

fn log(args: fmt::Arguments<'_>) {
    println!("rumpuser-xen: blkfront: {args}");
}

/// Disks opened so far (kept for the domain's life).
static DISKS: SleepLock<Vec<Arc<Disk>>> = SleepLock::new(Vec::new());

/// Finds the disk `path` names and connects to it (once); blocks, so it
/// is called without the rump CPU.
fn find_or_open(path: &str) -> Result<Arc<Disk>, c_int> {
    if !params::is_disk_name(path) {
        return Err(ENOENT);
    }
    let mut disks = DISKS.lock();
    if let Some(d) = disks.iter().find(|d| params::path_names_vbd(path, &d.name)) {
        return Ok(Arc::clone(d));
    }
    let store = xs::xenstore().map_err(|_| ENXIO)?;
    let devices = blkfront::vbds(store).map_err(|_| ENXIO)?;
    let device = devices
        .into_iter()
        .find(|d| params::path_names_vbd(path, &d.id))
        .ok_or(ENOENT)?;
    let id = device.id.clone();
    let svc = blkfront::Services {
        evtchn: XenEventChannels,
        grants: grant::grant_table().map_err(|_| ENXIO)?,
        pages: XenPageAllocator,
        xenstore: store,
    };
    let config = Config {
        log,
        ..Config::default()
    };
    let mut drv = Driver::new(svc, device, config).map_err(|e| errno_of(&e))?;
    drv.connect(Some(time::monotonic_ns() + CONNECT_TIMEOUT_NS))
        .map_err(|e| {
            println!("rumpuser-xen: disk {path} (vbd {id}): connect: {e}");
            ENXIO
        })?;
    let info = drv.info().ok_or(ENXIO)?;
    let disk = Arc::new(Disk {
        name: id,
        port: drv.event_channel(),
        capacity: info.capacity_bytes(),
        sector: u64::from(info.sector_size),
        read_only: info.read_only,
        flush: info.features.flush,
        barrier: info.features.barrier,
        io: SleepLock::new(Box::new(Io {
            drv,
            pending: BTreeMap::new(),
            next_tag: 1,
        })),
        kernel_thread: AtomicBool::new(false),
    });
    let worker = Arc::clone(&disk);
    let thread_name: &'static str = format!("blk {path}").leak();
    sched::spawn_with_stack(thread_name, DISK_STACK, move || serve(worker)).map_err(|_| ENOMEM)?;
    println!(
        "rumpuser-xen: disk {path} (vbd {}): {} bytes, sector {}{}",
        disk.name,
        disk.capacity,
        disk.sector,
        if disk.read_only { ", read-only" } else { "" }
    );
    disks.push(Arc::clone(&disk));
    Ok(disk)
}

/// The disk's thread: collects answers and hands them on, waiting on the
/// disk's event channel in between.
fn serve(disk: Arc<Disk>) {
    loop {
        let mut finished: Vec<(OnDone, Outcome)> = Vec::new();
        let in_flight = {
            let mut io = disk.io.lock();
            let Io { drv, pending, .. } = &mut **io;
            // A violation fails the disk; its requests still come back
            // (failed) through the callback.
            let _ = drv.poll(|c| {
                if let Some(f) = pending.remove(&c.tag) {
                    finished.push((f, c.result.map(|()| c.data).map_err(|e| errno_of(&e))));
                }
            });
            drv.in_flight()
        };
        if !finished.is_empty() {
            for (f, outcome) in finished {
                f(outcome);
            }
            continue;
        }
        let port = disk.port;
        let r = evtchn::EVENTS.wait_for(
            || port.is_some_and(evtchn::take_pending),
            Some(time::monotonic_ns() + STALL_CHECK_NS),
        );
        if r == WaitResult::TimedOut && in_flight > 0 {
            let _ = disk.io.lock().drv.poll_xenbus();
        }
    }
}

impl Disk {
    /// Bytes the disk holds.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Makes the disk thread a kernel thread (once), for calls into the
    /// kernel; false if there is no kernel yet.
    pub fn enter_kernel_once(&self) -> bool {
        if self.kernel_thread.load(Ordering::Relaxed) {
            return true;
        }
        let ok = hyp::become_kernel_thread();
        self.kernel_thread.store(ok, Ordering::Relaxed);
        ok
    }

    /// Queues `op`; `on_done` runs on the disk thread when it finishes.
    /// `rump`: the caller holds a rump CPU (a hypercall), and gives it
    /// back if it has to wait for the disk's lock. On error nothing was
    /// queued and `on_done` is handed back.
    pub fn submit(&self, op: BlkOp, on_done: OnDone, rump: bool) -> Result<(), (c_int, OnDone)> {
        let mut io = if rump {
            self.io.lock_rump()
        } else {
            self.io.lock()
        };
        let tag = io.next_tag;
        io.next_tag += 1;
        match io.drv.submit(BlkRequest { op, tag }) {
            Ok(_) => {
                io.pending.insert(tag, on_done);
                Ok(())
            }
            Err(e) => Err((errno_of(&e), on_done)),
        }
    }

    /// Runs `op` to its end, waiting without the rump CPU.
    fn run(&self, op: BlkOp) -> Outcome {
        let slot: Arc<IrqLock<Option<Outcome>>> = Arc::new(IrqLock::new(None));
        let done = Arc::new(Event::new());
        let (s, d) = (Arc::clone(&slot), Arc::clone(&done));
        let on_done: OnDone = Box::new(move |o| {
            *s.lock() = Some(o);
            d.signal();
        });
        if let Err((e, _)) = self.submit(op, on_done, true) {
            return Err(e);
        }
        let deadline = time::monotonic_ns() + REQUEST_TIMEOUT_NS;
        let r = hyp::blocking(|| loop {
            if done.wait(Some(deadline)) == WaitResult::TimedOut {
                break Err(ETIMEDOUT);
            }
            if let Some(o) = slot.lock().take() {
                break o;
            }
        });
        r
    }

    /// Reads `len` bytes at `off` (any alignment), up to the end of the
    /// disk; returns what was read.
    pub fn read_at(&self, off: u64, len: usize) -> Result<Vec<u8>, c_int> {
        let end = off.saturating_add(len as u64).min(self.capacity);
        if off >= end {
            return Ok(Vec::new());
        }
        let s = self.sector;
        let a_start = off / s * s;
        let a_end = end.div_ceil(s) * s;
        let mut out = Vec::with_capacity((end - off) as usize);
        let mut pos = a_start;
        while pos < a_end {
            let n = (a_end - pos).min(IOV_CHUNK as u64);
            let data = self
                .run(BlkOp::Read {
                    offset: pos,
                    len: n as usize,
                })?
                .ok_or(EIO)?;
            if data.len() as u64 != n {
                return Err(EIO);
            }
            let from = off.max(pos) - pos;
            let to = end.min(pos + n) - pos;
            out.extend_from_slice(&data[from as usize..to as usize]);
            pos += n;
        }
        Ok(out)
    }

    /// Writes `data` at `off` (any alignment; partial sectors are read
    /// first); returns the bytes written (short at the end of the disk).
    pub fn write_at(&self, off: u64, data: &[u8]) -> Result<usize, c_int> {
        if self.read_only {
            return Err(EROFS);
        }
        let end = off.saturating_add(data.len() as u64).min(self.capacity);
        if off >= end {
            return if data.is_empty() { Ok(0) } else { Err(ENOSPC) };
        }
        let data = &data[..(end - off) as usize];
        let s = self.sector;
        let mut written = 0usize;
        while written < data.len() {
            let pos = off + written as u64;
            let piece = &data[written..data.len().min(written + IOV_CHUNK)];
            let p_end = pos + piece.len() as u64;
            let a_start = pos / s * s;
            let a_end = p_end.div_ceil(s) * s;
            let buf = if a_start == pos && a_end == p_end {
                piece.to_vec()
            } else {
                let mut buf = vec![0u8; (a_end - a_start) as usize];
                // Only the first and last sectors are partly new.
                let head = self.read_at(a_start, s as usize)?;
                buf[..head.len()].copy_from_slice(&head);
                if a_end - a_start > s {
                    let tail = self.read_at(a_end - s, s as usize)?;
                    let at = buf.len() - s as usize;
                    buf[at..at + tail.len()].copy_from_slice(&tail);
                }
                let at = (pos - a_start) as usize;
                buf[at..at + piece.len()].copy_from_slice(piece);
                buf
            };
            self.run(BlkOp::Write {
                offset: a_start,
                data: buf,
            })?;
            written += piece.len();
        }
        Ok(written)
    }

    /// The op that makes earlier writes durable (flush, else barrier),
    /// if the backend has one.
    pub fn sync_op(&self) -> Option<BlkOp> {
        if self.read_only {
            None
        } else if self.flush {
            Some(BlkOp::Flush)
        } else if self.barrier {
            Some(BlkOp::Barrier)
        } else {
            None
        }
    }

    /// Makes earlier writes durable (nothing to do without flush or
    /// barrier support: the backend then writes through).
    pub fn sync(&self) -> Result<(), c_int> {
        match self.sync_op() {
            Some(op) => self.run(op).map(|_| ()),
            None => Ok(()),
        }
    }
}

/// An open file descriptor.
struct Fd {
    disk: Arc<Disk>,
    writable: bool,
    readable: bool,
    /// The position of `iov` calls with offset -1.
    pos: u64,
}

/// Open descriptors.
static FDS: IrqLock<BTreeMap<c_int, Fd>> = IrqLock::new(BTreeMap::new());
/// First descriptor number handed out.
const FIRST_FD: c_int = 3;
/// Most descriptors open at once.
const MAX_FDS: usize = 1024;

/// `rumpuser_open`: (blocks while a disk connects).
pub fn open(path: &str, mode: c_int) -> Result<c_int, c_int> {
    let disk = hyp::blocking(|| find_or_open(path))?;
    if mode & RUMPUSER_OPEN_CREATE != 0 && mode & RUMPUSER_OPEN_EXCL != 0 {
        return Err(EEXIST);
    }
    let acc = mode & RUMPUSER_OPEN_ACCMODE;
    let (readable, writable) = match acc {
        0 => (true, false),
        1 => (false, true),
        2 => (true, true),
        _ => return Err(EINVAL),
    };
    if writable && disk.read_only {
        return Err(EROFS);
    }
    let mut fds = FDS.lock();
    if fds.len() >= MAX_FDS {
        return Err(EMFILE);
    }
    let fd = (FIRST_FD..).find(|n| !fds.contains_key(n)).ok_or(EMFILE)?;
    fds.insert(
        fd,
        Fd {
            disk,
            writable,
            readable,
            pos: 0,
        },
    );
    Ok(fd)
}

/// `rumpuser_close` (the disk stays connected).
pub fn close(fd: c_int) -> Result<(), c_int> {
    FDS.lock().remove(&fd).map(|_| ()).ok_or(EBADF)
}

/// `rumpuser_getfileinfo`: (size, type BLK) of a disk.
pub fn file_info(path: &str) -> Result<u64, c_int> {
    hyp::blocking(|| find_or_open(path)).map(|d| d.capacity())
}

/// The disk of `fd`, and whether it may be read and written.
pub fn disk_of(fd: c_int) -> Result<(Arc<Disk>, bool, bool), c_int> {
    let fds = FDS.lock();
    let f = fds.get(&fd).ok_or(EBADF)?;
    Ok((Arc::clone(&f.disk), f.readable, f.writable))
}

/// The offset an `iov` call works at (`off` -1: the descriptor's
/// position), and whether the position moves after it.
pub fn iov_offset(fd: c_int, off: i64) -> Result<(u64, bool), c_int> {
    if off == -1 {
        let fds = FDS.lock();
        Ok((fds.get(&fd).ok_or(EBADF)?.pos, true))
    } else {
        u64::try_from(off).map(|o| (o, false)).map_err(|_| EINVAL)
    }
}

/// Moves the position of `fd` to `pos`.
pub fn set_pos(fd: c_int, pos: u64) {
    if let Some(f) = FDS.lock().get_mut(&fd) {
        f.pos = pos;
    }
}
