//! Requests as the layer above (rumpuser's `bio`) sees them: an
//! asynchronous read, write, flush, barrier or discard of a byte range,
//! identified by the caller's cookie, completed later with a
//! [`Completion`]; and the checks a request must pass before it is
//! queued.

use alloc::vec::Vec;

use crate::error::BlkError;
use crate::info::DiskInfo;

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlkOp {
    /// Read `len` bytes at byte `offset`.
    Read {
        /// Byte offset (a multiple of the sector size).
        offset: u64,
        /// Bytes (a non-zero multiple of the sector size).
        len: usize,
    },
    /// Write `data` at byte `offset`; the buffer comes back in the
    /// completion.
    Write {
        /// Byte offset (a multiple of the sector size).
        offset: u64,
        /// The bytes (a non-zero multiple of the sector size).
        data: Vec<u8>,
    },
    /// Make everything written so far durable
    /// (`BLKIF_OP_FLUSH_DISKCACHE`; needs `feature-flush-cache`).
    Flush,
    /// Order writes around this point (an empty
    /// `BLKIF_OP_WRITE_BARRIER`; needs `feature-barrier`).
    Barrier,
    /// The range is no longer in use (`BLKIF_OP_DISCARD`; needs
    /// `feature-discard`).
    Discard {
        /// Byte offset (a multiple of the sector size).
        offset: u64,
        /// Bytes (a non-zero multiple of the sector size).
        len: u64,
    },
    /// As `Discard`, with every copy rendered unrecoverable
    /// (`BLKIF_DISCARD_SECURE`; needs `discard-secure`).
    SecureDiscard {
        /// Byte offset (a multiple of the sector size).
        offset: u64,
        /// Bytes (a non-zero multiple of the sector size).
        len: u64,
    },
}

/// A request and the caller's cookie for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkRequest {
    /// What to do.
    pub op: BlkOp,
    /// The caller's cookie, handed back in the [`Completion`].
    pub tag: u64,
}

/// blkfront's own name for a submitted request (unique per disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestTag(pub u64);

/// A finished request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The caller's cookie.
    pub tag: u64,
    /// What `submit` returned for it.
    pub request: RequestTag,
    /// How it went.
    pub result: Result<(), BlkError>,
    /// A read's data (when it succeeded), or a write's buffer (always).
    pub data: Option<Vec<u8>>,
}

/// The kind of a request, for the data path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
    Flush,
    Barrier,
    Discard { secure: bool },
}

/// Checks a byte range against the disk: aligned to the logical sector,
/// non-empty, inside the disk.
pub(crate) fn check_range(info: &DiskInfo, offset: u64, len: u64) -> Result<(), BlkError> {
    let ss = u64::from(info.sector_size);
    if len == 0 {
        return Err(BlkError::BadArgument("empty range"));
    }
    if offset % ss != 0 {
        return Err(BlkError::BadArgument(
            "offset is not a multiple of the sector size",
        ));
    }
    if len % ss != 0 {
        return Err(BlkError::BadArgument(
            "length is not a multiple of the sector size",
        ));
    }
    match offset.checked_add(len) {
        Some(end) if end <= info.capacity_bytes() => Ok(()),
        _ => Err(BlkError::BadArgument("range runs past the end of the disk")),
    }
}

/// Checks a request against the disk and its features; returns its kind
/// and byte range.
pub(crate) fn check(info: &DiskInfo, op: &BlkOp) -> Result<(Kind, u64, u64), BlkError> {
    let f = &info.features;
    let writes = matches!(
        op,
        BlkOp::Write { .. } | BlkOp::Discard { .. } | BlkOp::SecureDiscard { .. }
    );
    if writes && info.read_only {
        return Err(BlkError::ReadOnly);
    }
    Ok(match *op {
        BlkOp::Read { offset, len } => {
            check_range(info, offset, len as u64)?;
            (Kind::Read, offset, len as u64)
        }
        BlkOp::Write { offset, ref data } => {
            check_range(info, offset, data.len() as u64)?;
            (Kind::Write, offset, data.len() as u64)
        }
        BlkOp::Flush => {
            if !f.flush && !info.read_only {
                return Err(BlkError::NotSupported("backend offers no flush"));
            }
            (Kind::Flush, 0, 0)
        }
        BlkOp::Barrier => {
            if !f.barrier && !info.read_only {
                return Err(BlkError::NotSupported("backend offers no barrier"));
            }
            (Kind::Barrier, 0, 0)
        }
        BlkOp::Discard { offset, len } | BlkOp::SecureDiscard { offset, len } => {
            let secure = matches!(op, BlkOp::SecureDiscard { .. });
            match f.discard {
                None => return Err(BlkError::NotSupported("backend offers no discard")),
                Some(d) if secure && !d.secure => {
                    return Err(BlkError::NotSupported("backend offers no secure discard"))
                }
                Some(_) => {}
            }
            check_range(info, offset, len)?;
            (Kind::Discard { secure }, offset, len)
        }
    })
}
