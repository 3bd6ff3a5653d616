//! The kernel under a small `RUMP_MEMLIMIT` (1 MiB, from the hosted
//! platform's environment): its socket buffers get a quarter (256 KiB,
//! 4 KiB per direction and socket), sockets beyond that are refused with
//! ENOBUFS through the client ABI, and once sockets close it serves a
//! peer's connection again. One kernel per process: one test function.

mod common;

use common::*;
use std::ffi::c_void;
use std::time::Duration;

/// NetBSD's ENOBUFS.
const ENOBUFS: i32 = 55;
/// Socket buffers the kernel gets under a 1 MiB limit.
const BUDGET: usize = 256 * 1024;
/// One TCP socket's buffers then (4 KiB each way).
const TCP_SOCKET: usize = 8 * 1024;

/// A listener on 10.0.0.2:`port`, or the errno of the call that failed.
fn try_listener(port: u16) -> Result<i32, i32> {
    // SAFETY: plain client calls with valid buffers.
    unsafe {
        let fd = rump___sysimpl_socket30(2, 1, 0);
        if fd < 0 {
            return Err(errno());
        }
        let a = format!("10.0.0.2:{port}");
        assert_eq!(rump___sysimpl_bind(fd, sa(&a).as_ptr(), 16), 0, "bind {a}");
        if rump___sysimpl_listen(fd, 64) != 0 {
            let e = errno();
            assert_eq!(rump___sysimpl_close(fd), 0);
            return Err(e);
        }
        Ok(fd)
    }
}

#[test]
fn small_memory_limit() {
    std::env::set_var("RUMP_MEMLIMIT", "1m");
    // SAFETY: client calls with NUL-terminated strings.
    let wire = unsafe {
        assert_eq!(rump_init(), 0);
        assert_eq!(rump_pub_netconfig_ifcreate(c"virt0".as_ptr()), 0);
        let wire = rumpuser_hosted::take_virt_peer("0").expect("virt0's far end");
        assert_eq!(rump_pub_netconfig_ifup(c"virt0".as_ptr()), 0);
        assert_eq!(
            rump_pub_netconfig_ipv4_ifaddr_cidr(c"virt0".as_ptr(), c"10.0.0.2".as_ptr(), 24),
            0
        );
        wire
    };
    let peer = Peer::start(wire, "10.0.0.1");

    // Listeners (each with one idle socket, whatever the backlog) until
    // the budget is spent: exactly as many as fit, then ENOBUFS.
    let mut listeners = Vec::new();
    let refused = loop {
        match try_listener(1000 + listeners.len() as u16) {
            Ok(fd) => listeners.push(fd),
            Err(e) => break e,
        }
        assert!(listeners.len() <= BUDGET / TCP_SOCKET, "no limit");
    };
    assert_eq!(refused, ENOBUFS);
    assert_eq!(listeners.len(), BUDGET / TCP_SOCKET);
    // UDP buffers do not fit either, and the kernel is still answering.
    // SAFETY: a plain client call.
    assert_eq!(unsafe { rump___sysimpl_socket30(2, 2, 0) }, -1);
    assert_eq!(errno(), ENOBUFS);

    // Closing the listeners gives the memory back: a server works again.
    for fd in listeners.drain(..) {
        // SAFETY: a plain client call.
        assert_eq!(unsafe { rump___sysimpl_close(fd) }, 0);
    }
    let lst = try_listener(80).expect("a listener after the others closed");
    let h = peer.connect_to("10.0.0.2:80", Duration::from_secs(10));
    // SAFETY: a blocking accept with no address wanted.
    let conn = unsafe { rump___sysimpl_accept(lst, std::ptr::null_mut(), std::ptr::null_mut()) };
    assert!(conn >= 0, "accept: errno {}", errno());
    let data = pattern(20_000, 7);
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut peer_buf = vec![0u8; 4096];
    let mut echoed = 0;
    while echoed < data.len() {
        peer.until(Duration::from_secs(10), |s| {
            peer_write(s, h, &data, &mut sent);
            Some(())
        });
        // SAFETY: a valid buffer.
        let n = unsafe { rump___sysimpl_read(conn, buf.as_mut_ptr() as *mut c_void, buf.len()) };
        assert!(n > 0, "read: errno {}", errno());
        let n = n as usize;
        // SAFETY: a valid buffer.
        let w = unsafe { rump___sysimpl_write(conn, buf.as_ptr() as *const c_void, n) };
        assert_eq!(w, n as isize, "write: errno {}", errno());
        echoed += n;
        peer.until(Duration::from_secs(10), |s| {
            peer_read(s, h, &mut peer_buf, &mut got);
            Some(())
        });
    }
    peer.until(Duration::from_secs(10), |s| {
        peer_read(s, h, &mut peer_buf, &mut got);
        (got.len() >= data.len()).then_some(())
    });
    assert!(got == data, "echo differs");
    // SAFETY: plain client calls.
    unsafe {
        assert_eq!(rump___sysimpl_close(conn), 0);
        assert_eq!(rump___sysimpl_close(lst), 0);
    }
}
