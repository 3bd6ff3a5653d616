//! Simulated grant tables (`grant_table.h` v1 semantics) for host tests:
//! each domain's grants, and backends that map and unmap them
//! (`GNTTABOP_map_grant_ref` / `GNTTABOP_unmap_grant_ref`), so that
//! `end_access` is `Busy` while a grant is mapped; plus a switch for a
//! backend that never lets go of its mappings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::vec::Vec;

use crate::error::XenError;
use crate::services::{DomId, GrantRef, GrantTable};
use xen_abi as abi;

/// Default number of entries of a simulated domain's table (as 8 frames of
/// the real one).
pub const DEFAULT_ENTRIES: u32 = 4096;

/// What a granting domain wrote into a grant entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimGrantEntry {
    /// The domain allowed to map the frame.
    pub peer: DomId,
    /// The granted guest frame.
    pub gfn: u64,
    /// Whether the peer may only read.
    pub readonly: bool,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    grant: SimGrantEntry,
    /// Live read-only mappings (`GTF_reading`).
    readers: u32,
    /// Live writable mappings (`GTF_writing`).
    writers: u32,
}

#[derive(Debug, Default)]
struct Table {
    entries: BTreeMap<u32, Entry>,
    /// Freed references, reused lowest first.
    free: BTreeSet<u32>,
    /// Next never-used reference.
    next: u32,
}

#[derive(Debug)]
struct State {
    tables: BTreeMap<DomId, Table>,
    capacity: u32,
    /// Mapping domains whose unmaps are ignored (they hold grants forever).
    holding: BTreeSet<DomId>,
}

/// A backend's mapping of a grant, from [`SimGrants::map`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimMapping {
    /// The domain that mapped.
    pub mapper: DomId,
    /// The domain that granted.
    pub granter: DomId,
    /// The grant reference.
    pub gref: GrantRef,
    /// The granted frame.
    pub gfn: u64,
    /// Whether the mapping is writable.
    pub write: bool,
}

/// All simulated domains' grant tables. Clones share the same state.
#[derive(Debug, Clone)]
pub struct SimGrants {
    inner: Arc<Mutex<State>>,
}

impl Default for SimGrants {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_ENTRIES)
    }
}

fn map_error(errno: u32) -> XenError {
    XenError::Hypercall {
        op: "grant_table_op(GNTTABOP_map_grant_ref)",
        errno,
    }
}

impl SimGrants {
    /// Tables of [`DEFAULT_ENTRIES`] entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tables of `entries` entries each (the first
    /// `GNTTAB_NR_RESERVED_ENTRIES` are never handed out).
    pub fn with_capacity(entries: u32) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                tables: BTreeMap::new(),
                capacity: entries,
                holding: BTreeSet::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the state from the others.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Domain `dom`'s view, implementing [`GrantTable`].
    pub fn domain(&self, dom: DomId) -> SimGrantDomain {
        SimGrantDomain {
            sim: self.clone(),
            dom,
        }
    }

    /// What `granter` wrote into `gref`, if it is granted.
    pub fn entry(&self, granter: DomId, gref: GrantRef) -> Option<SimGrantEntry> {
        Some(
            self.lock()
                .tables
                .get(&granter)?
                .entries
                .get(&gref.0)?
                .grant,
        )
    }

    /// Live mappings of `granter`'s `gref` (readers plus writers).
    pub fn map_count(&self, granter: DomId, gref: GrantRef) -> u32 {
        self.lock()
            .tables
            .get(&granter)
            .and_then(|t| t.entries.get(&gref.0))
            .map_or(0, |e| e.readers + e.writers)
    }

    /// A backend `mapper` maps `granter`'s `gref`, writable if `write`.
    /// Fails (`EPERM`, as Xen's `GNTST_permission_denied`) if the grant is
    /// not for `mapper`, or is read-only and `write` is asked; `EINVAL`
    /// (`GNTST_bad_gntref`) if it is not granted.
    pub fn map(
        &self,
        mapper: DomId,
        granter: DomId,
        gref: GrantRef,
        write: bool,
    ) -> Result<SimMapping, XenError> {
        let mut st = self.lock();
        let e = st
            .tables
            .get_mut(&granter)
            .and_then(|t| t.entries.get_mut(&gref.0))
            .ok_or(map_error(abi::XEN_EINVAL))?;
        if e.grant.peer != mapper || (write && e.grant.readonly) {
            return Err(map_error(abi::XEN_EPERM));
        }
        if write {
            e.writers += 1;
        } else {
            e.readers += 1;
        }
        Ok(SimMapping {
            mapper,
            granter,
            gref,
            gfn: e.grant.gfn,
            write,
        })
    }

