//! The data path of a connected disk (`io/blkif.h` over `io/ring.h`): the
//! ring of `2^order` granted pages, the event channel, the ids in flight,
//! and moving requests between the software queue and the ring. A request
//! goes out as direct requests (up to 11 segments) or, when negotiated,
//! indirect ones (segments in indirect pages); every segment is one 4 KiB
//! page the data is copied through. Responses are checked by
//! [`crate::track`] before anything is done with them.

use alloc::vec::Vec;

use xen_platform::services::{
    DomId, GrantRef, GrantTable, PageAllocator, Port, SharedPage, PAGE_SIZE,
};
use xen_platform::shared_ring::PageSpan;

use crate::config::Config;
use crate::counters::Counters;
use crate::error::BlkError;
use crate::grants::{DataPages, Granted, Lease, Quarantine};
use crate::info::{DiskInfo, Features};
use crate::queue::Requests;
use crate::request::Kind;
use crate::track::{IdTable, Outcome, Sent};
use crate::wire::{
    BlkFrontRing, Request, Response, Segment, DISCARD_SECURE, MAX_DIRECT_SEGMENTS,
    MAX_INDIRECT_PAGES, OP_DISCARD, OP_FLUSH_DISKCACHE, OP_INDIRECT, OP_READ, OP_WRITE,
    OP_WRITE_BARRIER, SECTOR_SIZE, SEGMENTS_PER_INDIRECT_PAGE, SEGMENT_SIZE,
};

/// One ring request: which user request, which bytes of it, and the pages
/// lent to it.
#[derive(Debug)]
pub(crate) struct Part<P> {
    user: usize,
    /// Byte offset in the user's buffer.
    at: usize,
    /// Bytes.
    len: usize,
    data: Vec<Lease<P>>,
    indirect: Vec<Lease<P>>,
}

/// The ring and everything on it.
pub(crate) struct DataPath<P> {
    ring: BlkFrontRing<PageSpan<P>>,
    ring_grefs: Vec<GrantRef>,
    pub(crate) port: Port,
    handle: u16,
    ids: IdTable<Part<P>>,
    pages: DataPages<P>,
    /// Most segments per ring request (11, or the indirect maximum).
    max_segments: usize,
}

/// What one [`DataPath::collect`] did.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// Ring requests answered.
    pub(crate) answered: u64,
}

impl<P: SharedPage> DataPath<P> {
    /// Allocates and grants `2^order` ring pages and initialises the ring;
    /// on failure everything taken is given back (ring pages through
    /// `quarantine`).
    pub(crate) fn new<G: GrantTable, A: PageAllocator<Page = P>>(
        gt: &G,
        alloc: &A,
        peer: DomId,
        order: u32,
        port: Port,
        handle: u16,
        quarantine: &mut Quarantine<P>,
    ) -> Result<Self, BlkError> {
        let mut granted: Vec<Granted<P>> = Vec::new();
        let give_back = |granted: Vec<Granted<P>>, q: &mut Quarantine<P>| {
            for g in granted {
                q.release(gt, g);
            }
        };
        for _ in 0..1u32 << order {
            let page = match alloc.alloc_page() {
                Ok(p) => p,
                Err(e) => {
                    give_back(granted, quarantine);
                    return Err(e.into());
                }
            };
            match Granted::new(gt, peer, page, false) {
                Ok(g) => granted.push(g),
                Err((_page, e)) => {
                    give_back(granted, quarantine);
                    return Err(e.into());
                }
            }
        }
        let ring_grefs: Vec<GrantRef> = granted.iter().map(|g| g.gref).collect();
        let span = PageSpan::new(granted.into_iter().map(|g| g.page).collect())?;
        let ring = BlkFrontRing::init(span)?;
        let size = ring.size();
        Ok(DataPath {
            ring,
            ring_grefs,
            port,
            handle,
            ids: IdTable::new(size),
            pages: DataPages::new(peer, false, 0, usize::MAX),
            max_segments: MAX_DIRECT_SEGMENTS,
        })
    }

    /// The ring's grant references, in page order.
    pub(crate) fn ring_grefs(&self) -> &[GrantRef] {
        &self.ring_grefs
    }

    /// Requests the ring holds.
    pub(crate) fn ring_size(&self) -> u32 {
        self.ring.size()
    }

