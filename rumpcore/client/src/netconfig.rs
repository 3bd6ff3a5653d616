//! Network interface configuration through `rump_pub_netconfig_*`:
//! create and bring up `virtN` interfaces, static IPv4/IPv6 addresses, the
//! default gateway, one-shot DHCPv4; and reading an interface's IPv4
//! address back (`SIOCGIFADDR`).

use alloc::format;
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::abi::{IfReq, AF_INET, SIOCGIFADDR, SOCK_DGRAM};
use crate::fd::OwnedFd;
use crate::sys::{self, check, check_errno, cstring};
use crate::{Error, Result};

/// Creates the interface `ifname` (`virt0` is the platform's first NIC).
pub fn ifcreate(ifname: &str) -> Result<()> {
    let name = cstring(ifname)?;
    // SAFETY: a NUL-terminated string that outlives the call.
    check_errno(unsafe { sys::rump_pub_netconfig_ifcreate(name.as_ptr()) })
}

/// Brings `ifname` up.
pub fn ifup(ifname: &str) -> Result<()> {
    let name = cstring(ifname)?;
    // SAFETY: a NUL-terminated string that outlives the call.
    check_errno(unsafe { sys::rump_pub_netconfig_ifup(name.as_ptr()) })
}

/// Gives `ifname` the address `addr/prefix`.
pub fn ipv4_cidr(ifname: &str, addr: Ipv4Addr, prefix: u8) -> Result<()> {
    if prefix > 32 {
        return Err(Error::Errno(rumpuser_abi::errno::EINVAL));
    }
    let (name, addr) = (cstring(ifname)?, cstring(&format!("{addr}"))?);
    // SAFETY: NUL-terminated strings that outlive the call.
    check_errno(unsafe {
        sys::rump_pub_netconfig_ipv4_ifaddr_cidr(name.as_ptr(), addr.as_ptr(), i32::from(prefix))
    })
}

/// Sets the default IPv4 route through `gw`.
pub fn ipv4_gateway(gw: Ipv4Addr) -> Result<()> {
    let gw = cstring(&format!("{gw}"))?;
    // SAFETY: a NUL-terminated string that outlives the call.
    check_errno(unsafe { sys::rump_pub_netconfig_ipv4_gw(gw.as_ptr()) })
}

/// Gives `ifname` the IPv6 address `addr/prefix`.
pub fn ipv6(ifname: &str, addr: Ipv6Addr, prefix: u8) -> Result<()> {
    if prefix > 128 {
        return Err(Error::Errno(rumpuser_abi::errno::EINVAL));
    }
    let (name, addr) = (cstring(ifname)?, cstring(&format!("{addr}"))?);
    // SAFETY: NUL-terminated strings that outlive the call.
    check_errno(unsafe {
        sys::rump_pub_netconfig_ipv6_ifaddr(name.as_ptr(), addr.as_ptr(), i32::from(prefix))
    })
}

/// Asks for a DHCPv4 lease on `ifname` and applies it (address, and a
/// gateway if offered); blocks until then or the kernel's timeout
/// (ETIMEDOUT).
pub fn dhcp_ipv4_oneshot(ifname: &str) -> Result<()> {
    let name = cstring(ifname)?;
    // SAFETY: a NUL-terminated string that outlives the call.
    check_errno(unsafe { sys::rump_pub_netconfig_dhcp_ipv4_oneshot(name.as_ptr()) })
}

/// The first IPv4 address of `ifname` (static or leased), as NetBSD
/// programs ask for it: `ioctl(SIOCGIFADDR)` on a UDP socket, closed
/// afterwards. ENXIO for an unknown interface (or a name longer than 15
/// bytes, which no interface has), EADDRNOTAVAIL if it has no IPv4
/// address.
pub fn ipv4_addr(ifname: &str) -> Result<Ipv4Addr> {
    if ifname.contains('\0') {
        return Err(Error::InteriorNul);
    }
    let mut req = IfReq::new(ifname).ok_or(Error::Errno(rumpuser_abi::errno::ENXIO))?;
    // SAFETY: plain integers.
    let s = OwnedFd::new(check(unsafe {
        sys::rump___sysimpl_socket30(AF_INET, SOCK_DGRAM, 0)
    })?);
    // SAFETY: `req` is a `struct ifreq`, alive and writable for the call.
    check(unsafe {
        sys::rump___sysimpl_ioctl(s.raw(), SIOCGIFADDR, (&mut req as *mut IfReq).cast())
    })?;
    req.addr_v4()
        .ok_or(Error::BadReply("SIOCGIFADDR: not a sockaddr_in"))
}
