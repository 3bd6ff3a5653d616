//! The simulated hypervisor for host tests (`sim` feature, and all unit
//! tests): in-memory stand-ins for Xen's services (`event_channel.h`,
//! `grant_table.h` v1, guest memory, and xenstored in [`xenstore`]) behind
//! the same traits as the real platform, for several simulated domains,
//! with switches to make the peer misbehave.
//!
//! [`SimHypervisor`] holds one event-channel table, one grant table and
//! the domains' memory; [`SimHypervisor::evtchn`],
//! [`SimHypervisor::grant_table`] and [`SimHypervisor::pages`] give one
//! domain's view implementing [`EventChannels`](crate::services::EventChannels),
//! [`GrantTable`](crate::services::GrantTable) and
//! [`PageAllocator`](crate::services::PageAllocator). Backends in tests use
//! the shared handles ([`SimEventChannels`], [`SimGrants`], [`SimMemory`])
//! and [`SimHypervisor::map_page`] to bind, map and misbehave.

pub mod evtchn;
pub mod grant;
pub mod memory;
pub mod rng;
pub mod xenstore;

pub use evtchn::{SimEventChannels, SimEvtchnDomain};
pub use grant::{SimGrantDomain, SimGrantEntry, SimGrants, SimMapping};
pub use memory::{SimMappedPage, SimMemory, SimPage, SimPageAllocator, SimPageView};

use crate::error::XenError;
use crate::services::{DomId, GrantRef};

/// A simulated hypervisor: event channels, grant tables and memory shared
/// by all simulated domains. Clones share the same state.
#[derive(Debug, Clone)]
pub struct SimHypervisor {
    /// All domains' event channels.
    pub evtchns: SimEventChannels,
    /// All domains' grant tables.
    pub grants: SimGrants,
    /// All domains' pages (checked against `grants` when freed).
    pub memory: SimMemory,
}

impl Default for SimHypervisor {
    fn default() -> Self {
        let grants = SimGrants::new();
        SimHypervisor {
            evtchns: SimEventChannels::new(),
            memory: SimMemory::with_grants(grants.clone()),
            grants,
        }
    }
}

impl SimHypervisor {
    /// A hypervisor with no open ports, no grants and no pages.
    pub fn new() -> Self {
        Self::default()
    }

    /// Domain `dom`'s page allocator.
    pub fn pages(&self, dom: DomId) -> SimPageAllocator {
        self.memory.allocator(dom)
    }

    /// A backend `mapper` maps `granter`'s `gref` (writable if `write`):
    /// the grant is mapped until the result is dropped.
    pub fn map_page(
        &self,
        mapper: DomId,
        granter: DomId,
        gref: GrantRef,
        write: bool,
    ) -> Result<SimMappedPage, XenError> {
        SimMappedPage::map(&self.grants, &self.memory, mapper, granter, gref, write)
    }

    /// Domain `dom`'s event channels.
    pub fn evtchn(&self, dom: DomId) -> SimEvtchnDomain {
        self.evtchns.domain(dom)
    }

    /// Domain `dom`'s grant table.
    pub fn grant_table(&self, dom: DomId) -> SimGrantDomain {
        self.grants.domain(dom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::{EventChannels, GrantTable, Port};

    /// A frontend shares a page and a port with a backend and tears both
    /// down without leaks.
    #[test]
    fn front_and_back_share_a_page_and_a_port() {
        let hv = SimHypervisor::new();
        let (front_id, back_id) = (DomId(3), DomId(0));
        let (front_ev, front_gt) = (hv.evtchn(front_id), hv.grant_table(front_id));
        let back_ev = hv.evtchn(back_id);

        let gref = front_gt.grant_access(back_id, 0x4321, false).unwrap();
        let port = front_ev.alloc_unbound(back_id).unwrap();
        let back_port = back_ev.bind_interdomain(front_id, port).unwrap();
        let m = hv.grants.map(back_id, front_id, gref, true).unwrap();
        assert_eq!(m.gfn, 0x4321);
        back_ev.notify(back_port).unwrap();
        assert!(front_ev.take_pending(port));

        assert!(front_gt.end_access(gref).is_err());
        hv.grants.unmap(m).unwrap();
        front_gt.end_access(gref).unwrap();
        front_ev.close(port).unwrap();
        back_ev.close(back_port).unwrap();
        assert_eq!(front_gt.live_grants(), 0);
        assert_eq!(hv.evtchns.open_ports(front_id), 0);
        assert_eq!(hv.evtchns.open_ports(back_id), 0);
        assert!(!front_ev.take_pending(Port(1)));
    }
}