    /// Applies the negotiated features (at connect, before any request):
    /// persistent grants or not, segments per request.
    pub(crate) fn configure(&mut self, peer: DomId, f: &Features, cfg: &Config) {
        let max_lent = cfg.max_pages_in_flight.max(64);
        self.pages = DataPages::new(peer, f.persistent, cfg.max_persistent_grants, max_lent);
        // One request must fit the pages in flight, indirect pages included.
        self.max_segments = (f.max_segments_per_request() as usize)
            .min(max_lent - MAX_INDIRECT_PAGES)
            .max(MAX_DIRECT_SEGMENTS);
    }

    /// Data and indirect pages lent to requests on the ring.
    pub(crate) fn pages_lent(&self) -> usize {
        self.pages.lent()
    }

    /// Ring requests in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.ids.in_flight()
    }

    /// Grants held: ring pages, pooled and lent data pages.
    pub(crate) fn grants(&self) -> usize {
        self.ring_grefs.len() + self.pages.live()
    }

    /// The ids in flight (for tests).
    pub(crate) fn ids_in_flight(&self) -> Vec<u64> {
        self.ids.ids().collect()
    }

    /// Puts queued requests on the ring while slots and pages last.
    /// Returns whether the backend is to be notified.
    pub(crate) fn issue<G: GrantTable, A: PageAllocator<Page = P>>(
        &mut self,
        gt: &G,
        alloc: &A,
        reqs: &mut Requests,
        quarantine: &mut Quarantine<P>,
        counters: &mut Counters,
    ) -> bool {
        let mut put = false;
        while let Some(&u) = reqs.queue.front() {
            if self.ring.is_full() || self.ids.free() == 0 {
                counters.queue_full += 1;
                break;
            }
            match self.issue_one(gt, alloc, reqs, u, quarantine, counters) {
                Ok(()) => put = true,
                Err(e) if e.is_retry() && self.ids.in_flight() > 0 => {
                    // Pages come back with the answers.
                    counters.queue_full += 1;
                    break;
                }
                Err(e) => {
                    reqs.set_error(u, e);
                    reqs.finish_if_done(u, counters);
                }
            }
        }
        put && self.ring.push_requests_and_check_notify()
    }

    /// Puts (the next part of) user request `u` on the ring.
    fn issue_one<G: GrantTable, A: PageAllocator<Page = P>>(
        &mut self,
        gt: &G,
        alloc: &A,
        reqs: &mut Requests,
        u: usize,
        quarantine: &mut Quarantine<P>,
        counters: &mut Counters,
    ) -> Result<(), BlkError> {
        let handle = self.handle;
        let r = reqs
            .get_mut(u)
            .ok_or(BlkError::BadArgument("no such request"))?;
        let (request, sent, done) = match r.kind {
            Kind::Flush | Kind::Barrier => {
                let operation = if r.kind == Kind::Flush {
                    OP_FLUSH_DISKCACHE
                } else {
                    OP_WRITE_BARRIER
                };
                let req = Request::Rw {
                    operation,
                    nr_segments: 0,
                    handle,
                    id: 0,
                    sector_number: 0,
                    seg: [Segment::default(); MAX_DIRECT_SEGMENTS],
                };
                (
                    req,
                    Sent {
                        operation,
                        indirect_op: None,
                        payload: empty_part(u),
                    },
                    true,
                )
            }
            Kind::Discard { secure } => {
                let req = Request::Discard {
                    flag: if secure { DISCARD_SECURE } else { 0 },
                    handle,
                    id: 0,
                    sector_number: r.offset / SECTOR_SIZE as u64,
                    nr_sectors: r.len / SECTOR_SIZE as u64,
                };
                (
                    req,
                    Sent {
                        operation: OP_DISCARD,
                        indirect_op: None,
                        payload: empty_part(u),
                    },
                    true,
                )
            }
            Kind::Read | Kind::Write => {
                let write = r.kind == Kind::Write;
                let op = if write { OP_WRITE } else { OP_READ };
                let at = r.issued as usize;
                let remaining = r.len as usize - at;
                let nsegs = remaining.div_ceil(PAGE_SIZE).min(self.max_segments);
                let len = remaining.min(nsegs * PAGE_SIZE);
                let mut data: Vec<Lease<P>> = Vec::with_capacity(nsegs);
                let mut segs: Vec<Segment> = Vec::with_capacity(nsegs);
                let mut fill = || -> Result<(), BlkError> {
                    for i in 0..nsegs {
                        let lease = self.pages.take(gt, alloc, write, counters)?;
                        let lo = at + i * PAGE_SIZE;
                        let hi = (lo + PAGE_SIZE).min(at + len);
                        if write {
                            lease.page().write(0, &r.buf[lo..hi])?;
                        }
                        segs.push(Segment::whole(lease.gref().0, hi - lo));
                        data.push(lease);
                    }
                    Ok(())
                };
                let filled = fill();
                let mut indirect: Vec<Lease<P>> = Vec::new();
                let filled = filled.and_then(|()| {
                    if nsegs <= MAX_DIRECT_SEGMENTS {
                        return Ok(());
                    }
                    for chunk in segs.chunks(SEGMENTS_PER_INDIRECT_PAGE) {
                        let lease = self.pages.take(gt, alloc, true, counters)?;
                        let mut bytes = alloc::vec![0u8; chunk.len() * SEGMENT_SIZE];
                        for (s, out) in chunk.iter().zip(bytes.chunks_mut(SEGMENT_SIZE)) {
                            s.encode(out);
                        }
                        lease.page().write(0, &bytes)?;
                        indirect.push(lease);
                    }
                    Ok(())
                });
                if let Err(e) = filled {
                    for l in data.into_iter().chain(indirect) {
                        self.pages.give_back(gt, l, quarantine);
                    }
                    return Err(e);
                }
                let sector_number = (r.offset + at as u64) / SECTOR_SIZE as u64;
                let (req, sent) = if nsegs > MAX_DIRECT_SEGMENTS {
                    let mut indirect_grefs = [0u32; MAX_INDIRECT_PAGES];
                    for (g, l) in indirect_grefs.iter_mut().zip(&indirect) {
                        *g = l.gref().0;
                    }
                    counters.indirect_requests += 1;
                    (
                        Request::Indirect {
                            indirect_op: op,
                            nr_segments: nsegs as u16,
                            id: 0,
                            sector_number,
                            handle,
                            indirect_grefs,
                        },
                        Sent {
                            operation: OP_INDIRECT,
                            indirect_op: Some(op),
                            payload: Part {
                                user: u,
                                at,
                                len,
                                data,
                                indirect,
                            },
                        },
                    )
                } else {
                    let mut seg = [Segment::default(); MAX_DIRECT_SEGMENTS];
                    seg[..nsegs].copy_from_slice(&segs);
                    (
                        Request::Rw {
                            operation: op,
                            nr_segments: nsegs as u8,
                            handle,
                            id: 0,
                            sector_number,
                            seg,
                        },
                        Sent {
                            operation: op,
                            indirect_op: None,
                            payload: Part {
                                user: u,
                                at,
                                len,
                                data,
                                indirect,
                            },
                        },
                    )
                };
                r.issued += len as u64;
                (req, sent, r.issued == r.len)
            }
        };
        let id = match self.ids.insert(sent) {
            Ok(id) => id,
            // Checked by the caller; give the pages back all the same.
            Err(sent) => {
                self.release_part(gt, sent.payload, quarantine);
                return Err(BlkError::Busy("no request id free"));
            }
        };
        let request = with_id(request, id);
        if let Err(e) = self.ring.put_request(&request) {
            if let Some(sent) = self.ids.remove(id) {
                self.release_part(gt, sent.payload, quarantine);
            }
            return Err(e.into());
        }
        counters.ring_requests += 1;
        if let Some(r) = reqs.get_mut(u) {
            r.parts += 1;
        }
        if done {
            reqs.sent_all(u);
        }
        Ok(())
    }

    /// Gives a part's pages back to the pool (or ends their grants).
    fn release_part<G: GrantTable>(
        &mut self,
        gt: &G,
        part: Part<P>,
        quarantine: &mut Quarantine<P>,
    ) {
        for l in part.data.into_iter().chain(part.indirect) {
            self.pages.give_back(gt, l, quarantine);
        }
    }

    /// Takes every published response, checks it, copies read data out,
    /// releases pages, and completes user requests whose last part was
    /// answered. `Err(reason)` on a protocol violation (the caller fails
    /// the disk).
    pub(crate) fn collect<G: GrantTable>(
        &mut self,
        gt: &G,
        reqs: &mut Requests,
        info: &mut DiskInfo,
        quarantine: &mut Quarantine<P>,
        counters: &mut Counters,
    ) -> Result<Collected, &'static str> {
        let mut out = Collected::default();
        loop {
            while let Some(rsp) = self.ring.next_response::<Response>().map_err(peer_reason)? {
                let (sent, outcome) = self.ids.complete(&rsp)?;
                out.answered += 1;
                let part = sent.payload;
                let u = part.user;
                if let Some(r) = reqs.get_mut(u) {
                    r.parts = r.parts.saturating_sub(1);
                    match outcome {
                        Outcome::Okay => {
                            if r.kind == Kind::Read {
                                let mut at = part.at;
                                let end = part.at + part.len;
                                for l in &part.data {
                                    let n = (end - at).min(PAGE_SIZE);
                                    if l.page().read(0, &mut r.buf[at..at + n]).is_err() {
                                        r.error.get_or_insert(BlkError::Io);
                                    }
                                    at += n;
                                }
                            }
                        }
                        Outcome::Error => {
                            counters.io_errors += 1;
                            r.error.get_or_insert(BlkError::Io);
                        }
                        Outcome::NotSupported => {
                            counters.not_supported += 1;
                            let why = match r.kind {
                                Kind::Flush => {
                                    info.features.flush = false;
                                    "backend answered EOPNOTSUPP to a flush"
                                }
                                Kind::Barrier => {
                                    info.features.barrier = false;
                                    "backend answered EOPNOTSUPP to a barrier"
                                }
                                Kind::Discard { .. } => {
                                    info.features.discard = None;
                                    "backend answered EOPNOTSUPP to a discard"
                                }
                                Kind::Read | Kind::Write => "backend answered EOPNOTSUPP",
                            };
                            r.error.get_or_insert(BlkError::NotSupported(why));
                        }
                    }
                    let failed = r.error.is_some();
                    if failed {
                        // Nothing more of it goes out.
                        let e = r.error.clone().unwrap_or(BlkError::Io);
                        reqs.set_error(u, e);
                    }
                }
                self.release_part(gt, part, quarantine);
                reqs.finish_if_done(u, counters);
            }
            if !self.ring.final_check_for_responses().map_err(peer_reason)? {
                return Ok(out);
            }
        }
    }

    /// Tears the data path down: every grant ended or quarantined, the
    /// port closed by the caller. Returns the ring requests that were in
    /// flight.
    pub(crate) fn teardown<G: GrantTable>(
        mut self,
        gt: &G,
        quarantine: &mut Quarantine<P>,
    ) -> usize {
        let sent = self.ids.drain();
        let lost = sent.len();
        for s in sent {
            let part = s.payload;
            for l in part.data.into_iter().chain(part.indirect) {
                self.pages.retire(gt, l, quarantine);
            }
        }
        self.pages.teardown(gt, quarantine);
        let pages = self.ring.into_page().into_pages();
        for (page, gref) in pages.into_iter().zip(self.ring_grefs) {
            quarantine.release(gt, Granted { page, gref });
        }
        lost
    }
}

