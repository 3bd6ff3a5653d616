//! NetBSD's client ABI numbers: address families, socket types, options
//! and `shutdown` modes, `open`/`fcntl`/`lseek` arguments, mount and etfs
//! arguments, `poll` bits, and the mode and `d_type` file types.

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
/// `SO_KEEPALIVE`.
pub const SO_KEEPALIVE: i32 = 0x8;
/// `SO_ERROR`: the pending error, cleared by reading it.
pub const SO_ERROR: i32 = 0x1007;
/// `SO_TYPE`.
pub const SO_TYPE: i32 = 0x1008;
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

/// `open` access mode mask (`O_RDONLY`, `O_WRONLY`, `O_RDWR`).
pub const O_ACCMODE: i32 = 0x3;
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
/// `open` flag: the path must name a directory.
pub const O_DIRECTORY: i32 = 0x0020_0000;
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
/// Mode: a socket.
pub const S_IFSOCK: u32 = 0o140000;

/// `d_type`: not known.
pub const DT_UNKNOWN: u8 = 0;
/// `d_type`: a directory.
pub const DT_DIR: u8 = 4;
/// `d_type`: a regular file.
pub const DT_REG: u8 = 8;
