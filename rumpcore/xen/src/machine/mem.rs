//! Memory hypercalls (`rumpuser_malloc`/`_free`, `rumpuser_anonmmap`/
//! `_unmap`) on the platform heap. Alignments up to the heap's 16 bytes
//! cost nothing extra; larger ones are remembered by address, because
//! `rumpuser_free` and `rumpuser_unmap` get the length but not the
//! alignment back. There is no virtual memory: `anonmmap` is an aligned,
//! zeroed allocation (`pref` and `exec` are ignored; all memory is
//! executable in the identity map).

use alloc::collections::BTreeMap;
use core::alloc::Layout;
use core::ffi::c_int;
use rumpuser_abi::errno::{EINVAL, ENOMEM};
use xen_platform::sched::IrqLock;

/// The heap's own alignment.
const MIN_ALIGN: usize = 16;
/// `anonmmap`'s least alignment: a page.
const PAGE: usize = 4096;

/// Blocks allocated with more than [`MIN_ALIGN`]: address -> alignment.
static ALIGNED: IrqLock<BTreeMap<usize, usize>> = IrqLock::new(BTreeMap::new());

fn layout(len: usize, align: usize) -> Result<Layout, c_int> {
    Layout::from_size_align(len.max(1), align.max(MIN_ALIGN)).map_err(|_| EINVAL)
}

/// Allocates `len` bytes aligned to `align` (a power of two, 0 = any).
pub fn alloc(len: usize, align: usize, zeroed: bool) -> Result<*mut u8, c_int> {
    if align != 0 && !align.is_power_of_two() {
        return Err(EINVAL);
    }
    let layout = layout(len, align)?;
    let p = if zeroed {
        // SAFETY: the layout has a non-zero size (`layout` makes it so).
        unsafe { alloc::alloc::alloc_zeroed(layout) }
    } else {
        // SAFETY: as above.
        unsafe { alloc::alloc::alloc(layout) }
    };
    if p.is_null() {
        return Err(ENOMEM);
    }
    if layout.align() > MIN_ALIGN {
        ALIGNED.lock().insert(p as usize, layout.align());
    }
    Ok(p)
}

/// Frees a block from [`alloc`] of `len` bytes.
pub fn free(p: *mut u8, len: usize) {
    if p.is_null() {
        return;
    }
    let align = ALIGNED.lock().remove(&(p as usize)).unwrap_or(MIN_ALIGN);
    if let Ok(layout) = layout(len, align) {
        // SAFETY: `p` came from `alloc` with this length (the caller's
        // contract, as rumpuser_free's) and this alignment (remembered
        // above, or the heap's own).
        unsafe { alloc::alloc::dealloc(p, layout) };
    }
}

/// `anonmmap`: `len` zeroed bytes aligned to `2^alignbit` (at least a
/// page), rounded up to whole pages.
pub fn map(len: usize, alignbit: c_int) -> Result<*mut u8, c_int> {
    if !(0..usize::BITS as c_int).contains(&alignbit) || len == 0 {
        return Err(EINVAL);
    }
    let align = (1usize << alignbit).max(PAGE);
    let len = len.checked_next_multiple_of(PAGE).ok_or(ENOMEM)?;
    alloc(len, align, true)
}

/// `unmap`: frees what [`map`] gave.
pub fn unmap(p: *mut u8, len: usize) {
    if let Some(len) = len.checked_next_multiple_of(PAGE) {
        free(p, len);
    }
}
