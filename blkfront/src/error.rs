//! Errors of blkfront, keeping "peer misbehaved", "hypercall failed",
//! "busy, retry", "I/O error from the disk", "read-only" and "bad
//! argument" apart.

use core::fmt;

use xen_platform::xenstore::XsError;
use xen_platform::XenError;

/// An error of a virtual block device, or of one request on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlkError {
    /// Peer misbehaved: the backend broke the blkif protocol (a bad
    /// response id, operation, status or ring index) or wrote unusable
    /// xenstore values; the disk was failed, every pending request
    /// completed with an error and every grant released.
    PeerMisbehaved(&'static str),
    /// A hypercall failed (event channel or grant table operation).
    Hypercall(XenError),
    /// Busy, retry: the software queue is full, or no page or grant is to
    /// be had right now; poll and retry.
    Busy(&'static str),
    /// Xenstore failed; its own error kinds (including "peer misbehaved"
    /// for malformed replies) are inside.
    Xenstore(XsError),
    /// No memory for pages or bookkeeping.
    OutOfMemory,
    /// I/O error from the disk: the backend answered `BLKIF_RSP_ERROR`.
    Io,
    /// The backend does not do this operation: the feature is not offered,
    /// or the backend answered `BLKIF_RSP_EOPNOTSUPP` (the feature is then
    /// turned off).
    NotSupported(&'static str),
    /// The disk is read-only (`info` has `VDISK_READONLY` or `mode` is
    /// `r`): writes and discards are refused without being sent.
    ReadOnly,
    /// Bad argument: an offset or length that is not a multiple of the
    /// logical sector size, a range past the end of the disk, or empty.
    BadArgument(&'static str),
    /// The disk is not connected now (the handshake is running, or the
    /// backend went away and has not come back yet).
    NotConnected,
    /// The request was pending when the backend closed or went away (or
    /// the disk was shut down); it may or may not have been carried out.
    Detached,
    /// The disk was failed after an earlier violation (the reason is
    /// inside); `restart` it to try again.
    Disconnected(&'static str),
    /// The backend offers a disk blkfront cannot drive (e.g. a sector
    /// size above the 4 KiB page).
    Unsupported(&'static str),
    /// The backend did not reach the wanted state before the deadline.
    Timeout,
}

impl From<XenError> for BlkError {
    fn from(e: XenError) -> BlkError {
        match e {
            XenError::PeerMisbehaved(why) => BlkError::PeerMisbehaved(why),
            XenError::Busy(why) => BlkError::Busy(why),
            XenError::Memory(_) => BlkError::OutOfMemory,
            other => BlkError::Hypercall(other),
        }
    }
}

impl From<XsError> for BlkError {
    fn from(e: XsError) -> BlkError {
        match e {
            XsError::Timeout => BlkError::Timeout,
            other => BlkError::Xenstore(other),
        }
    }
}

impl BlkError {
    /// Whether this is the backend's fault (the disk fails on it).
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            BlkError::PeerMisbehaved(_) | BlkError::Xenstore(XsError::Malformed(_))
        )
    }

    /// Whether retrying later may succeed without anything else changing.
    pub fn is_retry(&self) -> bool {
        matches!(self, BlkError::Busy(_))
    }

    /// A short static description, for a failure reason.
    pub fn reason(&self) -> &'static str {
        match self {
            BlkError::PeerMisbehaved(why) | BlkError::Disconnected(why) => why,
            BlkError::Busy(why)
            | BlkError::NotSupported(why)
            | BlkError::BadArgument(why)
            | BlkError::Unsupported(why) => why,
            BlkError::Hypercall(_) => "a hypercall failed",
            BlkError::Xenstore(XsError::Malformed(why)) => why,
            BlkError::Xenstore(_) => "a xenstore operation failed",
            BlkError::OutOfMemory => "out of memory",
            BlkError::Io => "I/O error",
            BlkError::ReadOnly => "read-only disk",
            BlkError::NotConnected => "not connected",
            BlkError::Detached => "backend went away",
            BlkError::Timeout => "timed out",
        }
    }
}

impl fmt::Display for BlkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlkError::PeerMisbehaved(why) => write!(f, "backend misbehaved: {why}"),
            BlkError::Hypercall(e) => write!(f, "hypercall failed: {e}"),
            BlkError::Busy(why) => write!(f, "busy, retry: {why}"),
            BlkError::Xenstore(e) => write!(f, "{e}"),
            BlkError::OutOfMemory => f.write_str("out of memory"),
            BlkError::Io => f.write_str("I/O error reported by the backend"),
            BlkError::NotSupported(why) => write!(f, "not supported: {why}"),
            BlkError::ReadOnly => f.write_str("the disk is read-only"),
            BlkError::BadArgument(why) => write!(f, "bad argument: {why}"),
            BlkError::NotConnected => f.write_str("disk not connected"),
            BlkError::Detached => f.write_str("the backend went away with the request pending"),
            BlkError::Disconnected(why) => write!(f, "disk failed: {why}"),
            BlkError::Unsupported(why) => write!(f, "backend unsupported: {why}"),
            BlkError::Timeout => f.write_str("timed out waiting for the backend"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xen_platform::error::MemError;

    #[test]
    fn platform_errors_keep_their_kind() {
        assert_eq!(
            BlkError::from(XenError::PeerMisbehaved("x")),
            BlkError::PeerMisbehaved("x")
        );
        assert_eq!(BlkError::from(XenError::Busy("b")), BlkError::Busy("b"));
        assert_eq!(
            BlkError::from(XenError::Memory(MemError::OutOfMemory)),
            BlkError::OutOfMemory
        );
        let h = XenError::Hypercall { op: "o", errno: 5 };
        assert_eq!(BlkError::from(h), BlkError::Hypercall(h));
        assert_eq!(BlkError::from(XsError::Timeout), BlkError::Timeout);
        assert!(BlkError::from(XsError::Malformed("m")).is_peer_fault());
        assert!(BlkError::Busy("r").is_retry());
        assert!(!BlkError::Io.is_retry());
        assert_eq!(BlkError::Xenstore(XsError::Malformed("m")).reason(), "m");
        assert_eq!(BlkError::ReadOnly.reason(), "read-only disk");
    }
}
