//! The shared request/response ring of Xen's `io/ring.h`, written once for
//! every PV driver (netif, blkif) and for the simulated backends: a page
//! holding `req_prod`, `req_event`, `rsp_prod`, `rsp_event` (padded to 64
//! bytes), then a power-of-two array of fixed-size slots shared by requests
//! and responses. A ring may also span `2^order` pages ([`PageSpan`],
//! blkif's `ring-page-order`): the same layout over their concatenation.
//!
//! [`FrontRing`] is the frontend's side (`req_prod_pvt`, `rsp_cons`;
//! `RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`, `RING_FINAL_CHECK_FOR_RESPONSES`),
//! [`BackRing`] the backend's (`rsp_prod_pvt`, `req_cons`;
//! `RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`, `RING_FINAL_CHECK_FOR_REQUESTS`).
//! Indices are free-running `u32`s, compared with wrapping arithmetic.
//!
//! The peer's index is untrusted: a producer index that claims more
//! entries than the ring holds, or (for responses) more than were asked
//! for, is [`XenError::PeerMisbehaved`], never a panic. Entries are copied
//! out of the page once ([`RingEntry::decode`] sees a private copy), so the
//! peer cannot change them under the caller's checks.
//!
//! Slots are `SLOT` bytes; one ring may carry several entry kinds (netif's
//! tx ring holds `netif_tx_request`s and `netif_extra_info`s), each a
//! [`RingEntry`] no larger than the slot, encoded little-endian by its
//! implementation.

use core::marker::PhantomData;
use core::sync::atomic::{fence, Ordering};

use crate::error::XenError;
use alloc::vec::Vec;

use crate::services::{SharedPage, PAGE_SIZE};

/// Bytes of the shared header before the first slot (`req_prod` ...
/// `rsp_event` and the padding of `struct *_sring`).
pub const HEADER_SIZE: usize = 64;
const REQ_PROD: usize = 0;
const REQ_EVENT: usize = 4;
const RSP_PROD: usize = 8;
const RSP_EVENT: usize = 12;

/// A fixed-size record carried in a ring slot.
pub trait RingEntry: Sized {
    /// Encoded size in bytes (at most the ring's slot size).
    const SIZE: usize;
    /// Writes the record into `out` (`out.len() == SIZE`).
    fn encode(&self, out: &mut [u8]);
    /// Reads a record from `bytes` (`bytes.len() == SIZE`). Must accept
    /// any bytes (they come from the peer); checking is the caller's job.
    fn decode(bytes: &[u8]) -> Self;
}

/// Entries of a ring with `slot`-byte slots in one page: the largest power
/// of two that fits after the header (`__RING_SIZE`); 0 if none fits.
pub const fn ring_size(slot: usize) -> u32 {
    ring_size_in(slot, PAGE_SIZE)
}

/// Entries of a ring with `slot`-byte slots in `bytes` of memory (a ring of
/// several pages: `__CONST_RING_SIZE(name, bytes)`); 0 if none fits.
pub const fn ring_size_in(slot: usize, bytes: usize) -> u32 {
    if slot == 0 || bytes < HEADER_SIZE || slot > bytes - HEADER_SIZE {
        return 0;
    }
    let n = (bytes - HEADER_SIZE) / slot;
    if n > 1 << 31 {
        return 1 << 31;
    }
    // Round down to a power of two.
    1 << (usize::BITS - 1 - n.leading_zeros())
}

/// The memory a ring lives in: one shared page, or several seen as one
/// contiguous range ([`PageSpan`], blkif's multi-page rings). Offsets are
/// bytes from the start of the shared header.
pub trait RingMemory {
    /// Bytes of ring memory.
    fn ring_bytes(&self) -> usize;
    /// Copies `buf.len()` bytes at `offset` into `buf`; `InvalidArgument`
    /// outside the memory.
    fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), XenError>;
    /// Copies `data` to `offset`; `InvalidArgument` outside the memory.
    fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), XenError>;
    /// Atomically loads the u32 at `offset` (a header index) with acquire
    /// ordering. Panics like [`SharedPage::load_acquire_u32`].
    fn load_acquire_u32_at(&self, offset: usize) -> u32;
    /// Atomically stores the u32 at `offset` with release ordering.
    /// Panics like [`SharedPage::store_release_u32`].
    fn store_release_u32_at(&self, offset: usize, value: u32);
}