fn empty_part<P>(user: usize) -> Part<P> {
    Part {
        user,
        at: 0,
        len: 0,
        data: Vec::new(),
        indirect: Vec::new(),
    }
}

/// `req` with its id set.
fn with_id(req: Request, new: u64) -> Request {
    match req {
        Request::Rw {
            operation,
            nr_segments,
            handle,
            sector_number,
            seg,
            ..
        } => Request::Rw {
            operation,
            nr_segments,
            handle,
            id: new,
            sector_number,
            seg,
        },
        Request::Indirect {
            indirect_op,
            nr_segments,
            sector_number,
            handle,
            indirect_grefs,
            ..
        } => Request::Indirect {
            indirect_op,
            nr_segments,
            id: new,
            sector_number,
            handle,
            indirect_grefs,
        },
        Request::Discard {
            flag,
            handle,
            sector_number,
            nr_sectors,
            ..
        } => Request::Discard {
            flag,
            handle,
            id: new,
            sector_number,
            nr_sectors,
        },
    }
}

/// The reason of a ring error (ring errors of a front ring are the peer's).
fn peer_reason(e: xen_platform::XenError) -> &'static str {
    match e {
        xen_platform::XenError::PeerMisbehaved(why) => why,
        _ => "shared ring access failed",
    }
}
