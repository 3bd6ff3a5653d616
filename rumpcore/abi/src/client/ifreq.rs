//! NetBSD `ioctl(2)` commands on sockets and `struct ifreq` (144 bytes:
//! `char ifr_name[IFNAMSIZ]` then a union whose largest member is a
//! `struct sockaddr_storage`), as `SIOCGIFADDR` takes and fills it.

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::sockaddr;

/// `IFNAMSIZ`: room for an interface name with its NUL.
pub const IFNAMSIZ: usize = 16;
/// `sizeof(struct sockaddr_storage)`: the size of the `ifreq` union.
pub const SOCKADDR_STORAGE_LEN: usize = 128;
/// `sizeof(struct ifreq)`.
pub const IFREQ_LEN: usize = IFNAMSIZ + SOCKADDR_STORAGE_LEN;

/// `IOC_OUT` (`sys/ioccom.h`): the kernel copies the argument out.
pub const IOC_OUT: u64 = 0x4000_0000;
/// `IOC_IN` (`sys/ioccom.h`): the kernel copies the argument in.
pub const IOC_IN: u64 = 0x8000_0000;
/// `IOC_INOUT`: both directions.
pub const IOC_INOUT: u64 = IOC_IN | IOC_OUT;
/// `IOCPARM_MASK`: the argument length field (13 bits at bit 16).
pub const IOCPARM_MASK: u64 = 0x1fff;

/// The `_IOC(inout, group, num, len)` command number.
pub const fn ioc(inout: u64, group: u8, num: u8, len: usize) -> u64 {
    inout | ((len as u64 & IOCPARM_MASK) << 16) | ((group as u64) << 8) | num as u64
}

/// `SIOCGIFADDR`: `_IOWR('i', 33, struct ifreq)`, an interface's address.
pub const SIOCGIFADDR: u64 = ioc(IOC_INOUT, b'i', 33, IFREQ_LEN);
/// `FIONBIO`: `_IOW('f', 126, int)`, set or clear non-blocking mode.
pub const FIONBIO: u64 = ioc(IOC_IN, b'f', 126, 4);

/// NetBSD's `struct ifreq` (8-byte aligned, as `sockaddr_storage` is).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfReq {
    /// `ifr_name`: the interface name, NUL-terminated unless 16 long.
    pub name: [u8; IFNAMSIZ],
    /// The `ifr_ifru` union (`ifru_addr` first).
    pub ifru: [u8; SOCKADDR_STORAGE_LEN],
}

impl IfReq {
    /// A request naming `ifname`; None if it does not fit (15 bytes at
    /// most) or holds a NUL.
    pub fn new(ifname: &str) -> Option<IfReq> {
        let b = ifname.as_bytes();
        if b.len() >= IFNAMSIZ || b.contains(&0) {
            return None;
        }
        let mut r = IfReq {
            name: [0; IFNAMSIZ],
            ifru: [0; SOCKADDR_STORAGE_LEN],
        };
        r.name[..b.len()].copy_from_slice(b);
        Some(r)
    }

    /// `ifr_name` up to its NUL (all 16 bytes without one); None if not
    /// UTF-8.
    pub fn name(&self) -> Option<&str> {
        let end = self.name.iter().position(|&c| c == 0).unwrap_or(IFNAMSIZ);
        core::str::from_utf8(&self.name[..end]).ok()
    }

    /// Stores `addr` as `ifr_addr` (a `sockaddr_in`, port 0).
    pub fn set_addr_v4(&mut self, addr: Ipv4Addr) {
        let sa = SocketAddr::V4(SocketAddrV4::new(addr, 0));
        sockaddr::encode(&sa, &mut self.ifru);
    }

    /// `ifr_addr` when it is a `sockaddr_in`.
    pub fn addr_v4(&self) -> Option<Ipv4Addr> {
        match sockaddr::decode(&self.ifru) {
            Ok(SocketAddr::V4(a)) => Some(*a.ip()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_numbers() {
        assert_eq!(core::mem::size_of::<IfReq>(), 144);
        assert_eq!(core::mem::align_of::<IfReq>(), 8);
        assert_eq!(SIOCGIFADDR, 0xC090_6921);
        assert_eq!(FIONBIO, 0x8004_667E);
    }

    #[test]
    fn names_and_addresses() {
        let mut r = IfReq::new("virt0").unwrap();
        assert_eq!(r.name(), Some("virt0"));
        assert_eq!(r.addr_v4(), None);
        r.set_addr_v4(Ipv4Addr::new(10, 99, 0, 100));
        assert_eq!(&r.ifru[..8], &[16, 2, 0, 0, 10, 99, 0, 100]);
        assert_eq!(r.addr_v4(), Some(Ipv4Addr::new(10, 99, 0, 100)));
        assert!(IfReq::new("a-name-of-16-byt").is_none());
        assert!(IfReq::new("a\0b").is_none());
        r.name = [b'x'; IFNAMSIZ];
        assert_eq!(r.name(), Some("xxxxxxxxxxxxxxxx"));
        r.name[0] = 0xff;
        assert_eq!(r.name(), None);
    }
}
