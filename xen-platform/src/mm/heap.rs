//! The heap behind `alloc` in guests: an address-ordered first-fit free
//! list over regions handed to it (grown from frames by [`super`]), with
//! coalescing on free. No Xen header; tested on the host.

use core::alloc::Layout;
use core::ptr::NonNull;

/// Granularity and minimum alignment of heap blocks (bytes).
pub const UNIT: usize = 16;

/// A free block, stored in the free memory itself.
#[repr(C)]
struct FreeBlock {
    size: usize,
    next: Option<NonNull<FreeBlock>>,
}

const _: () = assert!(size_of::<FreeBlock>() <= UNIT && align_of::<FreeBlock>() <= UNIT);

/// A free-list heap.
pub struct Heap {
    head: Option<NonNull<FreeBlock>>,
    free_bytes: usize,
    total_bytes: usize,
}

// SAFETY: the heap owns the memory its list points into (the contract of
// `add_region`); moving it to another thread moves that ownership.
unsafe impl Send for Heap {}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

/// The block size and alignment used for `layout`.
pub fn block_layout(layout: Layout) -> (usize, usize) {
    let size = layout.size().max(1).div_ceil(UNIT) * UNIT;
    (size, layout.align().max(UNIT))
}

impl Heap {
    /// An empty heap.
    pub const fn new() -> Self {
        Self {
            head: None,
            free_bytes: 0,
            total_bytes: 0,
        }
    }

    /// Free bytes in the heap's regions.
    pub fn free_bytes(&self) -> usize {
        self.free_bytes
    }

    /// Bytes of all regions given to the heap.
    pub fn total_bytes(&self) -> usize {
        self.total_bytes
    }

    /// Gives `[start, start + size)` to the heap (trimmed to [`UNIT`]
    /// alignment).
    ///
    /// # Safety
    /// The range must be valid, writable memory that nothing else uses from
    /// now on, for as long as the heap lives, not overlapping other regions.
    pub unsafe fn add_region(&mut self, start: usize, size: usize) {
        let Some(end) = start.checked_add(size) else {
            return;
        };
        let start = start.next_multiple_of(UNIT);
        let end = end / UNIT * UNIT;
        if end <= start {
            return;
        }
        self.total_bytes += end - start;
        // SAFETY: the range is the heap's now (caller), UNIT-aligned and a
        // multiple of UNIT long.
        unsafe { self.insert(start, end - start) };
    }

