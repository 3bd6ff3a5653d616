//! NetBSD errno numbers (the ABI doc's selection). Every hypercall returns
//! these, never the host's numbers.

use core::ffi::c_int;

/// Operation not permitted.
pub const EPERM: c_int = 1;
/// No such file or directory.
pub const ENOENT: c_int = 2;
/// Interrupted system call.
pub const EINTR: c_int = 4;
/// Input/output error.
pub const EIO: c_int = 5;
/// Device not configured.
pub const ENXIO: c_int = 6;
/// Argument list too long.
pub const E2BIG: c_int = 7;
/// Bad file descriptor.
pub const EBADF: c_int = 9;
/// Cannot allocate memory.
pub const ENOMEM: c_int = 12;
/// Permission denied.
pub const EACCES: c_int = 13;
/// Bad address.
pub const EFAULT: c_int = 14;
/// Device busy.
pub const EBUSY: c_int = 16;
/// File exists.
pub const EEXIST: c_int = 17;
/// Operation not supported by device.
pub const ENODEV: c_int = 19;
/// Not a directory.
pub const ENOTDIR: c_int = 20;
/// Is a directory.
pub const EISDIR: c_int = 21;
/// Invalid argument.
pub const EINVAL: c_int = 22;
/// Too many open files.
pub const EMFILE: c_int = 24;
/// Inappropriate ioctl for device.
pub const ENOTTY: c_int = 25;
/// File too large.
pub const EFBIG: c_int = 27;
/// No space left on device.
pub const ENOSPC: c_int = 28;
/// Illegal seek.
pub const ESPIPE: c_int = 29;
/// Read-only file system.
pub const EROFS: c_int = 30;
/// Broken pipe.
pub const EPIPE: c_int = 32;
/// Resource temporarily unavailable.
pub const EAGAIN: c_int = 35;
/// Operation now in progress.
pub const EINPROGRESS: c_int = 36;
/// Operation already in progress.
pub const EALREADY: c_int = 37;
/// Socket operation on non-socket.
pub const ENOTSOCK: c_int = 38;
/// Message too long.
pub const EMSGSIZE: c_int = 40;
/// Protocol not available.
pub const ENOPROTOOPT: c_int = 42;
/// Protocol not supported.
pub const EPROTONOSUPPORT: c_int = 43;
/// Operation not supported.
pub const EOPNOTSUPP: c_int = 45;
/// Address family not supported by protocol family.
pub const EAFNOSUPPORT: c_int = 47;
/// Address already in use.
pub const EADDRINUSE: c_int = 48;
/// Can't assign requested address.
pub const EADDRNOTAVAIL: c_int = 49;
/// Network is down.
pub const ENETDOWN: c_int = 50;
/// Network is unreachable.
pub const ENETUNREACH: c_int = 51;
/// Software caused connection abort.
pub const ECONNABORTED: c_int = 53;
/// Connection reset by peer.
pub const ECONNRESET: c_int = 54;
/// No buffer space available.
pub const ENOBUFS: c_int = 55;
/// Socket is already connected.
pub const EISCONN: c_int = 56;
/// Socket is not connected.
pub const ENOTCONN: c_int = 57;
/// Operation timed out.
pub const ETIMEDOUT: c_int = 60;
/// Connection refused.
pub const ECONNREFUSED: c_int = 61;
/// File name too long.
pub const ENAMETOOLONG: c_int = 63;
/// No route to host.
pub const EHOSTUNREACH: c_int = 65;
/// Directory not empty.
pub const ENOTEMPTY: c_int = 66;
/// Function not implemented.
pub const ENOSYS: c_int = 78;

/// Every errno above with its name, for messages and table checks.
pub const ALL: &[(&str, c_int)] = &[
    ("EPERM", EPERM),
    ("ENOENT", ENOENT),
    ("EINTR", EINTR),
    ("EIO", EIO),
    ("ENXIO", ENXIO),
    ("E2BIG", E2BIG),
    ("EBADF", EBADF),
    ("ENOMEM", ENOMEM),
    ("EACCES", EACCES),
    ("EFAULT", EFAULT),
    ("EBUSY", EBUSY),
    ("EEXIST", EEXIST),
    ("ENODEV", ENODEV),
    ("ENOTDIR", ENOTDIR),
    ("EISDIR", EISDIR),
    ("EINVAL", EINVAL),
    ("EMFILE", EMFILE),
    ("ENOTTY", ENOTTY),
    ("EFBIG", EFBIG),
    ("ENOSPC", ENOSPC),
    ("ESPIPE", ESPIPE),
    ("EROFS", EROFS),
    ("EPIPE", EPIPE),
    ("EAGAIN", EAGAIN),
    ("EINPROGRESS", EINPROGRESS),
    ("EALREADY", EALREADY),
    ("ENOTSOCK", ENOTSOCK),
    ("EMSGSIZE", EMSGSIZE),
    ("ENOPROTOOPT", ENOPROTOOPT),
    ("EPROTONOSUPPORT", EPROTONOSUPPORT),
    ("EOPNOTSUPP", EOPNOTSUPP),
    ("EAFNOSUPPORT", EAFNOSUPPORT),
    ("EADDRINUSE", EADDRINUSE),
    ("EADDRNOTAVAIL", EADDRNOTAVAIL),
    ("ENETDOWN", ENETDOWN),
    ("ENETUNREACH", ENETUNREACH),
    ("ECONNABORTED", ECONNABORTED),
    ("ECONNRESET", ECONNRESET),
    ("ENOBUFS", ENOBUFS),
    ("EISCONN", EISCONN),
    ("ENOTCONN", ENOTCONN),
    ("ETIMEDOUT", ETIMEDOUT),
    ("ECONNREFUSED", ECONNREFUSED),
    ("ENAMETOOLONG", ENAMETOOLONG),
    ("EHOSTUNREACH", EHOSTUNREACH),
    ("ENOTEMPTY", ENOTEMPTY),
    ("ENOSYS", ENOSYS),
];

/// The name of a NetBSD errno number, if it is in [`ALL`].
pub fn name(e: c_int) -> Option<&'static str> {
    ALL.iter().find(|(_, v)| *v == e).map(|(n, _)| *n)
}
