//! The shared-info page (`xen.h`, `struct shared_info`), mapped into a page
//! of the image with `XENMEM_add_to_physmap` / `XENMAPSPACE_shared_info`.

use crate::error::XenError;
use crate::hypercall;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use xen_abi::shared_info;

/// A page-aligned page of the image that becomes the shared-info frame.
#[repr(C, align(4096))]
struct Page(UnsafeCell<[u8; 4096]>);

// SAFETY: the page's contents are owned by Xen once mapped and are accessed
// only through raw pointers (volatile/atomic), never through references.
unsafe impl Sync for Page {}

static PAGE: Page = Page(UnsafeCell::new([0; 4096]));
static MAPPED: AtomicBool = AtomicBool::new(false);

const _: () = assert!(size_of::<shared_info>() <= 4096);

/// Maps the shared-info page (once).
pub(crate) fn map() -> Result<(), XenError> {
    if MAPPED.load(Ordering::Acquire) {
        return Ok(());
    }
    let gpfn = (PAGE.0.get() as u64) >> 12;
    // SAFETY: the frame is `PAGE`, which is only ever accessed through raw
    // pointers; replacing its contents with the shared-info frame breaks no
    // Rust reference. The image is identity-mapped, so the virtual address
    // gives the guest frame number.
    unsafe { hypercall::add_to_physmap(xen_abi::XENMAPSPACE_shared_info, 0, gpfn)? };
    MAPPED.store(true, Ordering::Release);
    Ok(())
}

/// The shared-info structure, once mapped. Xen updates it concurrently:
/// access its fields only through raw pointers with volatile or atomic
/// operations.
pub fn shared_info_ptr() -> Option<*mut shared_info> {
    MAPPED
        .load(Ordering::Acquire)
        .then(|| PAGE.0.get().cast::<shared_info>())
}
