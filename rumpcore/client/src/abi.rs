//! NetBSD's client ABI layouts and numbers (amd64) as the `rump___sysimpl_*`
//! calls take them: `struct stat` (stat50), `struct dirent` (getdents30),
//! `struct pollfd`, `sockaddr_in`/`sockaddr_in6` (with `sin_len` first),
//! and the flag, option and errno numbers the client passes.

use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// `AF_INET`.
pub const AF_INET: i32 = 2;
/// `AF_INET6`.
pub const AF_INET6: i32 = 24;
/// `SOCK_STREAM`.
pub const SOCK_STREAM: i32 = 1;
/// `SOCK_DGRAM`.
pub const SOCK_DGRAM: i32 = 2;
/// `SOL_SOCKET`.
pub const SOL_SOCKET: i32 = 0xffff;
/// `SO_REUSEADDR`.
pub const SO_REUSEADDR: i32 = 0x4;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: i32 = 6;
/// `TCP_NODELAY`.
pub const TCP_NODELAY: i32 = 1;
/// `shutdown` how: no more receives.
pub const SHUT_RD: i32 = 0;
/// `shutdown` how: no more sends.
pub const SHUT_WR: i32 = 1;
/// `shutdown` how: neither.
pub const SHUT_RDWR: i32 = 2;

/// `open` flag: read only.
pub const O_RDONLY: i32 = 0;
/// `open` flag: write only.
pub const O_WRONLY: i32 = 1;
/// `open` flag: read and write.
pub const O_RDWR: i32 = 2;
/// `open`/`fcntl` flag: non-blocking.
pub const O_NONBLOCK: i32 = 0x4;
/// `open` flag: writes append.
pub const O_APPEND: i32 = 0x8;
/// `open` flag: create if missing.
pub const O_CREAT: i32 = 0x200;
/// `open` flag: truncate to 0.
pub const O_TRUNC: i32 = 0x400;
/// `open` flag: fail if it exists (with `O_CREAT`).
pub const O_EXCL: i32 = 0x800;
/// `fcntl`: get the status flags.
pub const F_GETFL: i32 = 3;
/// `fcntl`: set the status flags.
pub const F_SETFL: i32 = 4;
/// `lseek` whence: from the start.
pub const SEEK_SET: i32 = 0;
/// `lseek` whence: from the current offset.
pub const SEEK_CUR: i32 = 1;
/// `lseek` whence: from the end.
pub const SEEK_END: i32 = 2;

/// `rump_pub_etfs_register` type: a block device.
pub const RUMP_ETFS_BLK: i32 = 1;
/// `mount` flag: read only.
pub const MNT_RDONLY: i32 = 0x1;
/// NetBSD's name of the second extended file system.
pub const MOUNT_EXT2FS: &core::ffi::CStr = c"ext2fs";

/// `poll` event: data to read.
pub const POLLIN: i16 = 0x1;
/// `poll` event: urgent data.
pub const POLLPRI: i16 = 0x2;
/// `poll` event: room to write.
pub const POLLOUT: i16 = 0x4;
/// `poll` result: an error is pending.
pub const POLLERR: i16 = 0x8;
/// `poll` result: the peer hung up.
pub const POLLHUP: i16 = 0x10;
/// `poll` result: not an open descriptor.
pub const POLLNVAL: i16 = 0x20;

/// Mode: the file type mask.
pub const S_IFMT: u32 = 0o170000;
/// Mode: a directory.
pub const S_IFDIR: u32 = 0o040000;
/// Mode: a regular file.
pub const S_IFREG: u32 = 0o100000;

/// `d_type`: a directory.
pub const DT_DIR: u8 = 4;
/// `d_type`: a regular file.
pub const DT_REG: u8 = 8;

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

/// `struct dirent` field offsets: `d_fileno` u64, `d_reclen` u16,
/// `d_namlen` u16, `d_type` u8, then the NUL-terminated `d_name`.
pub mod dirent {
    /// Offset of `d_fileno` (u64).
    pub const FILENO: usize = 0;
    /// Offset of `d_reclen` (u16): the record's length; walk by it.
    pub const RECLEN: usize = 8;
    /// Offset of `d_namlen` (u16): the name's length without its NUL.
    pub const NAMLEN: usize = 10;
    /// Offset of `d_type` (u8).
    pub const TYPE: usize = 12;
    /// Offset of `d_name`.
    pub const NAME: usize = 13;
}

/// One `struct dirent` as packed by `getdents30`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawDirent<'a> {
    /// `d_fileno`.
    pub fileno: u64,
    /// `d_type`.
    pub ty: u8,
    /// `d_name` without its NUL.
    pub name: &'a [u8],
}

/// Splits the first record off a `getdents30` buffer: the entry and the
/// rest, or None when `buf` does not hold a well-formed record (a
/// `d_reclen` shorter than its header and name, or past the buffer).
pub fn next_dirent(buf: &[u8]) -> Option<(RawDirent<'_>, &[u8])> {
    let u16_at = |off: usize| -> Option<u16> {
        Some(u16::from_ne_bytes(buf.get(off..off + 2)?.try_into().ok()?))
    };
    let fileno = u64::from_ne_bytes(
        buf.get(dirent::FILENO..dirent::FILENO + 8)?
            .try_into()
            .ok()?,
    );
    let reclen = usize::from(u16_at(dirent::RECLEN)?);
    let namlen = usize::from(u16_at(dirent::NAMLEN)?);
    let ty = *buf.get(dirent::TYPE)?;
    if reclen < dirent::NAME + namlen + 1 || reclen > buf.len() {
        return None;
    }
    let name = &buf[dirent::NAME..dirent::NAME + namlen];
    Some((RawDirent { fileno, ty, name }, &buf[reclen..]))
}

