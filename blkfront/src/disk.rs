//! One virtual block device: the blkfront state machine over xenbus
//! (`io/xenbus.h` states, `io/blkif.h` keys) and its request interface,
//! generic over the hypervisor services. It never blocks on its own: the
//! caller drives it with [`Blkfront::poll_xenbus`] / [`Blkfront::connect`]
//! (backend state changes, through a xenstore watch) and
//! [`Blkfront::poll`] (ring work, after an event on
//! [`Blkfront::event_channel`] or periodically); the `*_blocking` helpers
//! loop on those with a caller-supplied wait.
//!
//! Life of a disk: `WaitingForBackend` (frontend `Initialising`) → the
//! backend reaches `InitWait`: the ring (`2^order` pages) and event
//! channel are set up and the keys written, frontend `Initialised` →
//! `Connecting` → backend `Connected`: its device properties and features
//! are read → frontend `Connected`, `Connected`. When the backend goes
//! `Closing`, `Closed` or away, every pending request completes with
//! [`BlkError::Detached`], every grant is ended (or waits in quarantine
//! until the backend lets go) → `Detached`, frontend `Closed`; once the
//! backend is `Closed` the frontend re-announces itself and connects again
//! when the backend comes back. A protocol violation tears down the same
//! way into `Failed` until [`Blkfront::restart`]. The xenbus half of that
//! life (the watch, the frontend state, re-announcing) is the shared
//! [`xen_platform::frontend::FrontendLink`]; this module keeps the ring.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Deref;

use xen_platform::frontend::{BackendEvent, FrontendLink};
use xen_platform::services::{EventChannels, GrantTable, PageAllocator, Port};
use xen_platform::xenbus::{self, Backend, Device, XenbusState};
use xen_platform::xenstore::XenstoreOps;

use crate::config::{Config, MAX_RING_PAGE_ORDER};
use crate::counters::Counters;
use crate::datapath::DataPath;
use crate::error::BlkError;
use crate::grants::Quarantine;
use crate::handshake::{self, FrontKeys};
use crate::info::{DiskInfo, Features};
use crate::queue::Requests;
use crate::request::{self, BlkOp, BlkRequest, Completion, Kind, RequestTag};
use crate::wire::{MAX_DIRECT_SEGMENTS, MAX_INDIRECT_SEGMENTS};

/// The hypervisor services a disk runs on (the platform's
/// [`DriverServices`](xen_platform::services::DriverServices), the same
/// struct netfront uses).
pub use xen_platform::services::DriverServices as Services;

/// Where a disk is in its life (the life every frontend shares, see
/// [`xen_platform::frontend`]): `Connecting` means the ring is set up, the
/// keys written and the frontend `Initialised`; `Failed` keeps its error in
/// [`Blkfront::last_error`] until [`Blkfront::restart`]; `Shut` comes from
/// [`Blkfront::shutdown`].
pub use xen_platform::frontend::FrontendState as DiskState;

/// What one [`Blkfront::poll`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Completions delivered to the callback.
    pub completed: u64,
    /// Ring responses taken.
    pub responses: u64,
    /// Requests still pending (queued or on the ring).
    pub pending: usize,
}

/// A virtual block device (`device/vbd/<id>`).
pub struct Blkfront<E, G, A, S>
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
    /// blkif's `handle` (the device id, truncated).
    handle: u16,
    /// The ring order of the current connection.
    order: u32,
    info: Option<DiskInfo>,
    data: Option<DataPath<A::Page>>,
    reqs: Requests,
    quarantine: Quarantine<A::Page>,
    counters: Counters,
    error: Option<BlkError>,
}