impl<P: SharedPage> RingMemory for P {
    fn ring_bytes(&self) -> usize {
        PAGE_SIZE
    }
    fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), XenError> {
        self.read(offset, buf)
    }
    fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), XenError> {
        self.write(offset, data)
    }
    fn load_acquire_u32_at(&self, offset: usize) -> u32 {
        self.load_acquire_u32(offset)
    }
    fn store_release_u32_at(&self, offset: usize, value: u32) {
        self.store_release_u32(offset, value)
    }
}

/// Several pages seen as one contiguous ring (page `i` holds bytes
/// `i * PAGE_SIZE ..`): the memory of a ring of `2^order` pages, each
/// granted on its own (blkif's `ring-ref0..N`). Slots may straddle pages.
#[derive(Debug)]
pub struct PageSpan<P> {
    pages: Vec<P>,
}

impl<P: SharedPage> PageSpan<P> {
    /// The pages, in ring order; `InvalidArgument` unless their number is a
    /// power of two (1, 2, 4, ...).
    pub fn new(pages: Vec<P>) -> Result<Self, XenError> {
        if !pages.len().is_power_of_two() {
            return Err(XenError::InvalidArgument("ring pages: not a power of two"));
        }
        Ok(PageSpan { pages })
    }

    /// The pages, in ring order.
    pub fn pages(&self) -> &[P] {
        &self.pages
    }

    /// Gives the pages back.
    pub fn into_pages(self) -> Vec<P> {
        self.pages
    }

    /// Walks `len` bytes from `offset` page by page: `f(page, offset in
    /// page, range in the caller's buffer)`.
    fn each_piece(
        &self,
        offset: usize,
        len: usize,
        mut f: impl FnMut(&P, usize, core::ops::Range<usize>) -> Result<(), XenError>,
    ) -> Result<(), XenError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.ring_bytes() => {}
            _ => return Err(XenError::InvalidArgument("range outside the ring pages")),
        }
        let mut done = 0;
        while done < len {
            let at = offset + done;
            let (page, in_page) = (at / PAGE_SIZE, at % PAGE_SIZE);
            let n = (PAGE_SIZE - in_page).min(len - done);
            f(&self.pages[page], in_page, done..done + n)?;
            done += n;
        }
        Ok(())
    }
}

impl<P: SharedPage> RingMemory for PageSpan<P> {
    fn ring_bytes(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }
    fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), XenError> {
        self.each_piece(offset, buf.len(), |p, o, r| p.read(o, &mut buf[r]))
    }
    fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), XenError> {
        self.each_piece(offset, data.len(), |p, o, r| p.write(o, &data[r]))
    }
    fn load_acquire_u32_at(&self, offset: usize) -> u32 {
        self.pages[offset / PAGE_SIZE].load_acquire_u32(offset % PAGE_SIZE)
    }
    fn store_release_u32_at(&self, offset: usize, value: u32) {
        self.pages[offset / PAGE_SIZE].store_release_u32(offset % PAGE_SIZE, value)
    }
}

/// Byte offset of the slot for index `idx`.
fn slot_offset(idx: u32, size: u32, slot: usize) -> usize {
    HEADER_SIZE + (idx & (size - 1)) as usize * slot
}

/// Copies slot `idx` out and decodes it.
fn read_slot<P: RingMemory, E: RingEntry, const SLOT: usize>(
    page: &P,
    idx: u32,
    size: u32,
) -> Result<E, XenError> {
    const { assert!(E::SIZE <= SLOT) };
    let mut buf = [0u8; SLOT];
    page.read_at(slot_offset(idx, size, SLOT), &mut buf[..E::SIZE])?;
    Ok(E::decode(&buf[..E::SIZE]))
}

/// Encodes `e` into slot `idx` (the rest of the slot is zeroed).
fn write_slot<P: RingMemory, E: RingEntry, const SLOT: usize>(
    page: &P,
    idx: u32,
    size: u32,
    e: &E,
) -> Result<(), XenError> {
    const { assert!(E::SIZE <= SLOT) };
    let mut buf = [0u8; SLOT];
    e.encode(&mut buf[..E::SIZE]);
    page.write_at(slot_offset(idx, size, SLOT), &buf)
}

