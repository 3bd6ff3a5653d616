//! NetBSD's `virt` network interface on netfront (`rumpcomp_virt_*`):
//! unit N is the domain's Nth vif (`device/vif/*` in xenstore order).
//! Each interface has a platform thread that became a kernel thread once;
//! it polls the vif when its event channels fire, hands every received
//! frame to the kernel (`rump_virtif_virt_deliverpkt`) holding a rump
//! CPU, and sends what `rumpcomp_virt_send` queued while the vif was
//! busy. Sends never block: the frame goes out at once when the vif is
//! free, else it waits in a bounded queue for the thread.
//!
//! The vif offers no GSO and no checksum offload: the kernel gets whole
//! frames with valid checksums, as a NIC would deliver them.
//!
//! The `extern "C"` functions are in [`edge`].

pub mod edge;

use super::hyp;
use super::sync::SleepLock;
use crate::params;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::c_int;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use netfront::{Config, NetError, Netfront, TxOffload};
use rumpuser_abi::errno::{ENOMEM, ENXIO};
use xen_platform::evtchn::{self, XenEventChannels};
use xen_platform::grant::{self, XenGrantTable};
use xen_platform::mm::shared::XenPageAllocator;
use xen_platform::sched::{self, IrqLock, JoinHandle};
use xen_platform::xenstore::xen::{self as xs, EvtchnWaiter, XenClient};
use xen_platform::{println, time};

/// The driver type on Xen.
type Vif = Netfront<
    XenEventChannels,
    &'static XenGrantTable,
    XenPageAllocator,
    &'static XenClient<EvtchnWaiter>,
>;

/// Longest a vif may take to connect.
const CONNECT_TIMEOUT_NS: u64 = 30_000_000_000;
/// The thread looks at the link state this often.
const XENBUS_POLL_NS: u64 = 1_000_000_000;
/// Longest the thread sleeps between looks at its flags.
const WAIT_SLICE_NS: u64 = 100_000_000;
/// Frames waiting for the vif at most; more are dropped (counted).
const TX_QUEUE_MAX: usize = 256;
/// Stack of an interface thread.
const VIF_STACK: usize = 64 * 1024;

fn log(args: fmt::Arguments<'_>) {
    println!("rumpuser-xen: netfront: {args}");
}

/// One `virt` interface.
pub struct VirtIf {
    unit: usize,
    vif: SleepLock<Box<Vif>>,
    tx_queue: IrqLock<VecDeque<Vec<u8>>>,
    /// Work for the thread (queued frames) or a stop request.
    kicked: AtomicBool,
    dying: AtomicBool,
    thread: IrqLock<Option<JoinHandle>>,
    /// Frames dropped on the way out (queue full, or refused by the vif).
    pub tx_dropped: AtomicU64,
}

/// The kernel's softc pointer, handed back on delivery.
#[derive(Clone, Copy)]
pub struct Softc(pub *mut rumpuser_abi::VirtifSc);

// SAFETY: the kernel's softc is only passed back to the kernel, from the
// interface's thread, as the virt interface intends.
unsafe impl Send for Softc {}

/// Connects vif number `unit` (without the rump CPU: it blocks) and
/// starts its thread, which delivers to `sc`; returns it and its MAC.
pub fn create(unit: &str, sc: Softc) -> Result<(Arc<VirtIf>, [u8; 6]), c_int> {
    let index = params::virt_unit(unit).ok_or(ENXIO)?;
    let (vif, mac) = hyp::blocking(|| connect(index))?;
    let virt = Arc::new(VirtIf {
        unit: index,
        vif: SleepLock::new(vif),
        tx_queue: IrqLock::new(VecDeque::new()),
        kicked: AtomicBool::new(false),
        dying: AtomicBool::new(false),
        thread: IrqLock::new(None),
        tx_dropped: AtomicU64::new(0),
    });
    let worker = Arc::clone(&virt);
    let handle = sched::spawn_with_stack("virt", VIF_STACK, move || serve(worker, sc))
        .map_err(|_| ENOMEM)?;
    *virt.thread.lock() = Some(handle);
    println!(
        "rumpuser-xen: virt{index}: vif {} mac {}",
        index,
        netfront::Mac(mac)
    );
    Ok((virt, mac))
}

