//! The transmit side of a vif (`io/netif.h` tx ring): copies the caller's
//! frame into granted pages, one request per page (`NETTXF_more_data`
//! between them), an extra-info slot for GSO, checksum flags, the notify
//! hold-off of the ring, and the checked completion of responses.

use alloc::vec::Vec;

use xen_platform::services::{DomId, GrantTable, PageAllocator, SharedPage, PAGE_SIZE};

use crate::config::BackendFeatures;
use crate::error::NetError;
use crate::grants::{Granted, Quarantine};
use crate::tx_track::{TxDone, TxOutcome, TxTracker};
use crate::wire::{
    ExtraInfo, Gso, GsoKind, TxFrontRing, TxRequest, TxResponse, MAX_TX_SIZE, NETTXF_CSUM_BLANK,
    NETTXF_DATA_VALIDATED, NETTXF_EXTRA_INFO, NETTXF_MORE_DATA, NR_SLOTS_MIN, TX_RING_SIZE,
};

/// The checksum state of a frame to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxChecksum {
    /// The frame's checksums are complete.
    #[default]
    None,
    /// The frame's checksums are known good; nobody needs to check them
    /// again (`NETTXF_data_validated`).
    Validated,
    /// The TCP/UDP checksum field holds only the pseudo-header sum; the
    /// backend (or the final receiver) completes it
    /// (`NETTXF_csum_blank | NETTXF_data_validated`).
    Partial,
}

/// Offload hints for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxOffload {
    /// Checksum state.
    pub csum: TxChecksum,
    /// Cut this TCP frame into segments of `mss` (needs the backend's
    /// `feature-gso-tcpv4`/`-tcpv6`; implies [`TxChecksum::Partial`]).
    pub gso: Option<Gso>,
}

/// Counts from handling tx responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TxReport {
    pub(crate) sent: u64,
    pub(crate) sent_bytes: u64,
    pub(crate) dropped: u64,
    pub(crate) errors: u64,
}

/// Spare pages kept for reuse (their grants ended).
const SPARE_MAX: usize = TX_RING_SIZE as usize;

/// The tx ring of a connected vif and the pages of frames in flight.
pub(crate) struct TxQueue<P> {
    ring: TxFrontRing<P>,
    ring_gref: xen_platform::services::GrantRef,
    backend: DomId,
    features: BackendFeatures,
    track: TxTracker,
    /// The granted page of each id in flight.
    bufs: Vec<Option<Granted<P>>>,
    /// Pages whose grant ended, ready for reuse.
    spare: Vec<P>,
}

impl<P: SharedPage> TxQueue<P> {
    /// A tx ring on a fresh page granted to `backend`.
    pub(crate) fn new<G, A>(
        gt: &G,
        pages: &A,
        backend: DomId,
        features: BackendFeatures,
    ) -> Result<Self, NetError>
    where
        G: GrantTable,
        A: PageAllocator<Page = P>,
    {
        let page = pages.alloc_page()?;
        let ring = TxFrontRing::init(page)?;
        let ring_gref = gt.grant_access(backend, ring.page().gfn(), false)?;
        let mut bufs = Vec::new();
        bufs.resize_with(TX_RING_SIZE as usize, || None);
        Ok(TxQueue {
            ring,
            ring_gref,
            backend,
            features,
            track: TxTracker::new(TX_RING_SIZE),
            bufs,
            spare: Vec::new(),
        })
    }

    /// The grant of the ring page (`tx-ring-ref`).
    pub(crate) fn ring_ref(&self) -> u32 {
        self.ring_gref.0
    }

    /// Grants this queue holds (ring and frames in flight).
    pub(crate) fn grants(&self) -> usize {
        1 + self.bufs.iter().filter(|b| b.is_some()).count()
    }

    /// Packets sent and not yet answered.
    pub(crate) fn packets_in_flight(&self) -> u32 {
        self.track.packets_in_flight()
    }

