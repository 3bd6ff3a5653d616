//! The xenstore connection of a PVH guest: the shared page from
//! `HVM_PARAM_STORE_PFN` (identity-mapped, address = pfn << 12) and the
//! event channel from `HVM_PARAM_STORE_EVTCHN` (`hvm/params.h`), with a
//! polling [`Waiter`] until the scheduler's wait queues are plugged in.

use super::client::{Client, Waiter};
use super::page::{self, PageHalf};
use super::XsError;
use crate::error::XenError;
use crate::hypercall;
use crate::services::Port;

/// The client type of the real connection.
pub type XenClient<W> = Client<PageHalf, W>;

/// Where xenstore is, from the HVM parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreParams {
    /// Guest frame of the shared page.
    pub pfn: u64,
    /// Event channel to xenstored.
    pub port: Port,
}

/// Reads and checks `HVM_PARAM_STORE_PFN` and `HVM_PARAM_STORE_EVTCHN`.
pub fn store_params() -> Result<StoreParams, XsError> {
    let pfn = hypercall::hvm_get_param(xen_abi::HVM_PARAM_STORE_PFN)?;
    let port = hypercall::hvm_get_param(xen_abi::HVM_PARAM_STORE_EVTCHN)?;
    if pfn == 0 || pfn >= (1 << 20) {
        // Only the first 4 GiB are identity-mapped.
        return Err(XsError::Hypercall(XenError::PeerMisbehaved(
            "HVM_PARAM_STORE_PFN is not a frame below 4 GiB",
        )));
    }
    let port = u32::try_from(port).map_err(|_| {
        XsError::Hypercall(XenError::PeerMisbehaved(
            "HVM_PARAM_STORE_EVTCHN out of range",
        ))
    })?;
    Ok(StoreParams {
        pfn,
        port: Port(port),
    })
}

/// Connects to xenstore through the shared page, waiting with `waiter`.
/// Call once: two clients on one page would steal each other's replies.
pub fn connect<W: Waiter>(params: StoreParams, waiter: W) -> XenClient<W> {
    let page = (params.pfn << 12) as *mut xen_abi::xenstore_domain_interface;
    // SAFETY: the page Xen named is identity-mapped (checked below 4 GiB in
    // `store_params`), shared with xenstored for the domain's life, and
    // accessed by Rust only through these halves (the caller connects once).
    let (req, rsp) = unsafe { page::halves(page) };
    Client::new(req, rsp, waiter)
}

/// A [`Waiter`] that polls: each wait yields the vCPU (`SCHEDOP_yield`) so
/// xenstored in dom0 can run, and re-notifies the peer now and then (a
/// notification may be lost before xenstored bound the channel). Without a
/// clock it counts yields: a deadline means "give up after
/// `yields_per_ms` * (deadline - now) yields", with `now` a yield count.
pub struct PollingWaiter {
    port: Port,
    /// Yields counted so far (the pseudo clock, in yields).
    yields: core::sync::atomic::AtomicU64,
    /// Yields that stand for one millisecond of pseudo time.
    yields_per_ms: u64,
}

/// Re-notify the peer every this many yields of waiting.
const RENOTIFY_YIELDS: u64 = 1024;

impl PollingWaiter {
    /// A polling waiter on `port`, counting 100 yields as a millisecond.
    pub fn new(port: Port) -> Self {
        PollingWaiter {
            port,
            yields: core::sync::atomic::AtomicU64::new(0),
            yields_per_ms: 100,
        }
    }

    /// The pseudo clock in ns (yields converted at the configured rate).
    pub fn now_ns(&self) -> u64 {
        let y = self.yields.load(core::sync::atomic::Ordering::Relaxed);
        y.saturating_mul(1_000_000) / self.yields_per_ms
    }
}

impl Waiter for PollingWaiter {
    fn wait(&self, deadline_ns: Option<u64>) -> bool {
        if deadline_ns.is_some_and(|d| self.now_ns() >= d) {
            return false;
        }
        let y = self
            .yields
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        if y % RENOTIFY_YIELDS == RENOTIFY_YIELDS - 1 {
            let _ = hypercall::evtchn_send(self.port.0);
        }
        hypercall::sched_yield();
        true
    }

    fn notify_peer(&self) -> Result<(), XenError> {
        hypercall::evtchn_send(self.port.0)
    }
}
