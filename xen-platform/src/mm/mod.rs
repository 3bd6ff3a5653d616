//! Memory of a PVH guest: the frame allocator over the PVH memory map
//! (`arch-x86/hvm/start_info.h`), the global heap behind `alloc`, thread
//! stacks with unmapped guard pages, and pages shared with peers
//! (`shared`, the drivers' [`crate::services::PageAllocator`]).
//!
//! The pure parts ([`frames`], [`heap`], [`paging`] index math) build and are
//! tested on the host; the global state lives only in guests.
//!
//! Out of memory is an error callers can handle: frames come from
//! [`try_alloc_frames`] (an `Err(MemError::OutOfMemory)` when none are
//! left); for heap collections, `Vec::try_reserve` (and
//! `String::try_reserve`, ...) is the fallible path. The infallible `alloc`
//! APIs (`Box::new`, `Vec::push`) panic when the heap cannot grow.
//!
//! Only frames below 4 GiB are used (the boot identity map covers
//! 0..4 GiB); the low 1 MiB, the image, and the loader's command line and
//! memory map (which [`crate::BootInfo`] keeps referencing) are never handed
//! out. Heap memory is not given back to the frame allocator.

pub mod frames;
pub mod heap;
pub mod paging;
#[cfg(target_os = "none")]
pub mod shared;
#[cfg(target_os = "none")]
pub mod stack;

pub use crate::error::MemError;
pub use frames::FRAME_SIZE;

/// Lowest address handed out: the first 1 MiB (real-mode area, BIOS/ACPI
/// leftovers, page 0) is never used.
pub const LOW_RESERVED: u64 = 1 << 20;
/// First address not covered by the boot identity map.
pub const IDENTITY_MAP_END: u64 = 1 << 32;

/// The part of the RAM region `[addr, addr + size)` that the allocator may
/// use: clipped to `[LOW_RESERVED, IDENTITY_MAP_END)`, as `(addr, size)`.
pub fn clip_ram(addr: u64, size: u64) -> Option<(u64, u64)> {
    let start = addr.max(LOW_RESERVED);
    let end = addr.saturating_add(size).min(IDENTITY_MAP_END);
    (end > start).then(|| (start, end - start))
}

/// Memory figures from [`stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemStats {
    /// Bytes free: free frames plus free heap bytes.
    pub free_bytes: u64,
    /// Bytes in use: frames handed out (heap, stacks, page tables, drivers)
    /// minus the free part of the heap.
    pub used_bytes: u64,
}

#[cfg(target_os = "none")]
pub use machine::*;

#[cfg(target_os = "none")]
mod machine {
    use super::frames::FrameBitmap;
    use super::heap::{self, Heap};
    use super::*;
    use crate::start_info::MemoryMap;
    use core::alloc::{GlobalAlloc, Layout};
    use core::ptr::{self, NonNull};
    use core::sync::atomic::{AtomicU64, Ordering};

    /// Words of the frame bitmap: one bit per frame below 4 GiB.
    const WORDS: usize = (IDENTITY_MAP_END / FRAME_SIZE / 64) as usize;
    /// The heap grows by at least this many bytes at a time.
    const HEAP_GROW_MIN: usize = 64 * 1024;

    /// The frame allocator (lock order: page tables, then heap, then this).
    static FRAMES: spin::Mutex<FrameBitmap<WORDS>> = spin::Mutex::new(FrameBitmap::new());
    static HEAP: spin::Mutex<Heap> = spin::Mutex::new(Heap::new());
    /// Bytes usable at init (0 before `init`).
    static TOTAL: AtomicU64 = AtomicU64::new(0);

    /// Interrupts off while a memory lock is held (restored on drop), so
    /// that event upcall handlers may allocate too without deadlocking on a
    /// lock their own vCPU holds.
    pub(crate) struct IrqOff(bool);

