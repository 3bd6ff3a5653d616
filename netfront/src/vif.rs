//! One vif: the netfront device state machine over xenbus
//! (`io/xenbus.h` states, `io/netif.h` keys) and its data path, generic
//! over the hypervisor services. It never blocks on its own: the caller
//! drives it from its thread with [`Netfront::poll_xenbus`] /
//! [`Netfront::wait_xenbus`] (backend state changes, through a xenstore
//! watch) and [`Netfront::poll`] (ring work, after an event on
//! [`Netfront::event_channels`] or periodically).
//!
//! Life of a vif: `WaitingForBackend` (frontend `Initialising`) → the
//! backend reaches `InitWait`: rings, buffers, grants and event channels
//! are set up and the keys written, frontend `Connected` → `Connecting`
//! → backend `Connected` → `Connected`. When the backend goes `Closing`,
//! `Closed` or away, the data path is torn down (frames in flight fail,
//! every grant is ended or waits in quarantine until the backend lets go)
//! → `Detached`, frontend `Closed`; once the backend is `Closed` the
//! frontend re-announces itself (`Initialising`) and the cycle restarts
//! when the backend comes back. A protocol violation tears down the same
//! way into `Failed` (frontend `Closing`, then `Closed`) until
//! [`Netfront::restart`]. The xenbus half of that life (the watch, the
//! frontend state, re-announcing) is the shared
//! [`xen_platform::frontend::FrontendLink`]; this module keeps the rings.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Deref;

use xen_platform::frontend::{BackendEvent, FrontendLink};
use xen_platform::services::{EventChannels, GrantTable, PageAllocator};
use xen_platform::xenbus::{self, Backend, Device, XenbusState};
use xen_platform::xenstore::XenstoreOps;

use crate::config::{BackendFeatures, Config, Mac};
use crate::counters::Counters;
use crate::error::NetError;
use crate::grants::Quarantine;
use crate::handshake::{self, BackendInfo, FrontKeys};
use crate::rx::{RxFrame, RxQueue};
use crate::rx_parse::RxRules;
use crate::tx::{TxOffload, TxQueue};
use crate::wire::RX_RING_SIZE;

/// The hypervisor services a vif runs on (the platform's
/// [`DriverServices`](xen_platform::services::DriverServices), shared with
/// blkfront, under netfront's old name).
pub use xen_platform::services::DriverServices as Services;

/// Where a vif is in its life (the life every frontend shares, see
/// [`xen_platform::frontend`]): `Connecting` means the rings are set up,
/// the keys written and the frontend `Connected`; `Failed` keeps its error
/// in [`Netfront::last_error`] until [`Netfront::restart`]; `Shut` comes
/// from [`Netfront::shutdown`].
pub use xen_platform::frontend::FrontendState as LinkState;

/// The data path of a connected (or connecting) vif.
struct DataPath<P> {
    tx: TxQueue<P>,
    rx: RxQueue<P>,
    evtchn: handshake::EventChannels,
}

/// What one [`Netfront::poll`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Frames delivered to the callback.
    pub rx_frames: u64,
    /// Sent frames the backend acknowledged (any outcome).
    pub tx_completed: u64,
    /// Received slots are still waiting (the poll stopped after a few
    /// ring's worth): poll again before sleeping, as no event will come
    /// for them.
    pub more_pending: bool,
}

/// A network frontend device (`device/vif/<id>`).
pub struct Netfront<E, G, A, S>
where
    E: EventChannels,
    G: GrantTable,
    A: PageAllocator,
    S: Deref,
    S::Target: XenstoreOps,
{
    svc: Services<E, G, A, S>,
    /// The xenbus side: device, backend, watch and state.
    link: FrontendLink,
    config: Config,
    info: Option<BackendInfo>,
    data: Option<DataPath<A::Page>>,
    quarantine: Quarantine<A::Page>,
    counters: Counters,
    error: Option<NetError>,
}

