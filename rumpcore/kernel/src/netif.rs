//! `virt` network interfaces: creation through `rumpcomp_virt_create`,
//! frames out through `rumpcomp_virt_send` (the interface's
//! [`rumpcore_net::Link`]), frames in through
//! `rump_virtif_virt_deliverpkt`; and the `rump_pub_netconfig_*` work.

use alloc::boxed::Box;
use alloc::ffi::CString;
use alloc::string::String;
use core::ffi::c_void;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::sync::atomic::{AtomicU32, Ordering};

use rumpcore_net::{IfIndex, Link};
use rumpuser_abi::{errno, Iovec, VirtifSc, VirtifUser, VIRT_MAC_LEN};

use crate::hyper;
use crate::kernel::{Kernel, State};
use crate::klock::KGuard;
use crate::sys;

/// MTU of a `virt` interface.
pub const VIRT_MTU: usize = 1500;
/// How long `rump_pub_netconfig_dhcp_ipv4_oneshot` waits for a lease.
pub const DHCP_TIMEOUT_NS: u64 = 30_000_000_000;

/// The kernel's `struct virtif_sc`: what the platform hands back with
/// each received frame, naming the kernel and interface it belongs to.
pub struct VirtSc {
    /// The kernel that created the interface.
    kernel: &'static Kernel,
    /// The stack's interface index (0 until the interface exists).
    ix: AtomicU32,
}

/// One `virt` interface.
pub struct VirtIf {
    /// "virt0", …
    pub name: String,
    /// Softc given to the platform (leaked: the platform may deliver
    /// until the process ends).
    pub sc: &'static VirtSc,
    /// The stack's index for it.
    pub ix: IfIndex,
}

/// The platform handle, as a [`Link`].
struct VirtLink {
    handle: *mut VirtifUser,
}

// SAFETY: the platform's `virtif_user` handle may be used from any thread
// (every send happens with the kernel mutex held anyway).
unsafe impl Send for VirtLink {}

impl Link for VirtLink {
    fn send(&mut self, frame: &[u8]) {
        let mut iov = Iovec {
            base: frame.as_ptr() as *mut c_void,
            len: frame.len(),
        };
        // SAFETY: a live handle from `rumpcomp_virt_create`, one iovec
        // over `frame`, which the platform only reads.
        unsafe { sys::rumpcomp_virt_send(self.handle, &mut iov, 1) };
    }
}

/// `rump_pub_netconfig_ifcreate(name)`: `name` must be `virt<unit>`.
pub fn ifcreate(k: &'static Kernel, name: &str) -> Result<(), i32> {
    let unit = name.strip_prefix("virt").ok_or(errno::ENXIO)?;
    if unit.is_empty() || !unit.bytes().all(|b| b.is_ascii_digit()) {
        return Err(errno::ENXIO);
    }
    if k.state.lock().virt.iter().any(|v| v.name == name) {
        return Err(errno::EEXIST);
    }
    let cunit = CString::new(unit).map_err(|_| errno::EINVAL)?;
    let sc: &'static VirtSc = Box::leak(Box::new(VirtSc {
        kernel: k,
        ix: AtomicU32::new(0),
    }));
    let mut mac = [0u8; VIRT_MAC_LEN];
    let mut handle = core::ptr::null_mut();
    // SAFETY: NUL-terminated unit, a softc that lives forever, 6 writable
    // bytes and a writable handle pointer.
    let rv = unsafe {
        sys::rumpcomp_virt_create(
            cunit.as_ptr(),
            sc as *const VirtSc as *mut VirtifSc,
            mac.as_mut_ptr(),
            &mut handle,
        )
    };
    if rv != 0 {
        return Err(rv);
    }
    let mut st = k.state.lock();
    let ix = st
        .stack
        .ifcreate(name, mac, VIRT_MTU, Box::new(VirtLink { handle }))
        .map_err(|e| e.0)?;
    sc.ix.store(ix.0, Ordering::Release);
    st.virt.push(VirtIf {
        name: name.into(),
        sc,
        ix,
    });
    Ok(())
}

fn ifindex(st: &State, name: &str) -> Result<IfIndex, i32> {
    st.virt
        .iter()
        .find(|v| v.name == name)
        .map(|v| v.ix)
        .ok_or(errno::ENXIO)
}

