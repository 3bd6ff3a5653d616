//! ABI test: pins layouts, constants and names to `rumpuser-abi.md`.

use core::mem::{align_of, offset_of, size_of};

use crate::errno::*;
use crate::*;

#[test]
fn hyperup_layout() {
    // 13 function pointers then void *extra[8], all 8 bytes on x86-64.
    assert_eq!(size_of::<RumpuserHyperup>(), (13 + 8) * 8);
    assert_eq!(align_of::<RumpuserHyperup>(), 8);
    let offs = [
        offset_of!(RumpuserHyperup, schedule),
        offset_of!(RumpuserHyperup, unschedule),
        offset_of!(RumpuserHyperup, backend_unschedule),
        offset_of!(RumpuserHyperup, backend_schedule),
        offset_of!(RumpuserHyperup, lwproc_switch),
        offset_of!(RumpuserHyperup, lwproc_release),
        offset_of!(RumpuserHyperup, lwproc_rfork),
        offset_of!(RumpuserHyperup, lwproc_newlwp),
        offset_of!(RumpuserHyperup, lwproc_curlwp),
        offset_of!(RumpuserHyperup, syscall),
        offset_of!(RumpuserHyperup, lwpexit),
        offset_of!(RumpuserHyperup, execnotify),
        offset_of!(RumpuserHyperup, getpid),
        offset_of!(RumpuserHyperup, extra),
    ];
    for (i, o) in offs.iter().enumerate() {
        assert_eq!(*o, i * 8, "field {i}");
    }
    // Option<fn> is a nullable pointer.
    assert_eq!(size_of::<Option<hyperup::HypVoid>>(), 8);
}

#[test]
fn iovec_layout() {
    assert_eq!(size_of::<RumpuserIovec>(), 16);
    assert_eq!(align_of::<RumpuserIovec>(), 8);
    assert_eq!(offset_of!(RumpuserIovec, base), 0);
    assert_eq!(offset_of!(RumpuserIovec, len), 8);
    assert_eq!(size_of::<Pid>(), 4);
}

#[test]
fn opaque_handles_are_zero_sized() {
    assert_eq!(size_of::<Lwp>(), 0);
    assert_eq!(size_of::<RumpuserMtx>(), 0);
    assert_eq!(size_of::<RumpuserRw>(), 0);
    assert_eq!(size_of::<RumpuserCv>(), 0);
    assert_eq!(size_of::<VirtifSc>(), 0);
    assert_eq!(size_of::<VirtifUser>(), 0);
}

#[test]
fn constants() {
    assert_eq!(RUMPUSER_VERSION, 17);
    assert_eq!(
        [
            RUMPUSER_OPEN_RDONLY,
            RUMPUSER_OPEN_WRONLY,
            RUMPUSER_OPEN_RDWR,
            RUMPUSER_OPEN_ACCMODE,
            RUMPUSER_OPEN_CREATE,
            RUMPUSER_OPEN_EXCL,
            RUMPUSER_OPEN_BIO
        ],
        [0, 1, 2, 3, 4, 8, 0x10]
    );
    assert_eq!(
        [
            RUMPUSER_FT_OTHER,
            RUMPUSER_FT_DIR,
            RUMPUSER_FT_REG,
            RUMPUSER_FT_BLK,
            RUMPUSER_FT_CHR
        ],
        [0, 1, 2, 3, 4]
    );
    assert_eq!(
        [RUMPUSER_BIO_READ, RUMPUSER_BIO_WRITE, RUMPUSER_BIO_SYNC],
        [1, 2, 4]
    );
    assert_eq!(
        [
            RUMPUSER_SYNCFD_READ,
            RUMPUSER_SYNCFD_WRITE,
            RUMPUSER_SYNCFD_BARRIER,
            RUMPUSER_SYNCFD_SYNC
        ],
        [1, 2, 4, 8]
    );
    assert_eq!([RUMPUSER_CLOCK_RELWALL, RUMPUSER_CLOCK_ABSMONO], [0, 1]);
    assert_eq!([RUMPUSER_MTX_SPIN, RUMPUSER_MTX_KMUTEX], [1, 2]);
    assert_eq!([RUMPUSER_RW_READER, RUMPUSER_RW_WRITER], [0, 1]);
    assert_eq!(
        [
            RUMPUSER_LWP_CREATE,
            RUMPUSER_LWP_DESTROY,
            RUMPUSER_LWP_SET,
            RUMPUSER_LWP_CLEAR
        ],
        [0, 1, 2, 3]
    );
    assert_eq!([RUMPUSER_RANDOM_HARD, RUMPUSER_RANDOM_NOWAIT], [1, 2]);
    assert_eq!(RUMPUSER_PARAM_NCPU, "_RUMPUSER_NCPU");
    assert_eq!(RUMPUSER_PARAM_HOSTNAME, "_RUMPUSER_HOSTNAME");
    assert_eq!(
        RUMPUSER_PARAM_NCPU_C.to_bytes(),
        RUMPUSER_PARAM_NCPU.as_bytes()
    );
    assert_eq!(
        RUMPUSER_PARAM_HOSTNAME_C.to_bytes(),
        RUMPUSER_PARAM_HOSTNAME.as_bytes()
    );
}