/// Whether a producer moving from `old` to `new` passed the consumer's
/// `event` index (`RING_PUSH_*_AND_CHECK_NOTIFY`).
fn passed_event(old: u32, new: u32, event: u32) -> bool {
    new.wrapping_sub(event) < new.wrapping_sub(old)
}

/// The frontend's side of a shared ring with `SLOT`-byte slots.
#[derive(Debug)]
pub struct FrontRing<P, const SLOT: usize> {
    page: P,
    size: u32,
    req_prod_pvt: u32,
    rsp_cons: u32,
    _slot: PhantomData<[u8; SLOT]>,
}

impl<P: RingMemory, const SLOT: usize> FrontRing<P, SLOT> {
    /// Entries of this ring in one page (a ring over a [`PageSpan`] has
    /// more: see `size()`).
    pub const SIZE: u32 = ring_size(SLOT);

    /// Initialises the shared header in `page` and the private indices
    /// (`SHARED_RING_INIT`, `FRONT_RING_INIT`).
    pub fn init(page: P) -> Result<Self, XenError> {
        Self::init_at(page, 0)
    }

    /// As [`FrontRing::init`], with all indices starting at `start` instead
    /// of 0 (Xen rings start at 0; this is for tests of index wrap-around).
    pub fn init_at(page: P, start: u32) -> Result<Self, XenError> {
        const { assert!(ring_size(SLOT) > 0) };
        let size = ring_size_in(SLOT, page.ring_bytes());
        page.write_at(0, &[0; HEADER_SIZE])?;
        page.store_release_u32_at(REQ_PROD, start);
        page.store_release_u32_at(RSP_PROD, start);
        page.store_release_u32_at(REQ_EVENT, start.wrapping_add(1));
        page.store_release_u32_at(RSP_EVENT, start.wrapping_add(1));
        Ok(FrontRing {
            page,
            size,
            req_prod_pvt: start,
            rsp_cons: start,
            _slot: PhantomData,
        })
    }

    /// The shared page.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Gives the page back.
    pub fn into_page(self) -> P {
        self.page
    }

    /// Entries of the ring.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Next request index to fill (`req_prod_pvt`).
    pub fn req_prod_pvt(&self) -> u32 {
        self.req_prod_pvt
    }

    /// Next response index to consume (`rsp_cons`).
    pub fn rsp_cons(&self) -> u32 {
        self.rsp_cons
    }

    /// Requests not yet answered (pushed or not), i.e. slots in use.
    pub fn outstanding(&self) -> u32 {
        self.req_prod_pvt.wrapping_sub(self.rsp_cons)
    }

    /// Free request slots (`RING_FREE_REQUESTS`).
    pub fn free_requests(&self) -> u32 {
        self.size - self.outstanding()
    }

    /// Whether no request slot is free (`RING_FULL`).
    pub fn is_full(&self) -> bool {
        self.free_requests() == 0
    }

