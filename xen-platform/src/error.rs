//! Errors of xen-platform: failed hypercalls (negative Xen errno values, as
//! in Xen's public `errno.h`), misbehaving peers and timeouts.

use core::fmt;

/// An error from the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XenError {
    /// A hypercall failed; `errno` is the positive Xen errno value (the
    /// hypercall returned `-errno`).
    Hypercall {
        /// Which hypercall (and sub-operation) failed.
        op: &'static str,
        /// The Xen errno value (positive).
        errno: u32,
    },
    /// The peer (backend or toolstack) broke the protocol, e.g. ring indices
    /// that cannot happen.
    PeerMisbehaved(&'static str),
    /// Waited for the peer longer than the bound allows.
    Timeout(&'static str),
    /// Busy, retry later: e.g. a grant still in use by the peer.
    Busy(&'static str),
    /// The caller passed an id or value the platform does not know, e.g. a
    /// grant reference that is not granted or a port that is not open.
    InvalidArgument(&'static str),
    /// Memory (frames, heap, page tables) for the operation could not be had.
    Memory(MemError),
}

/// An error of the memory manager (`mm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemError {
    /// No free frames, or no contiguous run long enough, for the request.
    OutOfMemory,
    /// A request of zero size, or too large to express.
    BadSize,
    /// Frames given back that are not allocated (double free, foreign frames).
    NotAllocated,
    /// The memory manager is not initialised yet (`mm::init`).
    NotInitialised,
    /// The address is not mapped the way the operation needs (no table, a
    /// 1 GiB page, or above the 4 GiB identity map).
    Unmapped,
}

impl From<MemError> for XenError {
    fn from(e: MemError) -> Self {
        XenError::Memory(e)
    }
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemError::OutOfMemory => "out of memory",
            MemError::BadSize => "bad allocation size",
            MemError::NotAllocated => "freeing memory that is not allocated",
            MemError::NotInitialised => "memory manager not initialised",
            MemError::Unmapped => "address not mapped as needed",
        })
    }
}

impl XenError {
    /// Turns a raw hypercall return value into `Ok(value)` or a
    /// [`XenError::Hypercall`] (Xen returns `-errno` on failure).
    pub fn check(op: &'static str, ret: i64) -> Result<u64, XenError> {
        if ret < 0 {
            // Xen's errno values are small; clamp absurd values rather than
            // wrap.
            let errno = u32::try_from(ret.unsigned_abs()).unwrap_or(u32::MAX);
            Err(XenError::Hypercall { op, errno })
        } else {
            Ok(ret as u64)
        }
    }
}

impl fmt::Display for XenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XenError::Hypercall { op, errno } => {
                write!(f, "hypercall {op} failed with Xen errno {errno}")
            }
            XenError::PeerMisbehaved(what) => write!(f, "peer misbehaved: {what}"),
            XenError::Timeout(what) => write!(f, "timed out: {what}"),
            XenError::Busy(what) => write!(f, "busy, retry later: {what}"),
            XenError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            XenError::Memory(e) => write!(f, "memory: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_splits_success_and_errno() {
        assert_eq!(XenError::check("x", 0), Ok(0));
        assert_eq!(XenError::check("x", 0x4_0011), Ok(0x4_0011));
        assert_eq!(
            XenError::check("memory_op", -22),
            Err(XenError::Hypercall {
                op: "memory_op",
                errno: 22
            })
        );
        assert_eq!(
            XenError::check("x", i64::MIN),
            Err(XenError::Hypercall {
                op: "x",
                errno: u32::MAX
            })
        );
    }
}
