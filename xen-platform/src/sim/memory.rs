//! Simulated guest memory for host tests: each simulated domain's pages by
//! guest frame number, so that a simulated backend reaches a frontend's
//! granted page the way Xen's `GNTTABOP_map_grant_ref` does: grant
//! reference → (granter, gfn) → the page.
//!
//! [`SimMemory`] is shared by all domains of one [`SimHypervisor`]
//! (clones share state). [`SimMemory::allocator`] gives a domain's
//! [`PageAllocator`]; [`SimHypervisor::map_page`] maps a grant through
//! [`SimGrants::map`] (so `end_access` is `Busy` while it is mapped) and
//! returns a [`SimMappedPage`] that unmaps on drop.
//!
//! Pages are words of `AtomicU32`, so a frontend and a backend may touch
//! one page from different threads soundly: byte copies are relaxed atomic
//! accesses, ring indices acquire/release. A page freed while still
//! granted (a driver that broke "no grant outlives its use") is counted in
//! [`SimMemory::freed_while_granted`].
//!
//! [`SimHypervisor`]: super::SimHypervisor
//! [`SimHypervisor::map_page`]: super::SimHypervisor::map_page

use std::boxed::Box;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::vec::Vec;

use super::grant::{SimGrants, SimMapping};
use crate::error::XenError;
use crate::services::{check_page_range, DomId, GrantRef, PageAllocator, SharedPage, PAGE_SIZE};

/// First gfn handed out in every simulated domain (as if RAM started at
/// 256 MiB); gfns still fit a v1 grant entry.
const FIRST_GFN: u64 = 0x1_0000;

/// The contents of one page: 1024 little-endian words.
#[derive(Debug)]
struct PageStore {
    words: Box<[AtomicU32]>,
}

impl PageStore {
    fn new() -> Arc<PageStore> {
        Arc::new(PageStore {
            words: (0..PAGE_SIZE / 4).map(|_| AtomicU32::new(0)).collect(),
        })
    }

    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), XenError> {
        check_page_range(offset, buf.len())?;
        let mut i = 0;
        while i < buf.len() {
            let at = offset + i;
            let (w, first) = (at / 4, at % 4);
            let n = (4 - first).min(buf.len() - i);
            let word = self.words[w].load(Ordering::Relaxed).to_le_bytes();
            buf[i..i + n].copy_from_slice(&word[first..first + n]);
            i += n;
        }
        Ok(())
    }

    fn write(&self, offset: usize, data: &[u8]) -> Result<(), XenError> {
        check_page_range(offset, data.len())?;
        let mut i = 0;
        while i < data.len() {
            let at = offset + i;
            let (w, first) = (at / 4, at % 4);
            let n = (4 - first).min(data.len() - i);
            let word = &self.words[w];
            if n == 4 {
                let mut b = [0; 4];
                b.copy_from_slice(&data[i..i + 4]);
                word.store(u32::from_le_bytes(b), Ordering::Relaxed);
            } else {
                // Only the bytes written change, even if the other side
                // writes the rest of the word at the same time.
                let _ = word.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                    let mut b = old.to_le_bytes();
                    b[first..first + n].copy_from_slice(&data[i..i + n]);
                    Some(u32::from_le_bytes(b))
                });
            }
            i += n;
        }
        Ok(())
    }

    fn word(&self, offset: usize) -> &AtomicU32 {
        assert!(
            offset % 4 == 0 && offset + 4 <= PAGE_SIZE,
            "shared page: bad atomic offset {offset}"
        );
        &self.words[offset / 4]
    }
}

#[derive(Debug, Default)]
struct State {
    pages: BTreeMap<(DomId, u64), Arc<PageStore>>,
    next_gfn: BTreeMap<DomId, u64>,
}

/// All simulated domains' memory. Clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct SimMemory {
    inner: Arc<Mutex<State>>,
    /// The grant tables asked whether a freed page is still granted.
    grants: Option<SimGrants>,
    freed_while_granted: Arc<AtomicU64>,
}

impl SimMemory {
    /// Memory that does not check frees against grants.
    pub fn new() -> SimMemory {
        SimMemory::default()
    }

