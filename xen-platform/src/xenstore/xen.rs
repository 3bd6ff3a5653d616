//! The xenstore connection of a PVH guest: the shared page from
//! `HVM_PARAM_STORE_PFN` (identity-mapped, address = pfn << 12) and the
//! event channel from `HVM_PARAM_STORE_EVTCHN` (`hvm/params.h`); the
//! blocking [`EvtchnWaiter`] (a scheduler wait queue woken by the port) and
//! a [`PollingWaiter`] for use without threads.

use super::client::{Client, Waiter};
use super::page::{self, PageHalf};
use super::XsError;
use crate::error::XenError;
use crate::evtchn;
use crate::hypercall;
use crate::sched::{WaitQueue, WaitResult};
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
/// Use [`xenstore`] instead unless testing: two clients on one page would
/// steal each other's replies.
pub fn connect<W: Waiter>(params: StoreParams, waiter: W) -> XenClient<W> {
    let page = (params.pfn << 12) as *mut xen_abi::xenstore_domain_interface;
    // SAFETY: the page Xen named is identity-mapped (checked below 4 GiB in
    // `store_params`), shared with xenstored for the domain's life, and
    // accessed by Rust only through these halves (the caller connects once).
    let (req, rsp) = unsafe { page::halves(page) };
    Client::new(req, rsp, waiter)
}

/// Threads waiting for xenstore; woken by its event channel.
static XS_WAIT: WaitQueue = WaitQueue::new();

/// Waits on the xenstore event channel through a scheduler wait queue: the
/// vCPU blocks until xenstored signals or the deadline passes.
pub struct EvtchnWaiter {
    port: Port,
}

impl EvtchnWaiter {
    /// The xenstore event channel.
    pub fn port(&self) -> Port {
        self.port
    }
}

impl Waiter for EvtchnWaiter {
    fn wait(&self, ready: &mut dyn FnMut() -> bool, deadline_ns: Option<u64>) -> bool {
        let port = self.port;
        XS_WAIT.wait_for(|| evtchn::take_pending(port) || ready(), deadline_ns) == WaitResult::Woken
    }

    fn notify_peer(&self) -> Result<(), XenError> {
        evtchn::send(self.port)
    }

    fn wake_waiters(&self) {
        XS_WAIT.wake_all();
    }
}

/// The guest's xenstore connection, set up on first use.
static XENSTORE: spin::Once<Result<XenClient<EvtchnWaiter>, XsError>> = spin::Once::new();

/// The guest's xenstore client (blocking on the event channel), connected
/// on first use. Call from threads, not from event handlers.
pub fn xenstore() -> Result<&'static XenClient<EvtchnWaiter>, XsError> {
    XENSTORE
        .call_once(|| {
            let params = store_params()?;
            evtchn::bind_wait_queue(params.port, &XS_WAIT);
            evtchn::unmask(params.port)?;
            Ok(connect(params, EvtchnWaiter { port: params.port }))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A [`Waiter`] that polls: each wait yields the vCPU (`SCHEDOP_yield`) so
/// xenstored in dom0 can run, re-notifying the peer now and then. Deadlines
/// use [`crate::time::monotonic_ns`]. For use before threads run or when
/// event channels are not set up.
pub struct PollingWaiter {
    port: Port,
    yields: core::sync::atomic::AtomicU64,
}

/// Re-notify the peer every this many yields of waiting.
const RENOTIFY_YIELDS: u64 = 1024;

impl PollingWaiter {
    /// A polling waiter on `port`.
    pub fn new(port: Port) -> Self {
        PollingWaiter {
            port,
            yields: core::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Waiter for PollingWaiter {
    fn wait(&self, ready: &mut dyn FnMut() -> bool, deadline_ns: Option<u64>) -> bool {
        if ready() {
            return true;
        }
        if deadline_ns.is_some_and(|d| crate::time::monotonic_ns() >= d) {
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
