//! `rump_init` and `rump_virtif_virt_deliverpkt`.

use alloc::vec::Vec;
use core::ffi::c_int;

use rumpuser_abi::{Iovec, VirtifSc};

use crate::kernel;
use crate::netif::{self, VirtSc};

/// `int rump_init(void)`: boots the kernel (0, or an errno number).
#[no_mangle]
pub extern "C" fn rump_init() -> c_int {
    match kernel::init() {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// `void rump_virtif_virt_deliverpkt(struct virtif_sc *, struct iovec *,
/// size_t n)`: the platform hands over a received frame (copied here),
/// holding a rump CPU as a kernel thread. The frame goes to the kernel
/// whose interface `sc` is.
///
/// # Safety
/// `sc` is a softc this kernel gave `rumpcomp_virt_create`; `iov` holds
/// `n` readable iovecs.
#[no_mangle]
pub unsafe extern "C" fn rump_virtif_virt_deliverpkt(sc: *mut VirtifSc, iov: *mut Iovec, n: usize) {
    if sc.is_null() || (iov.is_null() && n > 0) {
        return;
    }
    // SAFETY: softcs are leaked `VirtSc`s (the caller's contract).
    let sc = unsafe { &*(sc as *const VirtSc) };
    let mut frame = Vec::new();
    for i in 0..n {
        // SAFETY: `n` readable iovecs.
        let v = unsafe { &*iov.add(i) };
        if v.len > 0 && !v.base.is_null() {
            // SAFETY: each iovec describes readable memory.
            frame.extend_from_slice(unsafe {
                core::slice::from_raw_parts(v.base as *const u8, v.len)
            });
        }
    }
    netif::deliver(sc, &frame);
}