    /// The backend unmaps. Ignored (the mapping stays) while the mapper is
    /// set to hold its grants ([`SimGrants::set_holding`]).
    pub fn unmap(&self, m: SimMapping) -> Result<(), XenError> {
        let mut st = self.lock();
        if st.holding.contains(&m.mapper) {
            return Ok(());
        }
        let bad = XenError::Hypercall {
            op: "grant_table_op(GNTTABOP_unmap_grant_ref)",
            errno: abi::XEN_EINVAL,
        };
        let e = st
            .tables
            .get_mut(&m.granter)
            .and_then(|t| t.entries.get_mut(&m.gref.0))
            .ok_or(bad)?;
        let count = if m.write {
            &mut e.writers
        } else {
            &mut e.readers
        };
        *count = count.checked_sub(1).ok_or(bad)?;
        Ok(())
    }

    /// Misbehaviour: while `on`, `mapper` never unmaps (its unmaps are
    /// ignored), so the granter's `end_access` stays `Busy`.
    pub fn set_holding(&self, mapper: DomId, on: bool) {
        let mut st = self.lock();
        if on {
            st.holding.insert(mapper);
        } else {
            st.holding.remove(&mapper);
        }
    }

    /// `mapper` dies: all its mappings go away (as when Xen destroys a
    /// domain), whatever [`SimGrants::set_holding`] says.
    pub fn release_all(&self, mapper: DomId) {
        let mut st = self.lock();
        for t in st.tables.values_mut() {
            for e in t.entries.values_mut() {
                if e.grant.peer == mapper {
                    e.readers = 0;
                    e.writers = 0;
                }
            }
        }
    }

    /// How many of `granter`'s live grants name frame `gfn`.
    pub fn grants_of_frame(&self, granter: DomId, gfn: u64) -> usize {
        self.lock().tables.get(&granter).map_or(0, |t| {
            t.entries.values().filter(|e| e.grant.gfn == gfn).count()
        })
    }

    /// The references `granter` has live (for leak checks).
    pub fn live_refs(&self, granter: DomId) -> Vec<GrantRef> {
        self.lock()
            .tables
            .get(&granter)
            .map(|t| t.entries.keys().map(|&r| GrantRef(r)).collect())
            .unwrap_or_default()
    }
}

/// One simulated domain's grant table.
#[derive(Debug, Clone)]
pub struct SimGrantDomain {
    sim: SimGrants,
    dom: DomId,
}

impl SimGrantDomain {
    /// The domain this view belongs to.
    pub fn domid(&self) -> DomId {
        self.dom
    }
}

impl GrantTable for SimGrantDomain {
    fn grant_access(&self, domid: DomId, gfn: u64, readonly: bool) -> Result<GrantRef, XenError> {
        if u32::try_from(gfn).is_err() {
            return Err(XenError::InvalidArgument(
                "gfn does not fit a v1 grant entry",
            ));
        }
        let mut st = self.sim.lock();
        let capacity = st.capacity;
        let t = st.tables.entry(self.dom).or_default();
        t.next = t.next.max(abi::GNTTAB_NR_RESERVED_ENTRIES);
        let r = match t.free.pop_first() {
            Some(r) => r,
            None if t.next < capacity => {
                t.next += 1;
                t.next - 1
            }
            None => return Err(XenError::Busy("no free grant references")),
        };
        t.entries.insert(
            r,
            Entry {
                grant: SimGrantEntry {
                    peer: domid,
                    gfn,
                    readonly,
                },
                readers: 0,
                writers: 0,
            },
        );
        Ok(GrantRef(r))
    }

    fn end_access(&self, gref: GrantRef) -> Result<(), XenError> {
        let mut st = self.sim.lock();
        let t = st
            .tables
            .get_mut(&self.dom)
            .ok_or(XenError::InvalidArgument("grant reference is not granted"))?;
        let e = t
            .entries
            .get(&gref.0)
            .ok_or(XenError::InvalidArgument("grant reference is not granted"))?;
        if e.readers + e.writers > 0 {
            return Err(XenError::Busy("grant still mapped by the peer"));
        }
        t.entries.remove(&gref.0);
        t.free.insert(gref.0);
        Ok(())
    }