    /// Writes a request into the next slot (not yet visible to the peer:
    /// see [`FrontRing::push_requests_and_check_notify`]).
    /// [`XenError::Busy`] if the ring is full.
    pub fn put_request<E: RingEntry>(&mut self, e: &E) -> Result<(), XenError> {
        if self.is_full() {
            return Err(XenError::Busy("shared ring full"));
        }
        write_slot::<P, E, SLOT>(&self.page, self.req_prod_pvt, self.size, e)?;
        self.req_prod_pvt = self.req_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// Publishes the requests put so far and says whether the peer asked
    /// to be notified about them (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`).
    pub fn push_requests_and_check_notify(&mut self) -> bool {
        let old = self.page.load_acquire_u32_at(REQ_PROD);
        let new = self.req_prod_pvt;
        // Release: the entries are visible before the index.
        self.page.store_release_u32_at(REQ_PROD, new);
        // The index store must be visible before `req_event` is read, else
        // a peer going to sleep meanwhile is never woken (xen_mb()).
        fence(Ordering::SeqCst);
        let event = self.page.load_acquire_u32_at(REQ_EVENT);
        passed_event(old, new, event)
    }

    /// Responses published by the peer and not yet consumed. More than the
    /// requests outstanding is the peer's fault.
    pub fn unconsumed_responses(&self) -> Result<u32, XenError> {
        let rsp_prod = self.page.load_acquire_u32_at(RSP_PROD);
        let n = rsp_prod.wrapping_sub(self.rsp_cons);
        if n > self.outstanding() {
            return Err(XenError::PeerMisbehaved(
                "ring: rsp_prod runs ahead of the requests made",
            ));
        }
        Ok(n)
    }

    /// Takes the next response as an `E`, if one is published.
    pub fn next_response<E: RingEntry>(&mut self) -> Result<Option<E>, XenError> {
        if self.unconsumed_responses()? == 0 {
            return Ok(None);
        }
        let e = read_slot::<P, E, SLOT>(&self.page, self.rsp_cons, self.size)?;
        self.rsp_cons = self.rsp_cons.wrapping_add(1);
        Ok(Some(e))
    }

    /// Whether responses are waiting; if none, asks the peer to notify at
    /// the next one and checks again (`RING_FINAL_CHECK_FOR_RESPONSES`).
    /// After `Ok(false)` the caller may sleep on the event channel.
    pub fn final_check_for_responses(&mut self) -> Result<bool, XenError> {
        if self.unconsumed_responses()? > 0 {
            return Ok(true);
        }
        self.page
            .store_release_u32_at(RSP_EVENT, self.rsp_cons.wrapping_add(1));
        fence(Ordering::SeqCst);
        Ok(self.unconsumed_responses()? > 0)
    }
}

/// The backend's side of a shared ring with `SLOT`-byte slots (used by the
/// simulated backends).
#[derive(Debug)]
pub struct BackRing<P, const SLOT: usize> {
    page: P,
    size: u32,
    rsp_prod_pvt: u32,
    req_cons: u32,
    _slot: PhantomData<[u8; SLOT]>,
}

impl<P: RingMemory, const SLOT: usize> BackRing<P, SLOT> {
    /// Entries of this ring in one page (a ring over a [`PageSpan`] has
    /// more: see `size()`).
    pub const SIZE: u32 = ring_size(SLOT);

    /// Attaches to a ring the frontend initialised: private indices start
    /// at the shared `rsp_prod` (`BACK_RING_ATTACH`), so requests already
    /// pushed are still to be consumed.
    pub fn attach(page: P) -> Self {
        const { assert!(ring_size(SLOT) > 0) };
        let start = page.load_acquire_u32_at(RSP_PROD);
        BackRing {
            size: ring_size_in(SLOT, page.ring_bytes()),
            page,
            rsp_prod_pvt: start,
            req_cons: start,
            _slot: PhantomData,
        }
    }

    /// The shared page.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Gives the page back.
    pub fn into_page(self) -> P {
        self.page
    }

    /// Entries of the ring.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Next request index to consume (`req_cons`).
    pub fn req_cons(&self) -> u32 {
        self.req_cons
    }

    /// Next response index to fill (`rsp_prod_pvt`).
    pub fn rsp_prod_pvt(&self) -> u32 {
        self.rsp_prod_pvt
    }

    /// Requests consumed and not yet answered.
    pub fn unanswered(&self) -> u32 {
        self.req_cons.wrapping_sub(self.rsp_prod_pvt)
    }

    /// Requests published by the peer and not yet consumed, limited to
    /// what the response slots can still answer
    /// (`RING_UNCONSUMED_REQUESTS`). A `req_prod` claiming more than the
    /// ring holds is the peer's fault.
    pub fn unconsumed_requests(&self) -> Result<u32, XenError> {
        let req_prod = self.page.load_acquire_u32_at(REQ_PROD);
        let reqs = req_prod.wrapping_sub(self.req_cons);
        if reqs > self.size {
            return Err(XenError::PeerMisbehaved(
                "ring: req_prod claims more requests than the ring holds",
            ));
        }
        Ok(reqs.min(self.size - self.unanswered()))
    }

    /// Takes the next request as an `E`, if one is published.
    pub fn next_request<E: RingEntry>(&mut self) -> Result<Option<E>, XenError> {
        if self.unconsumed_requests()? == 0 {
            return Ok(None);
        }
        let e = read_slot::<P, E, SLOT>(&self.page, self.req_cons, self.size)?;
        self.req_cons = self.req_cons.wrapping_add(1);
        Ok(Some(e))
    }

