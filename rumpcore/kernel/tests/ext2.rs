//! Files through the client ABI: an ext2 image made by `mke2fs`,
//! registered with etfs, mounted at /mnt, files written, read, renamed
//! and unlinked through `rump___sysimpl_*`, unmounted; `e2fsck -fn` is
//! clean, `debugfs` reads the same bytes, and a second mount reads them
//! back. One kernel per process: everything runs from one test function.

mod common;
#[path = "../../ext2/tests/common/mod.rs"]
mod e2;

use std::ffi::{c_int, c_void, CString};

use common::*;
use rumpcore_client::abi::{UfsArgs, MNT_RDONLY, O_CREAT, O_EXCL, O_RDONLY, O_RDWR};

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn open(path: &str, flags: c_int) -> c_int {
    // SAFETY: a NUL-terminated path.
    unsafe { rump___sysimpl_open(c(path).as_ptr(), flags, 0o644) }
}

fn write(fd: c_int, data: &[u8]) -> isize {
    // SAFETY: a valid buffer.
    unsafe { rump___sysimpl_write(fd, data.as_ptr() as *const c_void, data.len()) }
}

fn read_all(fd: c_int) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 7000];
    loop {
        // SAFETY: a valid buffer.
        let n = unsafe { rump___sysimpl_read(fd, buf.as_mut_ptr() as *mut c_void, buf.len()) };
        assert!(n >= 0, "read: errno {}", errno());
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

fn close(fd: c_int) {
    // SAFETY: a plain call.
    assert_eq!(unsafe { rump___sysimpl_close(fd) }, 0);
}

fn mount(key: &CString, flags: c_int) -> c_int {
    let mut args = UfsArgs {
        fspec: key.as_ptr(),
    };
    // SAFETY: valid strings and argument block.
    unsafe {
        rump___sysimpl_mount50(
            c"ext2fs".as_ptr(),
            c"/mnt".as_ptr(),
            flags,
            &mut args as *mut UfsArgs as *mut c_void,
            std::mem::size_of::<UfsArgs>(),
        )
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i * 13 % 253) as u8 ^ (i >> 9) as u8)
        .collect()
}

#[test]
fn ext2_files() {
    if !e2::have_tools("ext2_files") {
        return;
    }
    let dir = e2::temp_dir("kernel-ext2");
    let img = e2::mkfs_default(&dir, 16);

    let key = c("/dev/ext2disk");
    let host = c(img.to_str().unwrap());
    // SAFETY: NUL-terminated strings.
    unsafe {
        assert_eq!(rump_init(), 0);
        assert_eq!(rump_pub_etfs_register(key.as_ptr(), host.as_ptr(), 1), 0);
        assert_eq!(rump_pub_etfs_register(key.as_ptr(), host.as_ptr(), 1), 17);
    }
    let nokey = c("/dev/none");
    assert_eq!(mount(&nokey, 0), -1);
    assert_eq!(errno(), 2, "ENOENT for an unregistered key");
    assert_eq!(mount(&key, 0), 0, "mount: errno {}", errno());
    assert_eq!(mount(&key, 0), -1);
    assert_eq!(errno(), 16, "EBUSY: already mounted");

    // SAFETY: NUL-terminated paths.
    unsafe { assert_eq!(rump___sysimpl_mkdir(c"/mnt/dir".as_ptr(), 0o755), 0) };
    let big = pattern(300 * 1024 + 77);
    let fd = open("/mnt/dir/a.bin", O_RDWR | O_CREAT);
    assert!(fd >= 0, "open: errno {}", errno());
    assert_eq!(write(fd, &big), big.len() as isize);
    let mut model = big.clone();
    // SAFETY: valid buffers and plain calls.
    unsafe {
        assert_eq!(rump___sysimpl_lseek(fd, 0, 0), 0);
        assert!(read_all(fd) == model);
        assert_eq!(rump___sysimpl_lseek(fd, -10, 2), model.len() as i64 - 10);
        assert_eq!(
            rump___sysimpl_pwrite(fd, b"XYZ".as_ptr() as *const c_void, 3, 5000),
            3
        );
        model[5000..5003].copy_from_slice(b"XYZ");
        let mut b = [0u8; 5];
        assert_eq!(
            rump___sysimpl_pread(fd, b.as_mut_ptr() as *mut c_void, 5, 4999),
            5
        );
        assert_eq!(&b, &model[4999..5004]);
        assert_eq!(rump___sysimpl_fsync(fd), 0);
    }
    close(fd);

    assert_eq!(open("/mnt/nope", O_RDONLY), -1);
    assert_eq!(errno(), 2, "ENOENT");
    assert_eq!(open("/mnt/dir/a.bin", O_RDWR | O_CREAT | O_EXCL), -1);
    assert_eq!(errno(), 17, "EEXIST");
    assert_eq!(open("/elsewhere/x", O_RDONLY), -1);

    let fd = open("/mnt/gone.txt", O_RDWR | O_CREAT);
    assert_eq!(write(fd, b"short-lived"), 11);
    close(fd);
    // SAFETY: NUL-terminated paths.
    unsafe {
        assert_eq!(rump___sysimpl_unlink(c"/mnt/gone.txt".as_ptr()), 0);
        assert_eq!(rump___sysimpl_unlink(c"/mnt/gone.txt".as_ptr()), -1);
        assert_eq!(errno(), 2);
        assert_eq!(
            rump___sysimpl_rename(c"/mnt/dir/a.bin".as_ptr(), c"/mnt/b.bin".as_ptr()),
            0
        );
    }
    let fd = open("/mnt/hello.txt", O_RDWR | O_CREAT);
    assert_eq!(write(fd, b"hello from the rump kernel\n"), 27);
    // Unmounting with a file open is refused.
    // SAFETY: a NUL-terminated path.
    unsafe {
        assert_eq!(rump___sysimpl_unmount(c"/mnt".as_ptr(), 0), -1);
        assert_eq!(errno(), 16, "EBUSY");
    }
    close(fd);
    // SAFETY: a NUL-terminated path.
    unsafe { assert_eq!(rump___sysimpl_unmount(c"/mnt".as_ptr(), 0), 0) };

    let (code, said) = e2::e2fsck(&img, "-fn");
    assert_eq!(code, 0, "e2fsck -fn: {said}");
    assert!(
        e2::debugfs_cat(&img, "/b.bin") == model,
        "debugfs reads different bytes"
    );

    // Mounted again (read-only), the files read back.
    assert_eq!(mount(&key, MNT_RDONLY), 0);
    let fd = open("/mnt/b.bin", O_RDONLY);
    assert!(fd >= 0);
    assert!(read_all(fd) == model);
    close(fd);
    let fd = open("/mnt/hello.txt", O_RDONLY);
    assert_eq!(read_all(fd), b"hello from the rump kernel\n");
    assert_eq!(write(fd, b"x"), -1);
    assert_eq!(errno(), 9, "EBADF: not open for writing");
    close(fd);
    // SAFETY: a NUL-terminated path.
    unsafe { assert_eq!(rump___sysimpl_unmount(c"/mnt".as_ptr(), 0), 0) };
    let _ = std::fs::remove_dir_all(&dir);
}
