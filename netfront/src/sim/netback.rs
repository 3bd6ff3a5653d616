//! A simulated netback (the backend half of `io/netif.h`, behaving like
//! Linux xen-netback) on the simulated hypervisor: it writes the keys the
//! toolstack and netback write, follows the xenbus state handshake, maps
//! the rings and data pages through the simulated grant table (so the
//! frontend's `end_access` is `Busy` while it holds them), and moves frames
//! between the rings and two queues that a [`Wire`](super::Wire) or a
//! test drives. Seeded switches make it fragment, reorder and fail frames
//! the way a legitimate backend may, and [`Malice`] makes it break the
//! protocol on purpose.

use std::collections::VecDeque;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use xen_platform::services::{DomId, EventChannels, GrantRef, Port, SharedPage, PAGE_SIZE};
use xen_platform::sim::xenstore::{SimXenstore, SimXs};
use xen_platform::sim::{SimHypervisor, SimMappedPage};
use xen_platform::xenbus::{self, XenbusState};
use xen_platform::xenstore::wire::parse_decimal;
use xen_platform::xenstore::{Tx, XenstoreOps, XsError};

use super::rng::XorShift;
use crate::tx::TxChecksum;
use crate::wire::{
    ExtraInfo, Gso, GsoKind, RawSlot, RxBackRing, RxRequest, RxResponse, TxBackRing, TxRequest,
    TxResponse, EXTRA_FLAG_MORE, EXTRA_TYPE_GSO, NETIF_RSP_DROPPED, NETIF_RSP_ERROR,
    NETIF_RSP_NULL, NETIF_RSP_OKAY, NETRXF_CSUM_BLANK, NETRXF_DATA_VALIDATED, NETRXF_EXTRA_INFO,
    NETRXF_GSO_PREFIX, NETRXF_MORE_DATA, NETTXF_CSUM_BLANK, NETTXF_DATA_VALIDATED,
    NETTXF_EXTRA_INFO, NETTXF_MORE_DATA, NR_SLOTS_MIN, RX_SLOT,
};

/// A frame on the simulated wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFrame {
    /// The bytes.
    pub data: Vec<u8>,
    /// Checksum state, as the sender flagged it.
    pub csum: TxChecksum,
    /// GSO, as the sender asked.
    pub gso: Option<Gso>,
}

impl SimFrame {
    /// A plain frame.
    pub fn new(data: Vec<u8>) -> SimFrame {
        SimFrame {
            data,
            csum: TxChecksum::None,
            gso: None,
        }
    }
}

/// What the backend offers (its `feature-*` keys) and what the toolstack
/// writes for the vif.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetbackConfig {
    /// `feature-rx-copy`.
    pub rx_copy: bool,
    /// `feature-sg`.
    pub sg: bool,
    /// `feature-gso-tcpv4`.
    pub gso_tcpv4: bool,
    /// `feature-gso-tcpv6`.
    pub gso_tcpv6: bool,
    /// `feature-ipv6-csum-offload`.
    pub ipv6_csum_offload: bool,
    /// `feature-split-event-channels`.
    pub split_event_channels: bool,
    /// The `mac` value written for the vif (`None`: no key).
    pub mac: Option<String>,
    /// The backend's `mtu` value (`None`: no key).
    pub mtu: Option<String>,
}

impl Default for NetbackConfig {
    /// Linux netback's feature set, a toolstack MAC and MTU 1500.
    fn default() -> NetbackConfig {
        NetbackConfig {
            rx_copy: true,
            sg: true,
            gso_tcpv4: true,
            gso_tcpv6: true,
            ipv6_csum_offload: true,
            split_event_channels: true,
            mac: Some(String::from("00:16:3e:00:00:01")),
            mtu: Some(String::from("1500")),
        }
    }
}

impl NetbackConfig {
    /// Every combination of the five optional features (sg, gso v4, gso
    /// v6, ipv6 checksum offload, split event channels), 32 in all.
    pub fn all_feature_sets() -> Vec<NetbackConfig> {
        (0..32u32)
            .map(|bits| NetbackConfig {
                sg: bits & 1 != 0,
                gso_tcpv4: bits & 2 != 0,
                gso_tcpv6: bits & 4 != 0,
                ipv6_csum_offload: bits & 8 != 0,
                split_event_channels: bits & 16 != 0,
                ..NetbackConfig::default()
            })
            .collect()
    }
}

