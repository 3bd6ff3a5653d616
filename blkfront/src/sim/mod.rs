//! The simulated block backend for host tests (`sim` feature): a
//! [`SimBlkback`] per vbd on the simulated hypervisor and xenstored of
//! `xen_platform::sim`, backing a disk in memory, with configurable keys,
//! seeded fault injection and protocol violations, and [`sim_services`] to
//! give a simulated guest the services a [`Blkfront`]
//! needs.

pub mod blkback;
pub mod rng;

pub use blkback::{BlkFaults, BlkbackConfig, BlkbackStats, Malice, SimBlkback};
pub use rng::XorShift;

use std::sync::Arc;

use xen_platform::services::DomId;
use xen_platform::sim::xenstore::{SimXenstore, SimXs};
use xen_platform::sim::{SimEvtchnDomain, SimGrantDomain, SimHypervisor, SimPageAllocator};

use crate::disk::{Blkfront, Services};

/// The services of a simulated guest.
pub type SimServices = Services<SimEvtchnDomain, SimGrantDomain, SimPageAllocator, Arc<SimXs>>;
/// A blkfront on the simulated hypervisor.
pub type SimBlkfront = Blkfront<SimEvtchnDomain, SimGrantDomain, SimPageAllocator, Arc<SimXs>>;

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