    /// Writes a response into the next slot (not yet visible: see
    /// [`BackRing::push_responses_and_check_notify`]). Refused with
    /// `InvalidArgument` when every consumed request is answered already.
    pub fn put_response<E: RingEntry>(&mut self, e: &E) -> Result<(), XenError> {
        if self.unanswered() == 0 {
            return Err(XenError::InvalidArgument(
                "ring: no consumed request left to answer",
            ));
        }
        write_slot::<P, E, SLOT>(&self.page, self.rsp_prod_pvt, self.size, e)?;
        self.rsp_prod_pvt = self.rsp_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// Publishes the responses put so far and says whether the peer asked
    /// to be notified (`RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`).
    pub fn push_responses_and_check_notify(&mut self) -> bool {
        let old = self.page.load_acquire_u32_at(RSP_PROD);
        let new = self.rsp_prod_pvt;
        self.page.store_release_u32_at(RSP_PROD, new);
        fence(Ordering::SeqCst);
        let event = self.page.load_acquire_u32_at(RSP_EVENT);
        passed_event(old, new, event)
    }

    /// Whether requests are waiting; if none, asks the peer to notify at
    /// the next one and checks again (`RING_FINAL_CHECK_FOR_REQUESTS`).
    pub fn final_check_for_requests(&mut self) -> Result<bool, XenError> {
        if self.unconsumed_requests()? > 0 {
            return Ok(true);
        }
        self.page
            .store_release_u32_at(REQ_EVENT, self.req_cons.wrapping_add(1));
        fence(Ordering::SeqCst);
        Ok(self.unconsumed_requests()? > 0)
    }

    /// Misbehaviour for tests of frontends: publishes `rsp_prod` as given,
    /// whatever was answered.
    pub fn publish_raw_rsp_prod(&mut self, rsp_prod: u32) {
        self.page.store_release_u32_at(RSP_PROD, rsp_prod);
    }

    /// Misbehaviour for tests of frontends: writes raw bytes into the slot
    /// for index `idx` (truncated to the slot).
    pub fn write_raw_slot(&mut self, idx: u32, bytes: &[u8]) -> Result<(), XenError> {
        let n = bytes.len().min(SLOT);
        self.page
            .write_at(slot_offset(idx, self.size, SLOT), &bytes[..n])
    }
}

#[cfg(test)]
mod sim_tests {
    //! The rings over the simulated memory, a frontend and a backend
    //! domain, as drivers use them.
    use super::tests::Rec;
    use super::*;
    use crate::services::{DomId, GrantTable, PageAllocator};
    use crate::sim::SimHypervisor;

    #[test]
    fn rings_over_granted_pages() {
        let hv = SimHypervisor::new();
        let (front, back) = (DomId(2), DomId(0));
        let page = hv.pages(front).alloc_page().unwrap();
        let gref = hv
            .grant_table(front)
            .grant_access(back, page.gfn(), false)
            .unwrap();
        let mut f = FrontRing::<_, 8>::init(page).unwrap();
        let mut b = BackRing::<_, 8>::attach(hv.map_page(back, front, gref, true).unwrap());
        f.put_request(&Rec(5)).unwrap();
        f.push_requests_and_check_notify();
        let r: Rec = b.next_request().unwrap().unwrap();
        b.put_response(&Rec(r.0 + 1)).unwrap();
        b.push_responses_and_check_notify();
        assert_eq!(f.next_response::<Rec>().unwrap(), Some(Rec(6)));
        drop(b);
        hv.grant_table(front).end_access(gref).unwrap();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec::Vec;
    use core::cell::RefCell;
    use std::rc::Rc;

    /// A page in plain memory, shared by both sides of a test through `Rc`.
    #[derive(Clone)]
    pub(crate) struct TestPage(Rc<RefCell<[u8; PAGE_SIZE]>>);

    impl TestPage {
        pub(crate) fn new() -> Self {
            TestPage(Rc::new(RefCell::new([0; PAGE_SIZE])))
        }
    }

    impl SharedPage for TestPage {
        fn gfn(&self) -> u64 {
            1
        }
        fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), XenError> {
            crate::services::check_page_range(offset, buf.len())?;
            buf.copy_from_slice(&self.0.borrow()[offset..offset + buf.len()]);
            Ok(())
        }
        fn write(&self, offset: usize, data: &[u8]) -> Result<(), XenError> {
            crate::services::check_page_range(offset, data.len())?;
            self.0.borrow_mut()[offset..offset + data.len()].copy_from_slice(data);
            Ok(())
        }
        fn load_acquire_u32(&self, offset: usize) -> u32 {
            self.read_u32(offset).unwrap()
        }
        fn store_release_u32(&self, offset: usize, value: u32) {
            self.write_u32(offset, value).unwrap()
        }
    }