/// Legitimate but demanding behaviour, chosen per frame by the seeded RNG.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendFaults {
    /// Answer tx requests out of order (ids in a shuffled order).
    pub reorder_tx_responses: bool,
    /// Percentage of sent frames answered `NETIF_RSP_ERROR`.
    pub tx_error_pct: u32,
    /// Percentage of sent frames answered `NETIF_RSP_DROPPED`.
    pub tx_drop_pct: u32,
    /// Spread received frames over more slots than needed, at random
    /// offsets.
    pub rx_fragment: bool,
    /// Percentage of received frames returned as `NETIF_RSP_ERROR`.
    pub rx_error_pct: u32,
    /// Handle at most this many frames per direction per step (0: all),
    /// so rings fill up.
    pub budget: usize,
}

/// Ways to break the protocol, applied at the next opportunity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malice {
    /// A tx response with an id that was never sent.
    TxUnknownId,
    /// Two tx responses with the same id (needs two frames sent in one
    /// batch).
    TxDuplicateId,
    /// A tx response with an undefined status.
    TxBadStatus,
    /// A `NETIF_RSP_NULL` tx response where no extra info was sent.
    TxSpuriousNull,
    /// A tx `rsp_prod` beyond the requests made.
    TxRspProdTooFar,
    /// An rx response with another buffer's id.
    RxWrongId,
    /// An rx response whose data runs past the page.
    RxOffsetPastPage,
    /// An rx response with an undefined negative status.
    RxBadStatus,
    /// An rx response with undefined flag bits.
    RxUnknownFlags,
    /// An rx response flagged `NETRXF_gso_prefix`.
    RxGsoPrefix,
    /// An rx extra info of a type never negotiated (multicast).
    RxBadExtraType,
    /// An rx packet spanning more slots than allowed.
    RxTooManySlots,
    /// An rx `csum_blank` response (a violation when not negotiated).
    RxCsumBlank,
    /// An rx `more_data` response (a violation without `feature-sg`).
    RxMoreData,
    /// An rx `rsp_prod` beyond the requests made.
    RxRspProdTooFar,
    /// `n` random records as rx responses (at valid indices).
    RxRandom(u32),
    /// `n` random records as tx responses (answering what is in flight).
    TxRandom(u32),
}

impl Malice {
    /// Every kind, with small counts for the random ones.
    pub const ALL: [Malice; 17] = [
        Malice::TxUnknownId,
        Malice::TxDuplicateId,
        Malice::TxBadStatus,
        Malice::TxSpuriousNull,
        Malice::TxRspProdTooFar,
        Malice::RxWrongId,
        Malice::RxOffsetPastPage,
        Malice::RxBadStatus,
        Malice::RxUnknownFlags,
        Malice::RxGsoPrefix,
        Malice::RxBadExtraType,
        Malice::RxTooManySlots,
        Malice::RxCsumBlank,
        Malice::RxMoreData,
        Malice::RxRspProdTooFar,
        Malice::RxRandom(8),
        Malice::TxRandom(8),
    ];

    fn is_tx(self) -> bool {
        matches!(
            self,
            Malice::TxUnknownId
                | Malice::TxDuplicateId
                | Malice::TxBadStatus
                | Malice::TxSpuriousNull
                | Malice::TxRspProdTooFar
                | Malice::TxRandom(_)
        )
    }
}

/// What the backend counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetbackStats {
    /// Frames taken from the guest's tx ring.
    pub from_guest: u64,
    /// Frames put on the guest's rx ring.
    pub to_guest: u64,
    /// Frames for the guest dropped (too big without sg, GSO not taken).
    pub to_guest_dropped: u64,
    /// Notifications sent to the guest.
    pub notifications: u64,
    /// Times the rings were connected.
    pub connects: u64,
}

/// The frontend's keys as the backend read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrontFeatures {
    /// `feature-sg`.
    pub sg: bool,
    /// `feature-gso-tcpv4`.
    pub gso_tcpv4: bool,
    /// `feature-gso-tcpv6`.
    pub gso_tcpv6: bool,
    /// Not `feature-no-csum-offload`.
    pub csum_offload: bool,
    /// `feature-ipv6-csum-offload`.
    pub ipv6_csum_offload: bool,
    /// `feature-rx-notify`.
    pub rx_notify: bool,
    /// Split event channels were written.
    pub split: bool,
}