    /// Checks a frame and its hints against what the backend offers;
    /// returns `(bytes, data slots, flags of the first request)`.
    fn plan(&self, frags: &[&[u8]], offload: &TxOffload) -> Result<(usize, usize, u16), NetError> {
        let len: usize = frags.iter().map(|f| f.len()).sum();
        if len == 0 {
            return Err(NetError::InvalidFrame("empty frame"));
        }
        if len > MAX_TX_SIZE {
            return Err(NetError::InvalidFrame("frame larger than 65535 bytes"));
        }
        let slots = len.div_ceil(PAGE_SIZE);
        if slots > 1 && !self.features.sg {
            return Err(NetError::InvalidFrame(
                "frame needs several slots and the backend lacks feature-sg",
            ));
        }
        let mut csum = offload.csum;
        if let Some(gso) = offload.gso {
            let offered = match gso.kind {
                GsoKind::TcpV4 => self.features.gso_tcpv4,
                GsoKind::TcpV6 => self.features.gso_tcpv6,
            };
            if !offered {
                return Err(NetError::InvalidFrame(
                    "GSO of a kind the backend does not offer",
                ));
            }
            if gso.mss == 0 {
                return Err(NetError::InvalidFrame("GSO segment size 0"));
            }
            csum = TxChecksum::Partial;
        }
        let is_ipv6 = frags_byte(frags, 12) == Some(0x86) && frags_byte(frags, 13) == Some(0xdd);
        if csum == TxChecksum::Partial && is_ipv6 && !self.features.ipv6_csum_offload {
            return Err(NetError::InvalidFrame(
                "blank IPv6 checksum and the backend lacks feature-ipv6-csum-offload",
            ));
        }
        let mut flags = match csum {
            TxChecksum::None => 0,
            TxChecksum::Validated => NETTXF_DATA_VALIDATED,
            TxChecksum::Partial => NETTXF_CSUM_BLANK | NETTXF_DATA_VALIDATED,
        };
        if offload.gso.is_some() {
            flags |= NETTXF_EXTRA_INFO;
        }
        if slots > 1 {
            flags |= NETTXF_MORE_DATA;
        }
        Ok((len, slots, flags))
    }

    /// Queues a frame given as slices; returns whether the backend must be
    /// notified. `Busy` when the ring, ids, pages or grant references run
    /// short (nothing is queued then).
    pub(crate) fn send<G, A>(
        &mut self,
        gt: &G,
        pages: &A,
        frags: &[&[u8]],
        offload: &TxOffload,
    ) -> Result<bool, NetError>
    where
        G: GrantTable,
        A: PageAllocator<Page = P>,
    {
        let (len, slots, first_flags) = self.plan(frags, offload)?;
        let extras = u32::from(offload.gso.is_some());
        debug_assert!(slots + extras as usize <= NR_SLOTS_MIN);
        if (self.ring.free_requests() as usize) < slots + extras as usize {
            return Err(NetError::Busy("tx ring full"));
        }
        let ids = self
            .track
            .start_packet(slots, len as u32, extras)
            .ok_or(NetError::Busy("no free tx id"))?;
        // Fill and grant one page per slot; undo everything on failure.
        let mut filled: Vec<Granted<P>> = Vec::new();
        for i in 0..slots {
            match self.fill_page(gt, pages, frags, i * PAGE_SIZE, len) {
                Ok(g) => filled.push(g),
                Err(e) => {
                    for g in filled {
                        // Never published: the backend cannot have it.
                        if let Ok(p) = g.end(gt) {
                            self.keep_spare(p);
                        }
                    }
                    self.track.abort_packet(&ids, extras);
                    return Err(e);
                }
            }
        }
        for (i, g) in filled.into_iter().enumerate() {
            let id = ids[i];
            let last = i + 1 == slots;
            let req = TxRequest {
                gref: g.gref.0,
                offset: 0,
                flags: if i == 0 {
                    first_flags
                } else if last {
                    0
                } else {
                    NETTXF_MORE_DATA
                },
                id,
                size: if i == 0 {
                    len as u16
                } else {
                    (len - i * PAGE_SIZE).min(PAGE_SIZE) as u16
                },
            };
            // Cannot fail: room was checked above.
            self.ring.put_request(&req)?;
            self.bufs[usize::from(id)] = Some(g);
            if i == 0 {
                if let Some(gso) = offload.gso {
                    self.ring.put_request(&ExtraInfo::gso(gso, false))?;
                }
            }
        }
        Ok(self.ring.push_requests_and_check_notify())
    }

    /// A page (spare or new) holding bytes `start..min(start + 4096, len)`
    /// of the frame, granted read-only to the backend.
    fn fill_page<G, A>(
        &mut self,
        gt: &G,
        pages: &A,
        frags: &[&[u8]],
        start: usize,
        len: usize,
    ) -> Result<Granted<P>, NetError>
    where
        G: GrantTable,
        A: PageAllocator<Page = P>,
    {
        let page = match self.spare.pop() {
            Some(p) => p,
            None => pages.alloc_page().map_err(|e| match NetError::from(e) {
                NetError::OutOfMemory => NetError::Busy("no page for a tx buffer"),
                other => other,
            })?,
        };
        let end = (start + PAGE_SIZE).min(len);
        if let Err(e) = copy_frags(frags, start, end, &page) {
            self.keep_spare(page);
            return Err(e.into());
        }
        Granted::new(gt, self.backend, page, true).map_err(|(page, e)| {
            self.keep_spare(page);
            NetError::from(e)
        })
    }

