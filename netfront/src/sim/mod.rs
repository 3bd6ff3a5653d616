//! The simulated network backend for host tests (`sim` feature): a
//! [`SimNetback`] per vif on the simulated hypervisor and xenstored of
//! `xen_platform::sim`, a [`Wire`] for loopback and two-guest links, seeded
//! fault injection, and [`sim_services`] to give a simulated guest the
//! services a [`Netfront`](crate::Netfront) needs.

pub mod netback;
pub mod rng;
pub mod wire;

pub use netback::{
    BackendFaults, FrontFeatures, Malice, NetbackConfig, NetbackStats, SimFrame, SimNetback,
};
pub use rng::XorShift;
pub use wire::{Wire, WireFaults, WireStats};

use std::sync::Arc;

use xen_platform::services::DomId;
use xen_platform::sim::xenstore::{SimXenstore, SimXs};
use xen_platform::sim::{SimEvtchnDomain, SimGrantDomain, SimHypervisor, SimPageAllocator};

use crate::vif::{Netfront, Services};

/// The services of a simulated guest.
pub type SimServices = Services<SimEvtchnDomain, SimGrantDomain, SimPageAllocator, Arc<SimXs>>;
/// A netfront on the simulated hypervisor.
pub type SimNetfront = Netfront<SimEvtchnDomain, SimGrantDomain, SimPageAllocator, Arc<SimXs>>;

/// Domain `dom`'s services on `hv` and `store` (a new xenstore
/// connection).
pub fn sim_services(hv: &SimHypervisor, store: &SimXenstore, dom: DomId) -> SimServices {
    Services {
        evtchn: hv.evtchn(dom),
        grants: hv.grant_table(dom),
        pages: hv.pages(dom),
        xenstore: Arc::new(store.connect(dom)),
    }
}