/// The connected rings.
struct Conn {
    tx: TxBackRing<SimMappedPage>,
    rx: RxBackRing<SimMappedPage>,
    tx_port: Port,
    rx_port: Port,
    front: FrontFeatures,
    /// The last tx id answered (for duplicates across batches).
    last_tx_ids: Vec<u16>,
}

/// A simulated netback for one vif of one frontend domain.
pub struct SimNetback {
    hv: SimHypervisor,
    xs: SimXs,
    back: DomId,
    front: DomId,
    devid: u32,
    front_path: String,
    back_path: String,
    cfg: NetbackConfig,
    online: bool,
    /// Removed by the toolstack (no directories).
    removed: bool,
    state: XenbusState,
    conn: Option<Conn>,
    rng: XorShift,
    /// Demanding but legitimate behaviour.
    pub faults: BackendFaults,
    malice: Option<Malice>,
    /// Frames the guest sent, for the wire.
    sent: Vec<SimFrame>,
    /// Frames waiting for the guest's rx buffers.
    to_guest: VecDeque<SimFrame>,
    stats: NetbackStats,
    error: Option<String>,
}

fn parse_u32(s: &str) -> Option<u32> {
    parse_decimal(s)
}

impl SimNetback {
    /// Creates the vif as the toolstack and netback do: the frontend's
    /// `device/vif/<devid>` (`backend`, `backend-id`, `handle`, `mac`,
    /// `state` = Initialising) and the backend directory with its features,
    /// `state` = InitWait.
    pub fn create(
        hv: &SimHypervisor,
        store: &SimXenstore,
        back: DomId,
        front: DomId,
        devid: u32,
        cfg: NetbackConfig,
        seed: u64,
    ) -> SimNetback {
        let mut nb = SimNetback {
            hv: hv.clone(),
            xs: store.connect(back),
            back,
            front,
            devid,
            front_path: format!("/local/domain/{}/device/vif/{devid}", front.0),
            back_path: format!("/local/domain/{}/backend/vif/{}/{devid}", back.0, front.0),
            cfg,
            online: true,
            removed: true,
            state: XenbusState::Unknown,
            conn: None,
            rng: XorShift::new(seed),
            faults: BackendFaults::default(),
            malice: None,
            sent: Vec::new(),
            to_guest: VecDeque::new(),
            stats: NetbackStats::default(),
            error: None,
        };
        nb.attach();
        nb
    }

    fn w(&self, path: &str, value: &str) {
        self.xs
            .write(Tx::NONE, path, value)
            .expect("simulated xenstore write");
    }

    fn set_state(&mut self, s: XenbusState) {
        self.state = s;
        let path = format!("{}/state", self.back_path);
        self.w(&path, &s.raw().to_string());
    }

    /// The toolstack (re)creates the device (`xl network-attach`).
    pub fn attach(&mut self) {
        let (f, b) = (self.front_path.clone(), self.back_path.clone());
        self.w(&format!("{f}/backend"), &b);
        self.w(&format!("{f}/backend-id"), &self.back.0.to_string());
        self.w(&format!("{f}/handle"), &self.devid.to_string());
        self.w(&format!("{f}/state"), "1");
        self.w(&format!("{b}/frontend"), &f);
        self.w(&format!("{b}/frontend-id"), &self.front.0.to_string());
        self.w(&format!("{b}/handle"), &self.devid.to_string());
        self.w(&format!("{b}/online"), "1");
        if let Some(mac) = self.cfg.mac.clone() {
            self.w(&format!("{f}/mac"), &mac);
            self.w(&format!("{b}/mac"), &mac);
        }
        if let Some(mtu) = self.cfg.mtu.clone() {
            self.w(&format!("{b}/mtu"), &mtu);
        }
        let c = &self.cfg;
        let flags = [
            ("feature-rx-copy", c.rx_copy),
            ("feature-rx-flip", false),
            ("feature-sg", c.sg),
            ("feature-gso-tcpv4", c.gso_tcpv4),
            ("feature-gso-tcpv6", c.gso_tcpv6),
            ("feature-ipv6-csum-offload", c.ipv6_csum_offload),
            ("feature-split-event-channels", c.split_event_channels),
            ("feature-multicast-control", true),
        ];
        for (k, on) in flags {
            self.w(&format!("{b}/{k}"), if on { "1" } else { "0" });
        }
        self.online = true;
        self.removed = false;
        self.set_state(XenbusState::Initialising);
        self.set_state(XenbusState::InitWait);
    }

