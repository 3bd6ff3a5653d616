//! `rump_pub_netconfig_*`: interface configuration by name with string
//! addresses; each returns 0 or an errno number.

use core::ffi::{c_char, c_int};

use super::cstr;
use crate::kernel::syscall;
use crate::netif;

fn rv(r: Result<(), i32>) -> c_int {
    r.err().unwrap_or(0)
}

/// `rump_pub_netconfig_ifcreate(ifname)`: `virtN` over
/// `rumpcomp_virt_create("N")`.
///
/// # Safety
/// `ifname` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump_pub_netconfig_ifcreate(ifname: *const c_char) -> c_int {
    rv(syscall(|k| {
        // SAFETY: the caller's contract.
        let name = unsafe { cstr(ifname) }?;
        netif::ifcreate(k, name)
    }))
}

/// `rump_pub_netconfig_ifup(ifname)`.
///
/// # Safety
/// `ifname` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump_pub_netconfig_ifup(ifname: *const c_char) -> c_int {
    rv(syscall(|k| {
        // SAFETY: the caller's contract.
        let name = unsafe { cstr(ifname) }?;
        netif::ifup(k, name)
    }))
}

/// `rump_pub_netconfig_ipv4_ifaddr(ifname, addr, mask)`: dotted quads.
///
/// # Safety
/// All three NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump_pub_netconfig_ipv4_ifaddr(
    ifname: *const c_char,
    addr: *const c_char,
    mask: *const c_char,
) -> c_int {
    rv(syscall(|k| {
        // SAFETY: the caller's contract.
        let (name, addr, mask) = unsafe { (cstr(ifname)?, cstr(addr)?, cstr(mask)?) };
        let prefix = netif::mask_prefix(netif::parse_v4(mask)?)?;
        netif::ipv4_ifaddr_cidr(k, name, netif::parse_v4(addr)?, prefix)
    }))
}

/// `rump_pub_netconfig_ipv4_ifaddr_cidr(ifname, addr, prefixlen)`.
///
/// # Safety
/// Both strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump_pub_netconfig_ipv4_ifaddr_cidr(
    ifname: *const c_char,
    addr: *const c_char,
    prefixlen: c_int,
) -> c_int {
    rv(syscall(|k| {
        // SAFETY: the caller's contract.
        let (name, addr) = unsafe { (cstr(ifname)?, cstr(addr)?) };
        let prefix = u8::try_from(prefixlen).map_err(|_| rumpuser_abi::errno::EINVAL)?;
        netif::ipv4_ifaddr_cidr(k, name, netif::parse_v4(addr)?, prefix)
    }))
}

/// `rump_pub_netconfig_ipv6_ifaddr(ifname, addr, prefixlen)`.
///
/// # Safety
/// Both strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump_pub_netconfig_ipv6_ifaddr(
    ifname: *const c_char,
    addr: *const c_char,
    prefixlen: c_int,
) -> c_int {
    rv(syscall(|k| {
        // SAFETY: the caller's contract.
        let (name, addr) = unsafe { (cstr(ifname)?, cstr(addr)?) };
        let prefix = u8::try_from(prefixlen).map_err(|_| rumpuser_abi::errno::EINVAL)?;
        netif::ipv6_ifaddr(k, name, addr, prefix)
    }))
}

/// `rump_pub_netconfig_ipv4_gw(addr)`: the default IPv4 route.
///
/// # Safety
/// `addr` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump_pub_netconfig_ipv4_gw(addr: *const c_char) -> c_int {
    rv(syscall(|k| {
        // SAFETY: the caller's contract.
        let addr = unsafe { cstr(addr) }?;
        netif::ipv4_gw(k, netif::parse_v4(addr)?)
    }))
}

/// `rump_pub_netconfig_dhcp_ipv4_oneshot(ifname)`: blocks until a lease
/// is applied or the timeout (ETIMEDOUT).
///
/// # Safety
/// `ifname` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rump_pub_netconfig_dhcp_ipv4_oneshot(ifname: *const c_char) -> c_int {
    rv(syscall(|k| {
        // SAFETY: the caller's contract.
        let name = unsafe { cstr(ifname) }?;
        netif::dhcp_oneshot(k, name)
    }))
}
