//! The kernel's side of NetBSD's client layouts (defined in
//! [`rumpuser_abi::client`]): an ext2 file's status as a `struct stat`,
//! a socket's status, and an ext2 entry type as a `d_type`.

use rumpcore_ext2::{FileType, Stat as FsStat};
use rumpuser_abi::client::{Stat, Timespec, DT_DIR, DT_REG, DT_UNKNOWN, S_IFSOCK};

fn secs(t: u32) -> Timespec {
    Timespec {
        tv_sec: i64::from(t),
        tv_nsec: 0,
    }
}

/// The status of an ext2 file on the device numbered `dev` (ext2 has no
/// creation time: the birth time is the change time).
pub fn stat_from_fs(s: &FsStat, dev: u64) -> Stat {
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
pub fn socket_stat() -> Stat {
    Stat {
        st_mode: S_IFSOCK,
        ..Stat::default()
    }
}

/// The `d_type` for an ext2 entry type.
pub fn dirent_type(k: FileType) -> u8 {
    match k {
        FileType::Dir => DT_DIR,
        FileType::Regular => DT_REG,
        _ => DT_UNKNOWN,
    }
}
