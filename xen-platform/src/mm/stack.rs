//! Thread stacks with a guard page: frames from the frame allocator whose
//! lowest page is unmapped from the identity map, so an overflow faults
//! instead of corrupting memory (no Xen header; x86_64 page tables).

use super::paging;
use super::{try_alloc_frames, Frames, MemError, FRAME_SIZE};

/// A stack: `size()` usable bytes above one unmapped guard page. Drop maps
/// the guard page again and frees the frames.
#[derive(Debug)]
pub struct Stack {
    frames: Option<Frames>,
}

impl Stack {
    /// A stack of at least `bytes` usable bytes (rounded up to whole pages)
    /// plus a guard page.
    pub fn new(bytes: usize) -> Result<Stack, MemError> {
        if bytes == 0 {
            return Err(MemError::BadSize);
        }
        let pages = bytes.div_ceil(FRAME_SIZE as usize);
        let frames = try_alloc_frames(pages.checked_add(1).ok_or(MemError::BadSize)?)?;
        // On error `frames` is dropped (freed) with the guard still mapped.
        paging::unmap_page(frames.paddr())?;
        Ok(Stack {
            frames: Some(frames),
        })
    }

    fn frames(&self) -> &Frames {
        // Always Some until drop.
        self.frames.as_ref().expect("stack frames")
    }

    /// The unmapped guard page's address.
    pub fn guard_page(&self) -> usize {
        self.frames().paddr() as usize
    }

    /// Lowest usable address.
    pub fn bottom(&self) -> usize {
        self.guard_page() + FRAME_SIZE as usize
    }

    /// One past the highest usable address (the initial stack pointer,
    /// 16-byte aligned).
    pub fn top(&self) -> usize {
        self.guard_page() + self.frames().count() * FRAME_SIZE as usize
    }

    /// Usable bytes.
    pub fn size(&self) -> usize {
        self.top() - self.bottom()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(frames) = self.frames.take() {
            if paging::remap_page(frames.paddr()).is_err() {
                // Never hand out a frame that is still unmapped.
                let _ = frames.leak();
            }
        }
    }
}