    /// A 4-byte record.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Rec(pub(crate) u32);

    impl RingEntry for Rec {
        const SIZE: usize = 4;
        fn encode(&self, out: &mut [u8]) {
            out.copy_from_slice(&self.0.to_le_bytes());
        }
        fn decode(bytes: &[u8]) -> Self {
            let mut b = [0; 4];
            b.copy_from_slice(bytes);
            Rec(u32::from_le_bytes(b))
        }
    }

    fn pair(start: u32) -> (FrontRing<TestPage, 8>, BackRing<TestPage, 8>) {
        let page = TestPage::new();
        let f = FrontRing::init_at(page.clone(), start).unwrap();
        let b = BackRing::attach(page);
        (f, b)
    }

    #[test]
    fn sizes_follow_ring_h() {
        // netif tx (12-byte slots) and rx (8-byte slots) rings: 256, as
        // NET_TX_RING_SIZE / NET_RX_RING_SIZE on 4 KiB pages.
        assert_eq!(ring_size(12), 256);
        assert_eq!(ring_size(8), 256);
        // blkif (112-byte slots): 32.
        assert_eq!(ring_size(112), 32);
        assert_eq!(ring_size(4), 512);
        assert_eq!(ring_size(4032), 1);
        assert_eq!(ring_size(4033), 0);
        assert_eq!(ring_size(0), 0);
        // The header size matches the generated netif_tx_sring.
        assert_eq!(
            core::mem::offset_of!(xen_abi::netif_tx_sring, ring),
            HEADER_SIZE
        );
        assert_eq!(
            core::mem::offset_of!(xen_abi::netif_tx_sring, req_event),
            REQ_EVENT
        );
        assert_eq!(
            core::mem::offset_of!(xen_abi::netif_tx_sring, rsp_prod),
            RSP_PROD
        );
        assert_eq!(
            core::mem::offset_of!(xen_abi::netif_tx_sring, rsp_event),
            RSP_EVENT
        );
    }

    #[test]
    fn init_writes_the_header() {
        let page = TestPage::new();
        page.write(0, &[0xff; 64]).unwrap();
        let f = FrontRing::<_, 8>::init(page.clone()).unwrap();
        assert_eq!(page.read_u32(REQ_PROD).unwrap(), 0);
        assert_eq!(page.read_u32(RSP_PROD).unwrap(), 0);
        assert_eq!(page.read_u32(REQ_EVENT).unwrap(), 1);
        assert_eq!(page.read_u32(RSP_EVENT).unwrap(), 1);
        assert_eq!(page.read_u32(60).unwrap(), 0);
        assert_eq!(f.size(), 256);
        assert_eq!(f.free_requests(), 256);
    }

