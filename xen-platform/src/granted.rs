//! Pages granted to the backend (`grant_table.h` v1 through the
//! [`GrantTable`] service) and the rule that no grant outlives its use: a
//! page comes back only once `end_access` succeeded; pages whose grant the
//! backend still holds wait in a [`Quarantine`] and are retried, never
//! freed or reused meanwhile. Shared by the frontends (netfront, blkfront).

use alloc::vec::Vec;

use crate::error::XenError;
use crate::services::{DomId, GrantRef, GrantTable, SharedPage};

/// A page and the grant that gives the backend access to it.
#[derive(Debug)]
pub struct Granted<P> {
    /// The page.
    pub page: P,
    /// Its grant.
    pub gref: GrantRef,
}

impl<P: SharedPage> Granted<P> {
    /// Grants `peer` access to `page`; on failure the page comes back.
    pub fn new<G: GrantTable>(
        gt: &G,
        peer: DomId,
        page: P,
        readonly: bool,
    ) -> Result<Granted<P>, (P, XenError)> {
        match gt.grant_access(peer, page.gfn(), readonly) {
            Ok(gref) => Ok(Granted { page, gref }),
            Err(e) => Err((page, e)),
        }
    }

    /// Ends the grant and gives the page back; `Err(self)` while the
    /// backend still has it mapped (or the table failed), so the page is
    /// kept. A reference the table does not know is not live, so the page
    /// is safe to hand back.
    pub fn end<G: GrantTable>(self, gt: &G) -> Result<P, Granted<P>> {
        match gt.end_access(self.gref) {
            Ok(()) | Err(XenError::InvalidArgument(_)) => Ok(self.page),
            Err(_) => Err(self),
        }
    }
}

/// Granted pages waiting for the backend to let go.
#[derive(Debug)]
pub struct Quarantine<P> {
    held: Vec<Granted<P>>,
}

impl<P: SharedPage> Default for Quarantine<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: SharedPage> Quarantine<P> {
    /// An empty quarantine.
    pub fn new() -> Self {
        Quarantine { held: Vec::new() }
    }

    /// Ends `g`'s grant now if possible (the page is then freed), else
    /// keeps it for [`Quarantine::retry`].
    pub fn release<G: GrantTable>(&mut self, gt: &G, g: Granted<P>) {
        if let Err(g) = g.end(gt) {
            self.held.push(g);
        }
    }

    /// Retries every held grant; freed pages are dropped. Returns how many
    /// are still held.
    pub fn retry<G: GrantTable>(&mut self, gt: &G) -> usize {
        let held = core::mem::take(&mut self.held);
        for g in held {
            self.release(gt, g);
        }
        self.held.len()
    }

    /// Grants still held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no grant is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Gives up on the held pages without freeing them: memory the backend
    /// may still write is leaked rather than reused (for drop).
    pub fn leak_all(&mut self) {
        for g in self.held.drain(..) {
            core::mem::forget(g);
        }
    }
}
