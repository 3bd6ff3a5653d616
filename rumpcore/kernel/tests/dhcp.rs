//! `rump_pub_netconfig_dhcp_ipv4_oneshot` against a minimal DHCP server
//! (rumpcore-net's test server) on the far end of `virt0`: the call
//! blocks until the lease is applied, after which the kernel's sockets
//! use the leased address. One kernel per process.

mod common;
#[path = "../../net/tests/common/dhcp.rs"]
mod dhcp;

use common::*;
use std::ffi::c_void;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn dhcp_oneshot() {
    // SAFETY: client calls with NUL-terminated strings.
    let wire = unsafe {
        assert_eq!(rump_init(), 0);
        assert_eq!(rump_pub_netconfig_ifcreate(c"virt0".as_ptr()), 0);
        let wire = rumpuser_hosted::take_virt_peer("0").expect("virt0's far end");
        assert_eq!(rump_pub_netconfig_ifup(c"virt0".as_ptr()), 0);
        wire
    };
    let server_ip = Ipv4Addr::new(10, 0, 0, 1);
    let offer = Ipv4Addr::new(10, 0, 0, 77);
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || {
        let mut srv = dhcp::Server::new(server_ip, offer);
        wire.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut buf = vec![0u8; 65536];
        while !stop2.load(Ordering::Relaxed) {
            if let Ok(n) = wire.recv(&mut buf) {
                for reply in srv.handle(&buf[..n]) {
                    wire.send(&reply).unwrap();
                }
            }
        }
        (srv.offers, srv.acks, wire)
    });
    // SAFETY: a NUL-terminated name.
    let rv = unsafe { rump_pub_netconfig_dhcp_ipv4_oneshot(c"virt0".as_ptr()) };
    assert_eq!(rv, 0, "dhcp");
    stop.store(true, Ordering::Relaxed);
    let (offers, acks, wire) = server.join().unwrap();
    assert!(offers >= 1 && acks >= 1);

    // The kernel now speaks from the leased address: a datagram to the
    // server makes it ask for the server's MAC, from that address.
    // SAFETY: client calls with valid buffers.
    unsafe {
        let fd = rump___sysimpl_socket30(2, 2, 0);
        assert!(fd >= 0);
        let to = sa("10.0.0.1:9");
        let n = rump___sysimpl_sendto(fd, b"x".as_ptr() as *const c_void, 1, 0, to.as_ptr(), 16);
        assert_eq!(n, 1, "sendto: errno {}", errno());
        assert_eq!(rump___sysimpl_close(fd), 0);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 2048];
    loop {
        assert!(Instant::now() < deadline, "no ARP request from the kernel");
        let Ok(n) = wire.recv(&mut buf) else { continue };
        let f = &buf[..n];
        // Ethernet type ARP, operation request, target 10.0.0.1.
        if n >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 1] && f[38..42] == [10, 0, 0, 1]
        {
            assert_eq!(f[28..32], offer.octets(), "ARP sender address");
            break;
        }
    }
}
