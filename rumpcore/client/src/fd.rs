//! An owned kernel descriptor: closed (`rump___sysimpl_close`) on drop.
//! Files and sockets are built on it (and share its `write_all` loop).

use crate::sys;
use crate::{Error, Result};

/// A kernel descriptor number, as `poll` takes it.
pub type RawFd = i32;

/// A descriptor this value owns.
#[derive(Debug)]
pub(crate) struct OwnedFd(RawFd);

impl OwnedFd {
    /// Takes ownership of a descriptor the kernel just returned.
    pub(crate) fn new(fd: RawFd) -> OwnedFd {
        OwnedFd(fd)
    }

    /// The descriptor number.
    pub(crate) fn raw(&self) -> RawFd {
        self.0
    }
}

impl Drop for OwnedFd {
    fn drop(&mut self) {
        // SAFETY: `close` takes a plain integer; this value owns the
        // descriptor, so nothing else uses it afterwards. A failure has
        // nowhere to go (as for std's files).
        unsafe { sys::rump___sysimpl_close(self.0) };
    }
}

/// Writes all of `buf` with `write`, retrying short writes and EINTR;
/// a write of 0 bytes is EIO (no progress possible).
pub(crate) fn write_all_with(
    mut buf: &[u8],
    mut write: impl FnMut(&[u8]) -> Result<usize>,
) -> Result<()> {
    while !buf.is_empty() {
        match write(buf) {
            Ok(0) => return Err(Error::Errno(rumpuser_abi::errno::EIO)),
            Ok(n) => buf = &buf[n.min(buf.len())..],
            Err(Error::Errno(rumpuser_abi::errno::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