    fn live_grants(&self) -> usize {
        self.sim
            .lock()
            .tables
            .get(&self.dom)
            .map_or(0, |t| t.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRONT: DomId = DomId(5);
    const BACK: DomId = DomId(0);

    #[test]
    fn grant_lifecycle() {
        let sim = SimGrants::new();
        let front = sim.domain(FRONT);
        let g = front.grant_access(BACK, 0x1000, false).unwrap();
        assert_eq!(g, GrantRef(abi::GNTTAB_NR_RESERVED_ENTRIES));
        assert_eq!(front.live_grants(), 1);
        assert_eq!(
            sim.entry(FRONT, g),
            Some(SimGrantEntry {
                peer: BACK,
                gfn: 0x1000,
                readonly: false
            })
        );
        let m = sim.map(BACK, FRONT, g, true).unwrap();
        assert_eq!(m.gfn, 0x1000);
        assert!(matches!(front.end_access(g), Err(XenError::Busy(_))));
        assert_eq!(front.live_grants(), 1);
        assert!(sim.entry(FRONT, g).is_some());
        sim.unmap(m).unwrap();
        assert_eq!(front.end_access(g), Ok(()));
        assert_eq!(front.live_grants(), 0);
        assert!(matches!(
            front.end_access(g),
            Err(XenError::InvalidArgument(_))
        ));
        // The peer cannot map what is no longer granted, nor unmap twice.
        assert!(sim.map(BACK, FRONT, g, false).is_err());
        assert!(sim.unmap(m).is_err());
    }

    #[test]
    fn readonly_and_wrong_peer_are_refused() {
        let sim = SimGrants::new();
        let front = sim.domain(FRONT);
        let g = front.grant_access(BACK, 7, true).unwrap();
        assert!(matches!(
            sim.map(BACK, FRONT, g, true),
            Err(XenError::Hypercall { errno, .. }) if errno == abi::XEN_EPERM
        ));
        assert!(sim.map(DomId(3), FRONT, g, false).is_err());
        let r1 = sim.map(BACK, FRONT, g, false).unwrap();
        let r2 = sim.map(BACK, FRONT, g, false).unwrap();
        assert_eq!(sim.map_count(FRONT, g), 2);
        sim.unmap(r1).unwrap();
        assert!(matches!(front.end_access(g), Err(XenError::Busy(_))));
        sim.unmap(r2).unwrap();
        front.end_access(g).unwrap();
        assert_eq!(front.live_grants(), 0);
    }

    #[test]
    fn holding_backend_keeps_grants_busy_until_it_dies() {
        let sim = SimGrants::new();
        let front = sim.domain(FRONT);
        let g = front.grant_access(BACK, 1, false).unwrap();
        sim.set_holding(BACK, true);
        let m = sim.map(BACK, FRONT, g, true).unwrap();
        sim.unmap(m).unwrap();
        assert!(matches!(front.end_access(g), Err(XenError::Busy(_))));
        sim.release_all(BACK);
        front.end_access(g).unwrap();
        assert_eq!(sim.live_refs(FRONT), vec![]);
    }

    #[test]
    fn references_run_out_and_are_reused() {
        let sim = SimGrants::with_capacity(12);
        let front = sim.domain(FRONT);
        let refs: Vec<_> = (0..4)
            .map(|i| front.grant_access(BACK, i, false).unwrap())
            .collect();
        assert_eq!(refs[3], GrantRef(11));
        assert!(matches!(
            front.grant_access(BACK, 9, false),
            Err(XenError::Busy(_))
        ));
        front.end_access(refs[1]).unwrap();
        assert_eq!(front.grant_access(BACK, 9, false), Ok(refs[1]));
        assert!(front.grant_access(BACK, 1 << 32, false).is_err());
        // Tables are per domain.
        assert_eq!(sim.domain(BACK).live_grants(), 0);
        assert_eq!(
            sim.domain(BACK).grant_access(FRONT, 1, false),
            Ok(GrantRef(8))
        );
    }
}
