//! Bringing `virt0` up: the address from the command line, else from the
//! vif's `ip` key that the toolstack wrote into the backend's xenstore
//! directory (xl's `vif = ['ip=...']`), else a DHCP lease; then the
//! gateway if one was given, and the address read back from the kernel.

use alloc::format;
use alloc::string::String;
use core::net::Ipv4Addr;

use httpd_core::settings::{parse_cidr, Addressing, Settings};
use rumpcore_client::netconfig;
use xen_platform::println;
use xen_platform::xenbus;
use xen_platform::xenstore::{Tx, XenstoreOps};

/// The interface served on.
pub const IFNAME: &str = "virt0";

/// The first vif's `ip` key (`<backend>/ip`), if the toolstack set one.
fn toolstack_ip() -> Result<Option<(Ipv4Addr, u8)>, String> {
    let xs = xen_platform::xenstore::xen::xenstore().map_err(|e| format!("xenstore: {e}"))?;
    let vifs = xenbus::enumerate(xs, "vif").map_err(|e| format!("xenstore device/vif: {e}"))?;
    let Some(vif) = vifs
        .iter()
        .min_by_key(|d| d.id.parse::<u32>().unwrap_or(u32::MAX))
    else {
        return Err(String::from("no vif: the guest needs a network interface"));
    };
    let backend =
        xenbus::backend(xs, vif).map_err(|e| format!("xenstore {}/backend: {e}", vif.path()))?;
    match xs.read(Tx::NONE, &format!("{}/ip", backend.path)) {
        Ok(value) => match parse_cidr(&value) {
            Some(found) => Ok(Some(found)),
            None => Err(format!("the vif's ip key {value:?} is not an IPv4 address")),
        },
        Err(_) => Ok(None),
    }
}

/// Configures the interface; returns its IPv4 address as the kernel
/// reports it (`SIOCGIFADDR`), the leased one after DHCP.
pub fn configure(settings: &Settings) -> Result<Ipv4Addr, String> {
    netconfig::ifcreate(IFNAME).map_err(|e| format!("ifcreate {IFNAME}: {e}"))?;
    netconfig::ifup(IFNAME).map_err(|e| format!("ifup {IFNAME}: {e}"))?;
    let fixed = match settings.addressing {
        Addressing::Static(addr, len) => Some((addr, len)),
        Addressing::Dhcp => None,
        Addressing::FromToolstack => {
            let found = toolstack_ip()?;
            if let Some((addr, len)) = found {
                println!("httpd: address {addr}/{len} from the vif's xenstore ip key");
            }
            found
        }
    };
    match fixed {
        Some((addr, len)) => {
            netconfig::ipv4_cidr(IFNAME, addr, len)
                .map_err(|e| format!("address {addr}/{len}: {e}"))?;
        }
        None => {
            println!("httpd: asking for a DHCP lease on {IFNAME}");
            netconfig::dhcp_ipv4_oneshot(IFNAME).map_err(|e| format!("dhcp on {IFNAME}: {e}"))?;
            println!("httpd: dhcp lease applied");
        }
    }
    if let Some(gw) = settings.gateway {
        netconfig::ipv4_gateway(gw).map_err(|e| format!("gateway {gw}: {e}"))?;
    }
    netconfig::ipv4_addr(IFNAME).map_err(|e| format!("the address of {IFNAME}: {e}"))
}