    fn keep_spare(&mut self, page: P) {
        if self.spare.len() < SPARE_MAX {
            self.spare.push(page);
        }
    }

    /// Takes every response published; buffers answered are released (to
    /// the spare pool, or `quarantine` while the backend holds them).
    /// `Err(reason)` on a protocol violation.
    pub(crate) fn collect<G: GrantTable>(
        &mut self,
        gt: &G,
        quarantine: &mut Quarantine<P>,
    ) -> Result<TxReport, &'static str> {
        let mut report = TxReport::default();
        loop {
            while let Some(rsp) = self
                .ring
                .next_response::<TxResponse>()
                .map_err(peer_reason)?
            {
                let TxDone { answered, packet } = self.track.complete(rsp)?;
                if let Some(g) = answered.and_then(|id| self.bufs[usize::from(id)].take()) {
                    match g.end(gt) {
                        Ok(page) => self.keep_spare(page),
                        Err(g) => quarantine.release(gt, g),
                    }
                }
                match packet {
                    Some((bytes, TxOutcome::Sent)) => {
                        report.sent += 1;
                        report.sent_bytes += u64::from(bytes);
                    }
                    Some((_, TxOutcome::Dropped)) => report.dropped += 1,
                    Some((_, TxOutcome::Error)) => report.errors += 1,
                    None => {}
                }
            }
            // Ask for an event when more come, unless some already did.
            if !self.ring.final_check_for_responses().map_err(peer_reason)? {
                return Ok(report);
            }
        }
    }

    /// Tears the queue down: every grant ended or quarantined. Returns the
    /// packets that were in flight (now failed).
    pub(crate) fn teardown<G: GrantTable>(mut self, gt: &G, quarantine: &mut Quarantine<P>) -> u32 {
        for g in self.bufs.iter_mut().filter_map(Option::take) {
            quarantine.release(gt, g);
        }
        let lost = self.track.clear();
        let ring = Granted {
            page: self.ring.into_page(),
            gref: self.ring_gref,
        };
        quarantine.release(gt, ring);
        lost
    }
}

/// Byte `i` of the frame given as slices.
fn frags_byte(frags: &[&[u8]], mut i: usize) -> Option<u8> {
    for f in frags {
        if i < f.len() {
            return Some(f[i]);
        }
        i -= f.len();
    }
    None
}

/// Copies bytes `start..end` of the frame given as slices to the start of
/// `page`.
fn copy_frags<P: SharedPage>(
    frags: &[&[u8]],
    start: usize,
    end: usize,
    page: &P,
) -> Result<(), xen_platform::XenError> {
    let mut pos = 0; // frame offset of the current slice
    let mut out = 0; // page offset
    for f in frags {
        let (lo, hi) = (pos, pos + f.len());
        pos = hi;
        if hi <= start {
            continue;
        }
        if lo >= end {
            break;
        }
        let a = start.max(lo) - lo;
        let b = end.min(hi) - lo;
        page.write(out, &f[a..b])?;
        out += b - a;
    }
    Ok(())
}

/// The reason of a ring error (ring errors of a front ring are the peer's).
pub(crate) fn peer_reason(e: xen_platform::XenError) -> &'static str {
    match e {
        xen_platform::XenError::PeerMisbehaved(why) => why,
        _ => "shared ring access failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn gather_copies_ranges_across_slices() {
        let hv = xen_platform::sim::SimHypervisor::new();
        let pages = hv.pages(DomId(1));
        let page = pages.alloc_page().unwrap();
        let a: Vec<u8> = (0..10).collect();
        let b: Vec<u8> = (10..5000u32).map(|i| i as u8).collect();
        let c: Vec<u8> = (5000..9000u32).map(|i| i as u8).collect();
        let frags: [&[u8]; 4] = [&a, &[], &b, &c];
        for (start, end) in [(0, 4096), (4096, 8192), (8192, 9000), (5, 12), (4999, 5001)] {
            copy_frags(&frags, start, end, &page).unwrap();
            let mut got = vec![0; end - start];
            page.read(0, &mut got).unwrap();
            let want: Vec<u8> = (start..end).map(|i| i as u8).collect();
            assert_eq!(got, want, "{start}..{end}");
        }
        assert_eq!(frags_byte(&frags, 12), Some(12));
        assert_eq!(frags_byte(&frags, 9000), None);
    }
}