    #[test]
    fn requests_and_responses_flow_with_notify_hold_off() {
        let (mut f, mut b) = pair(0);
        // Fresh ring: req_event = 1, so the first push notifies.
        f.put_request(&Rec(10)).unwrap();
        assert!(f.push_requests_and_check_notify());
        // The backend has not re-armed req_event: no more notifications.
        f.put_request(&Rec(11)).unwrap();
        assert!(!f.push_requests_and_check_notify());
        assert_eq!(b.unconsumed_requests().unwrap(), 2);
        assert_eq!(b.next_request::<Rec>().unwrap(), Some(Rec(10)));
        assert_eq!(b.next_request::<Rec>().unwrap(), Some(Rec(11)));
        assert_eq!(b.next_request::<Rec>().unwrap(), None);
        // Backend goes idle: re-arms, nothing new.
        assert!(!b.final_check_for_requests().unwrap());
        b.put_response(&Rec(20)).unwrap();
        b.put_response(&Rec(21)).unwrap();
        assert!(b.put_response(&Rec(22)).is_err());
        // rsp_event = 1 from init: the frontend wants to hear.
        assert!(b.push_responses_and_check_notify());
        // Now the next request wakes the backend.
        f.put_request(&Rec(12)).unwrap();
        assert!(f.push_requests_and_check_notify());
        assert_eq!(f.next_response::<Rec>().unwrap(), Some(Rec(20)));
        // Not re-armed by the frontend: the backend need not notify.
        assert_eq!(b.next_request::<Rec>().unwrap(), Some(Rec(12)));
        b.put_response(&Rec(22)).unwrap();
        assert!(!b.push_responses_and_check_notify());
        assert!(f.final_check_for_responses().unwrap());
        assert_eq!(f.next_response::<Rec>().unwrap(), Some(Rec(21)));
        assert_eq!(f.next_response::<Rec>().unwrap(), Some(Rec(22)));
        assert!(!f.final_check_for_responses().unwrap());
        // Re-armed: the next response notifies.
        assert!(!b.final_check_for_requests().unwrap());
        f.put_request(&Rec(13)).unwrap();
        assert!(f.push_requests_and_check_notify());
        b.next_request::<Rec>().unwrap();
        b.put_response(&Rec(23)).unwrap();
        assert!(b.push_responses_and_check_notify());
        assert_eq!(f.outstanding(), 1);
    }

    #[test]
    fn full_ring_is_busy() {
        let (mut f, mut b) = pair(0);
        for i in 0..256 {
            f.put_request(&Rec(i)).unwrap();
        }
        assert!(f.is_full());
        assert!(matches!(f.put_request(&Rec(0)), Err(XenError::Busy(_))));
        f.push_requests_and_check_notify();
        for _ in 0..256 {
            b.next_request::<Rec>().unwrap().unwrap();
        }
        // All consumed, none answered: no response slot to consume into.
        assert_eq!(b.unconsumed_requests().unwrap(), 0);
        b.put_response(&Rec(1)).unwrap();
        b.push_responses_and_check_notify();
        f.next_response::<Rec>().unwrap().unwrap();
        assert_eq!(f.free_requests(), 1);
    }

    /// Many round trips across the u32 wrap of every index, with a
    /// backend that answers in bursts.
    #[test]
    fn indices_wrap_around_u32_max() {
        for start in [u32::MAX - 3, u32::MAX - 300, u32::MAX, 0x8000_0000 - 7] {
            let (mut f, mut b) = pair(start);
            let mut sent = 0u32;
            let mut got = Vec::new();
            while got.len() < 2000 {
                while f.free_requests() > 0 && sent < 2000 {
                    f.put_request(&Rec(sent)).unwrap();
                    sent += 1;
                }
                f.push_requests_and_check_notify();
                let mut burst = 0;
                while let Some(r) = b.next_request::<Rec>().unwrap() {
                    b.put_response(&Rec(r.0 ^ 0xffff)).unwrap();
                    burst += 1;
                    if burst == 37 {
                        break;
                    }
                }
                b.push_responses_and_check_notify();
                while let Some(r) = f.next_response::<Rec>().unwrap() {
                    got.push(r.0 ^ 0xffff);
                }
            }
            assert_eq!(got, (0..2000).collect::<Vec<_>>());
            assert!(f.rsp_cons().wrapping_sub(start) == 2000);
            assert!(!f.final_check_for_responses().unwrap());
        }
    }

