//! Memory: `rumpuser_malloc`/`free`, `anonmmap`/`unmap`.

use core::ffi::c_void;

use rumpuser_abi::errno::ENOMEM;

use crate::sys;
use crate::util::{ensure, CaseResult};
use crate::Config;

/// Allocations of several sizes and alignments are aligned, usable, freed.
pub fn alignment(_: &Config<'_>) -> CaseResult {
    for &align in &[0usize, 8, 16, 64, 512, 4096] {
        for &len in &[1usize, 17, 512, 4096, 65536, 300_000] {
            let mut p: *mut c_void = core::ptr::null_mut();
            // SAFETY: valid out-pointer.
            let rv = unsafe { sys::rumpuser_malloc(len, align as i32, &mut p) };
            ensure!(rv == 0, "malloc({len}, {align}) failed: {rv}");
            ensure!(!p.is_null(), "malloc({len}, {align}) gave null");
            ensure!(
                (p as usize) % align.max(1) == 0,
                "malloc({len}, {align}) gave {p:p}, misaligned"
            );
            // SAFETY: `p` is a fresh allocation of `len` bytes.
            let buf = unsafe { core::slice::from_raw_parts_mut(p as *mut u8, len) };
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (i * 7 + len) as u8;
            }
            ensure!(
                buf.iter()
                    .enumerate()
                    .all(|(i, b)| *b == (i * 7 + len) as u8),
                "malloc({len}, {align}): memory did not keep a pattern"
            );
            // SAFETY: freeing what we allocated, with its length.
            unsafe { sys::rumpuser_free(p, len) };
        }
    }
    Ok(())
}

/// An impossible allocation fails with ENOMEM.
pub fn enomem(_: &Config<'_>) -> CaseResult {
    let mut p: *mut c_void = core::ptr::null_mut();
    // SAFETY: valid out-pointer.
    let rv = unsafe { sys::rumpuser_malloc(1 << 60, 8, &mut p) };
    ensure!(
        rv == ENOMEM,
        "malloc(2^60) returned {rv}, want ENOMEM ({ENOMEM})"
    );
    Ok(())
}

/// `anonmmap` may be unsupported (an error); if it succeeds the memory is
/// aligned to `1 << alignbit`, usable, and `unmap` takes it back.
pub fn anonmmap(_: &Config<'_>) -> CaseResult {
    let len = 64 * 1024;
    for alignbit in [0, 12, 16] {
        let mut p: *mut c_void = core::ptr::null_mut();
        // SAFETY: valid out-pointer.
        let rv = unsafe { sys::rumpuser_anonmmap(core::ptr::null_mut(), len, alignbit, 0, &mut p) };
        if rv != 0 {
            continue;
        }
        ensure!(!p.is_null(), "anonmmap succeeded with a null pointer");
        ensure!(
            (p as usize) % (1usize << alignbit) == 0,
            "anonmmap(alignbit {alignbit}) gave {p:p}"
        );
        // SAFETY: `len` bytes of fresh writable memory.
        let buf = unsafe { core::slice::from_raw_parts_mut(p as *mut u8, len) };
        buf.fill(0xa5);
        ensure!(
            buf.iter().all(|b| *b == 0xa5),
            "anonmmap memory did not keep a pattern"
        );
        // SAFETY: unmapping exactly what was mapped.
        unsafe { sys::rumpuser_unmap(p, len) };
    }
    Ok(())
}
