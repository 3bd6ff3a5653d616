//! Pages shared with a peer on Xen: [`SharedPage`] and [`PageAllocator`]
//! over single frames of the frame allocator ([`super::try_alloc_frames`]),
//! identity-mapped, so a page's address is `gfn << 12`.
//!
//! The peer (a backend in another domain) may write the page at any time.
//! Byte copies therefore go through volatile accesses (the compiler may not
//! assume the memory is unchanged, nor merge or split the reads), and ring
//! indices through atomics.

use core::cell::Cell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU32, Ordering};

use super::{try_alloc_frames, Frames};
use crate::error::XenError;
use crate::services::{check_page_range, PageAllocator, SharedPage, PAGE_SIZE};

/// One zeroed frame from the frame allocator, freed on drop.
///
/// A page granted to a peer must be dropped only after the grant's
/// `end_access` returned `Ok`. It may move between threads but not be
/// shared by them (`!Sync`): the byte copies are not atomic, so two threads
/// of this domain must not write it at once (wrap its owner in a lock).
#[derive(Debug)]
pub struct XenPage {
    frames: Frames,
    _not_sync: PhantomData<Cell<()>>,
}

impl XenPage {
    /// The first byte of the page.
    fn base(&self) -> *mut u8 {
        self.frames.as_mut_ptr()
    }

    /// The u32 at `offset` as an atomic.
    fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        assert!(
            offset % 4 == 0 && offset + 4 <= PAGE_SIZE,
            "shared page: bad atomic offset {offset}"
        );
        // SAFETY: `offset` is 4-aligned and inside the page (asserted), the
        // page is 4096-aligned, allocated to this `XenPage` and mapped for
        // as long as `&self` lives; the u32s used as ring indices are only
        // accessed atomically by this domain.
        unsafe { AtomicU32::from_ptr(self.base().add(offset).cast::<u32>()) }
    }
}

impl SharedPage for XenPage {
    fn gfn(&self) -> u64 {
        self.frames.gfn()
    }

    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), XenError> {
        check_page_range(offset, buf.len())?;
        let base = self.base();
        let mut i = 0;
        // Bytes up to an 8-byte boundary, then words, then the tail.
        while i < buf.len() && (offset + i) % 8 != 0 {
            // SAFETY: `offset + i < offset + buf.len() <= PAGE_SIZE`
            // (checked): inside the page, which `&self` keeps allocated.
            buf[i] = unsafe { base.add(offset + i).read_volatile() };
            i += 1;
        }
        while i + 8 <= buf.len() {
            // SAFETY: `offset + i` is 8-aligned and `offset + i + 8 <=
            // PAGE_SIZE` (checked): an aligned u64 inside the page.
            let word = unsafe { base.add(offset + i).cast::<u64>().read_volatile() };
            buf[i..i + 8].copy_from_slice(&word.to_ne_bytes());
            i += 8;
        }
        while i < buf.len() {
            // SAFETY: inside the page, as above.
            buf[i] = unsafe { base.add(offset + i).read_volatile() };
            i += 1;
        }
        Ok(())
    }

    fn write(&self, offset: usize, data: &[u8]) -> Result<(), XenError> {
        check_page_range(offset, data.len())?;
        let base = self.base();
        let mut i = 0;
        while i < data.len() && (offset + i) % 8 != 0 {
            // SAFETY: `offset + i < offset + data.len() <= PAGE_SIZE`
            // (checked): inside the page, which `&self` keeps allocated.
            unsafe { base.add(offset + i).write_volatile(data[i]) };
            i += 1;
        }
        while i + 8 <= data.len() {
            let mut word = [0; 8];
            word.copy_from_slice(&data[i..i + 8]);
            // SAFETY: `offset + i` is 8-aligned and `offset + i + 8 <=
            // PAGE_SIZE` (checked): an aligned u64 inside the page.
            unsafe {
                base.add(offset + i)
                    .cast::<u64>()
                    .write_volatile(u64::from_ne_bytes(word))
            };
            i += 8;
        }
        while i < data.len() {
            // SAFETY: inside the page, as above.
            unsafe { base.add(offset + i).write_volatile(data[i]) };
            i += 1;
        }
        Ok(())
    }

    fn load_acquire_u32(&self, offset: usize) -> u32 {
        self.atomic_u32(offset).load(Ordering::Acquire)
    }

    fn store_release_u32(&self, offset: usize, value: u32) {
        self.atomic_u32(offset).store(value, Ordering::Release)
    }
}

/// [`PageAllocator`] on Xen: single zeroed frames from the frame allocator.
#[derive(Debug, Default, Clone, Copy)]
pub struct XenPageAllocator;

impl PageAllocator for XenPageAllocator {
    type Page = XenPage;

    fn alloc_page(&self) -> Result<XenPage, XenError> {
        Ok(XenPage {
            frames: try_alloc_frames(1)?,
            _not_sync: PhantomData,
        })
    }
}