/// `rump_pub_netconfig_ifup`.
pub fn ifup(k: &Kernel, name: &str) -> Result<(), i32> {
    let mut st = k.state.lock();
    let ix = ifindex(&st, name)?;
    st.stack.ifup(ix).map_err(|e| e.0)?;
    k.poll(&mut st);
    Ok(())
}

/// The prefix length of a contiguous IPv4 netmask.
pub fn mask_prefix(mask: Ipv4Addr) -> Result<u8, i32> {
    let m = u32::from(mask);
    let n = m.leading_ones();
    if m.checked_shl(n).unwrap_or(0) != 0 {
        return Err(errno::EINVAL);
    }
    Ok(n as u8)
}

/// Parses a dotted-quad IPv4 address.
pub fn parse_v4(s: &str) -> Result<Ipv4Addr, i32> {
    s.parse().map_err(|_| errno::EINVAL)
}

/// `rump_pub_netconfig_ipv4_ifaddr_cidr`.
pub fn ipv4_ifaddr_cidr(k: &Kernel, name: &str, addr: Ipv4Addr, prefix: u8) -> Result<(), i32> {
    let mut st = k.state.lock();
    let ix = ifindex(&st, name)?;
    st.stack
        .ipv4_ifaddr_cidr(ix, addr, prefix)
        .map_err(|e| e.0)?;
    k.poll(&mut st);
    Ok(())
}

/// `SIOCGIFADDR`'s work: `name`'s first IPv4 address (ENXIO for an
/// unknown interface, EADDRNOTAVAIL if it has none).
pub fn ipv4_addr(k: &Kernel, name: &str) -> Result<Ipv4Addr, i32> {
    let st = k.state.lock();
    let ix = ifindex(&st, name)?;
    st.stack
        .ipv4_addr(ix)
        .map_err(|e| e.0)?
        .ok_or(errno::EADDRNOTAVAIL)
}

/// `rump_pub_netconfig_ipv6_ifaddr`.
pub fn ipv6_ifaddr(k: &Kernel, name: &str, addr: &str, prefix: u8) -> Result<(), i32> {
    let addr: Ipv6Addr = addr.parse().map_err(|_| errno::EINVAL)?;
    let mut st = k.state.lock();
    let ix = ifindex(&st, name)?;
    st.stack.ipv6_ifaddr(ix, addr, prefix).map_err(|e| e.0)?;
    k.poll(&mut st);
    Ok(())
}

/// `rump_pub_netconfig_ipv4_gw`.
pub fn ipv4_gw(k: &Kernel, gw: Ipv4Addr) -> Result<(), i32> {
    let mut st = k.state.lock();
    st.stack.ipv4_gw(gw).map_err(|e| e.0)?;
    k.poll(&mut st);
    Ok(())
}

/// `rump_pub_netconfig_dhcp_ipv4_oneshot`: start DHCP and wait (with the
/// CPU released) for a lease or [`DHCP_TIMEOUT_NS`] (ETIMEDOUT).
pub fn dhcp_oneshot(k: &Kernel, name: &str) -> Result<(), i32> {
    let deadline = hyper::now_ns() + DHCP_TIMEOUT_NS;
    let mut st = k.state.lock();
    let ix = ifindex(&st, name)?;
    st.stack.dhcp_start(ix).map_err(|e| e.0)?;
    let mut out = k.poll(&mut st);
    loop {
        if st.stack.dhcp_lease(ix).is_some() {
            return Ok(());
        }
        if !out.config_changed && !k.wait_event(&mut st, &[], Some(deadline)) {
            return Err(errno::ETIMEDOUT);
        }
        out = Default::default();
    }
}

/// `rump_virtif_virt_deliverpkt`'s work: queue `frame` for interface `sc`
/// in the kernel that made it and wake that kernel's network thread.
pub fn deliver(sc: &VirtSc, frame: &[u8]) {
    let k = sc.kernel;
    let ix = sc.ix.load(Ordering::Acquire);
    if ix == 0 {
        return;
    }
    let mut st: KGuard<'_, State> = k.state.lock();
    if st.stack.receive(IfIndex(ix), frame).is_ok() {
        st.rx_pending = true;
        k.net_wake.signal();
    }
}
