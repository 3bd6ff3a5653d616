//! Interfaces: creation over a [`Link`], up, static IPv4/IPv6 addresses,
//! the default IPv4 gateway and one-shot DHCPv4.

use crate::errno::{Errno, Result};
use crate::link::{Link, LinkDevice};
use crate::stack::Stack;
use alloc::boxed::Box;
use alloc::string::String;
use core::net::{Ipv4Addr, Ipv6Addr};
use smoltcp::iface::{Config, Interface, SocketHandle as SmolHandle};
use smoltcp::socket::dhcpv4;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Cidr};

/// An interface's index in its [`Stack`] (1 for the first created).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfIndex(pub u32);

/// A DHCPv4 lease as applied to an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The leased address.
    pub address: Ipv4Addr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// The default gateway, if the server named one.
    pub router: Option<Ipv4Addr>,
    /// The server that granted the lease.
    pub server: Ipv4Addr,
}

/// One interface.
pub(crate) struct Iface {
    pub(crate) name: String,
    pub(crate) up: bool,
    pub(crate) dev: LinkDevice,
    pub(crate) iface: Interface,
    pub(crate) dhcp: Option<SmolHandle>,
    pub(crate) lease: Option<Lease>,
}

impl Stack {
    /// Creates interface `name` (e.g. "virt0") with MAC `mac` and MTU
    /// `mtu`, sending through `link`; it starts down. EEXIST if the name
    /// is taken, EINVAL for a multicast MAC.
    pub fn ifcreate(
        &mut self,
        name: &str,
        mac: [u8; 6],
        mtu: usize,
        link: Box<dyn Link>,
    ) -> Result<IfIndex> {
        if self.ifaces.iter().any(|i| i.name == name) {
            return Err(Errno::EEXIST);
        }
        let hw = EthernetAddress(mac);
        if !hw.is_unicast() || !(68..=9000).contains(&mtu) {
            return Err(Errno::EINVAL);
        }
        let mut dev = LinkDevice::new(link, mtu);
        let mut config = Config::new(HardwareAddress::Ethernet(hw));
        config.random_seed = self.next_seed();
        let iface = Interface::new(config, &mut dev, self.now);
        self.ifaces.push(Iface {
            name: name.into(),
            up: false,
            dev,
            iface,
            dhcp: None,
            lease: None,
        });
        Ok(IfIndex(self.ifaces.len() as u32))
    }

    /// The interface called `name`.
    pub fn ifindex(&self, name: &str) -> Option<IfIndex> {
        let i = self.ifaces.iter().position(|i| i.name == name)?;
        Some(IfIndex(i as u32 + 1))
    }

    pub(crate) fn iface_mut(&mut self, ix: IfIndex) -> Result<&mut Iface> {
        let i = (ix.0 as usize).checked_sub(1).ok_or(Errno::ENXIO)?;
        self.ifaces.get_mut(i).ok_or(Errno::ENXIO)
    }

    /// Brings the interface up: it receives and sends from now on.
    pub fn ifup(&mut self, ix: IfIndex) -> Result<()> {
        self.iface_mut(ix)?.up = true;
        Ok(())
    }

    /// Sets the interface's IPv4 address (replacing any previous one).
    pub fn ipv4_ifaddr_cidr(&mut self, ix: IfIndex, addr: Ipv4Addr, prefix_len: u8) -> Result<()> {
        if prefix_len > 32 || addr.is_unspecified() || addr.is_multicast() {
            return Err(Errno::EINVAL);
        }
        let i = self.iface_mut(ix)?;
        set_v4(&mut i.iface, Ipv4Cidr::new(addr, prefix_len));
        Ok(())
    }

    /// The interface's IPv4 address (static or leased), if it has one;
    /// ENXIO for an unknown index.
    pub fn ipv4_addr(&self, ix: IfIndex) -> Result<Option<Ipv4Addr>> {
        let i = (ix.0 as usize).checked_sub(1).ok_or(Errno::ENXIO)?;
        let iface = self.ifaces.get(i).ok_or(Errno::ENXIO)?;
        Ok(iface.iface.ip_addrs().iter().find_map(|c| match c {
            IpCidr::Ipv4(c) => Some(c.address()),
            _ => None,
        }))
    }

