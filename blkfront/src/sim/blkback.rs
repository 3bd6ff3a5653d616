//! A simulated blkback (the backend half of `io/blkif.h`, behaving like
//! Linux xen-blkback) on the simulated hypervisor: it writes the keys the
//! toolstack and blkback write (transport parameters before `InitWait`,
//! device properties and features at `Connected`), follows the xenbus
//! state handshake, maps the ring pages and data pages through the
//! simulated grant table (so the frontend's `end_access` is `Busy` while it
//! holds them; persistent grants stay mapped), and carries out requests on
//! a disk in memory. Seeded switches make it fail, defer and reorder
//! requests the way a legitimate backend may, and [`Malice`] makes it
//! break the protocol on purpose.

use std::collections::BTreeMap;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use xen_platform::services::{DomId, EventChannels, GrantRef, Port, SharedPage, PAGE_SIZE};
use xen_platform::shared_ring::{PageSpan, RingEntry};
use xen_platform::sim::xenstore::{SimXenstore, SimXs};
use xen_platform::sim::{SimHypervisor, SimMappedPage};
use xen_platform::xenbus::{self, XenbusState};
use xen_platform::xenstore::{Tx, XenstoreOps, XsError};

use super::rng::XorShift;
use crate::handshake::parse_u64;
use crate::wire::{
    BlkBackRing, RawSlot, Request, Response, Segment, DISCARD_SECURE, MAX_DIRECT_SEGMENTS,
    MAX_INDIRECT_PAGES, OP_DISCARD, OP_FLUSH_DISKCACHE, OP_INDIRECT, OP_READ, OP_WRITE,
    OP_WRITE_BARRIER, RSP_EOPNOTSUPP, RSP_ERROR, RSP_OKAY, SECTORS_PER_PAGE, SECTOR_SIZE,
    SEGMENTS_PER_INDIRECT_PAGE, SEGMENT_SIZE, SLOT, VDISK_CDROM, VDISK_READONLY, VDISK_REMOVABLE,
};

/// What the backend offers and what the toolstack writes for the vbd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkbackConfig {
    /// Bytes of the disk (a multiple of `sector_size`).
    pub disk_bytes: u64,
    /// `sector-size` (512 or 4096).
    pub sector_size: u32,
    /// `physical-sector-size` (`None`: no key).
    pub physical_sector_size: Option<u32>,
    /// `VDISK_READONLY` in `info`.
    pub read_only: bool,
    /// The toolstack's `mode` (`w` or `r`).
    pub mode: &'static str,
    /// `VDISK_REMOVABLE` in `info`.
    pub removable: bool,
    /// `VDISK_CDROM` in `info`.
    pub cdrom: bool,
    /// `feature-flush-cache`.
    pub flush: bool,
    /// `feature-barrier`.
    pub barrier: bool,
    /// `feature-discard`.
    pub discard: bool,
    /// `discard-secure`.
    pub discard_secure: bool,
    /// `discard-granularity` (`None`: no key).
    pub discard_granularity: Option<u32>,
    /// `discard-alignment` (`None`: no key).
    pub discard_alignment: Option<u32>,
    /// `feature-persistent`.
    pub persistent: bool,
    /// `max-ring-page-order` (`None`: no key).
    pub max_ring_page_order: Option<u32>,
    /// `feature-max-indirect-segments` (`None`: no key).
    pub max_indirect_segments: Option<u32>,
    /// Most grants kept mapped persistently (Linux: 1056); more are
    /// mapped per request.
    pub max_persistent_grants: usize,
    /// Answer indirect requests with `BLKIF_OP_INDIRECT` instead of the
    /// `indirect_op` (both are seen in the wild).
    pub answer_indirect_as_indirect: bool,
}

impl Default for BlkbackConfig {
    /// Linux blkback's feature set on a 4 MiB writable disk with 512-byte
    /// sectors.
    fn default() -> BlkbackConfig {
        BlkbackConfig {
            disk_bytes: 4 << 20,
            sector_size: 512,
            physical_sector_size: Some(512),
            read_only: false,
            mode: "w",
            removable: false,
            cdrom: false,
            flush: true,
            barrier: false,
            discard: true,
            discard_secure: false,
            discard_granularity: Some(512),
            discard_alignment: Some(0),
            persistent: true,
            max_ring_page_order: Some(4),
            max_indirect_segments: Some(256),
            max_persistent_grants: 1056,
            answer_indirect_as_indirect: false,
        }
    }
}