/// `sizeof(struct sockaddr_in)`: `sin_len` u8, `sin_family` u8,
/// `sin_port` u16 big-endian, `sin_addr` 4 bytes, 8 bytes of zero.
pub const SOCKADDR_IN_LEN: usize = 16;
/// `sizeof(struct sockaddr_in6)`: `sin6_len` u8, `sin6_family` u8,
/// `sin6_port` u16 big-endian, `sin6_flowinfo` u32 big-endian,
/// `sin6_addr` 16 bytes, `sin6_scope_id` u32.
pub const SOCKADDR_IN6_LEN: usize = 28;

/// Room for either socket address, as the calls take and fill it.
#[repr(C, align(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockaddrBuf {
    /// The address bytes.
    pub bytes: [u8; SOCKADDR_IN6_LEN],
}

impl SockaddrBuf {
    /// `addr` in its NetBSD layout, with that layout's length.
    pub fn encode(addr: &SocketAddr) -> (SockaddrBuf, u32) {
        let mut b = [0u8; SOCKADDR_IN6_LEN];
        b[2..4].copy_from_slice(&addr.port().to_be_bytes());
        let len = match addr {
            SocketAddr::V4(a) => {
                b[1] = AF_INET as u8;
                b[4..8].copy_from_slice(&a.ip().octets());
                SOCKADDR_IN_LEN
            }
            SocketAddr::V6(a) => {
                b[1] = AF_INET6 as u8;
                b[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
                b[8..24].copy_from_slice(&a.ip().octets());
                b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
                SOCKADDR_IN6_LEN
            }
        };
        b[0] = len as u8;
        (SockaddrBuf { bytes: b }, len as u32)
    }

    /// The address the kernel stored, `len` bytes of it valid; None for
    /// an unknown family or a length too short for the family.
    pub fn decode(&self, len: u32) -> Option<SocketAddr> {
        let b = &self.bytes;
        let len = len as usize;
        let port = u16::from_be_bytes([b[2], b[3]]);
        match i32::from(b[1]) {
            AF_INET if len >= SOCKADDR_IN_LEN => {
                let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
                Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
            }
            AF_INET6 if len >= SOCKADDR_IN6_LEN => {
                let flow = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                let mut ip = [0u8; 16];
                ip.copy_from_slice(&b[8..24]);
                let scope = u32::from_ne_bytes([b[24], b[25], b[26], b[27]]);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(ip),
                    port,
                    flow,
                    scope,
                )))
            }
            _ => None,
        }
    }
}

/// The arguments of an ext2fs `mount`: the device key first (NetBSD's
/// `struct ufs_args`).
#[repr(C)]
#[derive(Debug)]
pub struct UfsArgs {
    /// The block device's name (an etfs key).
    pub fspec: *const core::ffi::c_char,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_in_layout() {
        let a: SocketAddr = "10.0.0.1:8080".parse().unwrap();
        let (b, len) = SockaddrBuf::encode(&a);
        assert_eq!(len, 16);
        assert_eq!(
            b.bytes[..16],
            [16, 2, 0x1f, 0x90, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(b.decode(len), Some(a));
        assert_eq!(b.decode(15), None);
    }

    #[test]
    fn sockaddr_in6_layout() {
        let a: SocketAddr = "[fd00::2]:7".parse().unwrap();
        let (b, len) = SockaddrBuf::encode(&a);
        assert_eq!(len, 28);
        assert_eq!(b.bytes[..4], [28, 24, 0, 7]);
        assert_eq!(b.bytes[8], 0xfd);
        assert_eq!(b.bytes[23], 2);
        assert_eq!(b.decode(len), Some(a));
        let mut bad = b;
        bad.bytes[1] = 1;
        assert_eq!(bad.decode(len), None);
    }

    fn record(fileno: u64, ty: u8, name: &[u8]) -> alloc::vec::Vec<u8> {
        let reclen = (dirent::NAME + name.len() + 1 + 7) & !7;
        let mut r = alloc::vec![0u8; reclen];
        r[..8].copy_from_slice(&fileno.to_ne_bytes());
        r[8..10].copy_from_slice(&(reclen as u16).to_ne_bytes());
        r[10..12].copy_from_slice(&(name.len() as u16).to_ne_bytes());
        r[12] = ty;
        r[13..13 + name.len()].copy_from_slice(name);
        r
    }

    #[test]
    fn dirent_walk() {
        let mut buf = record(2, DT_DIR, b".");
        buf.extend(record(12, DT_REG, b"hello.txt"));
        let (e, rest) = next_dirent(&buf).unwrap();
        assert_eq!((e.fileno, e.ty, e.name), (2, DT_DIR, &b"."[..]));
        let (e, rest) = next_dirent(rest).unwrap();
        assert_eq!((e.fileno, e.ty, e.name), (12, DT_REG, &b"hello.txt"[..]));
        assert!(rest.is_empty());
        assert_eq!(next_dirent(rest), None);
    }

    #[test]
    fn dirent_malformed() {
        let mut r = record(3, DT_REG, b"name");
        r[8..10].copy_from_slice(&8u16.to_ne_bytes());
        assert_eq!(next_dirent(&r), None, "reclen shorter than the name");
        let mut r = record(3, DT_REG, b"name");
        r[8..10].copy_from_slice(&200u16.to_ne_bytes());
        assert_eq!(next_dirent(&r), None, "reclen past the buffer");
        assert_eq!(next_dirent(&[0u8; 10]), None, "short header");
    }
}
