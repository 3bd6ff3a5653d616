//! The receive side of a vif (`io/netif.h` rx ring, `request-rx-copy`):
//! one granted page per ring entry, kept posted (buffer `i` always at
//! ring positions `i mod size`), responses checked and reassembled by
//! [`RxAssembler`], each frame copied out of the shared pages into a
//! private buffer before the caller sees it.

use alloc::vec::Vec;

use xen_platform::services::{DomId, GrantRef, GrantTable, PageAllocator, SharedPage};

use crate::error::NetError;
use crate::grants::{Granted, Quarantine};
use crate::rx_parse::{RxAssembler, RxEnd, RxFailure, RxMeta, RxRules, MAX_RX_FRAME};
use crate::tx::peer_reason;
use crate::wire::{RawSlot, RxFrontRing, RxRequest, RX_RING_SIZE, RX_SLOT};

/// A received frame, valid during the callback.
#[derive(Debug)]
pub struct RxFrame<'a> {
    /// The frame's bytes (a private copy).
    pub data: &'a [u8],
    /// Checksum state and GSO information.
    pub meta: RxMeta,
}

/// Counts from one pass over the rx ring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RxReport {
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    pub(crate) dropped: u64,
    pub(crate) errors: u64,
    /// Whether the backend must be notified of refilled buffers.
    pub(crate) notify: bool,
    /// Responses were left for the next poll (the round limit was hit).
    pub(crate) more: bool,
}

/// The rx ring of a connected vif and its buffer pages.
pub(crate) struct RxQueue<P> {
    ring: RxFrontRing<P>,
    ring_gref: GrantRef,
    /// Buffer `i`, posted at positions `i mod size`.
    bufs: Vec<Granted<P>>,
    asm: RxAssembler,
    /// The frame being assembled.
    frame: Vec<u8>,
}

impl<P: SharedPage> RxQueue<P> {
    /// An rx ring and a full set of buffers, all granted (writable) to
    /// `backend` and posted. On failure every grant made is ended.
    pub(crate) fn new<G, A>(
        gt: &G,
        pages: &A,
        backend: DomId,
        rules: RxRules,
        quarantine: &mut Quarantine<P>,
    ) -> Result<Self, NetError>
    where
        G: GrantTable,
        A: PageAllocator<Page = P>,
    {
        let mut frame = Vec::new();
        frame
            .try_reserve_exact(MAX_RX_FRAME)
            .map_err(|_| NetError::OutOfMemory)?;
        let mut bufs = Vec::new();
        bufs.try_reserve_exact(RX_RING_SIZE as usize)
            .map_err(|_| NetError::OutOfMemory)?;
        let undo = |bufs: Vec<Granted<P>>, q: &mut Quarantine<P>| {
            for g in bufs {
                q.release(gt, g);
            }
        };
        let ring_page = pages.alloc_page()?;
        let ring = RxFrontRing::init(ring_page)?;
        let ring_gref = gt.grant_access(backend, ring.page().gfn(), false)?;
        let ring_granted = |ring: RxFrontRing<P>| Granted {
            page: ring.into_page(),
            gref: ring_gref,
        };
        for _ in 0..RX_RING_SIZE {
            let made = pages
                .alloc_page()
                .map_err(NetError::from)
                .and_then(|p| Granted::new(gt, backend, p, false).map_err(|(_, e)| e.into()));
            match made {
                Ok(g) => bufs.push(g),
                Err(e) => {
                    undo(bufs, quarantine);
                    quarantine.release(gt, ring_granted(ring));
                    return Err(e);
                }
            }
        }
        let mut q = RxQueue {
            ring,
            ring_gref,
            bufs,
            asm: RxAssembler::new(rules),
            frame,
        };
        q.refill();
        q.ring.push_requests_and_check_notify();
        Ok(q)
    }

    /// The grant of the ring page (`rx-ring-ref`).
    pub(crate) fn ring_ref(&self) -> u32 {
        self.ring_gref.0
    }

    /// Grants this queue holds (ring and buffers).
    pub(crate) fn grants(&self) -> usize {
        1 + self.bufs.len()
    }

    /// Posts every buffer the backend has given back.
    fn refill(&mut self) {
        while !self.ring.is_full() {
            let id = (self.ring.req_prod_pvt() & (RX_RING_SIZE - 1)) as u16;
            let gref = self.bufs[usize::from(id)].gref.0;
            if self.ring.put_request(&RxRequest { id, gref }).is_err() {
                break;
            }
        }
    }

    /// Takes every response published, handing complete frames to
    /// `deliver`, then reposts the buffers. `Err(reason)` on a protocol
    /// violation (the caller disconnects).
    pub(crate) fn poll(
        &mut self,
        deliver: &mut dyn FnMut(RxFrame<'_>),
    ) -> Result<RxReport, &'static str> {
        // Each round consumes at most one ring's worth before reposting.
        let mut report = RxReport {
            more: true,
            ..RxReport::default()
        };
        for _ in 0..4 {
            loop {
                let pos = self.ring.rsp_cons();
                let Some(RawSlot(raw)) = self
                    .ring
                    .next_response::<RawSlot<RX_SLOT>>()
                    .map_err(peer_reason)?
                else {
                    break;
                };
                let slot = self.asm.slot(pos, &raw)?;
                if let Some((offset, len)) = slot.copy {
                    let at = self.frame.len();
                    let len = usize::from(len);
                    if at + len > MAX_RX_FRAME {
                        return Err("rx frame larger than its slots allow");
                    }
                    self.frame.resize(at + len, 0);
                    self.bufs[usize::from(slot.id)]
                        .page
                        .read(usize::from(offset), &mut self.frame[at..])
                        .map_err(|_| "rx response data outside its page")?;
                }
                match slot.end {
                    None => {}
                    Some(RxEnd::Frame(meta)) => {
                        report.frames += 1;
                        report.bytes += meta.len as u64;
                        deliver(RxFrame {
                            data: &self.frame,
                            meta,
                        });
                        self.frame.clear();
                    }
                    Some(RxEnd::Failed(f)) => {
                        match f {
                            RxFailure::Dropped => report.dropped += 1,
                            RxFailure::Error | RxFailure::Empty => report.errors += 1,
                        }
                        self.frame.clear();
                    }
                }
            }
            self.refill();
            report.notify |= self.ring.push_requests_and_check_notify();
            if !self.ring.final_check_for_responses().map_err(peer_reason)? {
                report.more = false;
                break;
            }
        }
        Ok(report)
    }

    /// Tears the queue down: every grant ended or quarantined. Returns
    /// whether a frame was half-received (now lost).
    pub(crate) fn teardown<G: GrantTable>(self, gt: &G, quarantine: &mut Quarantine<P>) -> bool {
        let partial = self.asm.in_packet();
        for g in self.bufs {
            quarantine.release(gt, g);
        }
        let ring = Granted {
            page: self.ring.into_page(),
            gref: self.ring_gref,
        };
        quarantine.release(gt, ring);
        partial
    }
}