    /// The toolstack starts removing the device (`xl network-detach`):
    /// `online` = 0 and backend `Closing`; the rings stay mapped until the
    /// frontend closes.
    pub fn detach(&mut self) {
        self.online = false;
        self.w(&format!("{}/online", self.back_path), "0");
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

    /// The backend closes on its own but stays online (e.g. it restarts):
    /// `Closing`, then `Closed` when the frontend closed, then `InitWait`
    /// again when the frontend re-announces itself.
    pub fn close(&mut self) {
        self.set_state(XenbusState::Closing);
    }

    /// The backend domain dies: every mapping goes away at once and its
    /// directory with it.
    pub fn kill(&mut self) {
        self.conn = None;
        self.sent.clear();
        self.to_guest.clear();
        self.hv.grants.release_all(self.back);
        let _ = self.xs.rm(Tx::NONE, &self.back_path);
        self.removed = true;
        self.state = XenbusState::Unknown;
    }

    /// The backend's state.
    pub fn state(&self) -> XenbusState {
        self.state
    }

    /// Whether the rings are connected.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some() && self.state == XenbusState::Connected
    }

    /// The frontend's features, while connected.
    pub fn front_features(&self) -> Option<FrontFeatures> {
        self.conn.as_ref().map(|c| c.front)
    }

    /// The backend's directory.
    pub fn path(&self) -> &str {
        &self.back_path
    }

    /// The frontend's device directory.
    pub fn front_path(&self) -> &str {
        &self.front_path
    }

    /// The counters.
    pub fn stats(&self) -> NetbackStats {
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

    /// Rx buffers the guest has posted and the backend not used yet.
    pub fn rx_buffers_posted(&self) -> u32 {
        self.conn
            .as_ref()
            .and_then(|c| c.rx.unconsumed_requests().ok())
            .unwrap_or(0)
    }

    /// Frames the guest sent since the last call.
    pub fn take_sent(&mut self) -> Vec<SimFrame> {
        core::mem::take(&mut self.sent)
    }

    /// Queues a frame for the guest.
    pub fn deliver(&mut self, f: SimFrame) {
        self.to_guest.push_back(f);
    }

    /// Frames waiting for the guest's buffers.
    pub fn pending_to_guest(&self) -> usize {
        self.to_guest.len()
    }

    fn front_state(&self) -> XenbusState {
        xenbus::read_state(&self.xs, &self.front_path).unwrap_or(XenbusState::Unknown)
    }

    fn fatal(&mut self, why: String) {
        self.error = Some(why);
        self.disconnect();
        self.set_state(XenbusState::Closing);
    }

    /// Unmaps the rings and unbinds the ports (netback's disconnect).
    fn disconnect(&mut self) {
        if let Some(c) = self.conn.take() {
            let ev = self.hv.evtchn(self.back);
            let _ = ev.close(c.tx_port);
            if c.rx_port != c.tx_port {
                let _ = ev.close(c.rx_port);
            }
            // Dropping the rings unmaps their pages.
        }
    }

    /// Follows the frontend's state and moves frames while connected.
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
            X::Connected if self.state == X::InitWait => {
                if let Err(e) = self.connect() {
                    self.fatal(e);
                }
            }
            X::Closing if !matches!(self.state, X::Closing | X::Closed) => {
                self.set_state(X::Closing)
            }
            X::Closed | X::Unknown if self.state != X::Closed => self.set_state(X::Closed),
            X::Initialising if self.state == X::Closed && self.online => {
                self.set_state(X::InitWait)
            }
            _ => {}
        }
        if self.is_connected() {
            if let Err(e) = self.process_tx() {
                self.fatal(e);
                return;
            }
            self.process_rx();
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
        parse_u32(&v).ok_or_else(|| format!("frontend {key} is not a number"))
    }

    fn front_flag(&self, key: &str) -> Result<bool, String> {
        Ok(match self.read_front(key)? {
            None => false,
            Some(v) => parse_u32(&v).ok_or_else(|| format!("bad {key}"))? != 0,
        })
    }