fn connect(index: usize) -> Result<(Box<Vif>, [u8; 6]), c_int> {
    let store = xs::xenstore().map_err(|_| ENXIO)?;
    let device = netfront::vifs(store)
        .map_err(|_| ENXIO)?
        .into_iter()
        .nth(index)
        .ok_or(ENXIO)?;
    let svc = netfront::Services {
        evtchn: XenEventChannels,
        grants: grant::grant_table().map_err(|_| ENXIO)?,
        pages: XenPageAllocator,
        xenstore: store,
    };
    let config = Config {
        rx_gso_tcpv4: false,
        rx_gso_tcpv6: false,
        rx_csum_offload: false,
        rx_ipv6_csum_offload: false,
        log,
        ..Config::default()
    };
    let mut vif = Box::new(Vif::new(svc, device, config).map_err(|_| ENXIO)?);
    vif.connect(Some(time::monotonic_ns() + CONNECT_TIMEOUT_NS))
        .map_err(|e| {
            println!("rumpuser-xen: virt{index}: connect: {e}");
            ENXIO
        })?;
    let mac = vif.mac().ok_or(ENXIO)?;
    Ok((vif, mac.0))
}

/// Sends queued frames while the vif takes them; false if the ring is
/// full (the thread retries after the next poll).
fn flush_queue(v: &VirtIf, vif: &mut Vif) -> bool {
    loop {
        let Some(frame) = v.tx_queue.lock().pop_front() else {
            return true;
        };
        match vif.send(&[&frame], TxOffload::default()) {
            Ok(()) => {}
            Err(NetError::Busy(_)) => {
                v.tx_queue.lock().push_front(frame);
                return false;
            }
            Err(_) => {
                v.tx_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl VirtIf {
    /// `rumpcomp_virt_send`: sends one frame (the pieces are copied
    /// before this returns); never blocks.
    pub fn send(&self, frags: &[&[u8]]) {
        if self.dying.load(Ordering::Relaxed) {
            return;
        }
        if let Some(mut vif) = self.vif.try_lock() {
            if self.tx_queue.lock().is_empty() {
                match vif.send(frags, TxOffload::default()) {
                    Ok(()) => return,
                    Err(NetError::Busy(_)) => {}
                    Err(_) => {
                        self.tx_dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }
        let frame = frags.concat();
        {
            let mut q = self.tx_queue.lock();
            if q.len() >= TX_QUEUE_MAX {
                self.tx_dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            q.push_back(frame);
        }
        self.kick();
    }

    fn kick(&self) {
        self.kicked.store(true, Ordering::Release);
        evtchn::EVENTS.wake_all();
    }

    /// `rumpcomp_virt_dying`: stop delivering.
    pub fn dying(&self) {
        self.dying.store(true, Ordering::Release);
        self.kick();
    }

    /// `rumpcomp_virt_destroy`: stops the thread (waiting for it without
    /// the rump CPU) and disconnects the vif.
    pub fn destroy(&self) {
        self.dying();
        let handle = self.thread.lock().take();
        hyp::blocking(|| {
            if let Some(h) = handle {
                h.join();
            }
            let mut vif = self.vif.lock();
            vif.shutdown();
            let deadline = time::monotonic_ns() + 5_000_000_000;
            while !vif.is_closed() && time::monotonic_ns() < deadline {
                let _ = vif.wait_xenbus(Some(time::monotonic_ns() + WAIT_SLICE_NS));
            }
        });
        println!(
            "rumpuser-xen: virt{}: destroyed ({} frames dropped on the way out)",
            self.unit,
            self.tx_dropped.load(Ordering::Relaxed)
        );
    }
}

/// The interface's thread.
fn serve(v: Arc<VirtIf>, sc: Softc) {
    let mut kernel = false;
    let mut next_xenbus = 0;
    let mut frames: Vec<Vec<u8>> = Vec::new();
    while !v.dying.load(Ordering::Acquire) {
        v.kicked.store(false, Ordering::Release);
        let now = time::monotonic_ns();
        let (more, ports, sent_all) = {
            let mut vif = v.vif.lock();
            let report = vif.poll(|f| frames.push(f.data.to_vec()));
            let sent_all = flush_queue(&v, &mut vif);
            if now >= next_xenbus {
                next_xenbus = now + XENBUS_POLL_NS;
                let _ = vif.poll_xenbus();
            }
            let more = report.is_ok_and(|r| r.more_pending || r.tx_completed > 0);
            (more, vif.event_channels(), sent_all)
        };
        let got = !frames.is_empty();
        if got && !v.dying.load(Ordering::Acquire) {
            if !kernel {
                kernel = hyp::become_kernel_thread();
            }
            for mut frame in frames.drain(..) {
                if kernel {
                    hyp::in_kernel(|| edge::deliver(sc, &mut frame));
                } else {
                    edge::deliver(sc, &mut frame);
                }
            }
        }
        frames.clear();
        if got || more || (!sent_all && ports.is_none()) {
            continue;
        }
        let deadline = time::monotonic_ns() + WAIT_SLICE_NS;
        evtchn::EVENTS.wait_for(
            || {
                v.kicked.load(Ordering::Acquire)
                    || ports.is_some_and(|p| {
                        evtchn::take_pending(p.rx()) | evtchn::take_pending(p.tx())
                    })
            },
            Some(deadline),
        );
    }
}