#[test]
fn errno_numbers() {
    let doc: &[(&str, i32)] = &[
        ("EPERM", 1),
        ("ENOENT", 2),
        ("EINTR", 4),
        ("EIO", 5),
        ("ENXIO", 6),
        ("E2BIG", 7),
        ("EBADF", 9),
        ("ENOMEM", 12),
        ("EACCES", 13),
        ("EFAULT", 14),
        ("EBUSY", 16),
        ("EEXIST", 17),
        ("ENODEV", 19),
        ("ENOTDIR", 20),
        ("EISDIR", 21),
        ("EINVAL", 22),
        ("EMFILE", 24),
        ("ENOTTY", 25),
        ("EFBIG", 27),
        ("ENOSPC", 28),
        ("ESPIPE", 29),
        ("EROFS", 30),
        ("EPIPE", 32),
        ("EAGAIN", 35),
        ("EINPROGRESS", 36),
        ("EALREADY", 37),
        ("ENOTSOCK", 38),
        ("EMSGSIZE", 40),
        ("ENOPROTOOPT", 42),
        ("EPROTONOSUPPORT", 43),
        ("EOPNOTSUPP", 45),
        ("EAFNOSUPPORT", 47),
        ("EADDRINUSE", 48),
        ("EADDRNOTAVAIL", 49),
        ("ENETDOWN", 50),
        ("ENETUNREACH", 51),
        ("ECONNABORTED", 53),
        ("ECONNRESET", 54),
        ("ENOBUFS", 55),
        ("EISCONN", 56),
        ("ENOTCONN", 57),
        ("ETIMEDOUT", 60),
        ("ECONNREFUSED", 61),
        ("ENAMETOOLONG", 63),
        ("EHOSTUNREACH", 65),
        ("ENOTEMPTY", 66),
        ("ENOSYS", 78),
    ];
    assert_eq!(errno::ALL, doc);
    assert_eq!(
        [ENOENT, EBADF, EBUSY, EINVAL, ETIMEDOUT, ENOSYS],
        [2, 9, 16, 22, 60, 78]
    );
    assert_eq!(errno::name(60), Some("ETIMEDOUT"));
    assert_eq!(errno::name(3), None);
}

#[test]
fn hypercall_names() {
    assert_eq!(HYPERCALLS.len(), 56);
    for (i, a) in HYPERCALLS.iter().enumerate() {
        assert!(a.starts_with("rumpuser_") || a.starts_with("rumpcomp_virt_"));
        for b in &HYPERCALLS[i + 1..] {
            assert_ne!(a, b, "duplicate");
        }
    }
    for v in ["create", "send", "dying", "destroy"] {
        let mut buf = [0u8; 32];
        let s = b"rumpcomp_virt_";
        buf[..s.len()].copy_from_slice(s);
        buf[s.len()..s.len() + v.len()].copy_from_slice(v.as_bytes());
        let name = core::str::from_utf8(&buf[..s.len() + v.len()]).unwrap();
        assert!(HYPERCALLS.contains(&name));
    }
    assert_eq!(names::KERNEL_DELIVERPKT, "rump_virtif_virt_deliverpkt");
}

/// `calls` declares exactly the platform's symbols of `HYPERCALLS`, each
/// once.
#[test]
fn every_hypercall_is_declared_once() {
    let source = include_str!("calls.rs");
    let declared = |name: &str| {
        let mut pattern = [0u8; 64];
        let head = b"pub fn ";
        pattern[..head.len()].copy_from_slice(head);
        pattern[head.len()..head.len() + name.len()].copy_from_slice(name.as_bytes());
        pattern[head.len() + name.len()] = b'(';
        let pattern = core::str::from_utf8(&pattern[..head.len() + name.len() + 1]).unwrap();
        source.matches(pattern).count()
    };
    // The kernel's upcall for received frames is defined by the kernel,
    // not declared for it.
    let calls = HYPERCALLS
        .iter()
        .filter(|n| **n != names::KERNEL_DELIVERPKT);
    for name in calls.clone() {
        assert_eq!(declared(name), 1, "{name}");
    }
    assert_eq!(source.matches("pub fn ").count(), calls.count());
}
