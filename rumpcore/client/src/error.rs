//! The client's error: a NetBSD errno the kernel returned, or a call the
//! client refused before reaching the kernel, each with a readable
//! message ("connection refused (ECONNREFUSED)").

use core::fmt;

use rumpuser_abi::errno::*;

/// What went wrong in a client call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The kernel failed the call with this NetBSD errno number.
    Errno(i32),
    /// A path or name holds a NUL byte, so it cannot become a C string.
    InteriorNul,
    /// The kernel answered with something the ABI does not allow (an
    /// unknown address family, a malformed directory record).
    BadReply(&'static str),
}

/// A client call's result.
pub type Result<T> = core::result::Result<T, Error>;

/// NetBSD errno numbers (rumpuser-abi's selection), names and messages.
const ERRNOS: &[(i32, &str, &str)] = &[
    (EPERM, "EPERM", "operation not permitted"),
    (ENOENT, "ENOENT", "no such file or directory"),
    (EINTR, "EINTR", "interrupted system call"),
    (EIO, "EIO", "input/output error"),
    (ENXIO, "ENXIO", "device not configured"),
    (E2BIG, "E2BIG", "argument list too long"),
    (EBADF, "EBADF", "bad file descriptor"),
    (ENOMEM, "ENOMEM", "cannot allocate memory"),
    (EACCES, "EACCES", "permission denied"),
    (EFAULT, "EFAULT", "bad address"),
    (EBUSY, "EBUSY", "device busy"),
    (EEXIST, "EEXIST", "file exists"),
    (ENODEV, "ENODEV", "operation not supported by device"),
    (ENOTDIR, "ENOTDIR", "not a directory"),
    (EISDIR, "EISDIR", "is a directory"),
    (EINVAL, "EINVAL", "invalid argument"),
    (EMFILE, "EMFILE", "too many open files"),
    (ENOTTY, "ENOTTY", "inappropriate ioctl for device"),
    (EFBIG, "EFBIG", "file too large"),
    (ENOSPC, "ENOSPC", "no space left on device"),
    (ESPIPE, "ESPIPE", "illegal seek"),
    (EROFS, "EROFS", "read-only file system"),
    (EPIPE, "EPIPE", "broken pipe"),
    (EAGAIN, "EAGAIN", "resource temporarily unavailable"),
    (EINPROGRESS, "EINPROGRESS", "operation now in progress"),
    (EALREADY, "EALREADY", "operation already in progress"),
    (ENOTSOCK, "ENOTSOCK", "socket operation on non-socket"),
    (EMSGSIZE, "EMSGSIZE", "message too long"),
    (ENOPROTOOPT, "ENOPROTOOPT", "protocol option not available"),
    (EPROTONOSUPPORT, "EPROTONOSUPPORT", "protocol not supported"),
    (EOPNOTSUPP, "EOPNOTSUPP", "operation not supported"),
    (
        EAFNOSUPPORT,
        "EAFNOSUPPORT",
        "address family not supported by protocol family",
    ),
    (EADDRINUSE, "EADDRINUSE", "address already in use"),
    (
        EADDRNOTAVAIL,
        "EADDRNOTAVAIL",
        "can't assign requested address",
    ),
    (ENETDOWN, "ENETDOWN", "network is down"),
    (ENETUNREACH, "ENETUNREACH", "network is unreachable"),
    (
        ECONNABORTED,
        "ECONNABORTED",
        "software caused connection abort",
    ),
    (ECONNRESET, "ECONNRESET", "connection reset by peer"),
    (ENOBUFS, "ENOBUFS", "no buffer space available"),
    (EISCONN, "EISCONN", "socket is already connected"),
    (ENOTCONN, "ENOTCONN", "socket is not connected"),
    (ETIMEDOUT, "ETIMEDOUT", "operation timed out"),
    (ECONNREFUSED, "ECONNREFUSED", "connection refused"),
    (ENAMETOOLONG, "ENAMETOOLONG", "file name too long"),
    (EHOSTUNREACH, "EHOSTUNREACH", "no route to host"),
    (ENOTEMPTY, "ENOTEMPTY", "directory not empty"),
    (ENOSYS, "ENOSYS", "function not implemented"),
];

impl Error {
    /// The NetBSD errno number, if the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Errno(e) => Some(*e),
            _ => None,
        }
    }

    /// The errno's symbolic name ("ECONNREFUSED"), if known.
    pub fn name(&self) -> Option<&'static str> {
        let e = self.errno()?;
        ERRNOS
            .iter()
            .find(|(n, _, _)| *n == e)
            .map(|(_, name, _)| *name)
    }

    /// Whether this is EAGAIN (a non-blocking call would have blocked).
    pub fn would_block(&self) -> bool {
        *self == Error::Errno(EAGAIN)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Errno(e) => match ERRNOS.iter().find(|(n, _, _)| n == e) {
                Some((_, name, msg)) => write!(f, "{msg} ({name})"),
                None => write!(f, "errno {e}"),
            },
            Error::InteriorNul => f.write_str("a path or name holds a NUL byte"),
            Error::BadReply(what) => write!(f, "the kernel broke the ABI: {what}"),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn messages() {
        assert_eq!(
            Error::Errno(61).to_string(),
            "connection refused (ECONNREFUSED)"
        );
        assert_eq!(Error::Errno(2).name(), Some("ENOENT"));
        assert_eq!(Error::Errno(999).to_string(), "errno 999");
        assert!(Error::Errno(35).would_block());
        assert_eq!(Error::InteriorNul.errno(), None);
    }
}