impl<E, G, A, S> Blkfront<E, G, A, S>
where
    E: EventChannels,
    G: GrantTable,
    A: PageAllocator,
    S: Deref,
    S::Target: XenstoreOps,
{
    /// Opens `device/vbd/<id>`: finds its backend, watches the backend's
    /// state and announces the frontend (`Initialising`). Does not wait.
    pub fn open(svc: Services<E, G, A, S>, id: &str, config: Config) -> Result<Self, BlkError> {
        let device = Device {
            class: String::from("vbd"),
            id: String::from(id),
        };
        Self::new(svc, device, config)
    }

    /// As [`Blkfront::open`] for a device from [`vbds`].
    pub fn new(
        svc: Services<E, G, A, S>,
        device: Device,
        config: Config,
    ) -> Result<Self, BlkError> {
        let handle = device.id.parse::<u64>().unwrap_or(0) as u16;
        let link = FrontendLink::open(&*svc.xenstore, "blkfront", device, config.log)?;
        Ok(Blkfront {
            svc,
            link,
            config,
            handle,
            order: 0,
            info: None,
            data: None,
            reqs: Requests::default(),
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
    pub fn poll_xenbus(&mut self) -> Result<DiskState, BlkError> {
        match self.link.poll(&*self.svc.xenstore)? {
            Some(BackendEvent::Setup) => self.setup(),
            Some(BackendEvent::Connected) => {
                if let Err(e) = self.finish_connect() {
                    self.fail(e);
                }
            }
            Some(BackendEvent::Gone(bstate)) => self.detach(bstate),
            Some(BackendEvent::Malformed(why)) => self.fail(BlkError::PeerMisbehaved(why)),
            None => {}
        }
        self.quarantine.retry(&self.svc.grants);
        Ok(self.link.state())
    }

    /// Waits (in xenstore, so the scheduler can run others) until the
    /// backend's state changes or `deadline_ns` passes
    /// ([`BlkError::Timeout`]), then handles it as
    /// [`Blkfront::poll_xenbus`].
    pub fn wait_xenbus(&mut self, deadline_ns: Option<u64>) -> Result<DiskState, BlkError> {
        if !self.link.wait(&*self.svc.xenstore, deadline_ns)? {
            return Err(BlkError::Timeout);
        }
        self.poll_xenbus()
    }

    /// Drives the handshake until the disk is `Connected` (waiting with
    /// [`Blkfront::wait_xenbus`]); the error of a failed handshake, or
    /// [`BlkError::Timeout`].
    pub fn connect(&mut self, deadline_ns: Option<u64>) -> Result<(), BlkError> {
        loop {
            match self.poll_xenbus()? {
                DiskState::Connected => return Ok(()),
                DiskState::Failed => {
                    return Err(self.error.clone().unwrap_or(BlkError::NotConnected))
                }
                DiskState::Shut => return Err(BlkError::NotConnected),
                _ => {
                    self.wait_xenbus(deadline_ns)?;
                }
            }
        }
    }

    /// Sets up the ring and writes the keys; any error fails the disk.
    fn setup(&mut self) {
        if let Err(e) = self.try_setup() {
            self.fail(e);
        }
    }

    fn try_setup(&mut self) -> Result<(), BlkError> {
        self.link.follow_backend(&*self.svc.xenstore)?;
        let offered = handshake::read_max_ring_page_order(self.xs(), self.link.backend())?;
        let order = offered
            .min(self.config.max_ring_page_order)
            .min(MAX_RING_PAGE_ORDER);
        let peer = self.link.backend().domid;
        let port = self.svc.evtchn.alloc_unbound(peer)?;
        let dp = match DataPath::new(
            &self.svc.grants,
            &self.svc.pages,
            peer,
            order,
            port,
            self.handle,
            &mut self.quarantine,
        ) {
            Ok(dp) => dp,
            Err(e) => {
                let _ = self.svc.evtchn.close(port);
                return Err(e);
            }
        };
        let grefs: Vec<_> = dp.ring_grefs().to_vec();
        self.data = Some(dp);
        self.order = order;
        self.info = None;
        let keys = FrontKeys {
            ring_refs: &grefs,
            evtchn: port,
            persistent: self.config.use_persistent,
        };
        handshake::write_front_keys(self.xs(), self.link.device(), &keys)?;
        self.link
            .connecting(&*self.svc.xenstore, XenbusState::Initialised)?;
        self.error = None;
        Ok(())
    }

    /// The backend is `Connected`: reads the disk and features, goes
    /// `Connected`.
    fn finish_connect(&mut self) -> Result<(), BlkError> {
        let disk = handshake::read_backend_disk(self.xs(), self.link.backend())?;
        if disk.sector_size as usize > xen_platform::services::PAGE_SIZE {
            return Err(BlkError::Unsupported("sector size larger than a page"));
        }
        let offer = disk.offer;
        let cfg = &self.config;
        let indirect = if cfg.use_indirect {
            offer
                .max_indirect_segments
                .min(cfg.max_indirect_segments)
                .min(MAX_INDIRECT_SEGMENTS as u32)
        } else {
            0
        };
        let indirect = if indirect as usize > MAX_DIRECT_SEGMENTS {
            indirect
        } else {
            0
        };
        let persistent = cfg.use_persistent && offer.persistent;
        let Some(dp) = self.data.as_mut() else {
            return Err(BlkError::NotConnected);
        };
        let features = Features {
            ring_page_order: self.order,
            ring_pages: 1 << self.order,
            ring_size: dp.ring_size(),
            indirect_segments: indirect,
            persistent,
            flush: offer.flush,
            barrier: offer.barrier,
            discard: offer.discard,
        };
        dp.configure(self.link.backend().domid, &features, &self.config);
        let info = DiskInfo {
            sectors: disk.sectors,
            sector_size: disk.sector_size,
            physical_sector_size: disk.physical_sector_size,
            info: disk.info,
            read_only: disk.read_only(),
            removable: disk.removable(),
            cdrom: disk.cdrom(),
            features,
        };
        self.info = Some(info);
        self.link
            .set_front(&*self.svc.xenstore, XenbusState::Connected)?;
        self.link.connected();
        self.counters.connects += 1;
        self.log(format_args!(
            "connected to {} (domain {}): {} bytes, sector {} (physical {}), {}{}ring {} pages, indirect {}, persistent {}, flush {}, barrier {}, discard {}",
            self.link.backend().path,
            self.link.backend().domid.0,
            info.capacity_bytes(),
            info.sector_size,
            info.physical_sector_size,
            if info.read_only { "read-only, " } else { "" },
            if info.cdrom { "cdrom, " } else { "" },
            features.ring_pages,
            features.indirect_segments,
            features.persistent,
            features.flush,
            features.barrier,
            features.discard.is_some(),
        ));
        Ok(())
    }

    /// Tears the data path down: requests pending fail with `e`, every
    /// grant is ended or quarantined, the event channel closed.
    fn teardown_data(&mut self, e: &BlkError) {
        if let Some(dp) = self.data.take() {
            let port = dp.port;
            dp.teardown(&self.svc.grants, &mut self.quarantine);
            let _ = self.svc.evtchn.close(port);
            if self.link.state() == DiskState::Connected {
                self.counters.disconnects += 1;
            }
        }
        self.reqs.fail_all(e, &mut self.counters);
    }

    /// The backend closed or went away.
    fn detach(&mut self, bstate: XenbusState) {
        let pending = self.reqs.live();
        self.teardown_data(&BlkError::Detached);
        self.log(format_args!(
            "backend {bstate:?}: detached ({pending} requests failed, {} grants still held by the backend)",
            self.quarantine.len()
        ));
        self.link.detached(&*self.svc.xenstore);
    }

    /// Fails the disk after an error.
    fn fail(&mut self, e: BlkError) {
        if e.is_peer_fault() {
            self.counters.violations += 1;
        }
        let reason = match &e {
            BlkError::PeerMisbehaved(why) => BlkError::PeerMisbehaved(why),
            other => BlkError::Disconnected(other.reason()),
        };
        self.teardown_data(&reason);
        self.log(format_args!("failed: {e}"));
        self.error = Some(e);
        self.link.failed(&*self.svc.xenstore);
    }

    /// A protocol violation seen on the ring.
    fn violation(&mut self, why: &'static str) -> BlkError {
        self.fail(BlkError::PeerMisbehaved(why));
        BlkError::PeerMisbehaved(why)
    }

    /// Tries again after [`DiskState::Failed`]: the disk re-announces
    /// itself once the backend is closed, and connects when the backend
    /// comes back.
    pub fn restart(&mut self) {
        self.link.restart();
    }

    /// Takes the disk down for good: pending requests fail with
    /// [`BlkError::Detached`], frontend `Closing` then `Closed` once the
    /// backend closed (keep calling [`Blkfront::poll_xenbus`] until
    /// [`Blkfront::is_closed`]).
    pub fn shutdown(&mut self) {
        self.teardown_data(&BlkError::Detached);
        self.link.shut(&*self.svc.xenstore);
    }

    /// Whether the disk is shut down and every grant was given back.
    pub fn is_closed(&self) -> bool {
        self.link.is_shut_and_closed() && self.quarantine.is_empty()
    }

    /// The refusal of a request while not connected.
    fn not_connected(&self) -> BlkError {
        match (self.link.state(), &self.error) {
            (DiskState::Failed, Some(e)) => BlkError::Disconnected(e.reason()),
            _ => BlkError::NotConnected,
        }
    }

    /// Queues a request and puts what fits on the ring at once. Checks
    /// first, returning the error without queueing anything: not
    /// connected, [`BlkError::ReadOnly`], [`BlkError::BadArgument`]
    /// (misaligned, empty, past the end), [`BlkError::NotSupported`] (the
    /// backend lacks the feature), [`BlkError::Busy`] (software queue
    /// full). Every accepted request completes exactly once through
    /// [`Blkfront::poll`] (a flush or barrier on a read-only disk
    /// completes at once: nothing can be unwritten).
    pub fn submit(&mut self, req: BlkRequest) -> Result<RequestTag, BlkError> {
        if self.link.state() != DiskState::Connected || self.data.is_none() {
            return Err(self.not_connected());
        }
        let Some(info) = self.info else {
            return Err(self.not_connected());
        };
        let (kind, offset, len) = request::check(&info, &req.op)?;
        if self.reqs.live() >= self.config.max_queued.max(1) {
            return Err(BlkError::Busy("request queue full"));
        }
        let c = &mut self.counters;
        match kind {
            Kind::Read => c.reads += 1,
            Kind::Write => c.writes += 1,
            Kind::Flush => c.flushes += 1,
            Kind::Barrier => c.barriers += 1,
            Kind::Discard { .. } => c.discards += 1,
        }
        let buf = match req.op {
            BlkOp::Read { len, .. } => alloc::vec![0u8; len],
            BlkOp::Write { data, .. } => data,
            _ => Vec::new(),
        };
        let tag = self.reqs.add(req.tag, kind, offset, len, buf);
        if info.read_only && matches!(kind, Kind::Flush | Kind::Barrier) {
            // Nothing to make durable on a disk nobody writes.
            if let Some(slot) = self.reqs.queue.back().copied() {
                self.reqs.sent_all(slot);
                self.reqs.finish_if_done(slot, &mut self.counters);
            }
            return Ok(tag);
        }
        self.kick()?;
        Ok(tag)
    }

    /// Puts queued requests on the ring and notifies the backend.
    fn kick(&mut self) -> Result<(), BlkError> {
        let Some(dp) = self.data.as_mut() else {
            return Ok(());
        };
        let notify = dp.issue(
            &self.svc.grants,
            &self.svc.pages,
            &mut self.reqs,
            &mut self.quarantine,
            &mut self.counters,
        );
        if notify {
            let port = dp.port;
            self.counters.notifications += 1;
            self.svc.evtchn.notify(port)?;
        }
        Ok(())
    }

    /// Ring work without delivering: takes responses, sends what waits.
    /// A violation fails the disk and is returned.
    fn service(&mut self) -> Result<u64, BlkError> {
        self.quarantine.retry(&self.svc.grants);
        if self.link.state() != DiskState::Connected {
            return Ok(0);
        }
        let (Some(dp), Some(info)) = (self.data.as_mut(), self.info.as_mut()) else {
            return Ok(0);
        };
        let got = dp.collect(
            &self.svc.grants,
            &mut self.reqs,
            info,
            &mut self.quarantine,
            &mut self.counters,
        );
        match got {
            Ok(c) => {
                self.kick()?;
                Ok(c.answered)
            }
            Err(why) => Err(self.violation(why)),
        }
    }

    /// Does the ring work: takes and checks responses, sends queued
    /// requests as slots free up, and hands every finished request to
    /// `on_done` (also those failed by a detach or violation). A protocol
    /// violation fails the disk; the pending requests are delivered failed
    /// and the violation is returned.
    pub fn poll(&mut self, mut on_done: impl FnMut(Completion)) -> Result<PollReport, BlkError> {
        let served = self.service();
        let mut report = PollReport::default();
        while let Some(c) = self.reqs.done.pop_front() {
            report.completed += 1;
            on_done(c);
        }
        report.responses = *served.as_ref().unwrap_or(&0);
        report.pending = self.reqs.live();
        served.map(|_| report)
    }

    /// Runs one request to its end: submit, then poll (ring and xenbus)
    /// and call `wait` while it is not finished. Other requests'
    /// completions stay for [`Blkfront::poll`]. Never hangs on a failed or
    /// detached disk: the request then fails.
    fn run_blocking(
        &mut self,
        op: BlkOp,
        wait: &mut dyn FnMut(&mut Self),
    ) -> Result<Option<Vec<u8>>, BlkError> {
        let request = self.submit(BlkRequest { op, tag: 0 })?;
        loop {
            let served = self.service();
            if let Some(c) = self.reqs.take_done(request) {
                return c.result.map(|()| c.data);
            }
            served?;
            match self.poll_xenbus() {
                Ok(_) => {}
                Err(e) if self.reqs.live() == 0 => return Err(e),
                Err(_) => {}
            }
            if let Some(c) = self.reqs.take_done(request) {
                return c.result.map(|()| c.data);
            }
            wait(self);
        }
    }

    /// Reads `buf.len()` bytes at `offset`, calling `wait` (e.g. block on
    /// the event channel with a timeout) while nothing has finished.
    pub fn read_blocking(
        &mut self,
        offset: u64,
        buf: &mut [u8],
        mut wait: impl FnMut(&mut Self),
    ) -> Result<(), BlkError> {
        let op = BlkOp::Read {
            offset,
            len: buf.len(),
        };
        let data = self.run_blocking(op, &mut wait)?.unwrap_or_default();
        if data.len() != buf.len() {
            return Err(BlkError::Io);
        }
        buf.copy_from_slice(&data);
        Ok(())
    }

    /// Writes `data` at `offset` (copied), waiting as
    /// [`Blkfront::read_blocking`].
    pub fn write_blocking(
        &mut self,
        offset: u64,
        data: &[u8],
        mut wait: impl FnMut(&mut Self),
    ) -> Result<(), BlkError> {
        let op = BlkOp::Write {
            offset,
            data: data.to_vec(),
        };
        self.run_blocking(op, &mut wait).map(|_| ())
    }

    /// Flushes the disk's cache, waiting as [`Blkfront::read_blocking`].
    pub fn flush_blocking(&mut self, mut wait: impl FnMut(&mut Self)) -> Result<(), BlkError> {
        self.run_blocking(BlkOp::Flush, &mut wait).map(|_| ())
    }

    /// Discards `len` bytes at `offset`, waiting as
    /// [`Blkfront::read_blocking`].
    pub fn discard_blocking(
        &mut self,
        offset: u64,
        len: u64,
        mut wait: impl FnMut(&mut Self),
    ) -> Result<(), BlkError> {
        self.run_blocking(BlkOp::Discard { offset, len }, &mut wait)
            .map(|_| ())
    }

    /// Where the disk is in its life.
    pub fn state(&self) -> DiskState {
        self.link.state()
    }

    /// The error that failed the disk, if it is [`DiskState::Failed`] (or
    /// was, until it reconnected).
    pub fn last_error(&self) -> Option<&BlkError> {
        self.error.as_ref()
    }

    /// The disk and the features in use, once connected (kept while
    /// detached, until the next connection).
    pub fn info(&self) -> Option<DiskInfo> {
        self.info
    }

    /// The event channel of the ring (wait on it for [`Blkfront::poll`]).
    pub fn event_channel(&self) -> Option<Port> {
        self.data.as_ref().map(|d| d.port)
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Grants this disk holds: ring pages, persistent and in-flight data
    /// pages, and pages the backend has not let go of yet.
    pub fn grants_held(&self) -> usize {
        self.quarantine.len() + self.data.as_ref().map_or(0, |d| d.grants())
    }

    /// Requests submitted and not yet delivered as completed (queued, on
    /// the ring, or finished and waiting for [`Blkfront::poll`]).
    pub fn in_flight(&self) -> usize {
        self.reqs.live() + self.reqs.done.len()
    }

    /// Data and indirect pages lent to requests on the ring now (at most
    /// [`Config::max_pages_in_flight`]).
    pub fn pages_in_flight(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.pages_lent())
    }

    /// Ring requests on the ring now.
    pub fn ring_in_flight(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.in_flight())
    }

    /// Ids of the ring requests in flight (for tests of misbehaving
    /// backends).
    pub fn ring_ids(&self) -> Vec<u64> {
        self.data.as_ref().map_or(Vec::new(), |d| d.ids_in_flight())
    }

    /// The device (`device/vbd/<id>`).
    pub fn device(&self) -> &Device {
        self.link.device()
    }

    /// The backend's location.
    pub fn backend(&self) -> &Backend {
        self.link.backend()
    }

    /// The token of the watch on the backend's state (its events are
    /// consumed by [`Blkfront::poll_xenbus`]).
    pub fn watch_token(&self) -> &str {
        self.link.watch_token()
    }

    /// The services (for the caller's own use of the same handles).
    pub fn services(&self) -> &Services<E, G, A, S> {
        &self.svc
    }
}

impl<E, G, A, S> Drop for Blkfront<E, G, A, S>
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
            self.teardown_data(&BlkError::Detached);
            self.link
                .set_front_quiet(&*self.svc.xenstore, XenbusState::Closing);
        }
        self.quarantine.retry(&self.svc.grants);
        self.quarantine.leak_all();
        self.link.release(&*self.svc.xenstore);
    }
}

/// The virtual block devices this domain has (`device/vbd/*`).
pub fn vbds<X: XenstoreOps + ?Sized>(xs: &X) -> Result<Vec<Device>, BlkError> {
    Ok(xenbus::enumerate(xs, "vbd")?)
}
