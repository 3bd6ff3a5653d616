//! Hypervisor services as drivers see them: event channels (Xen's
//! `event_channel.h`), grant table v1 (`grant_table.h`) and pages shared
//! with a peer (the 4 KiB frames those grants name), as traits with newtype
//! ids, implemented by the real platform and by the simulator.

use crate::error::XenError;

/// A Xen domain id (`domid_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomId(pub u16);

/// An event channel port (`evtchn_port_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port(pub u32);

/// A grant reference (`grant_ref_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrantRef(pub u32);

/// Event channels as drivers see them (event_channel.h).
pub trait EventChannels {
    /// Allocates a port that `remote` may bind to (`EVTCHNOP_alloc_unbound`).
    fn alloc_unbound(&self, remote: DomId) -> Result<Port, XenError>;
    /// Binds a local port to `remote`'s unbound `remote_port`
    /// (`EVTCHNOP_bind_interdomain`).
    fn bind_interdomain(&self, remote: DomId, remote_port: Port) -> Result<Port, XenError>;
    /// Signals the peer of `port` (`EVTCHNOP_send`).
    fn notify(&self, port: Port) -> Result<(), XenError>;
    /// Closes `port` (`EVTCHNOP_close`).
    fn close(&self, port: Port) -> Result<(), XenError>;
    /// Masks `port`: events stay pending but raise no upcall.
    fn mask(&self, port: Port);
    /// Unmasks `port`.
    fn unmask(&self, port: Port);
    /// Returns whether the port had an event pending, clearing it.
    fn take_pending(&self, port: Port) -> bool;
}

/// Grant table v1 as drivers see it (grant_table.h).
pub trait GrantTable {
    /// Grants `domid` access to guest frame `gfn`.
    fn grant_access(&self, domid: DomId, gfn: u64, readonly: bool) -> Result<GrantRef, XenError>;
    /// Ends access; Err(XenError::Busy) while the peer still has it mapped (GTF_reading/GTF_writing), the entry stays valid then.
    fn end_access(&self, gref: GrantRef) -> Result<(), XenError>;
    /// Grants currently live.
    fn live_grants(&self) -> usize;
}

/// Bytes in a page shared with a peer (one 4 KiB frame, `XEN_PAGE_SIZE`).
pub const PAGE_SIZE: usize = 4096;

/// Checks that `len` bytes from `offset` lie inside one page.
pub fn check_page_range(offset: usize, len: usize) -> Result<(), XenError> {
    match offset.checked_add(len) {
        Some(end) if end <= PAGE_SIZE => Ok(()),
        _ => Err(XenError::InvalidArgument("range outside the shared page")),
    }
}

