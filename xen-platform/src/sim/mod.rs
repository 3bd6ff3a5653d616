//! The simulated hypervisor for host tests (`sim` feature, and all unit
//! tests): in-memory stand-ins for Xen's services (`event_channel.h`,
//! `grant_table.h` v1, and xenstored in [`xenstore`]) behind the same
//! traits as the real platform, for several simulated domains, with
//! switches to make the peer misbehave.
//!
//! [`SimHypervisor`] holds one event-channel table and one grant table;
//! [`SimHypervisor::evtchn`] and [`SimHypervisor::grant_table`] give one
//! domain's view implementing [`EventChannels`](crate::services::EventChannels)
//! and [`GrantTable`](crate::services::GrantTable). Backends in tests use the
//! shared handles ([`SimEventChannels`], [`SimGrants`]) to bind, map and
//! misbehave.

pub mod evtchn;
pub mod grant;
pub mod xenstore;

pub use evtchn::{SimEventChannels, SimEvtchnDomain};
pub use grant::{SimGrantDomain, SimGrantEntry, SimGrants, SimMapping};

use crate::services::DomId;

/// A simulated hypervisor: event channels and grant tables shared by all
/// simulated domains. Clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct SimHypervisor {
    /// All domains' event channels.
    pub evtchns: SimEventChannels,
    /// All domains' grant tables.
    pub grants: SimGrants,
}

impl SimHypervisor {
    /// A hypervisor with no open ports and no grants.
    pub fn new() -> Self {
        Self::default()
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
