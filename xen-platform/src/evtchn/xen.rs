//! Event channels on real Xen: the upcall (registered through
//! `HVM_PARAM_CALLBACK_IRQ`), per-port bindings, and the
//! `EVTCHNOP_*` operations (`event_channel.h`).

use super::scan::{Scanner, PORTS, WORDS, WORD_BITS};
use crate::arch::x86_64::upcall::UPCALL_VECTOR;
use crate::error::XenError;
use crate::hypercall;
use crate::sched::{without_interrupts, IrqLock, WaitQueue};
use crate::services::{DomId, EventChannels, Port};
use crate::shared_info::shared_info_ptr;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// What an event on a port does.
#[derive(Clone, Copy)]
enum Binding {
    /// Latch it for `take_pending` and wake [`EVENTS`].
    Default,
    /// Call the handler.
    Handler(fn(Port)),
    /// Latch it and wake this queue.
    Queue(&'static WaitQueue),
}

/// Per-port bindings.
static BINDINGS: IrqLock<[Binding; PORTS]> = IrqLock::new([Binding::Default; PORTS]);
/// Events taken off the shared pending bitmap by the upcall but not yet
/// consumed by `take_pending` (ports without a handler).
static LATCHED: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];
/// The fair scan's state (vCPU 0; one per vCPU later).
static SCANNER: IrqLock<Scanner> = IrqLock::new(Scanner::new());

/// Woken (`wake_all`) for every event on a port with no handler or queue
/// bound; wait on it with `take_pending(port)` in the condition.
pub static EVENTS: WaitQueue = WaitQueue::new();

/// The shared-info fields the event code uses, as atomics.
struct Shared {
    upcall_pending: &'static AtomicU8,
    pending_sel: &'static AtomicU64,
    pending: &'static [AtomicU64; WORDS],
    mask: &'static [AtomicU64; WORDS],
}

fn shared() -> Option<Shared> {
    let si = shared_info_ptr()?;
    // SAFETY: `si` is the mapped shared-info page, valid for the domain's
    // life. Xen updates these fields concurrently, with atomic bit
    // operations on naturally aligned integers; viewing them as atomics of
    // the same size and alignment (u8 / xen_ulong_t = u64) is the sound way
    // to share them. Nothing in the guest accesses them non-atomically.
    unsafe {
        let vi = &raw mut (*si).vcpu_info[0];
        Some(Shared {
            upcall_pending: AtomicU8::from_ptr(&raw mut (*vi).evtchn_upcall_pending),
            pending_sel: AtomicU64::from_ptr(&raw mut (*vi).evtchn_pending_sel),
            pending: &*(&raw const (*si).evtchn_pending).cast::<[AtomicU64; WORDS]>(),
            mask: &*(&raw const (*si).evtchn_mask).cast::<[AtomicU64; WORDS]>(),
        })
    }
}

fn word_bit(port: Port) -> Option<(usize, u64)> {
    let p = port.0 as usize;
    (p < PORTS).then(|| (p / WORD_BITS, 1u64 << (p % WORD_BITS)))
}

/// Registers the upcall vector with Xen. Interrupts must still be off; the
/// shared-info page must be mapped.
pub(crate) fn init() -> Result<(), XenError> {
    let si = shared_info_ptr().ok_or(XenError::InvalidArgument("shared info not mapped"))?;
    // The vector callback ignores evtchn_upcall_mask, but keep it clear
    // so the flag never contradicts the delivery state.
    // SAFETY: as in `shared`: an atomic byte store to vcpu_info 0's mask
    // flag in the mapped shared-info page.
    unsafe {
        AtomicU8::from_ptr(&raw mut (*si).vcpu_info[0].evtchn_upcall_mask)
            .store(0, Ordering::SeqCst);
    }
    let via = (u64::from(xen_abi::HVM_PARAM_CALLBACK_TYPE_VECTOR) << 56) | u64::from(UPCALL_VECTOR);
    hypercall::hvm_set_param(xen_abi::HVM_PARAM_CALLBACK_IRQ, via)
}

/// Upcalls in progress on vCPU 0 (1 while the scan runs; 2 while a nested
/// entry runs on top of it).
static UPCALL_DEPTH: AtomicUsize = AtomicUsize::new(0);
/// Set by a nested upcall: the running scan must look again before it
/// returns.
static RESCAN: AtomicBool = AtomicBool::new(false);
/// Upcalls that arrived while another was running on the same vCPU.
static NESTED_UPCALLS: AtomicU64 = AtomicU64::new(0);

/// How many upcalls arrived while another was still running (and were
/// folded into it). The upcall runs with interrupts off, so this counts
/// deliveries that hardware or the hypervisor made anyway.
pub fn nested_upcalls() -> u64 {
    NESTED_UPCALLS.load(Ordering::Relaxed)
}

