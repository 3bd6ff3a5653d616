//! A block device over the file hypercalls: `rumpuser_open` (BIO mode),
//! `rumpuser_getfileinfo` for the size, `rumpuser_bio` for transfers
//! (waiting for the `done` callback on a condition variable, rump CPU
//! released) and `rumpuser_syncfd` for flushes; rumpcore-ext2's
//! [`BlockDevice`]. Transfers are widened to whole `BIO_BLOCK`s (a bounce
//! buffer, read-modify-write for writes): Xen's disks take nothing
//! smaller, while the file system reads pieces such as a 64-byte group
//! descriptor table.

use alloc::boxed::Box;
use alloc::ffi::CString;
use alloc::vec;
use core::ffi::{c_int, c_void};

use rumpcore_ext2::{BlockDevice, IoError};
use rumpuser_abi::{
    errno, BIO_BLOCK, BIO_MAXPHYS, RUMPUSER_BIO_READ, RUMPUSER_BIO_WRITE, RUMPUSER_FT_BLK,
    RUMPUSER_FT_REG, RUMPUSER_OPEN_BIO, RUMPUSER_OPEN_RDONLY, RUMPUSER_OPEN_RDWR,
    RUMPUSER_SYNCFD_SYNC, RUMPUSER_SYNCFD_WRITE,
};

use crate::klock::{KCond, KMutex};
use crate::sys;

/// Where a transfer's completion lands.
struct BioWait {
    /// `(bytes_done, error)` once `done` ran.
    done: KMutex<Option<(usize, c_int)>>,
    cv: KCond,
}

/// A host file or device reached through `rumpuser_bio`.
pub struct BioDev {
    fd: c_int,
    size: u64,
    /// Boxed: the platform's callback holds its address during a transfer.
    wait: Box<BioWait>,
}

extern "C" fn bio_done(arg: *mut c_void, bytes: usize, error: c_int) {
    // SAFETY: `arg` is the `BioWait` of a `BioDev` whose transfer is in
    // flight; the device outlives it (transfers are waited for).
    let w = unsafe { &*(arg as *const BioWait) };
    *w.done.lock() = Some((bytes, error));
    w.cv.broadcast();
}

impl BioDev {
    /// Opens `hostpath` (a regular file or block device) for bio.
    pub fn open(hostpath: &str, read_only: bool) -> Result<BioDev, i32> {
        let path = CString::new(hostpath).map_err(|_| errno::EINVAL)?;
        let (mut size, mut ty) = (0u64, 0);
        // SAFETY: NUL-terminated path, writable out-pointers.
        let rv = unsafe { sys::rumpuser_getfileinfo(path.as_ptr(), &mut size, &mut ty) };
        if rv != 0 {
            return Err(rv);
        }
        if ty != RUMPUSER_FT_BLK && ty != RUMPUSER_FT_REG {
            return Err(errno::ENODEV);
        }
        let acc = if read_only {
            RUMPUSER_OPEN_RDONLY
        } else {
            RUMPUSER_OPEN_RDWR
        };
        let mut fd = -1;
        // SAFETY: as above.
        let rv = unsafe { sys::rumpuser_open(path.as_ptr(), acc | RUMPUSER_OPEN_BIO, &mut fd) };
        if rv != 0 {
            return Err(rv);
        }
        Ok(BioDev {
            fd,
            size,
            wait: Box::new(BioWait {
                done: KMutex::new(None),
                cv: KCond::new(),
            }),
        })
    }

    /// Closes the host descriptor.
    pub fn close(self) {
        // SAFETY: our descriptor, closed once; no transfer is in flight.
        unsafe { sys::rumpuser_close(self.fd) };
    }

    /// One transfer of at most `BIO_MAXPHYS` bytes, waited for.
    fn bio(&mut self, op: c_int, data: *mut u8, len: usize, off: u64) -> Result<(), IoError> {
        if off
            .checked_add(len as u64)
            .is_none_or(|end| end > self.size)
        {
            return Err(IoError::OutOfRange);
        }
        *self.wait.done.lock() = None;
        let arg = &*self.wait as *const BioWait as *mut c_void;
        // SAFETY: `data` is valid for `len` bytes until we have seen `done`
        // run (we wait below); `arg` outlives the transfer.
        unsafe {
            sys::rumpuser_bio(
                self.fd,
                op,
                data as *mut c_void,
                len,
                off as i64,
                Some(bio_done),
                arg,
            )
        };
        let mut g = self.wait.done.lock();
        loop {
            if let Some((bytes, error)) = *g {
                return if error == 0 && bytes == len {
                    Ok(())
                } else {
                    Err(IoError::Device)
                };
            }
            g.wait(&self.wait.cv);
        }
    }
}

impl BioDev {
    /// The `BIO_BLOCK`-aligned range around `len` bytes at `offset`,
    /// clamped to the device's end; None when it is the range itself.
    fn widened(&self, offset: u64, len: usize) -> Option<(u64, usize)> {
        let b = BIO_BLOCK as u64;
        let end = offset.saturating_add(len as u64);
        let start = offset / b * b;
        let wide_end = end.div_ceil(b).saturating_mul(b).min(self.size.max(end));
        (start != offset || wide_end != end).then(|| (start, (wide_end - start) as usize))
    }

    fn read_aligned(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        for (i, chunk) in buf.chunks_mut(BIO_MAXPHYS).enumerate() {
            let off = offset + (i * BIO_MAXPHYS) as u64;
            self.bio(RUMPUSER_BIO_READ, chunk.as_mut_ptr(), chunk.len(), off)?;
        }
        Ok(())
    }

    fn write_aligned(&mut self, offset: u64, data: &[u8]) -> Result<(), IoError> {
        for (i, chunk) in data.chunks(BIO_MAXPHYS).enumerate() {
            let off = offset + (i * BIO_MAXPHYS) as u64;
            // The platform only reads from a WRITE transfer's buffer.
            let p = chunk.as_ptr() as *mut u8;
            self.bio(RUMPUSER_BIO_WRITE, p, chunk.len(), off)?;
        }
        Ok(())
    }
}

impl BlockDevice for BioDev {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let Some((start, len)) = self.widened(offset, buf.len()) else {
            return self.read_aligned(offset, buf);
        };
        let mut bounce = vec![0u8; len];
        self.read_aligned(start, &mut bounce)?;
        let at = (offset - start) as usize;
        buf.copy_from_slice(&bounce[at..at + buf.len()]);
        Ok(())
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), IoError> {
        let Some((start, len)) = self.widened(offset, data.len()) else {
            return self.write_aligned(offset, data);
        };
        let mut bounce = vec![0u8; len];
        self.read_aligned(start, &mut bounce)?;
        let at = (offset - start) as usize;
        bounce[at..at + data.len()].copy_from_slice(data);
        self.write_aligned(start, &bounce)
    }

    fn flush(&mut self) -> Result<(), IoError> {
        let flags = RUMPUSER_SYNCFD_WRITE | RUMPUSER_SYNCFD_SYNC;
        // SAFETY: our open descriptor.
        match unsafe { sys::rumpuser_syncfd(self.fd, flags, 0, 0) } {
            0 => Ok(()),
            _ => Err(IoError::Device),
        }
    }

    fn size(&self) -> u64 {
        self.size
    }
}