    /// Sets the interface's IPv6 address (replacing any previous one).
    pub fn ipv6_ifaddr(&mut self, ix: IfIndex, addr: Ipv6Addr, prefix_len: u8) -> Result<()> {
        if prefix_len > 128 || addr.is_unspecified() || addr.is_multicast() {
            return Err(Errno::EINVAL);
        }
        let i = self.iface_mut(ix)?;
        i.iface.update_ip_addrs(|a| {
            a.retain(|c| !matches!(c, IpCidr::Ipv6(_)));
            let _ = a.push(IpCidr::new(IpAddress::Ipv6(addr), prefix_len));
        });
        Ok(())
    }

    /// Sets the default IPv4 gateway (reached through the interface whose
    /// subnet holds it; routes are per interface, the first match wins).
    pub fn ipv4_gw(&mut self, gw: Ipv4Addr) -> Result<()> {
        let mut found = false;
        for i in &mut self.ifaces {
            let on_link = i.iface.ip_addrs().iter().any(|c| match c {
                IpCidr::Ipv4(c) => c.contains_addr(&gw),
                _ => false,
            });
            if on_link {
                found = true;
                i.iface
                    .routes_mut()
                    .add_default_ipv4_route(gw)
                    .map_err(|_| Errno::ENOBUFS)?;
            }
        }
        if found {
            Ok(())
        } else {
            Err(Errno::ENETUNREACH)
        }
    }

    /// Starts DHCPv4 on the interface (which must be up). When a lease
    /// is bound, a poll applies its address and gateway, reports it in
    /// [`crate::PollOutcome::config_changed`] and [`Stack::dhcp_lease`],
    /// and the client stops (one-shot: no renewals).
    pub fn dhcp_start(&mut self, ix: IfIndex) -> Result<()> {
        let i = (ix.0 as usize).checked_sub(1).ok_or(Errno::ENXIO)?;
        let iface = self.ifaces.get(i).ok_or(Errno::ENXIO)?;
        if !iface.up {
            return Err(Errno::ENETUNREACH);
        }
        if iface.dhcp.is_some() {
            return Err(Errno::EALREADY);
        }
        let h = self.set.add(dhcpv4::Socket::new());
        self.ifaces[i].dhcp = Some(h);
        Ok(())
    }

    /// The interface's DHCPv4 lease, once bound.
    pub fn dhcp_lease(&self, ix: IfIndex) -> Option<Lease> {
        let i = (ix.0 as usize).checked_sub(1)?;
        self.ifaces.get(i)?.lease
    }

    /// Runs the DHCP clients after a poll; returns whether a lease was
    /// applied.
    pub(crate) fn dhcp_events(&mut self) -> bool {
        let mut changed = false;
        for i in &mut self.ifaces {
            let Some(h) = i.dhcp else { continue };
            let sock = self.set.get_mut::<dhcpv4::Socket>(h);
            if let Some(dhcpv4::Event::Configured(cfg)) = sock.poll() {
                let lease = Lease {
                    address: cfg.address.address(),
                    prefix_len: cfg.address.prefix_len(),
                    router: cfg.router,
                    server: cfg.server.address,
                };
                set_v4(&mut i.iface, cfg.address);
                if let Some(r) = cfg.router {
                    let _ = i.iface.routes_mut().add_default_ipv4_route(r);
                }
                i.lease = Some(lease);
                self.set.remove(h);
                i.dhcp = None;
                changed = true;
            }
        }
        changed
    }
}

fn set_v4(iface: &mut Interface, cidr: Ipv4Cidr) {
    iface.update_ip_addrs(|a| {
        a.retain(|c| !matches!(c, IpCidr::Ipv4(_)));
        let _ = a.push(IpCidr::Ipv4(cidr));
    });
}
