//! `rumpx-grant-peek DOMID GREF`: a dom0 helper that maps one page a guest
//! granted to dom0, through Linux's gntdev device (the ioctls of Xen's
//! `sys/gntdev.h`), and prints the page's FNV-1a 64 fingerprint and its first
//! bytes, read-only. Exit status 0 when mapped, 2 when the grant cannot be
//! mapped (for example after the guest ended access), 1 on a usage error.

use rumpx::fingerprint::fnv1a;
use std::ffi::CString;
use std::process::ExitCode;

const PAGE: usize = 4096;

/// `struct ioctl_gntdev_grant_ref`.
#[repr(C)]
struct GrantRefArg {
    domid: u32,
    gref: u32,
}

/// `struct ioctl_gntdev_map_grant_ref` with one reference.
#[repr(C)]
struct MapGrantRef {
    count: u32,
    pad: u32,
    index: u64,
    refs: [GrantRefArg; 1],
}

/// `struct ioctl_gntdev_unmap_grant_ref`.
#[repr(C)]
struct UnmapGrantRef {
    index: u64,
    count: u32,
    pad: u32,
}

/// `_IOC(_IOC_NONE, 'G', nr, size)`: no direction bits, so only size, type and number.
const fn gntdev_ioc(nr: u64, size: usize) -> u64 {
    ((size as u64) << 16) | ((b'G' as u64) << 8) | nr
}
const IOCTL_GNTDEV_MAP_GRANT_REF: u64 = gntdev_ioc(0, std::mem::size_of::<MapGrantRef>());
const IOCTL_GNTDEV_UNMAP_GRANT_REF: u64 = gntdev_ioc(1, std::mem::size_of::<UnmapGrantRef>());

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(domid), Some(gref)) = (
        args.get(1).and_then(|a| a.parse::<u32>().ok()),
        args.get(2).and_then(|a| a.parse::<u32>().ok()),
    ) else {
        eprintln!("usage: rumpx-grant-peek DOMID GREF");
        return ExitCode::from(1);
    };
    match peek(domid, gref) {
        Ok(page) => {
            let head: Vec<String> = page[..16].iter().map(|b| format!("{b:02x}")).collect();
            println!(
                "mapped domain {domid} gref {gref}: fnv1a64 {:016x} head {}",
                fnv1a(&page),
                head.join("")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("cannot map domain {domid} gref {gref}: {e}");
            ExitCode::from(2)
        }
    }
}

/// Maps the grant read-only, copies the page out and unmaps it again.
fn peek(domid: u32, gref: u32) -> Result<Vec<u8>, String> {
    let path = CString::new("/dev/xen/gntdev").expect("no NUL in the path");
    // SAFETY: a plain open(2) of a NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(format!(
            "open /dev/xen/gntdev: {}",
            std::io::Error::last_os_error()
        ));
    }
    let mut map = MapGrantRef {
        count: 1,
        pad: 0,
        index: 0,
        refs: [GrantRefArg { domid, gref }],
    };
    // SAFETY: the argument is the kernel's struct layout for this ioctl and
    // lives across the call.
    let result = if unsafe { libc::ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF as _, &mut map) } < 0 {
        Err(format!(
            "ioctl MAP_GRANT_REF: {}",
            std::io::Error::last_os_error()
        ))
    } else {
        let copied = copy_mapping(fd, map.index);
        let mut unmap = UnmapGrantRef {
            index: map.index,
            count: 1,
            pad: 0,
        };
        // SAFETY: as above, for the unmap ioctl.
        unsafe { libc::ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF as _, &mut unmap) };
        copied
    };
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    result
}

/// mmaps the page at gntdev offset `index` (this is when Xen maps the grant)
/// and copies it out.
fn copy_mapping(fd: libc::c_int, index: u64) -> Result<Vec<u8>, String> {
    // SAFETY: a fresh shared read-only mapping of one page of the device; the
    // result is checked before use.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            index as libc::off_t,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(format!("mmap: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: the mapping is PAGE bytes long and readable until munmap below.
    let page = unsafe { std::slice::from_raw_parts(addr as *const u8, PAGE) }.to_vec();
    // SAFETY: unmapping exactly what mmap returned.
    unsafe { libc::munmap(addr, PAGE) };
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_header() {
        // sys/gntdev.h: sizes 24 and 16 bytes.
        assert_eq!(std::mem::size_of::<MapGrantRef>(), 24);
        assert_eq!(IOCTL_GNTDEV_MAP_GRANT_REF, 0x0018_4700);
        assert_eq!(IOCTL_GNTDEV_UNMAP_GRANT_REF, 0x0010_4701);
    }
}
