//! rumpcore-ext2: an ext2 file system (revision 1, the format `mke2fs -t
//! ext2` writes and NetBSD mounts as `ext2fs`) in safe `no_std` Rust, over
//! a byte-addressed [`BlockDevice`].
//!
//! Written from the public on-disk format: superblock at byte 1024, block
//! group descriptors, inode and block bitmaps, inode tables, direct and
//! single/double/triple indirect block pointers, linked-list directories.
//! Supported features: `filetype`, `sparse_super`, `large_file` (and every
//! compat feature, which by definition a writer may ignore). Other
//! incompat features refuse to mount; other ro_compat features mount
//! read-only only.
//!
//! Every on-disk value is checked before use: corrupt metadata gives
//! [`FsError::Corrupt`] (EIO) or [`FsError::Invalid`] (EINVAL), never a
//! panic.
//!
//! ```ignore
//! let mut fs = Fs::mount(dev, false)?;
//! let ino = fs.open("/etc/motd", OpenFlags::CREATE, 0o644)?;
//! fs.write_at(ino, 0, b"hello\n")?;
//! fs.fsync(ino)?;
//! let dev = fs.unmount().map_err(|(err, _dev)| err)?;
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod alloc_map;
mod bmap;
mod cache;
mod device;
mod dir;
mod disk;
mod error;
mod fs;
mod handles;
mod ops;

pub use device::{BlockDevice, IoError};
pub use dir::{DirEntry, FileType};
pub use error::FsError;
pub use fs::{Fs, Ino, ROOT_INO};
pub use ops::{OpenFlags, Stat};
