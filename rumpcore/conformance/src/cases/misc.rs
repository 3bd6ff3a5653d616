//! getrandom, seterrno, the console, dl_bootstrap.

use core::ffi::c_void;

use rumpuser_abi::{RUMPUSER_RANDOM_HARD, RUMPUSER_RANDOM_NOWAIT};

use crate::sys;
use crate::util::{ensure, CaseResult};
use crate::Config;

/// getrandom fills the buffer; two draws differ.
pub fn getrandom(_: &Config<'_>) -> CaseResult {
    for flags in [
        0,
        RUMPUSER_RANDOM_HARD,
        RUMPUSER_RANDOM_NOWAIT,
        RUMPUSER_RANDOM_HARD | RUMPUSER_RANDOM_NOWAIT,
    ] {
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        for buf in [&mut a, &mut b] {
            let mut filled = 0;
            while filled < buf.len() {
                let mut got = 0usize;
                let rest = &mut buf[filled..];
                // SAFETY: `rest` is writable for its length; valid out-pointer.
                let rv = unsafe {
                    sys::rumpuser_getrandom(
                        rest.as_mut_ptr() as *mut c_void,
                        rest.len(),
                        flags,
                        &mut got,
                    )
                };
                ensure!(rv == 0, "getrandom(flags {flags}) failed: {rv}");
                ensure!(
                    got > 0 && got <= rest.len(),
                    "getrandom(flags {flags}) returned {got} bytes of {}",
                    rest.len()
                );
                filled += got;
            }
        }
        ensure!(a != b, "two getrandom draws are equal");
        ensure!(a.iter().any(|x| *x != 0), "getrandom gave zeros");
    }
    Ok(())
}

/// seterrno accepts values (it only records them for this thread).
pub fn seterrno(_: &Config<'_>) -> CaseResult {
    for e in [22, 2, 0] {
        // SAFETY: plain hypercall.
        unsafe { sys::rumpuser_seterrno(e) };
    }
    Ok(())
}

/// putchar and dprintf (format only, no conversions) reach the console.
pub fn console(_: &Config<'_>) -> CaseResult {
    for c in b"rumpuser-conformance: putchar\n" {
        // SAFETY: plain hypercall.
        unsafe { sys::rumpuser_putchar(*c as i32) };
    }
    // SAFETY: a NUL-terminated format with no conversions.
    unsafe { sys::rumpuser_dprintf(c"rumpuser-conformance: dprintf\n".as_ptr()) };
    Ok(())
}

/// dl_bootstrap with no callbacks is accepted (static images need nothing).
pub fn dl_bootstrap(_: &Config<'_>) -> CaseResult {
    // SAFETY: null callbacks; a static platform calls none of them.
    unsafe { sys::rumpuser_dl_bootstrap(None, None, None) };
    Ok(())
}