    /// Reads the frontend's keys, maps the rings, binds the channels.
    fn connect(&mut self) -> Result<(), String> {
        if !self.front_flag("request-rx-copy")? {
            return Err(String::from("frontend did not request rx-copy"));
        }
        let tx_ref = GrantRef(self.front_u32("tx-ring-ref")?);
        let rx_ref = GrantRef(self.front_u32("rx-ring-ref")?);
        let split = self.cfg.split_event_channels && self.read_front("event-channel-tx")?.is_some();
        let (tx_remote, rx_remote) = if split {
            (
                Port(self.front_u32("event-channel-tx")?),
                Port(self.front_u32("event-channel-rx")?),
            )
        } else {
            let p = Port(self.front_u32("event-channel")?);
            (p, p)
        };
        let front = FrontFeatures {
            sg: self.front_flag("feature-sg")?,
            gso_tcpv4: self.front_flag("feature-gso-tcpv4")?,
            gso_tcpv6: self.front_flag("feature-gso-tcpv6")?,
            csum_offload: !self.front_flag("feature-no-csum-offload")?,
            ipv6_csum_offload: self.front_flag("feature-ipv6-csum-offload")?,
            rx_notify: self.front_flag("feature-rx-notify")?,
            split,
        };
        let map = |r: GrantRef| {
            self.hv
                .map_page(self.back, self.front, r, true)
                .map_err(|e| format!("mapping ring {}: {e}", r.0))
        };
        let tx = TxBackRing::attach(map(tx_ref)?);
        let rx = RxBackRing::attach(map(rx_ref)?);
        let ev = self.hv.evtchn(self.back);
        let tx_port = ev
            .bind_interdomain(self.front, tx_remote)
            .map_err(|e| format!("binding tx channel: {e}"))?;
        let rx_port = if split {
            ev.bind_interdomain(self.front, rx_remote)
                .map_err(|e| format!("binding rx channel: {e}"))?
        } else {
            tx_port
        };
        // The fresh binding starts pending; nothing to do with it.
        ev.take_pending(tx_port);
        ev.take_pending(rx_port);
        self.conn = Some(Conn {
            tx,
            rx,
            tx_port,
            rx_port,
            front,
            last_tx_ids: Vec::new(),
        });
        self.stats.connects += 1;
        self.set_state(XenbusState::Connected);
        Ok(())
    }

    /// Copies `size` bytes at `offset` of the frontend's granted page.
    fn read_granted(&self, gref: u32, offset: u16, size: usize) -> Result<Vec<u8>, String> {
        if usize::from(offset) + size > PAGE_SIZE {
            return Err(String::from("tx request crosses a page boundary"));
        }
        let m = self
            .hv
            .map_page(self.back, self.front, GrantRef(gref), false)
            .map_err(|e| format!("mapping tx grant {gref}: {e}"))?;
        let mut buf = std::vec![0; size];
        m.read(usize::from(offset), &mut buf)
            .map_err(|e| format!("reading tx data: {e}"))?;
        Ok(buf)
    }