/// The upcall, called by the vector stub with interrupts off.
///
/// It must be re-entrant: although the gate clears RFLAGS.IF, the vector
/// has been seen delivered again on top of a running upcall (with IF clear
/// in the interrupted frame). A nested entry must not take the scanner
/// lock, which the upcall it interrupted holds on this very vCPU (it would
/// spin for ever): like Linux (`xed_nesting_count`) and Mini-OS
/// (`in_callback`), it only tells the running scan to look again, and
/// returns. Nothing is lost: the pending bits stay set in shared info, and
/// a nested entry that comes after the scan's last look leaves
/// `evtchn_upcall_pending` set, so Xen raises the vector again once the
/// outer upcall's `iretq` re-enables interrupts.
pub(crate) extern "C" fn rumpx_evtchn_upcall() {
    if UPCALL_DEPTH.fetch_add(1, Ordering::SeqCst) != 0 {
        NESTED_UPCALLS.fetch_add(1, Ordering::Relaxed);
        RESCAN.store(true, Ordering::SeqCst);
        UPCALL_DEPTH.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    scan_and_dispatch();
    UPCALL_DEPTH.fetch_sub(1, Ordering::SeqCst);
}

fn scan_and_dispatch() {
    let Some(sh) = shared() else {
        return;
    };
    let mut scanner = SCANNER.lock();
    loop {
        sh.upcall_pending.store(0, Ordering::SeqCst);
        scanner.add_sel(sh.pending_sel.swap(0, Ordering::SeqCst));
        while let Some(port) = scanner
            .next(|w| sh.pending[w].load(Ordering::Acquire) & !sh.mask[w].load(Ordering::Acquire))
        {
            let (w, bit) = (port / WORD_BITS, 1u64 << (port % WORD_BITS));
            // Clear before dispatch: a new event on the port sets it again.
            if sh.pending[w].fetch_and(!bit, Ordering::AcqRel) & bit != 0 {
                dispatch(Port(port as u32), w, bit);
            }
        }
        // A nested upcall (see `rumpx_evtchn_upcall`) left its events to
        // this scan.
        let nested = RESCAN.swap(false, Ordering::SeqCst);
        if sh.upcall_pending.load(Ordering::SeqCst) == 0 && !nested {
            break;
        }
    }
}

fn dispatch(port: Port, w: usize, bit: u64) {
    let binding = BINDINGS.lock()[port.0 as usize];
    match binding {
        Binding::Handler(f) => f(port),
        Binding::Queue(q) => {
            LATCHED[w].fetch_or(bit, Ordering::AcqRel);
            q.wake_all();
        }
        Binding::Default => {
            LATCHED[w].fetch_or(bit, Ordering::AcqRel);
            EVENTS.wake_all();
        }
    }
}

fn set_binding(port: Port, b: Binding) {
    if let Some(slot) = BINDINGS.lock().get_mut(port.0 as usize) {
        *slot = b;
    }
}

/// Calls `handler(port)` (in the upcall, interrupts off) for each event on
/// `port`. An event latched before the binding is handed over at once.
/// Ports outside the 2-level range are ignored.
pub fn bind_handler(port: Port, handler: fn(Port)) {
    let Some((w, bit)) = word_bit(port) else {
        return;
    };
    without_interrupts(|| {
        set_binding(port, Binding::Handler(handler));
        if LATCHED[w].fetch_and(!bit, Ordering::AcqRel) & bit != 0 {
            handler(port);
        }
    });
}

/// Latches events on `port` for [`take_pending`] and wakes `queue`.
pub fn bind_wait_queue(port: Port, queue: &'static WaitQueue) {
    set_binding(port, Binding::Queue(queue));
    if is_pending(port) {
        queue.wake_all();
    }
}

/// Back to the default: latch and wake [`EVENTS`].
pub fn unbind(port: Port) {
    set_binding(port, Binding::Default);
}

/// A fresh port starts unbound, with no stale latch, unmasked.
fn fresh(port: u32) -> Result<Port, XenError> {
    let port = Port(port);
    let (w, bit) = word_bit(port).ok_or(XenError::PeerMisbehaved(
        "event channel port beyond 2-level range",
    ))?;
    unbind(port);
    LATCHED[w].fetch_and(!bit, Ordering::AcqRel);
    unmask(port)?;
    Ok(port)
}

/// `EVTCHNOP_bind_virq` for vCPU 0.
pub fn bind_virq(virq: u32) -> Result<Port, XenError> {
    fresh(hypercall::evtchn_bind_virq(virq, 0)?)
}

/// `EVTCHNOP_alloc_unbound`: a port `remote` may bind to.
pub fn alloc_unbound(remote: DomId) -> Result<Port, XenError> {
    fresh(hypercall::evtchn_alloc_unbound(remote.0)?)
}

/// `EVTCHNOP_bind_interdomain`.
pub fn bind_interdomain(remote: DomId, remote_port: Port) -> Result<Port, XenError> {
    fresh(hypercall::evtchn_bind_interdomain(remote.0, remote_port.0)?)
}

/// `EVTCHNOP_send`: notifies the other end.
pub fn send(port: Port) -> Result<(), XenError> {
    hypercall::evtchn_send(port.0)
}

/// `EVTCHNOP_close`; the port's binding and latch are dropped.
pub fn close(port: Port) -> Result<(), XenError> {
    hypercall::evtchn_close(port.0)?;
    if let Some((w, bit)) = word_bit(port) {
        unbind(port);
        LATCHED[w].fetch_and(!bit, Ordering::AcqRel);
    }
    Ok(())
}

/// Masks `port`: events stay pending in shared info but raise no upcall.
pub fn mask(port: Port) {
    if let (Some(sh), Some((w, bit))) = (shared(), word_bit(port)) {
        sh.mask[w].fetch_or(bit, Ordering::SeqCst);
    }
}

/// `EVTCHNOP_unmask`: Xen clears the mask bit and, if the port is pending,
/// raises the upcall so the event is delivered.
pub fn unmask(port: Port) -> Result<(), XenError> {
    hypercall::evtchn_unmask(port.0)
}

/// Whether `port` has an event pending (in shared info, or latched).
pub fn is_pending(port: Port) -> bool {
    let Some((w, bit)) = word_bit(port) else {
        return false;
    };
    let hw = shared().is_some_and(|sh| sh.pending[w].load(Ordering::Acquire) & bit != 0);
    hw || LATCHED[w].load(Ordering::Acquire) & bit != 0
}

/// Returns whether `port` had an event (pending in shared info, e.g. while
/// masked, or latched by the upcall), and clears it.
pub fn take_pending(port: Port) -> bool {
    let Some((w, bit)) = word_bit(port) else {
        return false;
    };
    let hw = shared().is_some_and(|sh| sh.pending[w].fetch_and(!bit, Ordering::AcqRel) & bit != 0);
    let latched = LATCHED[w].fetch_and(!bit, Ordering::AcqRel) & bit != 0;
    hw || latched
}

/// What the guest and Xen say about one port, for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortState {
    /// Pending in shared info (set by Xen, not yet taken by the upcall).
    pub pending: bool,
    /// Masked in shared info.
    pub masked: bool,
    /// Taken by the upcall, not yet consumed by `take_pending`.
    pub latched: bool,
    /// The port's word is flagged in `evtchn_pending_sel`.
    pub selected: bool,
    /// `evtchn_upcall_pending` of vCPU 0.
    pub upcall_pending: bool,
}

