//! The kernel's memory limit, NetBSD's `RUMP_MEMLIMIT` asked of the
//! platform with `rumpuser_getparam` at boot (a platform that knows its
//! memory answers it even when the user did not set it). It sizes the
//! socket-buffer budget of the network stack
//! ([`rumpcore_net::StackConfig::for_memory`]): socket buffers are
//! refused with ENOBUFS once they would take more than their share, so
//! the rest of the memory stays for threads, files and the application.
//! Without a limit the stack has no budget (only the allocator's own
//! failures, which are ENOBUFS too).

use core::ffi::c_char;

use rumpuser_abi::errno;
use rumpuser_abi::RUMP_PARAM_MEMLIMIT_C;

use crate::sys;

/// Parses a `RUMP_MEMLIMIT` value: decimal bytes with an optional `k`,
/// `m` or `g` suffix (either case, powers of 1024). `None` if malformed
/// or too large.
pub fn parse(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, shift) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 10),
        b'm' | b'M' => (&text[..text.len() - 1], 20),
        b'g' | b'G' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: usize = digits.parse().ok()?;
    n.checked_mul(1usize << shift)
}

/// The platform's `RUMP_MEMLIMIT` in bytes: `Ok(None)` when it has none,
/// EINVAL when its value is malformed.
pub fn from_platform() -> Result<Option<usize>, i32> {
    let mut buf = [0u8; 32];
    // SAFETY: a NUL-terminated name and a writable buffer of its length.
    let rv = unsafe {
        sys::rumpuser_getparam(
            RUMP_PARAM_MEMLIMIT_C.as_ptr() as *const c_char,
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    match rv {
        0 => {}
        errno::ENOENT => return Ok(None),
        // Longer than any byte count: malformed.
        _ => return Err(errno::EINVAL),
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let text = core::str::from_utf8(&buf[..end]).map_err(|_| errno::EINVAL)?;
    parse(text).map(Some).ok_or(errno::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn values() {
        assert_eq!(parse("12582912"), Some(12 << 20));
        assert_eq!(parse("64m"), Some(64 << 20));
        assert_eq!(parse("64M"), Some(64 << 20));
        assert_eq!(parse("512k"), Some(512 << 10));
        assert_eq!(parse("1g"), Some(1 << 30));
        assert_eq!(parse(" 7 "), Some(7));
        assert_eq!(parse("0"), Some(0));
        for bad in [
            "",
            "m",
            "-1",
            "1.5m",
            "12x",
            "1 m",
            "99999999999999999999999",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(parse("99999999999999999g"), None);
    }
}