    /// Takes the guest's packets off the tx ring and answers them.
    fn process_tx(&mut self) -> Result<(), String> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        let result = self.process_tx_on(&mut conn);
        self.conn = Some(conn);
        result
    }

    fn process_tx_on(&mut self, c: &mut Conn) -> Result<(), String> {
        let bad = |e: xen_platform::XenError| format!("tx ring: {e}");
        let mut rsps: Vec<TxResponse> = Vec::new();
        let mut frames = 0;
        loop {
            if self.faults.budget > 0 && frames >= self.faults.budget {
                break;
            }
            if c.tx.unconsumed_requests().map_err(bad)? == 0 {
                if c.tx.final_check_for_requests().map_err(bad)? {
                    continue;
                }
                break;
            }
            let first: TxRequest = c.tx.next_request().map_err(bad)?.ok_or("tx: no request")?;
            let mut extras = Vec::new();
            if first.flags & NETTXF_EXTRA_INFO != 0 {
                loop {
                    let e: ExtraInfo =
                        c.tx.next_request()
                            .map_err(bad)?
                            .ok_or("tx: partial packet (extra info)")?;
                    extras.push(e);
                    if e.flags & EXTRA_FLAG_MORE == 0 {
                        break;
                    }
                }
            }
            let mut slots = std::vec![first];
            while slots[slots.len() - 1].flags & NETTXF_MORE_DATA != 0 {
                let r: TxRequest =
                    c.tx.next_request()
                        .map_err(bad)?
                        .ok_or("tx: partial packet")?;
                slots.push(r);
                if slots.len() + extras.len() > NR_SLOTS_MIN {
                    return Err(String::from("tx: packet spans too many slots"));
                }
            }
            let rest: usize = slots[1..].iter().map(|s| usize::from(s.size)).sum();
            let total = usize::from(first.size);
            if total < rest {
                return Err(String::from("tx: first slot smaller than the rest"));
            }
            let mut data = self.read_granted(first.gref, first.offset, total - rest)?;
            for s in &slots[1..] {
                data.extend(self.read_granted(s.gref, s.offset, usize::from(s.size))?);
            }
            let mut gso = None;
            for e in &extras {
                if e.kind == EXTRA_TYPE_GSO {
                    let (mss, kind, _) = e.gso_fields();
                    gso = GsoKind::from_raw(kind).map(|kind| Gso { kind, mss });
                }
            }
            let csum = if first.flags & NETTXF_CSUM_BLANK != 0 {
                TxChecksum::Partial
            } else if first.flags & NETTXF_DATA_VALIDATED != 0 {
                TxChecksum::Validated
            } else {
                TxChecksum::None
            };
            let status = if self.rng.chance(self.faults.tx_error_pct) {
                NETIF_RSP_ERROR
            } else if self.rng.chance(self.faults.tx_drop_pct) {
                NETIF_RSP_DROPPED
            } else {
                NETIF_RSP_OKAY
            };
            // Linux netback: the first slot's response, NULLs for the
            // extras, then the other slots.
            rsps.push(TxResponse {
                id: first.id,
                status,
            });
            for _ in &extras {
                rsps.push(TxResponse {
                    id: 0,
                    status: NETIF_RSP_NULL,
                });
            }
            for s in &slots[1..] {
                rsps.push(TxResponse { id: s.id, status });
            }
            if status == NETIF_RSP_OKAY {
                self.sent.push(SimFrame { data, csum, gso });
            }
            self.stats.from_guest += 1;
            frames += 1;
        }
        if rsps.is_empty() {
            if matches!(self.malice, Some(Malice::TxRspProdTooFar)) {
                // Possible at any time: claims answers never asked for.
                self.malice = None;
                let p = c.tx.rsp_prod_pvt().wrapping_add(3);
                c.tx.publish_raw_rsp_prod(p);
                self.notify(c.tx_port);
            }
            return Ok(());
        }
        if self.faults.reorder_tx_responses {
            for i in (1..rsps.len()).rev() {
                let j = self.rng.below(i as u64 + 1) as usize;
                rsps.swap(i, j);
            }
        }
        if self.malice.is_some_and(Malice::is_tx) {
            self.tx_malice(&mut rsps);
        }
        c.last_tx_ids = rsps
            .iter()
            .filter(|r| r.status != NETIF_RSP_NULL)
            .map(|r| r.id)
            .collect();
        for r in &rsps {
            c.tx.put_response(r).map_err(bad)?;
        }
        if c.tx.push_responses_and_check_notify() {
            self.notify(c.tx_port);
        }
        if matches!(self.malice, Some(Malice::TxRspProdTooFar)) {
            self.malice = None;
            let p = c.tx.rsp_prod_pvt().wrapping_add(3);
            c.tx.publish_raw_rsp_prod(p);
            self.notify(c.tx_port);
        }
        Ok(())
    }

    /// Corrupts a batch of tx responses as the pending malice says.
    fn tx_malice(&mut self, rsps: &mut [TxResponse]) {
        let data: Vec<usize> = (0..rsps.len())
            .filter(|&i| rsps[i].status != NETIF_RSP_NULL)
            .collect();
        let Some(&i) = data.first() else { return };
        match self.malice {
            Some(Malice::TxUnknownId) => rsps[i].id = 300,
            Some(Malice::TxBadStatus) => rsps[i].status = 7,
            Some(Malice::TxSpuriousNull) => {
                if rsps.iter().any(|r| r.status == NETIF_RSP_NULL) {
                    return; // wait for a batch without extras
                }
                rsps[i].status = NETIF_RSP_NULL;
            }
            Some(Malice::TxDuplicateId) => {
                if data.len() < 2 {
                    return; // wait for two answers in one batch
                }
                rsps[data[1]].id = rsps[i].id;
            }
            Some(Malice::TxRandom(n)) => {
                for _ in 0..n {
                    let k = self.rng.below(rsps.len() as u64) as usize;
                    let mut b = [0u8; 4];
                    self.rng.fill(&mut b);
                    rsps[k] = TxResponse {
                        id: u16::from_le_bytes([b[0], b[1]]) % 512,
                        status: i16::from_le_bytes([b[2], b[3]]) % 3,
                    };
                }
            }
            _ => return,
        }
        self.malice = None;
    }

    fn notify(&mut self, port: Port) {
        if self.hv.evtchn(self.back).notify(port).is_ok() {
            self.stats.notifications += 1;
        }
    }

    /// Splits `len` bytes into `(offset, size)` slots.
    fn plan_rx(&mut self, len: usize) -> Vec<(u16, u16)> {
        let min = len.div_ceil(PAGE_SIZE).max(1);
        if !self.faults.rx_fragment {
            return (0..min)
                .map(|i| (0, (len - i * PAGE_SIZE).min(PAGE_SIZE) as u16))
                .collect();
        }
        let k = self.rng.range_usize(min, NR_SLOTS_MIN.min(len.max(1)));
        // An even split, then each piece placed at a random offset.
        let base = len / k;
        let extra = len % k;
        (0..k)
            .map(|i| {
                let size = base + usize::from(i < extra);
                let offset = self.rng.range_usize(0, PAGE_SIZE - size);
                (offset as u16, size as u16)
            })
            .collect()
    }

    /// Puts queued frames on the guest's rx ring while buffers last.
    fn process_rx(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if let Some(m) = self
            .malice
            .filter(|m| !m.is_tx() && *m != Malice::RxRspProdTooFar)
        {
            if self.rx_malice(&mut conn, m) {
                self.malice = None;
            }
        }
        let mut frames = 0;
        while let Some(frame) = self.to_guest.front().cloned() {
            if self.faults.budget > 0 && frames >= self.faults.budget {
                break;
            }
            let c = &mut conn;
            let gso_ok = match frame.gso {
                None => true,
                Some(Gso {
                    kind: GsoKind::TcpV4,
                    ..
                }) => c.front.gso_tcpv4,
                Some(Gso {
                    kind: GsoKind::TcpV6,
                    ..
                }) => c.front.gso_tcpv6,
            };
            let plan = self.plan_rx(frame.data.len());
            let plan = if !c.front.sg && plan.len() > 1 {
                Vec::new() // cannot be delivered
            } else {
                plan
            };
            if plan.is_empty() || !gso_ok {
                self.to_guest.pop_front();
                self.stats.to_guest_dropped += 1;
                continue;
            }
            let need = plan.len() + usize::from(frame.gso.is_some());
            match c.rx.unconsumed_requests() {
                Ok(n) if n as usize >= need => {}
                _ => break,
            }
            self.to_guest.pop_front();
            let error = self.rng.chance(self.faults.rx_error_pct);
            let mut at = 0;
            for (i, &(offset, size)) in plan.iter().enumerate() {
                let Ok(Some(req)) = c.rx.next_request::<RxRequest>() else {
                    break;
                };
                let chunk = &frame.data[at..at + usize::from(size)];
                at += usize::from(size);
                if let Ok(m) = self
                    .hv
                    .map_page(self.back, self.front, GrantRef(req.gref), true)
                {
                    let _ = m.write(usize::from(offset), chunk);
                }
                let mut flags = 0;
                if i == 0 {
                    flags |= match frame.csum {
                        TxChecksum::Partial if c.front.csum_offload => {
                            NETRXF_CSUM_BLANK | NETRXF_DATA_VALIDATED
                        }
                        TxChecksum::Partial | TxChecksum::Validated => NETRXF_DATA_VALIDATED,
                        TxChecksum::None => 0,
                    };
                    if frame.gso.is_some() {
                        flags |= NETRXF_EXTRA_INFO;
                    }
                }
                if i + 1 < plan.len() {
                    flags |= NETRXF_MORE_DATA;
                }
                let status = if error && i == 0 {
                    NETIF_RSP_ERROR
                } else {
                    size as i16
                };
                let _ = c.rx.put_response(&RxResponse {
                    id: req.id,
                    offset,
                    flags,
                    status,
                });
                if i == 0 {
                    if let Some(g) = frame.gso {
                        let _ = c.rx.next_request::<RxRequest>();
                        let _ = c.rx.put_response(&ExtraInfo::gso(g, false));
                    }
                }
            }
            self.stats.to_guest += 1;
            frames += 1;
        }
        if conn.rx.push_responses_and_check_notify() {
            self.notify(conn.rx_port);
        }
        let _ = conn.rx.final_check_for_requests();
        if self.malice == Some(Malice::RxRspProdTooFar) {
            // After the honest push, which would overwrite it.
            self.malice = None;
            let avail = conn.rx.unconsumed_requests().unwrap_or(0);
            let p = conn.rx.rsp_prod_pvt().wrapping_add(avail + 5);
            conn.rx.publish_raw_rsp_prod(p);
            self.notify(conn.rx_port);
        }
        self.conn = Some(conn);
    }

    /// Writes one bad rx packet; false if the ring has no room yet.
    fn rx_malice(&mut self, c: &mut Conn, m: Malice) -> bool {
        let avail = c.rx.unconsumed_requests().unwrap_or(0) as usize;
        let rsp = |id: u16, offset: u16, flags: u16, status: i16| RxResponse {
            id,
            offset,
            flags,
            status,
        };
        let mut records: Vec<[u8; RX_SLOT]> = Vec::new();
        let enc = |r: &dyn Fn(&mut [u8])| {
            let mut b = [0u8; RX_SLOT];
            r(&mut b);
            b
        };
        use xen_platform::shared_ring::RingEntry;
        let mut peek_ids = Vec::new();
        let base = c.rx.req_cons();
        for k in 0..avail.min(32) {
            // Buffer ids are posted at position % size.
            peek_ids.push(((base.wrapping_add(k as u32)) & (c.rx.size() - 1)) as u16);
        }
        let id0 = peek_ids.first().copied().unwrap_or(0);
        match m {
            Malice::RxWrongId => records.push(enc(&|b| rsp(id0 ^ 1, 0, 0, 10).encode(b))),
            Malice::RxOffsetPastPage => records.push(enc(&|b| rsp(id0, 4000, 0, 200).encode(b))),
            Malice::RxBadStatus => records.push(enc(&|b| rsp(id0, 0, 0, -7).encode(b))),
            Malice::RxUnknownFlags => records.push(enc(&|b| rsp(id0, 0, 0x40, 10).encode(b))),
            Malice::RxGsoPrefix => {
                records.push(enc(&|b| rsp(id0, 0, NETRXF_GSO_PREFIX, 10).encode(b)))
            }
            Malice::RxCsumBlank => {
                records.push(enc(&|b| rsp(id0, 0, NETRXF_CSUM_BLANK, 10).encode(b)))
            }
            Malice::RxMoreData => {
                records.push(enc(&|b| rsp(id0, 0, NETRXF_MORE_DATA, 10).encode(b)));
                if let Some(&id1) = peek_ids.get(1) {
                    records.push(enc(&|b| rsp(id1, 0, 0, 10).encode(b)));
                }
            }
            Malice::RxBadExtraType => {
                records.push(enc(&|b| rsp(id0, 0, NETRXF_EXTRA_INFO, 10).encode(b)));
                records.push(enc(&|b| {
                    ExtraInfo {
                        kind: 2,
                        flags: 0,
                        data: [1, 2, 3, 4, 5, 6],
                    }
                    .encode(b)
                }));
            }
            Malice::RxTooManySlots => {
                for &id in peek_ids.iter().take(NR_SLOTS_MIN + 1) {
                    records.push(enc(&|b| rsp(id, 0, NETRXF_MORE_DATA, 100).encode(b)));
                }
                if peek_ids.len() < NR_SLOTS_MIN + 1 {
                    return false;
                }
            }
            Malice::RxRandom(n) => {
                for _ in 0..n {
                    let mut b = [0u8; RX_SLOT];
                    self.rng.fill(&mut b);
                    // Often keep the id right, to get past the first check.
                    if self.rng.chance(50) {
                        let k = records.len();
                        let id = peek_ids.get(k).copied().unwrap_or(0);
                        b[0..2].copy_from_slice(&id.to_le_bytes());
                    }
                    records.push(b);
                }
            }
            _ => return true,
        }
        if records.len() > avail {
            return false;
        }
        for r in &records {
            let _ = c.rx.next_request::<RawSlot<RX_SLOT>>();
            let _ = c.rx.put_response(&RawSlot(*r));
        }
        if c.rx.push_responses_and_check_notify() {
            self.notify(c.rx_port);
        }
        true
    }
}
