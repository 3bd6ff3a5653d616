//! Network interface configuration through `rump_pub_netconfig_*`:
//! create and bring up `virtN` interfaces, static IPv4/IPv6 addresses, the
//! default gateway, one-shot DHCPv4.

use alloc::format;
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::sys::{self, check_errno, cstring};
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