    /// Memory that counts pages freed while `grants` still has them
    /// granted ([`SimMemory::freed_while_granted`]).
    pub fn with_grants(grants: SimGrants) -> SimMemory {
        SimMemory {
            grants: Some(grants),
            ..SimMemory::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the state from the others.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Domain `dom`'s page allocator.
    pub fn allocator(&self, dom: DomId) -> SimPageAllocator {
        SimPageAllocator {
            mem: self.clone(),
            dom,
        }
    }

    /// Pages `dom` has allocated and not freed (for leak checks).
    pub fn pages(&self, dom: DomId) -> usize {
        self.lock().pages.keys().filter(|(d, _)| *d == dom).count()
    }

    /// Pages freed while still granted, by any domain: each one is a driver
    /// bug (the peer could still write memory that was reused).
    pub fn freed_while_granted(&self) -> u64 {
        self.freed_while_granted.load(Ordering::Relaxed)
    }

    /// Another domain's view of `dom`'s page `gfn`, if it exists.
    pub fn view(&self, dom: DomId, gfn: u64, writable: bool) -> Option<SimPageView> {
        let store = self.lock().pages.get(&(dom, gfn))?.clone();
        Some(SimPageView {
            store,
            gfn,
            writable,
        })
    }

    fn free(&self, dom: DomId, gfn: u64) {
        self.lock().pages.remove(&(dom, gfn));
        if let Some(g) = &self.grants {
            if g.grants_of_frame(dom, gfn) > 0 {
                self.freed_while_granted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One simulated domain's page allocator (zeroed pages, fresh gfns).
#[derive(Debug, Clone)]
pub struct SimPageAllocator {
    mem: SimMemory,
    dom: DomId,
}

impl PageAllocator for SimPageAllocator {
    type Page = SimPage;

    fn alloc_page(&self) -> Result<SimPage, XenError> {
        let store = PageStore::new();
        let gfn = {
            let mut st = self.mem.lock();
            let next = st.next_gfn.entry(self.dom).or_insert(FIRST_GFN);
            let gfn = *next;
            *next += 1;
            st.pages.insert((self.dom, gfn), store.clone());
            gfn
        };
        Ok(SimPage {
            mem: self.mem.clone(),
            dom: self.dom,
            gfn,
            store,
        })
    }
}

/// A page a simulated domain owns; freed on drop.
#[derive(Debug)]
pub struct SimPage {
    mem: SimMemory,
    dom: DomId,
    gfn: u64,
    store: Arc<PageStore>,
}

impl Drop for SimPage {
    fn drop(&mut self) {
        self.mem.free(self.dom, self.gfn);
    }
}

impl SharedPage for SimPage {
    fn gfn(&self) -> u64 {
        self.gfn
    }
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), XenError> {
        self.store.read(offset, buf)
    }
    fn write(&self, offset: usize, data: &[u8]) -> Result<(), XenError> {
        self.store.write(offset, data)
    }
    fn load_acquire_u32(&self, offset: usize) -> u32 {
        self.store.word(offset).load(Ordering::Acquire)
    }
    fn store_release_u32(&self, offset: usize, value: u32) {
        self.store.word(offset).store(value, Ordering::Release)
    }
}

/// A view of another domain's page (what a backend sees after mapping).
/// The contents stay reachable even if the owner frees the page.
#[derive(Debug, Clone)]
pub struct SimPageView {
    store: Arc<PageStore>,
    gfn: u64,
    writable: bool,
}

impl SharedPage for SimPageView {
    fn gfn(&self) -> u64 {
        self.gfn
    }
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), XenError> {
        self.store.read(offset, buf)
    }
    /// Refused with `InvalidArgument` on a read-only view.
    fn write(&self, offset: usize, data: &[u8]) -> Result<(), XenError> {
        if !self.writable {
            return Err(XenError::InvalidArgument("page mapped read-only"));
        }
        self.store.write(offset, data)
    }
    fn load_acquire_u32(&self, offset: usize) -> u32 {
        self.store.word(offset).load(Ordering::Acquire)
    }
    /// # Panics
    /// Also on a read-only view (a test backend bug).
    fn store_release_u32(&self, offset: usize, value: u32) {
        assert!(self.writable, "store to a page mapped read-only");
        self.store.word(offset).store(value, Ordering::Release)
    }
}

/// A backend's mapping of a granted page: the grant stays mapped (the
/// granter's `end_access` is `Busy`) until this is dropped or
/// [`SimMappedPage::unmap`]ped.
#[derive(Debug)]
pub struct SimMappedPage {
    grants: SimGrants,
    mapping: Option<SimMapping>,
    view: SimPageView,
}

impl SimMappedPage {
    /// Maps `granter`'s `gref` for `mapper` (see [`SimGrants::map`]) and
    /// finds the page in `mem`. Fails like `GNTTABOP_map_grant_ref` when
    /// the grant does not allow it, and with `EFAULT` when the granted gfn
    /// is not a page of the granter.
    pub fn map(
        grants: &SimGrants,
        mem: &SimMemory,
        mapper: DomId,
        granter: DomId,
        gref: GrantRef,
        write: bool,
    ) -> Result<SimMappedPage, XenError> {
        let mapping = grants.map(mapper, granter, gref, write)?;
        match mem.view(granter, mapping.gfn, write) {
            Some(view) => Ok(SimMappedPage {
                grants: grants.clone(),
                mapping: Some(mapping),
                view,
            }),
            None => {
                grants.unmap(mapping)?;
                Err(XenError::Hypercall {
                    op: "grant_table_op(GNTTABOP_map_grant_ref)",
                    errno: xen_abi::XEN_EFAULT,
                })
            }
        }
    }

    /// The mapped page.
    pub fn page(&self) -> &SimPageView {
        &self.view
    }

    /// The mapping (granter, gref, gfn, writable).
    pub fn mapping(&self) -> SimMapping {
        // Only `unmap` (which consumes self) and `drop` take it.
        self.mapping.expect("mapping present until unmapped")
    }

    /// Unmaps now, reporting a failure of the unmap.
    pub fn unmap(mut self) -> Result<(), XenError> {
        match self.mapping.take() {
            Some(m) => self.grants.unmap(m),
            None => Ok(()),
        }
    }
}

impl Drop for SimMappedPage {
    fn drop(&mut self) {
        if let Some(m) = self.mapping.take() {
            let _ = self.grants.unmap(m);
        }
    }
}

impl SharedPage for SimMappedPage {
    fn gfn(&self) -> u64 {
        self.view.gfn()
    }
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), XenError> {
        self.view.read(offset, buf)
    }
    fn write(&self, offset: usize, data: &[u8]) -> Result<(), XenError> {
        self.view.write(offset, data)
    }
    fn load_acquire_u32(&self, offset: usize) -> u32 {
        self.view.load_acquire_u32(offset)
    }
    fn store_release_u32(&self, offset: usize, value: u32) {
        self.view.store_release_u32(offset, value)
    }
}

/// Every gfn of `dom` that is allocated (for tests).
pub fn allocated_gfns(mem: &SimMemory, dom: DomId) -> Vec<u64> {
    mem.lock()
        .pages
        .keys()
        .filter(|(d, _)| *d == dom)
        .map(|(_, g)| *g)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::GrantTable;

    const FRONT: DomId = DomId(4);
    const BACK: DomId = DomId(0);

    #[test]
    fn bytes_and_words_round_trip() {
        let mem = SimMemory::new();
        let p = mem.allocator(FRONT).alloc_page().unwrap();
        assert_eq!(p.gfn(), FIRST_GFN);
        let data: Vec<u8> = (0..=255).collect();
        p.write(4093, &data[..3]).unwrap();
        p.write(1, &data[..10]).unwrap();
        let mut back = [0; 10];
        p.read(1, &mut back).unwrap();
        assert_eq!(&back, &data[..10]);
        assert_eq!(p.read_u16(4094).unwrap(), 0x0201);
        assert!(p.read(4094, &mut [0; 3]).is_err());
        assert!(p.write(4096, &[1]).is_err());
        p.write_u64(8, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(p.read_u64(8).unwrap(), 0x0102_0304_0506_0708);
        assert_eq!(p.read_u32(8).unwrap(), 0x0506_0708);
        p.store_release_u32(12, 77);
        assert_eq!(p.load_acquire_u32(12), 77);
        assert_eq!(p.read_u32(12).unwrap(), 77);
        // Zeroed, and per-domain gfns.
        let q = mem.allocator(FRONT).alloc_page().unwrap();
        assert_eq!(q.read_u64(0).unwrap(), 0);
        assert_eq!(q.gfn(), FIRST_GFN + 1);
        assert_eq!(mem.allocator(BACK).alloc_page().unwrap().gfn(), FIRST_GFN);
        assert_eq!(mem.pages(FRONT), 2);
        drop((p, q));
        assert_eq!(mem.pages(FRONT), 0);
        assert_eq!(allocated_gfns(&mem, BACK), vec![]);
    }

    #[test]
    #[should_panic(expected = "bad atomic offset")]
    fn misaligned_atomic_panics() {
        let mem = SimMemory::new();
        mem.allocator(FRONT)
            .alloc_page()
            .unwrap()
            .load_acquire_u32(2);
    }

    #[test]
    fn backend_maps_through_the_grant() {
        let grants = SimGrants::new();
        let mem = SimMemory::with_grants(grants.clone());
        let gt = grants.domain(FRONT);
        let page = mem.allocator(FRONT).alloc_page().unwrap();
        page.write(100, b"hello").unwrap();
        let g = gt.grant_access(BACK, page.gfn(), false).unwrap();
        let ro = gt.grant_access(BACK, page.gfn(), true).unwrap();

        let m = SimMappedPage::map(&grants, &mem, BACK, FRONT, g, true).unwrap();
        let mut b = [0; 5];
        m.read(100, &mut b).unwrap();
        assert_eq!(&b, b"hello");
        m.write(0, b"back").unwrap();
        assert_eq!(page.read_u32(0).unwrap(), u32::from_le_bytes(*b"back"));
        assert_eq!(m.mapping().gref, g);
        assert!(matches!(gt.end_access(g), Err(XenError::Busy(_))));
        drop(m);
        gt.end_access(g).unwrap();

        let r = SimMappedPage::map(&grants, &mem, BACK, FRONT, ro, false).unwrap();
        assert!(r.write(0, b"x").is_err());
        assert!(SimMappedPage::map(&grants, &mem, BACK, FRONT, ro, true).is_err());
        r.unmap().unwrap();
        gt.end_access(ro).unwrap();
        assert_eq!(mem.freed_while_granted(), 0);

        // A grant of a gfn that is no page of the granter.
        let bogus = gt.grant_access(BACK, 0x9999, false).unwrap();
        assert!(matches!(
            SimMappedPage::map(&grants, &mem, BACK, FRONT, bogus, true),
            Err(XenError::Hypercall { errno, .. }) if errno == xen_abi::XEN_EFAULT
        ));
        assert_eq!(grants.map_count(FRONT, bogus), 0);
        gt.end_access(bogus).unwrap();

        // Freeing a page that is still granted is counted.
        let _g2 = gt.grant_access(BACK, page.gfn(), false).unwrap();
        drop(page);
        assert_eq!(mem.freed_while_granted(), 1);
    }

    #[test]
    fn front_and_back_threads_share_a_page() {
        let grants = SimGrants::new();
        let mem = SimMemory::with_grants(grants.clone());
        let page = mem.allocator(FRONT).alloc_page().unwrap();
        let g = grants
            .domain(FRONT)
            .grant_access(BACK, page.gfn(), false)
            .unwrap();
        let m = SimMappedPage::map(&grants, &mem, BACK, FRONT, g, true).unwrap();
        let t = std::thread::spawn(move || {
            for i in 1..=1000u32 {
                m.write_u32(64, i * 3).unwrap();
                m.store_release_u32(0, i);
            }
        });
        let mut last = 0;
        while last < 1000 {
            let i = page.load_acquire_u32(0);
            assert!(i >= last);
            if i > 0 {
                // Written before the index was published.
                assert!(page.read_u32(64).unwrap() >= i * 3);
            }
            last = i;
        }
        t.join().unwrap();
        grants.domain(FRONT).end_access(g).unwrap();
    }
}