    /// Allocates a block for `layout`; `None` when no free block fits.
    pub fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let (size, align) = block_layout(layout);
        let mut prev: *mut Option<NonNull<FreeBlock>> = &raw mut self.head;
        // SAFETY: every node in the list lies in memory the heap owns
        // (`add_region`'s contract) and was written by `insert`/`alloc` as a
        // valid `FreeBlock`; blocks are UNIT-aligned, so the splits written
        // below are aligned and lie inside the block being split.
        unsafe {
            while let Some(blk) = *prev {
                let b = blk.as_ptr() as usize;
                let bsize = (*blk.as_ptr()).size;
                let a = b.checked_next_multiple_of(align)?;
                let fits = a
                    .checked_add(size)
                    .filter(|&end| end <= b + bsize)
                    .is_some();
                if !fits {
                    prev = &raw mut (*blk.as_ptr()).next;
                    continue;
                }
                let front = a - b;
                let back = b + bsize - (a + size);
                let next = (*blk.as_ptr()).next;
                let tail = if back > 0 {
                    let t = (a + size) as *mut FreeBlock;
                    t.write(FreeBlock { size: back, next });
                    Some(NonNull::new_unchecked(t))
                } else {
                    next
                };
                if front == 0 {
                    *prev = tail;
                } else {
                    (*blk.as_ptr()).size = front;
                    (*blk.as_ptr()).next = tail;
                }
                self.free_bytes -= size;
                return Some(NonNull::new_unchecked(a as *mut u8));
            }
        }
        None
    }

    /// Returns a block to the heap.
    ///
    /// # Safety
    /// `ptr` must come from [`Heap::alloc`] of this heap with the same
    /// `layout`, and not be freed already.
    pub unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) {
        let (size, _) = block_layout(layout);
        // SAFETY: the block was allocated from this heap (caller), so it is
        // heap memory, UNIT-aligned, `size` long and not in the free list.
        unsafe { self.insert(ptr.as_ptr() as usize, size) };
    }

    /// Puts `[addr, addr + size)` into the address-ordered free list,
    /// merging with its neighbours.
    ///
    /// # Safety
    /// The range is heap memory, UNIT-aligned and UNIT-sized, not in the
    /// free list.
    unsafe fn insert(&mut self, addr: usize, size: usize) {
        self.free_bytes += size;
        let mut prev_blk: Option<NonNull<FreeBlock>> = None;
        let mut cur = self.head;
        // SAFETY: list nodes are valid `FreeBlock`s in heap memory (see
        // `alloc`); the new node is written into the freed range, which the
        // caller hands over.
        unsafe {
            while let Some(c) = cur {
                if c.as_ptr() as usize > addr {
                    break;
                }
                prev_blk = Some(c);
                cur = (*c.as_ptr()).next;
            }
            debug_assert!(cur.is_none_or(|n| addr + size <= n.as_ptr() as usize));
            let merged = match prev_blk {
                Some(p) if p.as_ptr() as usize + (*p.as_ptr()).size == addr => {
                    (*p.as_ptr()).size += size;
                    p
                }
                _ => {
                    let n = addr as *mut FreeBlock;
                    n.write(FreeBlock { size, next: cur });
                    let n = NonNull::new_unchecked(n);
                    match prev_blk {
                        Some(p) => (*p.as_ptr()).next = Some(n),
                        None => self.head = Some(n),
                    }
                    n
                }
            };
            if let Some(next) = cur {
                let m = merged.as_ptr();
                if m as usize + (*m).size == next.as_ptr() as usize {
                    (*m).size += (*next.as_ptr()).size;
                    (*m).next = (*next.as_ptr()).next;
                }
            }
        }
    }

    /// Number of free blocks (for tests and diagnostics).
    pub fn free_blocks(&self) -> usize {
        let mut n = 0;
        let mut cur = self.head;
        while let Some(c) = cur {
            n += 1;
            // SAFETY: list nodes are valid `FreeBlock`s (see `alloc`).
            cur = unsafe { (*c.as_ptr()).next };
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A heap over a leaked, 4 KiB-aligned buffer of `pages` pages.
    fn heap(pages: usize) -> (Heap, usize) {
        let layout = Layout::from_size_align(pages * 4096, 4096).unwrap();
        // SAFETY: non-zero size.
        let mem = unsafe { std::alloc::alloc(layout) };
        assert!(!mem.is_null());
        let mut h = Heap::new();
        // SAFETY: freshly allocated, leaked for the test's lifetime, used by
        // nothing else.
        unsafe { h.add_region(mem as usize, pages * 4096) };
        (h, mem as usize)
    }

    fn l(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn alloc_split_and_coalesce() {
        let (mut h, base) = heap(1);
        assert_eq!(h.free_bytes(), 4096);
        let a = h.alloc(l(10, 1)).unwrap();
        let b = h.alloc(l(100, 8)).unwrap();
        let c = h.alloc(l(16, 16)).unwrap();
        assert_eq!(a.as_ptr() as usize, base);
        assert_eq!(b.as_ptr() as usize, base + 16);
        assert_eq!(c.as_ptr() as usize, base + 16 + 112);
        assert_eq!(h.free_bytes(), 4096 - 16 - 112 - 16);
        // SAFETY: each pointer came from `alloc` with the same layout, freed once.
        unsafe {
            h.dealloc(b, l(100, 8));
            assert_eq!(h.free_blocks(), 2);
            h.dealloc(a, l(10, 1));
            assert_eq!(h.free_blocks(), 2); // a merged with b's hole
            h.dealloc(c, l(16, 16));
        }
        assert_eq!(h.free_blocks(), 1);
        assert_eq!(h.free_bytes(), 4096);
        // The whole region is one block again.
        assert!(h.alloc(l(4096, 4096)).is_some());
        assert!(h.alloc(l(1, 1)).is_none());
    }

    #[test]
    fn alignment_leaves_front_gap_free() {
        let (mut h, base) = heap(2);
        let small = h.alloc(l(16, 16)).unwrap();
        let page = h.alloc(l(4096, 4096)).unwrap();
        assert_eq!(page.as_ptr() as usize, base + 4096);
        assert_eq!(h.free_bytes(), 8192 - 16 - 4096);
        // The gap before the page is still usable.
        let gap = h.alloc(l(4000, 16)).unwrap();
        assert_eq!(gap.as_ptr() as usize, base + 16);
        // SAFETY: pointers from `alloc` with the same layouts, freed once.
        unsafe {
            h.dealloc(page, l(4096, 4096));
            h.dealloc(small, l(16, 16));
            h.dealloc(gap, l(4000, 16));
        }
        assert_eq!(h.free_blocks(), 1);
        assert_eq!(h.free_bytes(), 8192);
    }

    #[test]
    fn exhaustion_is_none_and_many_blocks_round_trip() {
        let (mut h, _) = heap(4);
        let mut v = Vec::new();
        while let Some(p) = h.alloc(l(48, 8)) {
            v.push(p);
        }
        assert_eq!(v.len(), 4 * 4096 / 48);
        assert!(h.free_bytes() < 48);
        // Free every other block, then the rest, in reverse.
        for p in v.iter().step_by(2) {
            // SAFETY: from `alloc`, same layout, freed once.
            unsafe { h.dealloc(*p, l(48, 8)) };
        }
        for p in v.iter().skip(1).step_by(2).rev() {
            // SAFETY: from `alloc`, same layout, freed once.
            unsafe { h.dealloc(*p, l(48, 8)) };
        }
        assert_eq!(h.free_blocks(), 1);
        assert_eq!(h.free_bytes(), 4 * 4096);
    }

    #[test]
    fn regions_merge_and_bad_regions_are_ignored() {
        let mut h = Heap::new();
        let layout = l(8192, 4096);
        // SAFETY: non-zero size.
        let mem = unsafe { std::alloc::alloc(layout) } as usize;
        // SAFETY: leaked buffer owned by this heap; the halves are disjoint.
        unsafe {
            h.add_region(mem + 4096, 4096);
            h.add_region(mem, 4096);
            h.add_region(usize::MAX - 4, 10);
            h.add_region(mem, 8);
        }
        assert_eq!(h.free_blocks(), 1);
        assert_eq!(h.total_bytes(), 8192);
        assert!(h.alloc(l(8192, 16)).is_some());
    }
}