/// A page shared with a peer: a frame this domain grants (a frontend's ring
/// or buffer), or one it mapped from a peer (a simulated backend's view).
///
/// The peer may change the contents at any time, so everything read is
/// untrusted; copy it out once and check the copy. Byte ranges outside the
/// page are refused with [`XenError::InvalidArgument`], never accessed.
pub trait SharedPage {
    /// The guest frame number (what a grant names).
    fn gfn(&self) -> u64;
    /// Copies `buf.len()` bytes from `offset` into `buf`.
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), XenError>;
    /// Copies `data` into the page at `offset`.
    fn write(&self, offset: usize, data: &[u8]) -> Result<(), XenError>;
    /// Atomically loads the u32 at `offset` with acquire ordering (a ring
    /// index written by the peer).
    ///
    /// # Panics
    /// If `offset` is not 4-aligned or not inside the page: offsets of ring
    /// indices are constants of the caller, never peer data.
    fn load_acquire_u32(&self, offset: usize) -> u32;
    /// Atomically stores the u32 at `offset` with release ordering
    /// (publishes a ring index after the entries it covers).
    ///
    /// # Panics
    /// As [`SharedPage::load_acquire_u32`].
    fn store_release_u32(&self, offset: usize, value: u32);

    /// Reads a little-endian u16 at `offset`.
    fn read_u16(&self, offset: usize) -> Result<u16, XenError> {
        let mut b = [0; 2];
        self.read(offset, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }
    /// Reads a little-endian u32 at `offset` (not atomically).
    fn read_u32(&self, offset: usize) -> Result<u32, XenError> {
        let mut b = [0; 4];
        self.read(offset, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    /// Reads a little-endian u64 at `offset` (not atomically).
    fn read_u64(&self, offset: usize) -> Result<u64, XenError> {
        let mut b = [0; 8];
        self.read(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    /// Writes a little-endian u16 at `offset`.
    fn write_u16(&self, offset: usize, value: u16) -> Result<(), XenError> {
        self.write(offset, &value.to_le_bytes())
    }
    /// Writes a little-endian u32 at `offset` (not atomically).
    fn write_u32(&self, offset: usize, value: u32) -> Result<(), XenError> {
        self.write(offset, &value.to_le_bytes())
    }
    /// Writes a little-endian u64 at `offset` (not atomically).
    fn write_u64(&self, offset: usize, value: u64) -> Result<(), XenError> {
        self.write(offset, &value.to_le_bytes())
    }
}

/// Where drivers get pages to share with a peer.
pub trait PageAllocator {
    /// The pages handed out.
    type Page: SharedPage;
    /// A zeroed page. Dropping it frees it: a caller that granted the page
    /// must end the grant (`end_access` returned `Ok`) before dropping it.
    fn alloc_page(&self) -> Result<Self::Page, XenError>;
}

/// The hypervisor services a PV frontend driver (netfront, blkfront) runs
/// on, one handle per service; the drivers are generic over all four.
#[derive(Debug, Clone)]
pub struct DriverServices<E, G, A, S> {
    /// Event channels.
    pub evtchn: E,
    /// The grant table.
    pub grants: G,
    /// Where shared pages come from.
    pub pages: A,
    /// Xenstore (anything that derefs to a
    /// [`XenstoreOps`](crate::xenstore::XenstoreOps): `&Client`,
    /// `Arc<SimXs>`, ...).
    pub xenstore: S,
}

impl<T: EventChannels + ?Sized> EventChannels for &T {
    fn alloc_unbound(&self, remote: DomId) -> Result<Port, XenError> {
        (**self).alloc_unbound(remote)
    }
    fn bind_interdomain(&self, remote: DomId, remote_port: Port) -> Result<Port, XenError> {
        (**self).bind_interdomain(remote, remote_port)
    }
    fn notify(&self, port: Port) -> Result<(), XenError> {
        (**self).notify(port)
    }
    fn close(&self, port: Port) -> Result<(), XenError> {
        (**self).close(port)
    }
    fn mask(&self, port: Port) {
        (**self).mask(port)
    }
    fn unmask(&self, port: Port) {
        (**self).unmask(port)
    }
    fn take_pending(&self, port: Port) -> bool {
        (**self).take_pending(port)
    }
}

impl<T: GrantTable + ?Sized> GrantTable for &T {
    fn grant_access(&self, domid: DomId, gfn: u64, readonly: bool) -> Result<GrantRef, XenError> {
        (**self).grant_access(domid, gfn, readonly)
    }
    fn end_access(&self, gref: GrantRef) -> Result<(), XenError> {
        (**self).end_access(gref)
    }
    fn live_grants(&self) -> usize {
        (**self).live_grants()
    }
}

impl<T: PageAllocator + ?Sized> PageAllocator for &T {
    type Page = T::Page;
    fn alloc_page(&self) -> Result<T::Page, XenError> {
        (**self).alloc_page()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_ranges() {
        assert!(check_page_range(0, PAGE_SIZE).is_ok());
        assert!(check_page_range(PAGE_SIZE, 0).is_ok());
        assert!(check_page_range(4095, 1).is_ok());
        assert!(check_page_range(4095, 2).is_err());
        assert!(check_page_range(usize::MAX, 2).is_err());
    }
}
