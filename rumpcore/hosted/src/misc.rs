//! getparam, getrandom, console, exit, kill, seterrno, dl_bootstrap,
//! daemonize.

use core::ffi::{c_char, c_int, c_void, CStr};
use std::cell::Cell;
use std::io::Write;

use rumpuser_abi::sig::{RumpComploadFn, RumpModinitFn, RumpSymloadFn};
use rumpuser_abi::{
    errno as nb, RUMPUSER_PARAM_HOSTNAME, RUMPUSER_PARAM_NCPU, RUMPUSER_RANDOM_NOWAIT,
};

thread_local! {
    static ERRNO: Cell<c_int> = const { Cell::new(0) };
}

/// The errno the kernel last set on this thread with `rumpuser_seterrno`.
pub fn errno() -> c_int {
    ERRNO.with(|e| e.get())
}

/// `rumpuser_getparam`: `_RUMPUSER_NCPU` (available parallelism),
/// `_RUMPUSER_HOSTNAME` (gethostname), anything else from the environment;
/// ENOENT when unknown, E2BIG when the value and its NUL do not fit.
///
/// # Safety
/// `name` NUL-terminated; `buf` writable for `buflen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_getparam(
    name: *const c_char,
    buf: *mut c_void,
    buflen: usize,
) -> c_int {
    // SAFETY: the caller passes a NUL-terminated name.
    let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
    let value: Vec<u8> = if name == RUMPUSER_PARAM_NCPU {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .to_string()
            .into_bytes()
    } else if name == RUMPUSER_PARAM_HOSTNAME {
        let mut h = [0u8; 256];
        // SAFETY: writable buffer of the given length.
        let rv = unsafe { libc::gethostname(h.as_mut_ptr() as *mut c_char, h.len()) };
        let end = h.iter().position(|b| *b == 0).unwrap_or(h.len());
        if rv != 0 || end == 0 {
            b"rump-hosted".to_vec()
        } else {
            h[..end].to_vec()
        }
    } else {
        match std::env::var_os(&*name) {
            Some(v) => std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()).to_vec(),
            None => return nb::ENOENT,
        }
    };
    if value.len() + 1 > buflen {
        return nb::E2BIG;
    }
    // SAFETY: `buf` has `buflen` > value.len() bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(value.as_ptr(), buf as *mut u8, value.len());
        *(buf as *mut u8).add(value.len()) = 0;
    }
    0
}

/// `rumpuser_getrandom` over getrandom(2); NOWAIT maps to GRND_NONBLOCK.
///
/// # Safety
/// `buf` writable for `len` bytes; `ret` writable.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_getrandom(
    buf: *mut c_void,
    len: usize,
    flags: c_int,
    ret: *mut usize,
) -> c_int {
    let gflags = if flags & RUMPUSER_RANDOM_NOWAIT != 0 {
        libc::GRND_NONBLOCK
    } else {
        0
    };
    let mut done = 0usize;
    while done < len {
        // SAFETY: the rest of the caller's buffer.
        let n = unsafe {
            libc::getrandom(
                (buf as *mut u8).add(done) as *mut c_void,
                len - done,
                gflags,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            if e == libc::EINTR {
                continue;
            }
            if done > 0 {
                break;
            }
            return crate::errno::from_linux(e);
        }
        done += n as usize;
    }
    // SAFETY: writable out-pointer.
    unsafe { *ret = done };
    0
}

/// `rumpuser_putchar`: one byte to standard output.
///
/// # Safety
/// Always safe; `unsafe` for the ABI's uniformity.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_putchar(c: c_int) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&[c as u8]);
    if c == b'\n' as c_int {
        let _ = out.flush();
    }
}

/// `rumpuser_dprintf`: prints the format string verbatim to standard
/// error. Conversions are not expanded: stable Rust cannot define a
/// C-variadic function, so the arguments are not reachable here.
///
/// # Safety
/// `fmt` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_dprintf(fmt: *const c_char) {
    if fmt.is_null() {
        return;
    }
    // SAFETY: the caller passes a NUL-terminated format.
    let s = unsafe { CStr::from_ptr(fmt) };
    let _ = std::io::stderr().write_all(s.to_bytes());
}

/// `rumpuser_exit`: -1 is a kernel panic (abort), anything else the exit
/// status.
///
/// # Safety
/// Ends the process.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_exit(code: c_int) -> ! {
    let _ = std::io::stdout().flush();
    if code == -1 {
        eprintln!("rump kernel panic: rumpuser_exit(-1)");
        std::process::abort();
    }
    std::process::exit(code)
}

/// NetBSD signal number → Linux (the ones that differ mapped; 0 kept).
fn linux_signal(sig: c_int) -> Option<c_int> {
    Some(match sig {
        0..=6 | 8 | 9 | 11 | 13..=15 => sig,
        10 => libc::SIGBUS,
        12 => libc::SIGSYS,
        16 => libc::SIGURG,
        17 => libc::SIGSTOP,
        18 => libc::SIGTSTP,
        19 => libc::SIGCONT,
        20 => libc::SIGCHLD,
        30 => libc::SIGUSR1,
        31 => libc::SIGUSR2,
        _ => return None,
    })
}

/// `rumpuser_kill`: raise the (NetBSD-numbered) signal in this process;
/// the hosted kernel is the whole process whatever `pid` says.
///
/// # Safety
/// May end the process, as the signal does.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_kill(_pid: i64, sig: c_int) -> c_int {
    let Some(s) = linux_signal(sig) else {
        return nb::EINVAL;
    };
    if s == 0 {
        return 0;
    }
    // SAFETY: raising a signal in our own process.
    if unsafe { libc::raise(s) } != 0 {
        return crate::errno::last();
    }
    0
}

/// `rumpuser_seterrno`: per-thread (read with [`errno`]).
///
/// # Safety
/// Always safe; `unsafe` for the ABI's uniformity.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_seterrno(e: c_int) {
    ERRNO.with(|x| x.set(e));
}

/// `int rumpuser_geterrno(void)`: the errno this thread's last
/// `rumpuser_seterrno` stored, for clients (the host libc `errno` that
/// NetBSD's clients read).
#[no_mangle]
pub extern "C" fn rumpuser_geterrno() -> c_int {
    errno()
}

/// `rumpuser_dl_bootstrap`: nothing to do in a statically linked process.
///
/// # Safety
/// Always safe; `unsafe` for the ABI's uniformity.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_dl_bootstrap(
    _modinit: Option<RumpModinitFn>,
    _symload: Option<RumpSymloadFn>,
    _compload: Option<RumpComploadFn>,
) {
}

/// `rumpuser_daemonize_begin`: the hosted platform does not fork; 0.
///
/// # Safety
/// Always safe; `unsafe` for the ABI's uniformity.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_daemonize_begin() -> c_int {
    0
}

/// `rumpuser_daemonize_done`: 0 (see `rumpuser_daemonize_begin`).
///
/// # Safety
/// Always safe; `unsafe` for the ABI's uniformity.
#[no_mangle]
pub unsafe extern "C" fn rumpuser_daemonize_done(_error: c_int) -> c_int {
    0
}