impl<E, G, A, S> Netfront<E, G, A, S>
where
    E: EventChannels,
    G: GrantTable,
    A: PageAllocator,
    S: Deref,
    S::Target: XenstoreOps,
{
    /// Opens `device/vif/<id>`: finds its backend, watches the backend's
    /// state and announces the frontend (`Initialising`). Does not wait.
    pub fn open(svc: Services<E, G, A, S>, id: &str, config: Config) -> Result<Self, NetError> {
        let device = Device {
            class: String::from("vif"),
            id: String::from(id),
        };
        Self::new(svc, device, config)
    }

    /// As [`Netfront::open`] for a device from [`vifs`].
    pub fn new(
        svc: Services<E, G, A, S>,
        device: Device,
        config: Config,
    ) -> Result<Self, NetError> {
        let link = FrontendLink::open(&*svc.xenstore, "netfront", device, config.log)?;
        Ok(Netfront {
            svc,
            link,
            config,
            info: None,
            data: None,
            quarantine: Quarantine::new(),
            counters: Counters::default(),
            error: None,
        })
    }

    fn xs(&self) -> &S::Target {
        &self.svc.xenstore
    }

    fn log(&self, args: core::fmt::Arguments<'_>) {
        self.link.log(args);
    }

    /// Handles backend state changes seen by the watch (without waiting)
    /// and retries releasing grants the backend still held. Returns the
    /// state after that.
    pub fn poll_xenbus(&mut self) -> Result<LinkState, NetError> {
        match self.link.poll(&*self.svc.xenstore)? {
            Some(BackendEvent::Setup) => self.setup(),
            Some(BackendEvent::Connected) => {
                self.link.connected();
                self.counters.connects += 1;
                self.log_connected();
            }
            Some(BackendEvent::Gone(bstate)) => self.detach(bstate),
            Some(BackendEvent::Malformed(why)) => self.fail(NetError::PeerMisbehaved(why)),
            None => {}
        }
        self.quarantine.retry(&self.svc.grants);
        Ok(self.link.state())
    }

    /// Waits (in xenstore, so the scheduler can run others) until the
    /// backend's state changes or `deadline_ns` passes
    /// ([`NetError::Timeout`]), then handles it as
    /// [`Netfront::poll_xenbus`].
    pub fn wait_xenbus(&mut self, deadline_ns: Option<u64>) -> Result<LinkState, NetError> {
        if !self.link.wait(&*self.svc.xenstore, deadline_ns)? {
            return Err(NetError::Timeout);
        }
        self.poll_xenbus()
    }

    /// Drives the handshake until the vif is `Connected` (waiting with
    /// [`Netfront::wait_xenbus`]); the error of a failed handshake, or
    /// [`NetError::Timeout`].
    pub fn connect(&mut self, deadline_ns: Option<u64>) -> Result<(), NetError> {
        loop {
            match self.poll_xenbus()? {
                LinkState::Connected => return Ok(()),
                LinkState::Failed => {
                    return Err(self.error.clone().unwrap_or(NetError::NotConnected))
                }
                LinkState::Shut => return Err(NetError::NotConnected),
                _ => {
                    self.wait_xenbus(deadline_ns)?;
                }
            }
        }
    }

    fn log_connected(&self) {
        if let Some(i) = &self.info {
            let f = i.features;
            self.log(format_args!(
                "connected to {} (domain {}), mac {}, mtu {}, sg {}, gso v4 {} v6 {}, ipv6 csum {}, split evtchn {}",
                self.link.backend().path,
                self.link.backend().domid.0,
                i.mac,
                i.mtu,
                f.sg,
                f.gso_tcpv4,
                f.gso_tcpv6,
                f.ipv6_csum_offload,
                f.split_event_channels && self.config.split_event_channels,
            ));
        }
    }

    /// Sets up the data path and writes the keys; any error fails the vif.
    fn setup(&mut self) {
        if let Err(e) = self.try_setup() {
            self.fail(e);
        }
    }

    fn try_setup(&mut self) -> Result<(), NetError> {
        self.link.follow_backend(&*self.svc.xenstore)?;
        let info =
            handshake::read_backend_info(self.xs(), self.link.device(), self.link.backend())?;
        let peer = self.link.backend().domid;
        let ev = &self.svc.evtchn;
        let split = info.features.split_event_channels && self.config.split_event_channels;
        let tx_port = ev.alloc_unbound(peer)?;
        let evtchn = if split {
            match ev.alloc_unbound(peer) {
                Ok(rx) => handshake::EventChannels::Split { tx: tx_port, rx },
                Err(e) => {
                    let _ = ev.close(tx_port);
                    return Err(e.into());
                }
            }
        } else {
            handshake::EventChannels::Single(tx_port)
        };
        let close_ports = |ev: &E| {
            let _ = ev.close(evtchn.tx());
            if evtchn.rx() != evtchn.tx() {
                let _ = ev.close(evtchn.rx());
            }
        };
        let gt = &self.svc.grants;
        let tx = match TxQueue::new(gt, &self.svc.pages, peer, info.features) {
            Ok(tx) => tx,
            Err(e) => {
                close_ports(ev);
                return Err(e);
            }
        };
        let rules = RxRules {
            ring_size: RX_RING_SIZE,
            sg: self.config.sg,
            gso_tcpv4: self.config.gso_tcpv4(),
            gso_tcpv6: self.config.gso_tcpv6(),
            csum_blank: self.config.rx_csum_offload,
        };
        let rx = match RxQueue::new(gt, &self.svc.pages, peer, rules, &mut self.quarantine) {
            Ok(rx) => rx,
            Err(e) => {
                tx.teardown(gt, &mut self.quarantine);
                close_ports(ev);
                return Err(e);
            }
        };
        let keys = FrontKeys {
            tx_ring_ref: tx.ring_ref(),
            rx_ring_ref: rx.ring_ref(),
            evtchn,
        };
        self.data = Some(DataPath { tx, rx, evtchn });
        self.info = Some(info);
        handshake::write_front_keys(self.xs(), self.link.device(), &keys, &self.config)?;
        self.link
            .connecting(&*self.svc.xenstore, XenbusState::Connected)?;
        self.error = None;
        Ok(())
    }

    /// Tears down the data path: frames in flight fail, every grant is
    /// ended or quarantined, the event channels closed.
    fn teardown_data(&mut self) {
        let Some(dp) = self.data.take() else {
            return;
        };
        let gt = &self.svc.grants;
        let lost = dp.tx.teardown(gt, &mut self.quarantine);
        self.counters.tx_dropped += u64::from(lost);
        if dp.rx.teardown(gt, &mut self.quarantine) {
            self.counters.rx_dropped += 1;
        }
        let ev = &self.svc.evtchn;
        let _ = ev.close(dp.evtchn.tx());
        if dp.evtchn.rx() != dp.evtchn.tx() {
            let _ = ev.close(dp.evtchn.rx());
        }
        if self.link.state() == LinkState::Connected {
            self.counters.disconnects += 1;
        }
    }

    /// The backend closed or went away.
    fn detach(&mut self, bstate: XenbusState) {
        let in_flight = self.tx_in_flight();
        self.teardown_data();
        self.log(format_args!(
            "backend {bstate:?}: detached ({in_flight} frames in flight failed, {} grants still held by the backend)",
            self.quarantine.len()
        ));
        self.link.detached(&*self.svc.xenstore);
    }

    /// Disconnects after an error.
    fn fail(&mut self, e: NetError) {
        if e.is_peer_fault() {
            self.counters.violations += 1;
        }
        self.teardown_data();
        self.log(format_args!("disconnected: {e}"));
        self.error = Some(e);
        self.link.failed(&*self.svc.xenstore);
    }

    /// A protocol violation seen on the rings.
    fn violation(&mut self, why: &'static str) -> NetError {
        self.fail(NetError::PeerMisbehaved(why));
        NetError::PeerMisbehaved(why)
    }

    /// Tries again after [`LinkState::Failed`]: the vif re-announces
    /// itself once the backend is closed, and connects when the backend
    /// comes back.
    pub fn restart(&mut self) {
        self.link.restart();
    }

    /// Takes the vif down for good: frames in flight fail, frontend
    /// `Closing` then `Closed` once the backend closed (keep calling
    /// [`Netfront::poll_xenbus`] until [`Netfront::is_closed`]).
    pub fn shutdown(&mut self) {
        self.teardown_data();
        self.link.shut(&*self.svc.xenstore);
    }

    /// Whether the vif is shut down and every grant was given back.
    pub fn is_closed(&self) -> bool {
        self.link.is_shut_and_closed() && self.quarantine.is_empty()
    }

    /// Refusal of a send while not connected.
    fn not_connected(&mut self) -> NetError {
        self.counters.tx_dropped += 1;
        match (self.link.state(), &self.error) {
            (LinkState::Failed, Some(e)) => NetError::Disconnected(e.reason()),
            _ => NetError::NotConnected,
        }
    }

    /// Sends one frame given as slices (copied; the slices may be reused
    /// on return). `Busy` when the ring or buffers are full: poll and
    /// retry. The frame counts in [`Counters::tx_packets`] once the backend
    /// acknowledged it.
    pub fn send(&mut self, frags: &[&[u8]], offload: TxOffload) -> Result<(), NetError> {
        if self.link.state() != LinkState::Connected {
            return Err(self.not_connected());
        }
        let Some(dp) = self.data.as_mut() else {
            return Err(self.not_connected());
        };
        let gt = &self.svc.grants;
        let pages = &self.svc.pages;
        let mut result = dp.tx.send(gt, pages, frags, &offload);
        if matches!(result, Err(NetError::Busy(_))) {
            // Make room from completed sends and try once more.
            match dp.tx.collect(gt, &mut self.quarantine) {
                Ok(r) => {
                    apply_tx(&mut self.counters, &r);
                    result = dp.tx.send(gt, pages, frags, &offload);
                }
                Err(why) => return Err(self.violation(why)),
            }
        }
        match result {
            Ok(notify) => {
                if notify {
                    let port = dp.evtchn.tx();
                    self.notify(port)?;
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn notify(&mut self, port: xen_platform::services::Port) -> Result<(), NetError> {
        self.counters.notifications += 1;
        self.svc.evtchn.notify(port).map_err(NetError::from)
    }

    /// Does the ring work: takes tx completions, hands every complete
    /// received frame to `on_rx` (the bytes are a private copy valid
    /// during the call), reposts rx buffers and re-arms the rings'
    /// notifications. Nothing happens unless `Connected`. A protocol
    /// violation disconnects the vif and is returned.
    pub fn poll(&mut self, mut on_rx: impl FnMut(RxFrame<'_>)) -> Result<PollReport, NetError> {
        let mut report = PollReport::default();
        if self.link.state() != LinkState::Connected {
            self.quarantine.retry(&self.svc.grants);
            return Ok(report);
        }
        let Some(dp) = self.data.as_mut() else {
            return Ok(report);
        };
        let gt = &self.svc.grants;
        let tx = match dp.tx.collect(gt, &mut self.quarantine) {
            Ok(r) => r,
            Err(why) => return Err(self.violation(why)),
        };
        apply_tx(&mut self.counters, &tx);
        report.tx_completed = tx.sent + tx.dropped + tx.errors;
        let rx = match dp.rx.poll(&mut on_rx) {
            Ok(r) => r,
            Err(why) => return Err(self.violation(why)),
        };
        let c = &mut self.counters;
        c.rx_packets += rx.frames;
        c.rx_bytes += rx.bytes;
        c.rx_dropped += rx.dropped;
        c.rx_errors += rx.errors;
        report.rx_frames = rx.frames;
        report.more_pending = rx.more;
        if rx.notify {
            let port = dp.evtchn.rx();
            self.notify(port)?;
        }
        Ok(report)
    }

    /// Where the vif is in its life.
    pub fn state(&self) -> LinkState {
        self.link.state()
    }

    /// The error that failed the vif, if it is [`LinkState::Failed`] (or
    /// was, until it reconnected).
    pub fn last_error(&self) -> Option<&NetError> {
        self.error.as_ref()
    }

    /// The MAC, once the backend's keys were read.
    pub fn mac(&self) -> Option<Mac> {
        self.info.as_ref().map(|i| i.mac)
    }

    /// The MTU, once the backend's keys were read.
    pub fn mtu(&self) -> Option<u16> {
        self.info.as_ref().map(|i| i.mtu)
    }

    /// The backend's features, once read.
    pub fn backend_features(&self) -> Option<BackendFeatures> {
        self.info.as_ref().map(|i| i.features)
    }

    /// The event channels of the data path (wait on these for [`poll`]).
    ///
    /// [`poll`]: Netfront::poll
    pub fn event_channels(&self) -> Option<handshake::EventChannels> {
        self.data.as_ref().map(|d| d.evtchn)
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Grants this vif holds: rings, rx buffers, frames in flight, and
    /// pages the backend has not let go of yet.
    pub fn grants_held(&self) -> usize {
        self.quarantine.len()
            + self
                .data
                .as_ref()
                .map_or(0, |d| d.tx.grants() + d.rx.grants())
    }

    /// Frames sent and not yet acknowledged.
    pub fn tx_in_flight(&self) -> u32 {
        self.data.as_ref().map_or(0, |d| d.tx.packets_in_flight())
    }

    /// The device (`device/vif/<id>`).
    pub fn device(&self) -> &Device {
        self.link.device()
    }

    /// The backend's location.
    pub fn backend(&self) -> &Backend {
        self.link.backend()
    }

    /// The token of the watch on the backend's state (its events are
    /// consumed by [`Netfront::poll_xenbus`]).
    pub fn watch_token(&self) -> &str {
        self.link.watch_token()
    }

    /// The services (for the caller's own use of the same handles).
    pub fn services(&self) -> &Services<E, G, A, S> {
        &self.svc
    }
}

fn apply_tx(c: &mut Counters, r: &crate::tx::TxReport) {
    c.tx_packets += r.sent;
    c.tx_bytes += r.sent_bytes;
    c.tx_dropped += r.dropped;
    c.tx_errors += r.errors;
}

impl<E, G, A, S> Drop for Netfront<E, G, A, S>
where
    E: EventChannels,
    G: GrantTable,
    A: PageAllocator,
    S: Deref,
    S::Target: XenstoreOps,
{
    /// Releases everything it can; pages the backend still maps are leaked
    /// rather than freed (the backend could still write them).
    fn drop(&mut self) {
        if self.data.is_some() {
            self.teardown_data();
            self.link
                .set_front_quiet(&*self.svc.xenstore, XenbusState::Closing);
        }
        self.quarantine.retry(&self.svc.grants);
        self.quarantine.leak_all();
        self.link.release(&*self.svc.xenstore);
    }
}

/// The vifs this domain has (`device/vif/*`).
pub fn vifs<X: XenstoreOps + ?Sized>(xs: &X) -> Result<Vec<Device>, NetError> {
    Ok(xenbus::enumerate(xs, "vif")?)
}
