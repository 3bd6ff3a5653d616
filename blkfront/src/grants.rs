//! Pages granted to the backend (`grant_table.h` v1 through the
//! [`GrantTable`] service) and the rule that no grant outlives its use: a
//! page comes back only once `end_access` succeeded; pages whose grant the
//! backend still holds wait in a [`Quarantine`] and are retried, never
//! freed or reused meanwhile. [`DataPages`] hands out the pages of data
//! and indirect segments: from the persistent pool (granted once, kept
//! mapped by the backend) or granted per request.

use alloc::vec::Vec;

use xen_platform::services::{DomId, GrantRef, GrantTable, PageAllocator, SharedPage};

use crate::counters::Counters;
use crate::error::BlkError;

pub(crate) use xen_platform::granted::{Granted, Quarantine};

/// A page lent to one ring request.
#[derive(Debug)]
pub(crate) enum Lease<P> {
    /// From the persistent pool; goes back to it.
    Persistent(Granted<P>),
    /// Granted for this request only; the grant ends when it comes back.
    Transient(Granted<P>),
}

impl<P> Lease<P> {
    /// The page.
    pub(crate) fn page(&self) -> &P {
        match self {
            Lease::Persistent(g) | Lease::Transient(g) => &g.page,
        }
    }

    /// The grant.
    pub(crate) fn gref(&self) -> GrantRef {
        match self {
            Lease::Persistent(g) | Lease::Transient(g) => g.gref,
        }
    }
}

/// Most ungranted pages kept for reuse in per-request mode.
const SPARE_MAX: usize = 64;

/// Where data and indirect pages come from.
#[derive(Debug)]
pub(crate) struct DataPages<P> {
    peer: DomId,
    persistent: bool,
    /// Persistent mode: granted pages not lent out (LIFO, so the backend's
    /// LRU keeps the hot ones).
    pool: Vec<Granted<P>>,
    /// Per-request mode: ungranted pages to reuse.
    spare: Vec<P>,
    /// Grants alive that were made here and not yet ended or handed to
    /// the quarantine.
    live: usize,
    /// Persistent grants alive.
    persistent_live: usize,
    /// Most persistent grants.
    max_persistent: usize,
    /// Pages lent out now.
    lent: usize,
    /// Most pages lent out at once.
    max_lent: usize,
}

impl<P: SharedPage> DataPages<P> {
    /// Pages for `peer`: persistent (up to `max_persistent` grants) or
    /// granted per request; at most `max_lent` lent at once.
    pub(crate) fn new(
        peer: DomId,
        persistent: bool,
        max_persistent: usize,
        max_lent: usize,
    ) -> Self {
        DataPages {
            peer,
            persistent,
            pool: Vec::new(),
            spare: Vec::new(),
            live: 0,
            persistent_live: 0,
            max_persistent,
            lent: 0,
            max_lent,
        }
    }

    /// Pages lent out now.
    pub(crate) fn lent(&self) -> usize {
        self.lent
    }

    /// Grants alive (in the pool or lent out).
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Lends a page; `readonly` is what the backend needs (ignored for
    /// persistent grants, which the backend maps writable once).
    pub(crate) fn take<G: GrantTable, A: PageAllocator<Page = P>>(
        &mut self,
        gt: &G,
        pages: &A,
        readonly: bool,
        counters: &mut Counters,
    ) -> Result<Lease<P>, BlkError> {
        if self.lent >= self.max_lent {
            return Err(BlkError::Busy("data pages in flight at the limit"));
        }
        if self.persistent {
            if let Some(g) = self.pool.pop() {
                counters.persistent_hits += 1;
                self.lent += 1;
                return Ok(Lease::Persistent(g));
            }
        }
        let page = match self.spare.pop() {
            Some(p) => p,
            None => pages.alloc_page().map_err(|e| match BlkError::from(e) {
                BlkError::OutOfMemory => BlkError::Busy("no page for a data segment"),
                other => other,
            })?,
        };
        // With persistent grants negotiated the backend maps every grant
        // writable, kept or not (blkif.h note 8).
        let ro = readonly && !self.persistent;
        match Granted::new(gt, self.peer, page, ro) {
            Ok(g) => {
                self.live += 1;
                self.lent += 1;
                counters.grants_mapped += 1;
                Ok(
                    if self.persistent && self.persistent_live < self.max_persistent {
                        self.persistent_live += 1;
                        Lease::Persistent(g)
                    } else {
                        Lease::Transient(g)
                    },
                )
            }
            Err((page, e)) => {
                self.keep_spare(page);
                Err(match BlkError::from(e) {
                    BlkError::Hypercall(_) => BlkError::Busy("no grant reference free"),
                    other => other,
                })
            }
        }
    }

    fn keep_spare(&mut self, page: P) {
        if self.spare.len() < SPARE_MAX {
            self.spare.push(page);
        }
    }

    /// Takes a lent page back after its request completed.
    pub(crate) fn give_back<G: GrantTable>(
        &mut self,
        gt: &G,
        lease: Lease<P>,
        quarantine: &mut Quarantine<P>,
    ) {
        self.lent -= 1;
        match lease {
            Lease::Persistent(g) => self.pool.push(g),
            Lease::Transient(g) => {
                self.live -= 1;
                match g.end(gt) {
                    Ok(page) => self.keep_spare(page),
                    Err(g) => quarantine.release(gt, g),
                }
            }
        }
    }

    /// Ends a lent page's grant for good (teardown).
    pub(crate) fn retire<G: GrantTable>(
        &mut self,
        gt: &G,
        lease: Lease<P>,
        quarantine: &mut Quarantine<P>,
    ) {
        self.lent -= 1;
        let g = match lease {
            Lease::Persistent(g) => {
                self.persistent_live -= 1;
                g
            }
            Lease::Transient(g) => g,
        };
        self.live -= 1;
        quarantine.release(gt, g);
    }

    /// Ends every pooled grant (teardown; lent pages must be retired
    /// first).
    pub(crate) fn teardown<G: GrantTable>(&mut self, gt: &G, quarantine: &mut Quarantine<P>) {
        for g in self.pool.drain(..) {
            self.live -= 1;
            self.persistent_live -= 1;
            quarantine.release(gt, g);
        }
        self.spare.clear();
    }
}
