//! NetBSD's rump kernel client ABI (amd64) as the `rump___sysimpl_*` and
//! `rump_pub_*` calls take it: the flag, option and mode numbers, `struct
//! pollfd`, `struct stat` (stat50), `struct dirent` (getdents30), `struct
//! ifreq` with the `ioctl` commands, and `sockaddr_in`/`sockaddr_in6`
//! (with `sin_len` first). The kernel fills
//! these layouts and the client reads them, so both take them from here.

mod consts;
pub mod dirent;
pub mod ifreq;
pub mod sockaddr;
mod stat;

pub use consts::*;
pub use dirent::{next_dirent, put_dirent, RawDirent};
pub use ifreq::{IfReq, FIONBIO, IFNAMSIZ, IFREQ_LEN, SIOCGIFADDR};
pub use sockaddr::{SockaddrError, SOCKADDR_IN6_LEN, SOCKADDR_IN_LEN};
pub use stat::{PollFd, Stat, Timespec, UfsArgs};