    impl IrqOff {
        pub(crate) fn new() -> Self {
            let rflags: u64;
            // SAFETY: reads RFLAGS through the stack and clears IF; the
            // guest runs in ring 0 and `Drop` restores IF.
            unsafe { core::arch::asm!("pushfq", "pop {}", "cli", out(reg) rflags) };
            IrqOff(rflags & (1 << 9) != 0)
        }
    }

    impl Drop for IrqOff {
        fn drop(&mut self) {
            if self.0 {
                // SAFETY: interrupts were enabled when this guard was made;
                // re-enabling them restores that state.
                unsafe { core::arch::asm!("sti", options(nomem, nostack)) };
            }
        }
    }

    unsafe extern "C" {
        static __image_start: u8;
        static __image_end: u8;
    }

    /// Fills the frame allocator from the memory map: RAM below 4 GiB,
    /// minus the low 1 MiB, the image, and the loader's command line and
    /// memory map (kept by [`crate::BootInfo`]). Called once by the start
    /// code before the guest's `main`.
    pub(crate) fn init(map: &MemoryMap<'_>, cmdline: &str) {
        let _irq = IrqOff::new();
        let mut f = FRAMES.lock();
        for (addr, size) in map.ram_regions() {
            if let Some((a, s)) = clip_ram(addr, size) {
                f.add_free_bytes(a, s);
            }
        }
        let start = (&raw const __image_start) as u64;
        let end = (&raw const __image_end) as u64;
        f.reserve_bytes(start, end - start);
        let entries = map.entries();
        f.reserve_bytes(entries.as_ptr() as u64, size_of_val(entries) as u64);
        // The command line and its NUL.
        f.reserve_bytes(cmdline.as_ptr() as u64, cmdline.len() as u64 + 1);
        TOTAL.store(f.free_frames() as u64 * FRAME_SIZE, Ordering::Release);
    }

    /// Free frames (4 KiB each) in the frame allocator.
    pub fn free_frames() -> usize {
        let _irq = IrqOff::new();
        FRAMES.lock().free_frames()
    }

    /// Free and used bytes (frames and heap together).
    pub fn stats() -> MemStats {
        let _irq = IrqOff::new();
        let heap_free = HEAP.lock().free_bytes() as u64;
        let frames_free = FRAMES.lock().free_frames() as u64 * FRAME_SIZE;
        let total = TOTAL.load(Ordering::Acquire);
        let free_bytes = frames_free + heap_free;
        MemStats {
            free_bytes,
            used_bytes: total.saturating_sub(free_bytes),
        }
    }

    /// Contiguous, zeroed, identity-mapped frames, freed on drop.
    ///
    /// A frame that was granted to a peer must only be freed (dropped)
    /// after the grant's `end_access` returned `Ok`.
    #[derive(Debug)]
    pub struct Frames {
        paddr: u64,
        count: usize,
    }

    impl Frames {
        /// Guest-physical (and, identity-mapped, virtual) address of the
        /// first frame.
        pub fn paddr(&self) -> u64 {
            self.paddr
        }

        /// Guest frame number of the first frame.
        pub fn gfn(&self) -> u64 {
            self.paddr / FRAME_SIZE
        }

        /// Number of frames.
        pub fn count(&self) -> usize {
            self.count
        }

        /// Pointer to the memory (`count * 4096` bytes).
        pub fn as_mut_ptr(&self) -> *mut u8 {
            self.paddr as *mut u8
        }

        /// The memory as bytes (`count * 4096`). A peer the frames are
        /// granted to may change them at any time: treat what is read as
        /// untrusted.
        pub fn as_mut_slice(&mut self) -> &mut [u8] {
            // SAFETY: the frames are allocated to this `Frames` alone,
            // identity-mapped and `count * 4096` bytes long; `&mut self`
            // makes the slice the only Rust view while it lives.
            unsafe {
                core::slice::from_raw_parts_mut(
                    self.paddr as *mut u8,
                    self.count * FRAME_SIZE as usize,
                )
            }
        }

