//! The `extern "C"` edge of the `virt` interface: `rumpcomp_virt_create`,
//! `_send`, `_dying`, `_destroy`, and the call of the kernel's
//! `rump_virtif_virt_deliverpkt`.

use super::{create, Softc, VirtIf};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::{c_char, c_int, CStr};
use rumpuser_abi::errno::{EINVAL, ENXIO};
use rumpuser_abi::{Iovec, VirtifSc, VirtifUser, VIRT_MAC_LEN, VIRT_MAX_IOVECS};

unsafe extern "C" {
    /// The kernel's entry for a received frame (it copies the data).
    fn rump_virtif_virt_deliverpkt(sc: *mut VirtifSc, iov: *mut Iovec, n: usize);
}

/// Hands one received frame to the kernel (the caller holds a rump CPU).
pub fn deliver(sc: Softc, frame: &mut [u8]) {
    let mut iov = Iovec {
        base: frame.as_mut_ptr().cast(),
        len: frame.len(),
    };
    // SAFETY: the kernel's softc from `rumpcomp_virt_create`, and one
    // iovec over a frame that lives through the call (the kernel copies).
    unsafe { rump_virtif_virt_deliverpkt(sc.0, &mut iov, 1) };
}

/// The interface behind a handle.
///
/// # Safety
/// `h` came from `rumpcomp_virt_create` and is not destroyed.
unsafe fn virt<'a>(h: *mut VirtifUser) -> &'a VirtIf {
    // SAFETY: handles are `Arc<VirtIf>` pointers (the caller's contract).
    unsafe { &*h.cast::<VirtIf>() }
}

/// `rumpcomp_virt_create`: unit `"N"` is the Nth vif; fills in its MAC.
#[no_mangle]
pub unsafe extern "C" fn rumpcomp_virt_create(
    unit: *const c_char,
    sc: *mut VirtifSc,
    mac: *mut u8,
    handle: *mut *mut VirtifUser,
) -> c_int {
    if unit.is_null() || mac.is_null() || handle.is_null() {
        return EINVAL;
    }
    // SAFETY: the kernel passes a NUL-terminated unit string.
    let Ok(unit) = unsafe { CStr::from_ptr(unit) }.to_str() else {
        return ENXIO;
    };
    match create(unit, Softc(sc)) {
        Ok((v, addr)) => {
            // SAFETY: `mac` has room for six bytes and `handle` is the
            // caller's out pointer (ABI; both non-null, checked).
            unsafe {
                core::ptr::copy_nonoverlapping(addr.as_ptr(), mac, VIRT_MAC_LEN);
                handle.write(Arc::into_raw(v).cast_mut().cast());
            }
            0
        }
        Err(e) => e,
    }
}

/// `rumpcomp_virt_send`: one frame in up to 32 iovecs (more are refused).
#[no_mangle]
pub unsafe extern "C" fn rumpcomp_virt_send(h: *mut VirtifUser, iov: *mut Iovec, n: usize) {
    if h.is_null() || iov.is_null() || n == 0 || n > VIRT_MAX_IOVECS {
        return;
    }
    // SAFETY: `n` iovecs at `iov` (ABI), each a readable buffer.
    let vecs = unsafe { core::slice::from_raw_parts(iov, n) };
    let frags: Vec<&[u8]> = vecs
        .iter()
        .filter(|v| v.len > 0 && !v.base.is_null())
        // SAFETY: each iovec is `len` readable bytes, alive for this call.
        .map(|v| unsafe { core::slice::from_raw_parts(v.base.cast::<u8>(), v.len) })
        .collect();
    // SAFETY: a live handle (ABI).
    unsafe { virt(h) }.send(&frags);
}

/// `rumpcomp_virt_dying`: no more deliveries.
#[no_mangle]
pub unsafe extern "C" fn rumpcomp_virt_dying(h: *mut VirtifUser) -> c_int {
    if h.is_null() {
        return EINVAL;
    }
    // SAFETY: a live handle (ABI).
    unsafe { virt(h) }.dying();
    0
}

/// `rumpcomp_virt_destroy`: stops the thread, disconnects the vif and
/// frees the handle.
#[no_mangle]
pub unsafe extern "C" fn rumpcomp_virt_destroy(h: *mut VirtifUser) {
    if h.is_null() {
        return;
    }
    // SAFETY: a handle from `rumpcomp_virt_create` (an `Arc` pointer),
    // destroyed once.
    let v = unsafe { Arc::from_raw(h.cast::<VirtIf>().cast_const()) };
    v.destroy();
}
