//! Linux errno numbers to NetBSD ones (the ABI doc's selection).

use core::ffi::c_int;

use rumpuser_abi::errno as nb;

/// Linux → NetBSD pairs.
const TABLE: &[(c_int, c_int)] = &[
    (libc::EPERM, nb::EPERM),
    (libc::ENOENT, nb::ENOENT),
    (libc::EINTR, nb::EINTR),
    (libc::EIO, nb::EIO),
    (libc::ENXIO, nb::ENXIO),
    (libc::E2BIG, nb::E2BIG),
    (libc::EBADF, nb::EBADF),
    (libc::ENOMEM, nb::ENOMEM),
    (libc::EACCES, nb::EACCES),
    (libc::EFAULT, nb::EFAULT),
    (libc::EBUSY, nb::EBUSY),
    (libc::EEXIST, nb::EEXIST),
    (libc::ENODEV, nb::ENODEV),
    (libc::ENOTDIR, nb::ENOTDIR),
    (libc::EISDIR, nb::EISDIR),
    (libc::EINVAL, nb::EINVAL),
    (libc::EMFILE, nb::EMFILE),
    (libc::EFBIG, nb::EFBIG),
    (libc::ENOSPC, nb::ENOSPC),
    (libc::ESPIPE, nb::ESPIPE),
    (libc::EROFS, nb::EROFS),
    (libc::EPIPE, nb::EPIPE),
    (libc::EAGAIN, nb::EAGAIN),
    (libc::EINPROGRESS, nb::EINPROGRESS),
    (libc::EALREADY, nb::EALREADY),
    (libc::ENOTSOCK, nb::ENOTSOCK),
    (libc::EMSGSIZE, nb::EMSGSIZE),
    (libc::ENOPROTOOPT, nb::ENOPROTOOPT),
    (libc::EPROTONOSUPPORT, nb::EPROTONOSUPPORT),
    (libc::EOPNOTSUPP, nb::EOPNOTSUPP),
    (libc::EAFNOSUPPORT, nb::EAFNOSUPPORT),
    (libc::EADDRINUSE, nb::EADDRINUSE),
    (libc::EADDRNOTAVAIL, nb::EADDRNOTAVAIL),
    (libc::ENETDOWN, nb::ENETDOWN),
    (libc::ENETUNREACH, nb::ENETUNREACH),
    (libc::ECONNABORTED, nb::ECONNABORTED),
    (libc::ECONNRESET, nb::ECONNRESET),
    (libc::ENOBUFS, nb::ENOBUFS),
    (libc::EISCONN, nb::EISCONN),
    (libc::ENOTCONN, nb::ENOTCONN),
    (libc::ETIMEDOUT, nb::ETIMEDOUT),
    (libc::ECONNREFUSED, nb::ECONNREFUSED),
    (libc::ENAMETOOLONG, nb::ENAMETOOLONG),
    (libc::EHOSTUNREACH, nb::EHOSTUNREACH),
    (libc::ENOTEMPTY, nb::ENOTEMPTY),
    (libc::ENOSYS, nb::ENOSYS),
];

/// The NetBSD number for a Linux errno; EIO for anything outside the table.
pub fn from_linux(e: c_int) -> c_int {
    TABLE
        .iter()
        .find(|(l, _)| *l == e)
        .map(|(_, n)| *n)
        .unwrap_or(nb::EIO)
}

/// The NetBSD number for the calling thread's current Linux errno.
pub fn last() -> c_int {
    from_linux(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// The NetBSD number for an I/O error.
pub fn from_io(e: &std::io::Error) -> c_int {
    e.raw_os_error().map(from_linux).unwrap_or(nb::EIO)
}
