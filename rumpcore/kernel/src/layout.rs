//! NetBSD amd64 layouts of `struct stat` (as `stat50`/`fstat50` fill it)
//! and `struct dirent` (as `getdents30` packs it), with the mode and
//! `d_type` constants.

use rumpcore_ext2::{FileType, Stat as FsStat};

/// Mode: the file type mask.
pub const S_IFMT: u32 = 0o170000;
/// Mode: a directory.
pub const S_IFDIR: u32 = 0o040000;
/// Mode: a regular file.
pub const S_IFREG: u32 = 0o100000;
/// Mode: a socket.
pub const S_IFSOCK: u32 = 0o140000;

/// `d_type`: not known.
pub const DT_UNKNOWN: u8 = 0;
/// `d_type`: a directory.
pub const DT_DIR: u8 = 4;
/// `d_type`: a regular file.
pub const DT_REG: u8 = 8;

/// `struct timespec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    /// Seconds since 1970.
    pub tv_sec: i64,
    /// Nanoseconds.
    pub tv_nsec: i64,
}

/// NetBSD's `struct stat` (the `stat50` ABI), 152 bytes.
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
    /// Creation (ext2 has none: the change time).
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
    assert!(core::mem::size_of::<Stat>() == 152);
    assert!(core::mem::offset_of!(Stat, st_mode) == 8);
    assert!(core::mem::offset_of!(Stat, st_ino) == 16);
    assert!(core::mem::offset_of!(Stat, st_nlink) == 24);
    assert!(core::mem::offset_of!(Stat, st_gid) == 32);
    assert!(core::mem::offset_of!(Stat, st_rdev) == 40);
    assert!(core::mem::offset_of!(Stat, st_atimespec) == 48);
    assert!(core::mem::offset_of!(Stat, st_mtimespec) == 64);
    assert!(core::mem::offset_of!(Stat, st_ctimespec) == 80);
    assert!(core::mem::offset_of!(Stat, st_birthtimespec) == 96);
    assert!(core::mem::offset_of!(Stat, st_size) == 112);
    assert!(core::mem::offset_of!(Stat, st_blocks) == 120);
    assert!(core::mem::offset_of!(Stat, st_blksize) == 128);
    assert!(core::mem::offset_of!(Stat, st_flags) == 132);
    assert!(core::mem::offset_of!(Stat, st_gen) == 136);
    assert!(core::mem::offset_of!(Stat, st_spare) == 140);
};

fn secs(t: u32) -> Timespec {
    Timespec {
        tv_sec: i64::from(t),
        tv_nsec: 0,
    }
}

impl Stat {
    /// The status of an ext2 file on the device numbered `dev`.
    pub fn from_fs(s: &FsStat, dev: u64) -> Stat {
        Stat {
            st_dev: dev,
            st_mode: u32::from(s.mode),
            st_ino: u64::from(s.ino),
            st_nlink: u32::from(s.nlink),
            st_uid: s.uid,
            st_gid: s.gid,
            st_atimespec: secs(s.atime),
            st_mtimespec: secs(s.mtime),
            st_ctimespec: secs(s.ctime),
            st_birthtimespec: secs(s.ctime),
            st_size: i64::try_from(s.size).unwrap_or(i64::MAX),
            st_blocks: i64::try_from(s.blocks).unwrap_or(i64::MAX),
            st_blksize: i32::try_from(s.blksize).unwrap_or(i32::MAX),
            ..Stat::default()
        }
    }

    /// The status of a socket: only the type.
    pub fn socket() -> Stat {
        Stat {
            st_mode: S_IFSOCK,
            ..Stat::default()
        }
    }
}

/// Offset of `d_name` in `struct dirent`.
pub const DIRENT_NAME_OFF: usize = 13;

/// `d_reclen` of an entry with a name of `namlen` bytes (NUL included,
/// rounded up to 8).
pub fn dirent_reclen(namlen: usize) -> usize {
    (DIRENT_NAME_OFF + namlen + 1 + 7) & !7
}

/// The `d_type` for an ext2 entry type.
pub fn dirent_type(k: FileType) -> u8 {
    match k {
        FileType::Dir => DT_DIR,
        FileType::Regular => DT_REG,
        _ => DT_UNKNOWN,
    }
}

/// Packs one `struct dirent` into the front of `out`: its length, or
/// None if it does not fit (or the name is longer than a `u16` holds).
pub fn put_dirent(out: &mut [u8], fileno: u64, ty: u8, name: &[u8]) -> Option<usize> {
    let namlen = u16::try_from(name.len()).ok()?;
    let reclen = dirent_reclen(name.len());
    let rec = out.get_mut(..reclen)?;
    rec.fill(0);
    rec[0..8].copy_from_slice(&fileno.to_ne_bytes());
    rec[8..10].copy_from_slice(&(reclen as u16).to_ne_bytes());
    rec[10..12].copy_from_slice(&namlen.to_ne_bytes());
    rec[12] = ty;
    rec[DIRENT_NAME_OFF..DIRENT_NAME_OFF + name.len()].copy_from_slice(name);
    Some(reclen)
}
