//! Memory: `rumpuser_malloc`/`free` over `posix_memalign`/`free`, and
//! `anonmmap`/`unmap` over `mmap`.

use core::ffi::{c_int, c_void};

use rumpuser_abi::errno;

/// `rumpuser_malloc`: `len` bytes aligned to `alignment` (0 = pointer size).
///
/// # Safety
/// `memp` must be writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_malloc(
    len: usize,
    alignment: c_int,
    memp: *mut *mut c_void,
) -> c_int {
    let align = (alignment.max(0) as usize).max(core::mem::size_of::<*mut c_void>());
    if !align.is_power_of_two() {
        return errno::EINVAL;
    }
    let mut p = core::ptr::null_mut();
    // SAFETY: valid out-pointer, power-of-two multiple of the pointer size.
    let rv = unsafe { libc::posix_memalign(&mut p, align, len.max(1)) };
    if rv != 0 {
        return errno::ENOMEM;
    }
    // SAFETY: the caller passes a writable out-pointer.
    unsafe { *memp = p };
    0
}

/// `rumpuser_free`.
///
/// # Safety
/// `mem` must come from `rumpuser_malloc` (or be null).
#[no_mangle]
pub unsafe extern "C" fn rumpuser_free(mem: *mut c_void, _len: usize) {
    // SAFETY: allocated by posix_memalign.
    unsafe { libc::free(mem) };
}

/// `rumpuser_anonmmap`: anonymous memory aligned to `1 << alignbit`.
///
/// # Safety
/// `memp` must be writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_anonmmap(
    pref: *mut c_void,
    len: usize,
    alignbit: c_int,
    exec: c_int,
    memp: *mut *mut c_void,
) -> c_int {
    if !(0..48).contains(&alignbit) || len == 0 {
        return errno::EINVAL;
    }
    let align = 1usize << alignbit;
    let page = 4096usize;
    let extra = if align > page { align } else { 0 };
    let prot = libc::PROT_READ | libc::PROT_WRITE | if exec != 0 { libc::PROT_EXEC } else { 0 };
    // SAFETY: an anonymous private mapping; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            pref,
            len + extra,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return crate::errno::last();
    }
    let start = p as usize;
    let aligned = (start + align - 1) & !(align - 1);
    if extra > 0 {
        let head = aligned - start;
        let tail = extra - head;
        // SAFETY: trimming pages of the mapping just made, outside the
        // `len` bytes handed out.
        unsafe {
            if head > 0 {
                libc::munmap(p, head);
            }
            if tail > 0 {
                libc::munmap((aligned + len) as *mut c_void, tail);
            }
        }
    }
    // SAFETY: the caller passes a writable out-pointer.
    unsafe { *memp = aligned as *mut c_void };
    0
}

/// `rumpuser_unmap`.
///
/// # Safety
/// `mem`/`len` must be a region from `rumpuser_anonmmap`.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_unmap(mem: *mut c_void, len: usize) {
    // SAFETY: the caller's region.
    unsafe { libc::munmap(mem, len) };
}
