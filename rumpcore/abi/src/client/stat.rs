//! The client ABI's C structures: `struct pollfd`, `struct timespec`,
//! `struct stat` as `stat50`/`fstat50` fill it (checked offsets) and the
//! ext2fs `mount` arguments.

/// `struct pollfd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollFd {
    /// The descriptor.
    pub fd: i32,
    /// Wanted events (`POLLIN`, `POLLOUT`).
    pub events: i16,
    /// Events that happened, filled in by `poll`.
    pub revents: i16,
}

impl PollFd {
    /// Asks for `events` (`POLLIN`, `POLLOUT`) on descriptor `fd`.
    pub fn new(fd: i32, events: i16) -> PollFd {
        PollFd {
            fd,
            events,
            revents: 0,
        }
    }
}

/// `struct timespec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    /// Seconds since 1970.
    pub tv_sec: i64,
    /// Nanoseconds.
    pub tv_nsec: i64,
}

/// `struct stat` as `stat50`/`fstat50` fill it (152 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// Device of the file system.
    pub st_dev: u64,
    /// Type and permission bits.
    pub st_mode: u32,
    /// Inode number.
    pub st_ino: u64,
    /// Hard links.
    pub st_nlink: u32,
    /// Owner.
    pub st_uid: u32,
    /// Group.
    pub st_gid: u32,
    /// Device number (device files only).
    pub st_rdev: u64,
    /// Last access.
    pub st_atimespec: Timespec,
    /// Last modification.
    pub st_mtimespec: Timespec,
    /// Last status change.
    pub st_ctimespec: Timespec,
    /// Creation.
    pub st_birthtimespec: Timespec,
    /// Size in bytes.
    pub st_size: i64,
    /// Allocated 512-byte units.
    pub st_blocks: i64,
    /// Preferred I/O size.
    pub st_blksize: i32,
    /// User flags.
    pub st_flags: u32,
    /// Generation number.
    pub st_gen: u32,
    /// Reserved.
    pub st_spare: [u32; 2],
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<Stat>() == 152);
    assert!(offset_of!(Stat, st_mode) == 8);
    assert!(offset_of!(Stat, st_ino) == 16);
    assert!(offset_of!(Stat, st_nlink) == 24);
    assert!(offset_of!(Stat, st_uid) == 28);
    assert!(offset_of!(Stat, st_gid) == 32);
    assert!(offset_of!(Stat, st_rdev) == 40);
    assert!(offset_of!(Stat, st_atimespec) == 48);
    assert!(offset_of!(Stat, st_mtimespec) == 64);
    assert!(offset_of!(Stat, st_ctimespec) == 80);
    assert!(offset_of!(Stat, st_birthtimespec) == 96);
    assert!(offset_of!(Stat, st_size) == 112);
    assert!(offset_of!(Stat, st_blocks) == 120);
    assert!(offset_of!(Stat, st_blksize) == 128);
    assert!(offset_of!(Stat, st_flags) == 132);
    assert!(offset_of!(Stat, st_gen) == 136);
    assert!(offset_of!(Stat, st_spare) == 140);
    assert!(size_of::<PollFd>() == 8);
};

/// The arguments of an ext2fs `mount`: the device key first (NetBSD's
/// `struct ufs_args`).
#[repr(C)]
#[derive(Debug)]
pub struct UfsArgs {
    /// The block device's name (an etfs key).
    pub fspec: *const core::ffi::c_char,
}
