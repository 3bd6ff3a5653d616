//! `rumpuser_getparam`: NCPU, HOSTNAME, unknown names, small buffers.

use core::ffi::{c_void, CStr};

use rumpuser_abi::errno::ENOENT;
use rumpuser_abi::{RUMPUSER_PARAM_HOSTNAME_C, RUMPUSER_PARAM_NCPU_C};

use crate::sys;
use crate::util::{ensure, CaseResult};
use crate::Config;

const GUARD: u8 = 0xee;

/// getparam into a buffer of `len` bytes followed by guard bytes; the
/// result and the bytes up to the NUL. Writing past `len` is an error.
fn get(name: &CStr, len: usize) -> Result<(i32, alloc::vec::Vec<u8>), alloc::string::String> {
    let mut buf = alloc::vec![GUARD; len + 16];
    // SAFETY: `buf` has at least `len` bytes.
    let rv = unsafe { sys::rumpuser_getparam(name.as_ptr(), buf.as_mut_ptr() as *mut c_void, len) };
    ensure!(
        buf[len..].iter().all(|b| *b == GUARD),
        "getparam({name:?}, buflen {len}) wrote past the buffer"
    );
    let end = buf[..len].iter().position(|b| *b == 0);
    Ok((rv, buf[..end.unwrap_or(0)].to_vec()))
}

/// `_RUMPUSER_NCPU` is a positive decimal number.
pub fn ncpu(_: &Config<'_>) -> CaseResult {
    let (rv, v) = get(RUMPUSER_PARAM_NCPU_C, 64)?;
    ensure!(rv == 0, "getparam(_RUMPUSER_NCPU) failed: {rv}");
    let s = core::str::from_utf8(&v).map_err(|_| alloc::format!("NCPU {v:?} not UTF-8"))?;
    let n: u32 = s
        .parse()
        .map_err(|_| alloc::format!("NCPU {s:?} is not decimal"))?;
    ensure!((1..=4096).contains(&n), "NCPU {n} is implausible");
    Ok(())
}

/// `_RUMPUSER_HOSTNAME` is a non-empty NUL-terminated string.
pub fn hostname(_: &Config<'_>) -> CaseResult {
    let (rv, v) = get(RUMPUSER_PARAM_HOSTNAME_C, 256)?;
    ensure!(rv == 0, "getparam(_RUMPUSER_HOSTNAME) failed: {rv}");
    ensure!(!v.is_empty(), "hostname is empty (or not NUL-terminated)");
    ensure!(
        v.iter().all(|b| b.is_ascii_graphic()),
        "hostname {v:?} is not printable"
    );
    Ok(())
}

/// Unknown names give ENOENT.
pub fn unknown(_: &Config<'_>) -> CaseResult {
    for name in [
        c"RUMPCORE_CONFORMANCE_NO_SUCH_PARAM",
        c"_RUMPUSER_NO_SUCH_PARAM",
    ] {
        let (rv, _) = get(name, 64)?;
        ensure!(
            rv == ENOENT,
            "getparam({name:?}) returned {rv}, want ENOENT ({ENOENT})"
        );
    }
    Ok(())
}

/// A buffer too small for the value and its NUL is an error, and nothing
/// is written past it.
pub fn small_buffer(_: &Config<'_>) -> CaseResult {
    for len in [0usize, 1] {
        let (rv, _) = get(RUMPUSER_PARAM_NCPU_C, len)?;
        ensure!(
            rv != 0,
            "getparam(_RUMPUSER_NCPU) into {len} bytes succeeded"
        );
    }
    let (rv, full) = get(RUMPUSER_PARAM_HOSTNAME_C, 256)?;
    ensure!(rv == 0, "getparam(_RUMPUSER_HOSTNAME) failed: {rv}");
    let (rv, _) = get(RUMPUSER_PARAM_HOSTNAME_C, full.len())?;
    ensure!(
        rv != 0,
        "hostname of {} bytes fit in {} bytes with its NUL",
        full.len(),
        full.len()
    );
    Ok(())
}
