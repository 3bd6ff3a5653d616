//! `netconfig::ipv4_addr` (`ioctl(SIOCGIFADDR)`) and `rump___sysimpl_ioctl`
//! against the kernel on the hosted platform: no address yet
//! (EADDRNOTAVAIL), unknown and malformed names, a DHCP lease from the
//! test DHCP server on the far end of `virt0` read back, then a static
//! address replacing it; the raw call's EBADF/ENOTTY/EFAULT answers and
//! `FIONBIO`. One kernel per process: everything runs from one test.

#[path = "../../kernel/tests/common/mod.rs"]
mod common;
#[path = "../../net/tests/common/dhcp.rs"]
mod dhcp;

use std::net::Ipv4Addr;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::errno;
use rumpcore_client::abi::{IfReq, AF_INET, FIONBIO, F_GETFL, O_NONBLOCK, SIOCGIFADDR, SOCK_DGRAM};
use rumpcore_client::net::UdpSocket;
use rumpcore_client::sys::{
    rump___sysimpl_close, rump___sysimpl_fcntl, rump___sysimpl_ioctl, rump___sysimpl_socket30,
};
use rumpcore_client::{boot, netconfig, Error};
use rumpuser_abi::errno::{EADDRNOTAVAIL, EAGAIN, EBADF, EFAULT, ENOTTY, ENXIO};

/// Runs the test DHCP server (offering `offer`) on `wire` until the
/// kernel's one-shot DHCP returns; gives back the wire.
fn lease(wire: UnixDatagram, offer: Ipv4Addr) -> UnixDatagram {
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || {
        let mut srv = dhcp::Server::new(Ipv4Addr::new(10, 0, 0, 1), offer);
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
        assert!(srv.acks >= 1, "the server acknowledged a lease");
        wire
    });
    netconfig::dhcp_ipv4_oneshot("virt0").expect("DHCP lease");
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap()
}

/// The raw call's answers on bad descriptors, commands and pointers.
fn raw_ioctl_errors() {
    let mut req = IfReq::new("virt0").unwrap();
    let p = (&mut req as *mut IfReq).cast();
    // SAFETY: client calls with a live `struct ifreq` or a null pointer.
    unsafe {
        assert_eq!(rump___sysimpl_ioctl(999, SIOCGIFADDR, p), -1);
        assert_eq!(errno(), EBADF);
        let s = rump___sysimpl_socket30(AF_INET, SOCK_DGRAM, 0);
        assert!(s >= 0);
        assert_eq!(rump___sysimpl_ioctl(s, 0xc090_69ff, p), -1);
        assert_eq!(errno(), ENOTTY, "an unknown command");
        assert_eq!(
            rump___sysimpl_ioctl(s, SIOCGIFADDR, std::ptr::null_mut()),
            -1
        );
        assert_eq!(errno(), EFAULT);
        assert_eq!(rump___sysimpl_ioctl(s, SIOCGIFADDR, p), 0);
        assert_eq!(req.addr_v4(), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(req.ifru[..2], [16, 2], "sin_len, AF_INET");
        assert_eq!(rump___sysimpl_close(s), 0);
        assert_eq!(rump___sysimpl_ioctl(s, SIOCGIFADDR, p), -1);
        assert_eq!(errno(), EBADF, "a closed descriptor");
    }
}

/// `ioctl(fd, FIONBIO, &on)`'s result.
fn set_fionbio(fd: i32, on: i32) -> i32 {
    let mut v = on;
    // SAFETY: an `int` alive for the call.
    unsafe { rump___sysimpl_ioctl(fd, FIONBIO, (&mut v as *mut i32).cast()) }
}

/// `FIONBIO` makes a socket non-blocking and back, as `fcntl` sees it.
fn fionbio() {
    let u = UdpSocket::bind(common::addr("10.0.0.2:5353")).expect("bind");
    let fd = u.as_raw_fd();
    let flags = || {
        // SAFETY: plain integers (`F_GETFL` takes no argument).
        unsafe { rump___sysimpl_fcntl(fd, F_GETFL, 0) }
    };
    for on in [1, 0] {
        assert_eq!(set_fionbio(fd, on), 0, "FIONBIO {on}: errno {}", errno());
        assert_eq!(flags() & O_NONBLOCK != 0, on == 1);
    }
    assert_eq!(set_fionbio(fd, 1), 0);
    let mut buf = [0u8; 16];
    assert_eq!(
        u.recv_from(&mut buf).map(|_| ()),
        Err(Error::Errno(EAGAIN)),
        "a non-blocking receive with nothing queued"
    );
}

#[test]
fn ipv4_addr() {
    boot::init().expect("rump_init");
    assert_eq!(netconfig::ipv4_addr("virt0"), Err(Error::Errno(ENXIO)));
    netconfig::ifcreate("virt0").expect("ifcreate virt0");
    let wire = rumpuser_hosted::take_virt_peer("0").expect("virt0's far end");
    netconfig::ifup("virt0").expect("ifup");
    assert_eq!(
        netconfig::ipv4_addr("virt0"),
        Err(Error::Errno(EADDRNOTAVAIL))
    );
    assert_eq!(netconfig::ipv4_addr("virt7"), Err(Error::Errno(ENXIO)));
    assert_eq!(netconfig::ipv4_addr("vi\0rt0"), Err(Error::InteriorNul));
    assert_eq!(
        netconfig::ipv4_addr("virt0-a-long-name"),
        Err(Error::Errno(ENXIO))
    );

    let _wire = lease(wire, Ipv4Addr::new(10, 0, 0, 77));
    assert_eq!(
        netconfig::ipv4_addr("virt0"),
        Ok(Ipv4Addr::new(10, 0, 0, 77))
    );

    netconfig::ipv4_cidr("virt0", Ipv4Addr::new(10, 0, 0, 2), 24).expect("static address");
    assert_eq!(
        netconfig::ipv4_addr("virt0"),
        Ok(Ipv4Addr::new(10, 0, 0, 2))
    );
    raw_ioctl_errors();
    fionbio();
}
