//! Grant table v1 (`grant_table.h`): the guest's table of `grant_entry_v1`
//! (`{flags: u16, domid: u16, frame: u32}`), handing out grant references
//! and ending access safely while the peer may still map the frame.
//!
//! [`XenGrantTable`] works over any memory holding the entries, so its logic
//! is tested on the host over a plain array; on the guest, [`grant_table`]
//! queries the table size (`GNTTABOP_query_size`) and maps the grant frames
//! with `XENMEM_add_to_physmap` (`XENMAPSPACE_grant_table`) at guest frames
//! taken from the frame allocator (PVH guests choose where).
//!
//! A frame must not be reused (freed, or granted again for other data) while
//! it is granted: callers free a granted frame only after
//! [`GrantTable::end_access`] returned `Ok`.

use crate::error::{MemError, XenError};
use crate::services::{DomId, GrantRef, GrantTable};
use alloc::vec::Vec;
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU16, Ordering};
use xen_abi::{
    grant_entry_v1, GTF_permit_access, GTF_reading, GTF_readonly, GTF_writing,
    GNTTAB_NR_RESERVED_ENTRIES,
};

/// Entries of a grant table v1 frame.
pub const ENTRIES_PER_FRAME: u32 = 4096 / size_of::<grant_entry_v1>() as u32;
/// Flag bits Xen sets while the peer has the grant mapped.
const IN_USE: u16 = (GTF_reading | GTF_writing) as u16;

/// Which references are free and which are live.
struct RefState {
    /// Free references (a stack).
    free: Vec<u32>,
    /// `live[r]`: reference `r` is granted.
    live: Vec<bool>,
    live_count: usize,
}

/// A grant table v1 over shared entries; references below
/// `GNTTAB_NR_RESERVED_ENTRIES` (the toolstack's) are never handed out.
pub struct XenGrantTable {
    entries: NonNull<grant_entry_v1>,
    len: u32,
    state: spin::Mutex<RefState>,
}

// SAFETY: the entries are only touched through volatile writes of entries
// owned by one reference (handed out under the lock) and atomic flag
// operations; the reference bookkeeping is behind the lock.
unsafe impl Sync for XenGrantTable {}
// SAFETY: as above; the table memory is not tied to a thread.
unsafe impl Send for XenGrantTable {}

impl XenGrantTable {
    /// A table over `len` entries at `entries`.
    ///
    /// # Safety
    /// `entries` must point at `len` valid, 4-byte aligned `grant_entry_v1`
    /// that live for as long as the table and are written by nobody else
    /// but Xen (the flag bits it owns) for references this table hands out.
    pub unsafe fn from_raw(entries: NonNull<grant_entry_v1>, len: u32) -> Result<Self, XenError> {
        let first = GNTTAB_NR_RESERVED_ENTRIES;
        let mut free = Vec::new();
        let mut live = Vec::new();
        free.try_reserve_exact(len.saturating_sub(first) as usize)
            .map_err(|_| MemError::OutOfMemory)?;
        live.try_reserve_exact(len as usize)
            .map_err(|_| MemError::OutOfMemory)?;
        // Lowest references on top of the stack.
        free.extend((first..len).rev());
        live.resize(len as usize, false);
        Ok(Self {
            entries,
            len,
            state: spin::Mutex::new(RefState {
                free,
                live,
                live_count: 0,
            }),
        })
    }

    /// Number of entries (including the reserved ones).
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Pointer to entry `r` (`r < len`).
    fn entry(&self, r: u32) -> *mut grant_entry_v1 {
        debug_assert!(r < self.len);
        // SAFETY: `r < len` (callers check), inside the entries array.
        unsafe { self.entries.as_ptr().add(r as usize) }
    }

    /// The flags of entry `r` as an atomic (Xen updates them concurrently).
    fn flags(&self, r: u32) -> &AtomicU16 {
        // SAFETY: the entry is valid for the table's lifetime (from_raw's
        // contract); `flags` is a 2-byte aligned u16 at offset 0; all
        // accesses to it from this side are atomic.
        unsafe { AtomicU16::from_ptr(&raw mut (*self.entry(r)).flags) }
    }
}