impl BlkbackConfig {
    /// Every combination of flush, barrier, discard (with or without
    /// secure), persistent, indirect (none, 32, 256), sector size (512,
    /// 4096), ring order (none, 0, 1, 4) and read-only (`info` bit or
    /// `mode` r): 3·2·2·2·3·2·4·3 = 1728 sets on a 1 MiB disk.
    pub fn all_feature_sets() -> Vec<BlkbackConfig> {
        let mut out = Vec::new();
        for discard in 0..3 {
            for flush in [false, true] {
                for barrier in [false, true] {
                    for persistent in [false, true] {
                        for indirect in [None, Some(32), Some(256)] {
                            for ss in [512, 4096] {
                                for order in [None, Some(0), Some(1), Some(4)] {
                                    for ro in 0..3 {
                                        out.push(BlkbackConfig {
                                            disk_bytes: 1 << 20,
                                            sector_size: ss,
                                            physical_sector_size: Some(ss),
                                            read_only: ro == 1,
                                            mode: if ro == 2 { "r" } else { "w" },
                                            flush,
                                            barrier,
                                            discard: discard > 0,
                                            discard_secure: discard == 2,
                                            discard_granularity: Some(ss),
                                            persistent,
                                            max_ring_page_order: order,
                                            max_indirect_segments: indirect,
                                            ..BlkbackConfig::default()
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// Legitimate but demanding behaviour, chosen per request by the seeded
/// RNG.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlkFaults {
    /// Percentage of reads and writes answered `BLKIF_RSP_ERROR` (a failed
    /// write is not applied).
    pub error_pct: u32,
    /// Answer each batch in a shuffled order.
    pub reorder: bool,
    /// Percentage of answers held back to a later step.
    pub defer_pct: u32,
    /// Take at most this many requests per step (0: all), so the ring
    /// fills up.
    pub budget: usize,
    /// Answer flushes `BLKIF_RSP_EOPNOTSUPP` although offered.
    pub flush_eopnotsupp: bool,
    /// Answer barriers `BLKIF_RSP_EOPNOTSUPP` although offered.
    pub barrier_eopnotsupp: bool,
    /// Answer discards `BLKIF_RSP_EOPNOTSUPP` although offered.
    pub discard_eopnotsupp: bool,
}

/// Ways to break the protocol, applied at the next opportunity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malice {
    /// A response with an id never sent.
    UnknownId,
    /// Two responses with the same id in one batch (needs two requests).
    DuplicateId,
    /// A response for an id answered in an earlier batch.
    StaleId,
    /// A response with another operation than its request's.
    WrongOperation,
    /// A response with a status `blkif.h` does not define.
    BadStatus,
    /// An `rsp_prod` beyond the requests made.
    RspProdTooFar,
    /// `n` random records as responses (answering what is in flight; the
    /// id is often kept right).
    Random(u32),
    /// `sectors` written as something that is not a number (at the next
    /// connect).
    BadSectors,
    /// `sector-size` written as 1000 (at the next connect).
    BadSectorSize,
    /// `info` written as garbage (at the next connect).
    BadInfo,
    /// `max-ring-page-order` written as garbage (at the next `InitWait`).
    BadRingOrder,
    /// `feature-max-indirect-segments` written as garbage (at the next
    /// connect).
    BadIndirectSegments,
}

impl Malice {
    /// Every ring kind, with a small count for the random one.
    pub const RING: [Malice; 7] = [
        Malice::UnknownId,
        Malice::DuplicateId,
        Malice::StaleId,
        Malice::WrongOperation,
        Malice::BadStatus,
        Malice::RspProdTooFar,
        Malice::Random(6),
    ];
    /// Every xenstore kind.
    pub const KEYS: [Malice; 5] = [
        Malice::BadSectors,
        Malice::BadSectorSize,
        Malice::BadInfo,
        Malice::BadRingOrder,
        Malice::BadIndirectSegments,
    ];

    fn is_ring(self) -> bool {
        !Self::KEYS.contains(&self)
    }
}

/// What the backend counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlkbackStats {
    /// Requests taken from the ring.
    pub requests: u64,
    /// Of those, indirect ones.
    pub indirect: u64,
    /// Reads and writes answered `BLKIF_RSP_ERROR` (injected or refused).
    pub errors: u64,
    /// Flushes carried out.
    pub flushes: u64,
    /// Barriers carried out.
    pub barriers: u64,
    /// Discards carried out.
    pub discards: u64,
    /// Data pages mapped per request.
    pub maps: u64,
    /// Data pages found already mapped persistently.
    pub persistent_hits: u64,
    /// Notifications sent to the guest.
    pub notifications: u64,
    /// Times the ring was connected.
    pub connects: u64,
    /// The ring order of the last connection.
    pub ring_order: u32,
}

/// The connected ring.
struct Conn {
    ring: BlkBackRing<PageSpan<SimMappedPage>>,
    port: Port,
    /// Both ends offered persistent grants.
    persistent: bool,
    /// Grants mapped persistently, by reference.
    pgrants: BTreeMap<u32, SimMappedPage>,
    /// Answers held back.
    held: Vec<Response>,
    /// Ids (and operations) answered in the last batch.
    last: Vec<(u64, u8)>,
}

/// A simulated blkback for one vbd of one frontend domain.
pub struct SimBlkback {
    hv: SimHypervisor,
    xs: SimXs,
    back: DomId,
    front: DomId,
    devid: u32,
    front_path: String,
    back_path: String,
    cfg: BlkbackConfig,
    disk: Vec<u8>,
    online: bool,
    removed: bool,
    state: XenbusState,
    conn: Option<Conn>,
    rng: XorShift,
    /// Demanding but legitimate behaviour.
    pub faults: BlkFaults,
    malice: Option<Malice>,
    stats: BlkbackStats,
    error: Option<String>,
}

impl SimBlkback {
    /// Creates the vbd as the toolstack and blkback do: the frontend's
    /// `device/vbd/<devid>` and the backend directory, then (blkback's
    /// probe) the transport parameters and `InitWait`. The disk is zeroed.
    pub fn create(
        hv: &SimHypervisor,
        store: &SimXenstore,
        back: DomId,
        front: DomId,
        devid: u32,
        cfg: BlkbackConfig,
        seed: u64,
    ) -> SimBlkback {
        let mut bb = SimBlkback {
            hv: hv.clone(),
            xs: store.connect(back),
            back,
            front,
            devid,
            front_path: format!("/local/domain/{}/device/vbd/{devid}", front.0),
            back_path: format!("/local/domain/{}/backend/vbd/{}/{devid}", back.0, front.0),
            disk: std::vec![0; cfg.disk_bytes as usize],
            cfg,
            online: true,
            removed: true,
            state: XenbusState::Unknown,
            conn: None,
            rng: XorShift::new(seed),
            faults: BlkFaults::default(),
            malice: None,
            stats: BlkbackStats::default(),
            error: None,
        };
        bb.attach();
        bb
    }

    fn w(&self, path: &str, value: &str) {
        self.xs
            .write(Tx::NONE, path, value)
            .expect("simulated xenstore write");
    }

    fn wb(&self, key: &str, value: &str) {
        self.w(&format!("{}/{key}", self.back_path), value);
    }

    fn rmb(&self, key: &str) {
        let _ = self.xs.rm(Tx::NONE, &format!("{}/{key}", self.back_path));
    }

    fn set_state(&mut self, s: XenbusState) {
        self.state = s;
        self.wb("state", &s.raw().to_string());
    }

    /// Takes a pending key malice of kind `m`.
    fn take_key_malice(&mut self, m: Malice) -> bool {
        if self.malice == Some(m) {
            self.malice = None;
            true
        } else {
            false
        }
    }

    /// The toolstack (re)creates the device (`xl block-attach`), blkback
    /// probes it: transport parameters, then `InitWait`.
    pub fn attach(&mut self) {
        let (f, b) = (self.front_path.clone(), self.back_path.clone());
        self.w(&format!("{f}/backend"), &b);
        self.w(&format!("{f}/backend-id"), &self.back.0.to_string());
        self.w(&format!("{f}/virtual-device"), &self.devid.to_string());
        self.w(
            &format!("{f}/device-type"),
            if self.cfg.cdrom { "cdrom" } else { "disk" },
        );
        self.w(&format!("{f}/state"), "1");
        self.wb("frontend", &f);
        self.wb("frontend-id", &self.front.0.to_string());
        self.wb("online", "1");
        self.wb("removable", if self.cfg.removable { "1" } else { "0" });
        self.wb("mode", self.cfg.mode);
        self.wb("type", "phy");
        self.wb("params", "/dev/sim");
        self.wb("state", "1");
        self.online = true;
        self.removed = false;
        self.state = XenbusState::Initialising;
        self.probe();
    }

    /// blkback's probe: the early keys and `InitWait`.
    fn probe(&mut self) {
        match self.cfg.max_indirect_segments {
            Some(n) => self.wb("feature-max-indirect-segments", &n.to_string()),
            None => self.rmb("feature-max-indirect-segments"),
        }
        if self.take_key_malice(Malice::BadRingOrder) {
            self.wb("max-ring-page-order", "four");
        } else {
            match self.cfg.max_ring_page_order {
                Some(n) => self.wb("max-ring-page-order", &n.to_string()),
                None => self.rmb("max-ring-page-order"),
            }
        }
        self.set_state(XenbusState::InitWait);
    }

    /// `online` = 0 and backend `Closing` (`xl block-detach`); the ring
    /// stays mapped until the frontend closes.
    pub fn detach(&mut self) {
        self.online = false;
        self.wb("online", "0");
        self.set_state(XenbusState::Closing);
    }

    /// The toolstack removes both directories (after the backend reached
    /// `Closed`).
    pub fn remove(&mut self) {
        self.disconnect();
        let _ = self.xs.rm(Tx::NONE, &self.back_path);
        let _ = self.xs.rm(Tx::NONE, &self.front_path);
        self.removed = true;
        self.state = XenbusState::Unknown;
    }

    /// The backend closes on its own but stays online: `Closing`, then
    /// `Closed` when the frontend closed, then `InitWait` again when the
    /// frontend re-announces itself.
    pub fn close(&mut self) {
        self.set_state(XenbusState::Closing);
    }

    /// The backend domain dies: every mapping goes away at once, and its
    /// directory with it.
    pub fn kill(&mut self) {
        self.conn = None;
        self.hv.grants.release_all(self.back);
        let _ = self.xs.rm(Tx::NONE, &self.back_path);
        self.removed = true;
        self.state = XenbusState::Unknown;
    }

    /// The backend's state.
    pub fn state(&self) -> XenbusState {
        self.state
    }

    /// Whether the ring is connected.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some() && self.state == XenbusState::Connected
    }

    /// Whether persistent grants are in use on the connection.
    pub fn persistent(&self) -> Option<bool> {
        self.conn.as_ref().map(|c| c.persistent)
    }

    /// Grants mapped persistently now.
    pub fn persistent_grants(&self) -> usize {
        self.conn.as_ref().map_or(0, |c| c.pgrants.len())
    }

    /// Answers held back for a later step.
    pub fn held(&self) -> usize {
        self.conn.as_ref().map_or(0, |c| c.held.len())
    }

    /// The backend's directory.
    pub fn path(&self) -> &str {
        &self.back_path
    }

    /// The frontend's device directory.
    pub fn front_path(&self) -> &str {
        &self.front_path
    }

    /// The disk's bytes.
    pub fn disk(&self) -> &[u8] {
        &self.disk
    }

    /// The disk's bytes, to change behind the frontend's back.
    pub fn disk_mut(&mut self) -> &mut [u8] {
        &mut self.disk
    }

    /// The configuration.
    pub fn config(&self) -> &BlkbackConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> BlkbackStats {
        self.stats
    }

    /// The last frontend error the backend saw (it went `Closing` then).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Misbehave at the next opportunity.
    pub fn inject(&mut self, m: Malice) {
        self.malice = Some(m);
    }

    /// Whether an injected [`Malice`] is still waiting for its chance.
    pub fn malice_pending(&self) -> bool {
        self.malice.is_some()
    }

    /// Changes what the backend offers from the next `InitWait` /
    /// connect on (the disk's contents stay; its size follows
    /// `disk_bytes`).
    pub fn reconfigure(&mut self, cfg: BlkbackConfig) {
        self.disk.resize(cfg.disk_bytes as usize, 0);
        self.cfg = cfg;
    }

    /// Fuzzing: writes `records` as raw bytes into the response slots
    /// after the last real answer and publishes `rsp_prod` as that point
    /// plus `rsp_prod_delta`, whatever was asked. Nothing happens while
    /// not connected.
    pub fn scribble(&mut self, records: &[[u8; SLOT]], rsp_prod_delta: u32) {
        let Some(c) = self.conn.as_mut() else {
            return;
        };
        let base = c.ring.rsp_prod_pvt();
        for (i, r) in records.iter().enumerate() {
            let _ = c.ring.write_raw_slot(base.wrapping_add(i as u32), r);
        }
        c.ring
            .publish_raw_rsp_prod(base.wrapping_add(rsp_prod_delta));
        let port = c.port;
        self.notify(port);
    }

    /// Requests taken and not yet answered (held back or never answered).
    pub fn unanswered(&self) -> u32 {
        self.conn.as_ref().map_or(0, |c| c.ring.unanswered())
    }

    fn front_state(&self) -> XenbusState {
        xenbus::read_state(&self.xs, &self.front_path).unwrap_or(XenbusState::Unknown)
    }

    fn fatal(&mut self, why: String) {
        self.error = Some(why);
        self.disconnect();
        self.set_state(XenbusState::Closing);
    }

    /// Unmaps everything and unbinds the port (blkback's disconnect).
    fn disconnect(&mut self) {
        if let Some(c) = self.conn.take() {
            let _ = self.hv.evtchn(self.back).close(c.port);
            // Dropping the ring and the persistent grants unmaps them.
        }
    }

    /// Follows the frontend's state and carries out requests while
    /// connected.
    pub fn step(&mut self) {
        if self.removed {
            return;
        }
        use XenbusState as X;
        let f = self.front_state();
        if self.conn.is_some() && matches!(f, X::Closing | X::Closed | X::Unknown) {
            self.disconnect();
        }
        match f {
            X::Initialised | X::Connected if self.state == X::InitWait => {
                if let Err(e) = self.connect() {
                    self.fatal(e);
                }
            }
            X::Closing if !matches!(self.state, X::Closing | X::Closed) => {
                self.set_state(X::Closing)
            }
            X::Closed | X::Unknown if self.state != X::Closed => self.set_state(X::Closed),
            X::Initialising if self.state == X::Closed && self.online => self.probe(),
            _ => {}
        }
        if self.is_connected() {
            if let Err(e) = self.process() {
                self.fatal(e);
            }
        }
    }

    fn read_front(&self, key: &str) -> Result<Option<String>, String> {
        match self
            .xs
            .read(Tx::NONE, &format!("{}/{key}", self.front_path))
        {
            Ok(v) => Ok(Some(v)),
            Err(XsError::NoEnt) => Ok(None),
            Err(e) => Err(format!("reading {key}: {e}")),
        }
    }

    fn front_u32(&self, key: &str) -> Result<u32, String> {
        let v = self
            .read_front(key)?
            .ok_or_else(|| format!("frontend wrote no {key}"))?;
        parse_u64(&v)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("frontend {key} is not a number"))
    }

    /// Reads the frontend's keys, maps the ring, binds the channel,
    /// writes the device properties and goes `Connected`.
    fn connect(&mut self) -> Result<(), String> {
        let order = match self.read_front("ring-page-order")? {
            None => 0,
            Some(_) => self.front_u32("ring-page-order")?,
        };
        let max = self.cfg.max_ring_page_order.unwrap_or(0);
        if order > max {
            return Err(format!("frontend ring-page-order {order} beyond {max}"));
        }
        let refs: Vec<u32> = if order == 0 {
            std::vec![self.front_u32("ring-ref")?]
        } else {
            (0..1u32 << order)
                .map(|i| self.front_u32(&format!("ring-ref{i}")))
                .collect::<Result<_, _>>()?
        };
        if let Some(p) = self.read_front("protocol")? {
            if p != crate::handshake::PROTOCOL {
                return Err(format!("unknown protocol {p}"));
            }
        }
        let remote = Port(self.front_u32("event-channel")?);
        let front_persistent = match self.read_front("feature-persistent")? {
            None => false,
            Some(v) => parse_u64(&v).ok_or("bad feature-persistent")? != 0,
        };
        let mut pages = Vec::new();
        for r in refs {
            pages.push(
                self.hv
                    .map_page(self.back, self.front, GrantRef(r), true)
                    .map_err(|e| format!("mapping ring page {r}: {e}"))?,
            );
        }
        let span = PageSpan::new(pages).map_err(|e| format!("ring pages: {e}"))?;
        let ring = BlkBackRing::attach(span);
        let ev = self.hv.evtchn(self.back);
        let port = ev
            .bind_interdomain(self.front, remote)
            .map_err(|e| format!("binding event channel: {e}"))?;
        ev.take_pending(port);
        self.conn = Some(Conn {
            ring,
            port,
            persistent: front_persistent && self.cfg.persistent,
            pgrants: BTreeMap::new(),
            held: Vec::new(),
            last: Vec::new(),
        });
        self.write_connect_keys();
        self.stats.connects += 1;
        self.stats.ring_order = order;
        self.set_state(XenbusState::Connected);
        Ok(())
    }

    /// blkback's connect(): device properties and features.
    fn write_connect_keys(&mut self) {
        let c = self.cfg.clone();
        let flag = |on: bool| if on { "1" } else { "0" };
        self.wb("feature-flush-cache", flag(c.flush));
        self.wb("feature-barrier", flag(c.barrier));
        self.wb("feature-persistent", flag(c.persistent));
        if c.discard {
            self.wb("feature-discard", "1");
            match c.discard_granularity {
                Some(g) => self.wb("discard-granularity", &g.to_string()),
                None => self.rmb("discard-granularity"),
            }
            match c.discard_alignment {
                Some(a) => self.wb("discard-alignment", &a.to_string()),
                None => self.rmb("discard-alignment"),
            }
            self.wb("discard-secure", flag(c.discard_secure));
        } else {
            self.rmb("feature-discard");
        }
        let sectors = if self.take_key_malice(Malice::BadSectors) {
            String::from("lots")
        } else {
            (c.disk_bytes / SECTOR_SIZE as u64).to_string()
        };
        self.wb("sectors", &sectors);
        let mut info = 0;
        if c.read_only {
            info |= VDISK_READONLY;
        }
        if c.removable {
            info |= VDISK_REMOVABLE;
        }
        if c.cdrom {
            info |= VDISK_CDROM;
        }
        let info = if self.take_key_malice(Malice::BadInfo) {
            String::from("0x4")
        } else {
            info.to_string()
        };
        self.wb("info", &info);
        let ss = if self.take_key_malice(Malice::BadSectorSize) {
            String::from("1000")
        } else {
            c.sector_size.to_string()
        };
        self.wb("sector-size", &ss);
        match c.physical_sector_size {
            Some(p) => self.wb("physical-sector-size", &p.to_string()),
            None => self.rmb("physical-sector-size"),
        }
        if self.take_key_malice(Malice::BadIndirectSegments) {
            self.wb("feature-max-indirect-segments", "-1");
        }
    }

    fn notify(&mut self, port: Port) {
        if self.hv.evtchn(self.back).notify(port).is_ok() {
            self.stats.notifications += 1;
        }
    }

    /// Takes requests off the ring, carries them out and answers.
    fn process(&mut self) -> Result<(), String> {
        let Some(mut c) = self.conn.take() else {
            return Ok(());
        };
        let r = self.process_on(&mut c);
        self.conn = Some(c);
        r
    }

    fn process_on(&mut self, c: &mut Conn) -> Result<(), String> {
        let bad = |e: xen_platform::XenError| format!("ring: {e}");
        let mut rsps: Vec<Response> = core::mem::take(&mut c.held);
        let mut taken = 0;
        loop {
            if self.faults.budget > 0 && taken >= self.faults.budget {
                break;
            }
            if c.ring.unconsumed_requests().map_err(bad)? == 0 {
                if c.ring.final_check_for_requests().map_err(bad)? {
                    continue;
                }
                break;
            }
            let Some(req) = c.ring.next_request::<Request>().map_err(bad)? else {
                break;
            };
            taken += 1;
            self.stats.requests += 1;
            rsps.push(self.execute(c, &req));
        }
        if rsps.is_empty() {
            if self.malice == Some(Malice::RspProdTooFar) {
                self.malice = None;
                let p = c.ring.rsp_prod_pvt().wrapping_add(3);
                c.ring.publish_raw_rsp_prod(p);
                self.notify(c.port);
            }
            return Ok(());
        }
        if self.faults.defer_pct > 0 {
            let (mut now, mut later) = (Vec::new(), Vec::new());
            for r in rsps {
                if self.rng.chance(self.faults.defer_pct) {
                    later.push(r);
                } else {
                    now.push(r);
                }
            }
            rsps = now;
            c.held = later;
        }
        if self.faults.reorder {
            self.rng.shuffle(&mut rsps);
        }
        let mut raw: Vec<[u8; SLOT]> = rsps
            .iter()
            .map(|r| {
                let mut b = [0u8; SLOT];
                r.encode(&mut b[..Response::SIZE]);
                b
            })
            .collect();
        if self.malice.is_some_and(Malice::is_ring) {
            self.ring_malice(c, &mut raw);
        }
        c.last = raw
            .iter()
            .map(|b| {
                let r = Response::decode(&b[..Response::SIZE]);
                (r.id, r.operation)
            })
            .collect();
        for b in &raw {
            c.ring.put_response(&RawSlot(*b)).map_err(bad)?;
        }
        if c.ring.push_responses_and_check_notify() {
            self.notify(c.port);
        }
        if self.malice == Some(Malice::RspProdTooFar) {
            self.malice = None;
            let p = c.ring.rsp_prod_pvt().wrapping_add(3);
            c.ring.publish_raw_rsp_prod(p);
            self.notify(c.port);
        }
        Ok(())
    }

    /// Corrupts a batch of answers as the pending malice says.
    fn ring_malice(&mut self, c: &Conn, raw: &mut [[u8; SLOT]]) {
        let Some(first) = raw.first().map(|b| Response::decode(&b[..Response::SIZE])) else {
            return;
        };
        fn set(raw: &mut [[u8; SLOT]], i: usize, r: Response) {
            let mut b = [0u8; SLOT];
            r.encode(&mut b[..Response::SIZE]);
            raw[i] = b;
        }
        match self.malice {
            Some(Malice::UnknownId) => set(
                raw,
                0,
                Response {
                    id: first.id ^ 0x5555_0000_0000_0000,
                    ..first
                },
            ),
            Some(Malice::DuplicateId) => {
                if raw.len() < 2 {
                    return; // wait for two answers in one batch
                }
                set(raw, 1, first);
            }
            Some(Malice::StaleId) => {
                let Some(&(id, operation)) = c.last.first() else {
                    return; // wait for a second batch
                };
                set(
                    raw,
                    0,
                    Response {
                        id,
                        operation,
                        status: RSP_OKAY,
                    },
                );
            }
            Some(Malice::WrongOperation) => set(
                raw,
                0,
                Response {
                    operation: if first.operation == OP_WRITE {
                        OP_READ
                    } else {
                        OP_WRITE
                    },
                    ..first
                },
            ),
            Some(Malice::BadStatus) => set(raw, 0, Response { status: 1, ..first }),
            Some(Malice::Random(n)) => {
                for _ in 0..n {
                    let i = self.rng.below(raw.len() as u64) as usize;
                    let keep = Response::decode(&raw[i][..Response::SIZE]);
                    let mut b = [0u8; SLOT];
                    self.rng.fill(&mut b);
                    let mut r = Response::decode(&b[..Response::SIZE]);
                    if self.rng.chance(50) {
                        r.id = keep.id;
                    }
                    if self.rng.chance(50) {
                        r.operation = keep.operation;
                    }
                    if self.rng.chance(50) {
                        r.status = (self.rng.below(4) as i16) - 2;
                    }
                    r.encode(&mut b[..Response::SIZE]);
                    raw[i] = b;
                }
            }
            _ => return,
        }
        self.malice = None;
    }

    /// A response to `req`.
    fn rsp(req: &Request, operation: u8, status: i16) -> Response {
        Response {
            id: req.id(),
            operation,
            status,
        }
    }

    /// Carries out one request.
    fn execute(&mut self, c: &mut Conn, req: &Request) -> Response {
        match *req {
            Request::Rw {
                operation: op @ (OP_READ | OP_WRITE),
                nr_segments,
                sector_number,
                seg,
                ..
            } => {
                let n = usize::from(nr_segments);
                let status = if n == 0 || n > MAX_DIRECT_SEGMENTS {
                    RSP_ERROR
                } else {
                    self.rw(c, op, sector_number, &seg[..n])
                };
                Self::rsp(req, op, status)
            }
            Request::Rw {
                operation: op @ (OP_FLUSH_DISKCACHE | OP_WRITE_BARRIER),
                ..
            } => {
                let flush = op == OP_FLUSH_DISKCACHE;
                let (offered, refuse) = if flush {
                    (self.cfg.flush, self.faults.flush_eopnotsupp)
                } else {
                    (self.cfg.barrier, self.faults.barrier_eopnotsupp)
                };
                let status = if !offered || refuse {
                    RSP_EOPNOTSUPP
                } else if self.read_only() {
                    RSP_ERROR
                } else {
                    if flush {
                        self.stats.flushes += 1;
                    } else {
                        self.stats.barriers += 1;
                    }
                    RSP_OKAY
                };
                Self::rsp(req, op, status)
            }
            Request::Indirect {
                indirect_op,
                nr_segments,
                sector_number,
                indirect_grefs,
                ..
            } => {
                self.stats.indirect += 1;
                let answer_op = if self.cfg.answer_indirect_as_indirect {
                    OP_INDIRECT
                } else {
                    indirect_op
                };
                let max = self.cfg.max_indirect_segments.unwrap_or(0) as usize;
                let n = usize::from(nr_segments);
                if !matches!(indirect_op, OP_READ | OP_WRITE) || n == 0 || n > max {
                    return Self::rsp(req, answer_op, RSP_ERROR);
                }
                let npages = n.div_ceil(SEGMENTS_PER_INDIRECT_PAGE);
                if npages > MAX_INDIRECT_PAGES {
                    return Self::rsp(req, answer_op, RSP_ERROR);
                }
                let mut segs = Vec::with_capacity(n);
                for (p, &gref) in indirect_grefs.iter().enumerate().take(npages) {
                    let count =
                        (n - p * SEGMENTS_PER_INDIRECT_PAGE).min(SEGMENTS_PER_INDIRECT_PAGE);
                    let mut bytes = std::vec![0u8; count * SEGMENT_SIZE];
                    if self
                        .with_page(c, gref, false, |pg| pg.read(0, &mut bytes))
                        .is_err()
                    {
                        return Self::rsp(req, answer_op, RSP_ERROR);
                    }
                    segs.extend(bytes.chunks(SEGMENT_SIZE).map(Segment::decode));
                }
                let status = self.rw(c, indirect_op, sector_number, &segs);
                Self::rsp(req, answer_op, status)
            }
            Request::Discard {
                flag,
                sector_number,
                nr_sectors,
                ..
            } => {
                let secure = flag & DISCARD_SECURE != 0;
                let status = if !self.cfg.discard
                    || self.faults.discard_eopnotsupp
                    || (secure && !self.cfg.discard_secure)
                {
                    RSP_EOPNOTSUPP
                } else if self.read_only() {
                    RSP_ERROR
                } else {
                    match self.range(sector_number, nr_sectors) {
                        Some((lo, hi)) => {
                            self.disk[lo..hi].fill(0);
                            self.stats.discards += 1;
                            RSP_OKAY
                        }
                        None => RSP_ERROR,
                    }
                };
                Self::rsp(req, OP_DISCARD, status)
            }
            Request::Rw { operation, .. } => Self::rsp(req, operation, RSP_EOPNOTSUPP),
        }
    }

    fn read_only(&self) -> bool {
        self.cfg.read_only || self.cfg.mode == "r"
    }

    /// The byte range of `n` 512-byte sectors at `sector`, if it is
    /// aligned to the logical sector and inside the disk.
    fn range(&self, sector: u64, n: u64) -> Option<(usize, usize)> {
        let per = u64::from(self.cfg.sector_size) / SECTOR_SIZE as u64;
        if sector % per != 0 || n % per != 0 || n == 0 {
            return None;
        }
        let lo = sector.checked_mul(SECTOR_SIZE as u64)?;
        let hi = lo.checked_add(n.checked_mul(SECTOR_SIZE as u64)?)?;
        (hi <= self.cfg.disk_bytes).then_some((lo as usize, hi as usize))
    }

    /// Runs `f` on the frontend's page `gref`: mapped persistently when
    /// negotiated (and room is left), else for this call only.
    fn with_page<T>(
        &mut self,
        c: &mut Conn,
        gref: u32,
        write: bool,
        f: impl FnOnce(&SimMappedPage) -> Result<T, xen_platform::XenError>,
    ) -> Result<T, String> {
        if c.persistent {
            if let Some(m) = c.pgrants.get(&gref) {
                self.stats.persistent_hits += 1;
                return f(m).map_err(|e| format!("{e}"));
            }
            if c.pgrants.len() < self.cfg.max_persistent_grants {
                // Persistent grants are mapped writable whatever the use.
                let m = self
                    .hv
                    .map_page(self.back, self.front, GrantRef(gref), true)
                    .map_err(|e| format!("mapping {gref}: {e}"))?;
                self.stats.maps += 1;
                let r = f(&m).map_err(|e| format!("{e}"));
                c.pgrants.insert(gref, m);
                return r;
            }
        }
        let m = self
            .hv
            .map_page(self.back, self.front, GrantRef(gref), write)
            .map_err(|e| format!("mapping {gref}: {e}"))?;
        self.stats.maps += 1;
        f(&m).map_err(|e| format!("{e}"))
    }

    /// A read or write over `segs`; the status.
    fn rw(&mut self, c: &mut Conn, op: u8, sector: u64, segs: &[Segment]) -> i16 {
        let write = op == OP_WRITE;
        if write && self.read_only() {
            self.stats.errors += 1;
            return RSP_ERROR;
        }
        let per = self.cfg.sector_size as usize / SECTOR_SIZE;
        let mut total = 0u64;
        for s in segs {
            if s.first_sect > s.last_sect || usize::from(s.last_sect) >= SECTORS_PER_PAGE {
                self.stats.errors += 1;
                return RSP_ERROR;
            }
            let nsec = usize::from(s.last_sect - s.first_sect) + 1;
            if nsec % per != 0 {
                self.stats.errors += 1;
                return RSP_ERROR;
            }
            total += nsec as u64;
        }
        let Some((lo, _hi)) = self.range(sector, total) else {
            self.stats.errors += 1;
            return RSP_ERROR;
        };
        if self.rng.chance(self.faults.error_pct) {
            self.stats.errors += 1;
            return RSP_ERROR;
        }
        let mut at = lo;
        for s in segs {
            let off = usize::from(s.first_sect) * SECTOR_SIZE;
            let len = (usize::from(s.last_sect - s.first_sect) + 1) * SECTOR_SIZE;
            debug_assert!(off + len <= PAGE_SIZE);
            let r = if write {
                let mut buf = std::vec![0u8; len];
                let r = self.with_page(c, s.gref, false, |p| p.read(off, &mut buf));
                if r.is_ok() {
                    self.disk[at..at + len].copy_from_slice(&buf);
                }
                r
            } else {
                let data = self.disk[at..at + len].to_vec();
                self.with_page(c, s.gref, true, |p| p.write(off, &data))
            };
            if r.is_err() {
                self.stats.errors += 1;
                return RSP_ERROR;
            }
            at += len;
        }
        RSP_OKAY
    }
}