        /// Keeps the frames allocated forever; returns their address.
        pub fn leak(self) -> u64 {
            let p = self.paddr;
            core::mem::forget(self);
            p
        }
    }

    impl Drop for Frames {
        fn drop(&mut self) {
            // Only fails for frames that are not allocated, which a `Frames`
            // never holds.
            let _irq = IrqOff::new();
            let _ = FRAMES.lock().free(self.paddr / FRAME_SIZE, self.count);
        }
    }

    fn alloc_raw(n: usize) -> Result<u64, MemError> {
        if TOTAL.load(Ordering::Acquire) == 0 {
            return Err(MemError::NotInitialised);
        }
        let first = {
            let _irq = IrqOff::new();
            FRAMES.lock().alloc(n)?
        };
        let paddr = first * FRAME_SIZE;
        // SAFETY: the frames were just allocated to us (so nothing else uses
        // them) and are RAM below 4 GiB, identity-mapped.
        unsafe { ptr::write_bytes(paddr as *mut u8, 0, n * FRAME_SIZE as usize) };
        Ok(paddr)
    }

    /// Allocates `n` contiguous zeroed frames; `Err(MemError::OutOfMemory)`
    /// when there are not enough.
    pub fn try_alloc_frames(n: usize) -> Result<Frames, MemError> {
        Ok(Frames {
            paddr: alloc_raw(n)?,
            count: n,
        })
    }

    /// One zeroed frame for a page table (never freed).
    pub(crate) fn alloc_frame_for_tables() -> Result<u64, MemError> {
        alloc_raw(1)
    }

    /// The `#[global_allocator]` of guests: [`Heap`] grown from frames.
    struct GlobalHeap;

    // SAFETY: blocks come from `Heap`, which hands out each byte at most
    // once until it is freed; regions added to it are frames allocated to
    // the heap for good. The spin lock serialises access, with interrupts
    // off so that upcall handlers may allocate too.
    unsafe impl GlobalAlloc for GlobalHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _irq = IrqOff::new();
            let mut h = HEAP.lock();
            if let Some(p) = h.alloc(layout) {
                return p.as_ptr();
            }
            let (size, align) = heap::block_layout(layout);
            let Some(need) = size.checked_add(align) else {
                return ptr::null_mut();
            };
            let bytes = need
                .max(HEAP_GROW_MIN)
                .next_multiple_of(FRAME_SIZE as usize);
            let Ok(paddr) = alloc_raw(bytes / FRAME_SIZE as usize) else {
                return ptr::null_mut();
            };
            // SAFETY: the frames were just allocated for the heap and are
            // never freed; identity-mapped RAM.
            unsafe { h.add_region(paddr as usize, bytes) };
            h.alloc(layout).map_or(ptr::null_mut(), NonNull::as_ptr)
        }

        unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
            if let Some(p) = NonNull::new(p) {
                let _irq = IrqOff::new();
                // SAFETY: `p` came from `alloc` with this layout
                // (GlobalAlloc's contract).
                unsafe { HEAP.lock().dealloc(p, layout) };
            }
        }
    }

    #[global_allocator]
    static GLOBAL: GlobalHeap = GlobalHeap;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_is_clipped_to_usable_window() {
        assert_eq!(clip_ram(0, 0x9fc00), None);
        assert_eq!(clip_ram(0, 0x200000), Some((0x100000, 0x100000)));
        assert_eq!(clip_ram(0x100000, 0x3ff00000), Some((0x100000, 0x3ff00000)));
        assert_eq!(
            clip_ram(0xf000_0000, 0x2000_0000),
            Some((0xf000_0000, 0x1000_0000))
        );
        assert_eq!(clip_ram(1 << 32, 1 << 30), None);
        assert_eq!(clip_ram(u64::MAX - 5, 100), None);
    }
}