impl GrantTable for XenGrantTable {
    fn grant_access(&self, domid: DomId, gfn: u64, readonly: bool) -> Result<GrantRef, XenError> {
        let frame = u32::try_from(gfn)
            .map_err(|_| XenError::InvalidArgument("gfn does not fit a v1 grant entry"))?;
        let mut st = self.state.lock();
        let r = st
            .free
            .pop()
            .ok_or(XenError::Busy("no free grant references"))?;
        st.live[r as usize] = true;
        st.live_count += 1;
        let e = self.entry(r);
        // SAFETY: reference `r` was free, so Xen ignores the entry (no
        // GTF_permit_access) and nobody else writes it; the fields are
        // aligned.
        unsafe {
            (&raw mut (*e).frame).write_volatile(frame);
            (&raw mut (*e).domid).write_volatile(domid.0);
        }
        // Frame and domid must be visible before the flags enable the entry.
        fence(Ordering::Release);
        let mut flags = GTF_permit_access as u16;
        if readonly {
            flags |= GTF_readonly as u16;
        }
        self.flags(r).store(flags, Ordering::Release);
        Ok(GrantRef(r))
    }

    fn end_access(&self, gref: GrantRef) -> Result<(), XenError> {
        let r = gref.0;
        let mut st = self.state.lock();
        if r >= self.len || !st.live[r as usize] {
            return Err(XenError::InvalidArgument("grant reference is not granted"));
        }
        let flags = self.flags(r);
        let mut cur = flags.load(Ordering::Acquire);
        loop {
            if cur & IN_USE != 0 {
                return Err(XenError::Busy("grant still mapped by the peer"));
            }
            // Only clear the entry if Xen did not start a mapping meanwhile.
            match flags.compare_exchange(cur, 0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        st.live[r as usize] = false;
        st.live_count -= 1;
        st.free.push(r);
        Ok(())
    }

    fn live_grants(&self) -> usize {
        self.state.lock().live_count
    }
}

#[cfg(target_os = "none")]
pub use machine::grant_table;

#[cfg(target_os = "none")]
mod machine {
    use super::*;
    use crate::arch::x86_64::hypercall::{hypercall5, ready};
    use crate::mm;
    use xen_abi as abi;

    /// Most grant frames mapped (512 entries each).
    const MAX_FRAMES: u32 = 8;

    static TABLE: spin::Once<XenGrantTable> = spin::Once::new();

    /// `GNTTABOP_query_size` for this domain: `(nr_frames, max_nr_frames)`.
    fn query_size() -> Result<(u32, u32), XenError> {
        const OP: &str = "grant_table_op(GNTTABOP_query_size)";
        let mut q = abi::gnttab_query_size {
            dom: abi::DOMID_SELF as _,
            ..Default::default()
        };
        if !ready() {
            return Err(XenError::Hypercall {
                op: OP,
                errno: abi::XEN_ENOSYS,
            });
        }
        // SAFETY: the hypercall page is installed (checked); `q` is a live
        // `gnttab_query_size` for the duration of the call (count 1); the
        // operation only writes `q`.
        let ret = unsafe {
            hypercall5(
                abi::__HYPERVISOR_grant_table_op,
                abi::GNTTABOP_query_size as u64,
                (&raw mut q) as u64,
                1,
                0,
                0,
            )
        };
        XenError::check(OP, ret)?;
        if q.status != abi::GNTST_okay as i16 {
            return Err(XenError::Hypercall {
                op: OP,
                errno: u32::from(q.status.unsigned_abs()),
            });
        }
        Ok((q.nr_frames, q.max_nr_frames))
    }

    fn init() -> Result<XenGrantTable, XenError> {
        let (_nr, max) = query_size()?;
        let nr = max.min(MAX_FRAMES);
        if nr == 0 {
            return Err(XenError::PeerMisbehaved("grant table has no frames"));
        }
        let frames = mm::try_alloc_frames(nr as usize)?;
        for i in 0..nr {
            // SAFETY: the frames were just allocated for the grant table and
            // nothing references them; they stay allocated forever (leaked
            // below), as the grant frames now live there.
            unsafe {
                crate::hypercall::add_to_physmap(
                    abi::XENMAPSPACE_grant_table,
                    u64::from(i),
                    frames.gfn() + u64::from(i),
                )?
            };
        }
        let base = frames.leak();
        let entries = NonNull::new(base as *mut grant_entry_v1)
            .ok_or(XenError::PeerMisbehaved("grant table at address 0"))?;
        // SAFETY: `nr` grant frames are mapped contiguously at `base`
        // (identity-mapped), for good; only this table and Xen use them.
        unsafe { XenGrantTable::from_raw(entries, nr * ENTRIES_PER_FRAME) }
    }

    /// The domain's grant table, set up on first use (query the size, map
    /// up to 8 frames = 4096 entries).
    pub fn grant_table() -> Result<&'static XenGrantTable, XenError> {
        TABLE.try_call_once(init)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table over a leaked array; the test sees the entries only through
    /// the returned pointer, like Xen.
    fn table(len: u32) -> (XenGrantTable, Mem) {
        let mem = Box::into_raw(vec![grant_entry_v1::default(); len as usize].into_boxed_slice());
        let ptr = NonNull::new(mem.cast::<grant_entry_v1>()).unwrap();
        // SAFETY: leaked, aligned array of `len` entries; the test only
        // reads it and plays Xen on the flag bits through atomics.
        let t = unsafe { XenGrantTable::from_raw(ptr, len) }.unwrap();
        (t, Mem(ptr, len))
    }

    /// The entries as Xen sees them.
    struct Mem(NonNull<grant_entry_v1>, u32);

    impl Mem {
        fn get(&self, r: u32) -> grant_entry_v1 {
            assert!(r < self.1);
            // SAFETY: in bounds of the leaked array; a plain copy.
            unsafe { self.0.as_ptr().add(r as usize).read_volatile() }
        }

        /// Plays Xen: sets or clears flag bits of entry `r` atomically.
        fn xen_flags(&self, r: u32, set: u16, clear: u16) {
            assert!(r < self.1);
            // SAFETY: in bounds of the leaked array; flags are accessed
            // atomically by both sides.
            let a =
                unsafe { AtomicU16::from_ptr(&raw mut (*self.0.as_ptr().add(r as usize)).flags) };
            a.fetch_or(set, Ordering::AcqRel);
            a.fetch_and(!clear, Ordering::AcqRel);
        }
    }

    #[test]
    fn grant_writes_entry_and_skips_reserved_refs() {
        let (t, mem) = table(16);
        let g = t.grant_access(DomId(0), 0x1234, false).unwrap();
        assert_eq!(g, GrantRef(GNTTAB_NR_RESERVED_ENTRIES));
        let e = mem.get(g.0);
        assert_eq!(e.frame, 0x1234);
        assert_eq!(e.domid, 0);
        assert_eq!(e.flags, GTF_permit_access as u16);
        let r = t.grant_access(DomId(7), 0x55, true).unwrap();
        assert_eq!(r, GrantRef(GNTTAB_NR_RESERVED_ENTRIES + 1));
        assert_eq!(
            mem.get(r.0).flags,
            (GTF_permit_access | GTF_readonly) as u16
        );
        assert_eq!(mem.get(r.0).domid, 7);
        assert_eq!(t.live_grants(), 2);
        assert!((0..8).all(|r| mem.get(r).flags == 0));
    }

    #[test]
    fn end_access_is_busy_while_mapped() {
        let (t, mem) = table(16);
        let g = t.grant_access(DomId(0), 42, false).unwrap();
        mem.xen_flags(g.0, GTF_writing as u16, 0);
        assert!(matches!(t.end_access(g), Err(XenError::Busy(_))));
        assert_eq!(t.live_grants(), 1);
        // The entry stays valid.
        assert_eq!(mem.get(g.0).flags, (GTF_permit_access | GTF_writing) as u16);
        mem.xen_flags(g.0, GTF_reading as u16, GTF_writing as u16);
        assert!(matches!(t.end_access(g), Err(XenError::Busy(_))));
        mem.xen_flags(g.0, 0, GTF_reading as u16);
        assert_eq!(t.end_access(g), Ok(()));
        assert_eq!(mem.get(g.0).flags, 0);
        assert_eq!(t.live_grants(), 0);
        // Ending twice, or a reference never granted, is the caller's error.
        assert!(matches!(t.end_access(g), Err(XenError::InvalidArgument(_))));
        assert!(matches!(
            t.end_access(GrantRef(3)),
            Err(XenError::InvalidArgument(_))
        ));
        assert!(matches!(
            t.end_access(GrantRef(99)),
            Err(XenError::InvalidArgument(_))
        ));
    }

    #[test]
    fn exhaustion_and_reuse() {
        let (t, _mem) = table(12);
        let refs: Vec<_> = (0..4)
            .map(|i| t.grant_access(DomId(1), i, false).unwrap())
            .collect();
        assert!(matches!(
            t.grant_access(DomId(1), 9, false),
            Err(XenError::Busy(_))
        ));
        assert!(matches!(
            t.grant_access(DomId(1), 1 << 32, false),
            Err(XenError::InvalidArgument(_))
        ));
        t.end_access(refs[2]).unwrap();
        assert_eq!(t.grant_access(DomId(1), 9, false), Ok(refs[2]));
        for r in refs {
            t.end_access(r).unwrap();
        }
        assert_eq!(t.live_grants(), 0);
        assert_eq!(t.len(), 12);
        assert_eq!(ENTRIES_PER_FRAME, 512);
    }
}
