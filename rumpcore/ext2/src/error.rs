//! The file system's error type and its NetBSD errno mapping.

use core::fmt;
use rumpuser_abi::errno;

use crate::device::IoError;

/// Why a file system operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsError {
    /// The block device failed (EIO).
    Io(IoError),
    /// On-disk metadata is inconsistent; the text says what (EIO).
    Corrupt(&'static str),
    /// The image uses a feature this implementation does not support (EINVAL).
    Unsupported(&'static str),
    /// No such file or directory (ENOENT).
    NotFound,
    /// The name already exists (EEXIST).
    Exists,
    /// A path component is not a directory (ENOTDIR).
    NotDir,
    /// The operation needs a non-directory (EISDIR).
    IsDir,
    /// Bad argument, e.g. renaming a directory into itself (EINVAL).
    Invalid,
    /// The file would exceed the largest size the format allows (EFBIG).
    TooBig,
    /// No free blocks or inodes (ENOSPC).
    NoSpace,
    /// The file system is mounted read-only (EROFS).
    ReadOnly,
    /// A name is longer than 255 bytes (ENAMETOOLONG).
    NameTooLong,
    /// The directory is not empty (ENOTEMPTY).
    NotEmpty,
}

impl FsError {
    /// The NetBSD errno number for this error.
    pub fn errno(&self) -> i32 {
        match self {
            FsError::Io(_) | FsError::Corrupt(_) => errno::EIO,
            FsError::Unsupported(_) | FsError::Invalid => errno::EINVAL,
            FsError::NotFound => errno::ENOENT,
            FsError::Exists => errno::EEXIST,
            FsError::NotDir => errno::ENOTDIR,
            FsError::IsDir => errno::EISDIR,
            FsError::TooBig => errno::EFBIG,
            FsError::NoSpace => errno::ENOSPC,
            FsError::ReadOnly => errno::EROFS,
            FsError::NameTooLong => errno::ENAMETOOLONG,
            FsError::NotEmpty => errno::ENOTEMPTY,
        }
    }
}

impl From<IoError> for FsError {
    fn from(e: IoError) -> Self {
        FsError::Io(e)
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::Io(e) => write!(f, "I/O error: {e:?}"),
            FsError::Corrupt(what) => write!(f, "corrupt file system: {what}"),
            FsError::Unsupported(what) => write!(f, "unsupported: {what}"),
            other => write!(f, "{other:?} (errno {})", other.errno()),
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T> = core::result::Result<T, FsError>;