    /// A blkif-sized ring (112-byte slots) over 1, 2, 4, 8 and 16 pages:
    /// the sizes of `__CONST_RING_SIZE(blkif, order pages)`, and entries
    /// that straddle page boundaries survive the round trip.
    #[test]
    fn multi_page_rings() {
        assert_eq!(ring_size_in(112, PAGE_SIZE), 32);
        assert_eq!(ring_size_in(112, 2 * PAGE_SIZE), 64);
        assert_eq!(ring_size_in(112, 4 * PAGE_SIZE), 128);
        assert_eq!(ring_size_in(112, 8 * PAGE_SIZE), 256);
        assert_eq!(ring_size_in(112, 16 * PAGE_SIZE), 512);
        assert_eq!(ring_size_in(112, 10), 0);
        assert!(PageSpan::new(alloc::vec![
            TestPage::new(),
            TestPage::new(),
            TestPage::new()
        ])
        .is_err());
        assert!(PageSpan::<TestPage>::new(Vec::new()).is_err());

        /// A 112-byte record: its index repeated.
        #[derive(Debug, PartialEq)]
        struct Big([u8; 112]);
        impl RingEntry for Big {
            const SIZE: usize = 112;
            fn encode(&self, out: &mut [u8]) {
                out.copy_from_slice(&self.0);
            }
            fn decode(bytes: &[u8]) -> Self {
                let mut b = [0; 112];
                b.copy_from_slice(bytes);
                Big(b)
            }
        }
        for order in 0..=4u32 {
            let pages: Vec<TestPage> = (0..1 << order).map(|_| TestPage::new()).collect();
            let shared = pages.clone();
            let mut f = FrontRing::<_, 112>::init(PageSpan::new(pages).unwrap()).unwrap();
            let mut b = BackRing::<_, 112>::attach(PageSpan::new(shared).unwrap());
            let size = 32 << order;
            assert_eq!((f.size(), b.size()), (size, size));
            for round in 0..3u32 {
                for i in 0..size {
                    let mut rec = [0u8; 112];
                    for (k, x) in rec.iter_mut().enumerate() {
                        *x = (i as usize * 7 + k + round as usize) as u8;
                    }
                    f.put_request(&Big(rec)).unwrap();
                }
                assert!(f.is_full());
                f.push_requests_and_check_notify();
                for i in 0..size {
                    let r: Big = b.next_request().unwrap().unwrap();
                    assert_eq!(r.0[5], (i as usize * 7 + 5 + round as usize) as u8);
                    b.put_response(&r).unwrap();
                }
                b.push_responses_and_check_notify();
                for i in 0..size {
                    let r: Big = f.next_response().unwrap().unwrap();
                    assert_eq!(r.0[111], (i as usize * 7 + 111 + round as usize) as u8);
                }
            }
            // The header lives in the first page only.
            let span = f.into_page();
            assert_eq!(span.pages()[0].read_u32(REQ_PROD).unwrap(), 3 * size);
            assert!(span.read_at(span.ring_bytes() - 1, &mut [0; 2]).is_err());
            assert_eq!(span.into_pages().len(), 1 << order);
        }
    }

    #[test]
    fn notify_check_across_wrap() {
        assert!(passed_event(u32::MAX, 1, 0));
        assert!(passed_event(u32::MAX - 1, u32::MAX, u32::MAX));
        assert!(!passed_event(u32::MAX - 1, u32::MAX, 2));
        assert!(passed_event(u32::MAX - 1, 3, 2));
        // Nothing pushed: never notify.
        assert!(!passed_event(5, 5, 5));
    }

    #[test]
    fn bad_peer_indices_are_errors() {
        let (mut f, mut b) = pair(u32::MAX - 1);
        f.put_request(&Rec(1)).unwrap();
        f.push_requests_and_check_notify();
        // rsp_prod beyond the requests made (also across the wrap).
        for bogus in [0, 1, 2, u32::MAX - 2, 0x1234_5678] {
            b.publish_raw_rsp_prod(bogus);
            assert!(
                matches!(f.next_response::<Rec>(), Err(XenError::PeerMisbehaved(_))),
                "{bogus:#x}"
            );
            assert!(f.final_check_for_responses().is_err());
        }
        b.publish_raw_rsp_prod(u32::MAX - 1);
        assert_eq!(f.next_response::<Rec>().unwrap(), None);
        // req_prod beyond the ring (the backend's view of a bad frontend).
        f.page()
            .store_release_u32(REQ_PROD, (u32::MAX - 1).wrapping_add(257));
        assert!(matches!(
            b.next_request::<Rec>(),
            Err(XenError::PeerMisbehaved(_))
        ));
        f.page().store_release_u32(REQ_PROD, u32::MAX - 2);
        assert!(b.unconsumed_requests().is_err());
    }

    #[test]
    fn raw_slots_decode_whatever_is_there() {
        let (mut f, mut b) = pair(0);
        f.put_request(&Rec(1)).unwrap();
        f.push_requests_and_check_notify();
        b.next_request::<Rec>().unwrap();
        b.write_raw_slot(0, &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6])
            .unwrap();
        b.publish_raw_rsp_prod(1);
        assert_eq!(f.next_response::<Rec>().unwrap(), Some(Rec(0xefbe_adde)));
    }
}
