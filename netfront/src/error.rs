//! Errors of netfront, keeping "peer misbehaved", "hypercall failed" and
//! "busy, retry" apart.

use core::fmt;

use xen_platform::xenstore::XsError;
use xen_platform::XenError;

/// An error of a vif.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    /// Peer misbehaved: the backend broke the netif protocol (a bad
    /// response id, status, offset, size, flag or ring index) or wrote
    /// unusable xenstore values; the vif was disconnected and its grants
    /// released.
    PeerMisbehaved(&'static str),
    /// A hypercall failed (event channel or grant table operation).
    Hypercall(XenError),
    /// Busy, retry: no room on the tx ring, no free tx id, grant reference
    /// or page right now; poll and retry.
    Busy(&'static str),
    /// Xenstore failed; its own error kinds (including "peer misbehaved"
    /// for malformed replies) are inside.
    Xenstore(XsError),
    /// No memory for pages or bookkeeping.
    OutOfMemory,
    /// The vif is not connected now (the handshake is running, or the
    /// backend went away and has not come back yet).
    NotConnected,
    /// The vif was disconnected after an earlier violation (the reason is
    /// inside); `restart` it to try again.
    Disconnected(&'static str),
    /// The caller's frame or offload hints cannot be sent on this vif
    /// (empty, too large, or an offload the backend does not offer).
    InvalidFrame(&'static str),
    /// The backend lacks a feature netfront needs (`feature-rx-copy`).
    Unsupported(&'static str),
    /// The backend did not reach the wanted state before the deadline.
    Timeout,
}

impl From<XenError> for NetError {
    fn from(e: XenError) -> NetError {
        match e {
            XenError::PeerMisbehaved(why) => NetError::PeerMisbehaved(why),
            XenError::Busy(why) => NetError::Busy(why),
            XenError::Memory(_) => NetError::OutOfMemory,
            other => NetError::Hypercall(other),
        }
    }
}

impl From<XsError> for NetError {
    fn from(e: XsError) -> NetError {
        match e {
            XsError::Timeout => NetError::Timeout,
            other => NetError::Xenstore(other),
        }
    }
}

impl NetError {
    /// Whether this is the backend's fault (the vif disconnects on it).
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            NetError::PeerMisbehaved(_) | NetError::Xenstore(XsError::Malformed(_))
        )
    }

    /// Whether retrying later may succeed without anything else changing.
    pub fn is_retry(&self) -> bool {
        matches!(self, NetError::Busy(_))
    }

    /// A short static description, for a disconnect reason.
    pub fn reason(&self) -> &'static str {
        match self {
            NetError::PeerMisbehaved(why) | NetError::Disconnected(why) => why,
            NetError::Busy(why) | NetError::InvalidFrame(why) | NetError::Unsupported(why) => why,
            NetError::Hypercall(_) => "a hypercall failed",
            NetError::Xenstore(XsError::Malformed(why)) => why,
            NetError::Xenstore(_) => "a xenstore operation failed",
            NetError::OutOfMemory => "out of memory",
            NetError::NotConnected => "not connected",
            NetError::Timeout => "timed out",
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::PeerMisbehaved(why) => write!(f, "backend misbehaved: {why}"),
            NetError::Hypercall(e) => write!(f, "hypercall failed: {e}"),
            NetError::Busy(why) => write!(f, "busy, retry: {why}"),
            NetError::Xenstore(e) => write!(f, "{e}"),
            NetError::OutOfMemory => f.write_str("out of memory"),
            NetError::NotConnected => f.write_str("vif not connected"),
            NetError::Disconnected(why) => write!(f, "vif disconnected: {why}"),
            NetError::InvalidFrame(why) => write!(f, "cannot send frame: {why}"),
            NetError::Unsupported(why) => write!(f, "backend unsupported: {why}"),
            NetError::Timeout => f.write_str("timed out waiting for the backend"),
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
            NetError::from(XenError::PeerMisbehaved("x")),
            NetError::PeerMisbehaved("x")
        );
        assert_eq!(NetError::from(XenError::Busy("b")), NetError::Busy("b"));
        assert_eq!(
            NetError::from(XenError::Memory(MemError::OutOfMemory)),
            NetError::OutOfMemory
        );
        let h = XenError::Hypercall { op: "o", errno: 5 };
        assert_eq!(NetError::from(h), NetError::Hypercall(h));
        assert_eq!(NetError::from(XsError::Timeout), NetError::Timeout);
        assert!(NetError::from(XsError::Malformed("m")).is_peer_fault());
        assert!(NetError::Busy("r").is_retry());
        assert_eq!(NetError::Xenstore(XsError::Malformed("m")).reason(), "m");
    }
}
