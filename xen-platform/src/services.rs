//! Hypervisor services as drivers see them: event channels (Xen's
//! `event_channel.h`) and grant table v1 (`grant_table.h`), as traits with
//! newtype ids, implemented by the real platform and by the simulator.

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