impl core::fmt::Display for PortState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "pending {} masked {} latched {} selected {} upcall_pending {}",
            self.pending as u8,
            self.masked as u8,
            self.latched as u8,
            self.selected as u8,
            self.upcall_pending as u8
        )
    }
}

/// A snapshot of `port`'s delivery state (None outside the 2-level range
/// or before shared info is mapped).
pub fn port_state(port: Port) -> Option<PortState> {
    let (w, bit) = word_bit(port)?;
    let sh = shared()?;
    Some(PortState {
        pending: sh.pending[w].load(Ordering::Acquire) & bit != 0,
        masked: sh.mask[w].load(Ordering::Acquire) & bit != 0,
        latched: LATCHED[w].load(Ordering::Acquire) & bit != 0,
        selected: sh.pending_sel.load(Ordering::Acquire) & (1 << w) != 0,
        upcall_pending: sh.upcall_pending.load(Ordering::Acquire) != 0,
    })
}

/// [`EventChannels`] on real Xen (the module's functions).
#[derive(Debug, Default, Clone, Copy)]
pub struct XenEventChannels;

impl EventChannels for XenEventChannels {
    fn alloc_unbound(&self, remote: DomId) -> Result<Port, XenError> {
        alloc_unbound(remote)
    }
    fn bind_interdomain(&self, remote: DomId, remote_port: Port) -> Result<Port, XenError> {
        bind_interdomain(remote, remote_port)
    }
    fn notify(&self, port: Port) -> Result<(), XenError> {
        send(port)
    }
    fn close(&self, port: Port) -> Result<(), XenError> {
        close(port)
    }
    fn mask(&self, port: Port) {
        mask(port)
    }
    fn unmask(&self, port: Port) {
        // Fails only for a port that is not ours; nothing to deliver then.
        let _ = unmask(port);
    }
    fn take_pending(&self, port: Port) -> bool {
        take_pending(port)
    }
}
