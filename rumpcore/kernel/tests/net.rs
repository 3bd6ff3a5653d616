//! The kernel's network side through its client ABI symbols, called as a
//! C client would, against a peer rumpcore-net stack on the far end of the
//! hosted `virt0` socket pair: TCP echo, UDP, refused connect, non-blocking
//! accept, poll, the kernel as a TCP client, 100 concurrent connections
//! served through poll and 500 served by a blocking thread each.
//! One kernel per process: everything runs from one test function.

mod common;

use common::*;
use rumpcore_client::abi::{POLLIN, POLLNVAL, POLLOUT};
use rumpcore_net::{Errno, SocketHandle, Stack};
use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A kernel TCP listener on `a`.
fn kernel_listener(a: &str, backlog: i32) -> i32 {
    // SAFETY: plain client calls with valid buffers.
    unsafe {
        let fd = rump___sysimpl_socket30(2, 1, 0);
        assert!(fd >= 0, "socket: errno {}", errno());
        let one = 1i32;
        let v = &one as *const i32 as *const c_void;
        assert_eq!(rump___sysimpl_setsockopt(fd, 0xffff, 4, v, 4), 0);
        assert_eq!(rump___sysimpl_bind(fd, sa(a).as_ptr(), 16), 0, "bind {a}");
        assert_eq!(rump___sysimpl_listen(fd, backlog), 0);
        fd
    }
}

/// `close` on a kernel descriptor.
fn kclose(fd: i32) -> i32 {
    // SAFETY: a plain client call.
    unsafe { rump___sysimpl_close(fd) }
}

/// Writes all of `data` on a kernel descriptor.
fn kwrite_all(fd: i32, data: &[u8]) {
    // SAFETY: a valid buffer.
    let n = unsafe { rump___sysimpl_write(fd, data.as_ptr() as *const c_void, data.len()) };
    assert_eq!(n, data.len() as isize, "write: errno {}", errno());
}

/// Sends `data` on peer connections and collects what comes back until
/// as much came back as was sent on each.
fn peer_exchange(peer: &Peer, conns: &[(SocketHandle, Vec<u8>)]) -> Vec<Vec<u8>> {
    let mut sent = vec![0usize; conns.len()];
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); conns.len()];
    let mut buf = vec![0u8; 65536];
    peer.until(Duration::from_secs(60), |s: &mut Stack| {
        for (i, (h, data)) in conns.iter().enumerate() {
            peer_write(s, *h, data, &mut sent[i]);
            peer_read(s, *h, &mut buf, &mut got[i]);
        }
        let done = conns.iter().zip(&got).all(|((_, d), g)| g.len() >= d.len());
        done.then_some(())
    });
    got
}

/// Opens `n` peer connections to `to` at once, sends connection `i` the
/// bytes `data(i)`, checks each echo is byte-exact, then shuts the peer's
/// sending sides: the connections and what each sent.
fn peer_echo_many(
    peer: &Peer,
    to: &str,
    n: usize,
    data: impl Fn(usize) -> Vec<u8>,
) -> Vec<(SocketHandle, Vec<u8>)> {
    let conns: Vec<(SocketHandle, Vec<u8>)> = peer.until(T, |s| {
        Some(
            (0..n)
                .map(|i| {
                    let h = s.socket(2, 1).unwrap();
                    assert_eq!(s.connect(h, addr(to)), Err(Errno::EINPROGRESS));
                    (h, data(i))
                })
                .collect(),
        )
    });
    let got = peer_exchange(peer, &conns);
    for (i, ((_, d), g)) in conns.iter().zip(&got).enumerate() {
        assert!(d == g, "connection {i}: echo differs");
    }
    peer.until(T, |s| {
        for (h, _) in &conns {
            s.shutdown(*h, 1).unwrap();
        }
        Some(())
    });
    conns
}

/// Closes the peer's ends of `conns`.
fn peer_close_all(peer: &Peer, conns: &[(SocketHandle, Vec<u8>)]) {
    peer.until(T, |s| {
        for (h, _) in conns {
            s.close(*h).unwrap();
        }
        Some(())
    });
}

fn tcp_echo(peer: &Arc<Peer>) {
    let lfd = kernel_listener("10.0.0.2:7", 8);
    let mut name = [0u8; 16];
    let mut len = 16u32;
    // SAFETY: valid out-buffers.
    let r = unsafe { rump___sysimpl_getsockname(lfd, name.as_mut_ptr(), &mut len) };
    assert_eq!(r, 0);
    assert_eq!(len, 16);
    assert_eq!(name, sa("10.0.0.2:7"));

    let server = std::thread::spawn(move || {
        let mut from = [0u8; 16];
        let mut flen = 16u32;
        // SAFETY: valid out-buffers.
        let c = unsafe { rump___sysimpl_accept(lfd, from.as_mut_ptr(), &mut flen) };
        assert!(c >= 0, "accept: errno {}", errno());
        assert_eq!(flen, 16);
        assert_eq!(
            rumpcore_net::sockaddr::decode(&from).unwrap().ip(),
            addr("10.0.0.1:1").ip()
        );
        let mut peer_name = [0u8; 16];
        let mut plen = 16u32;
        // SAFETY: valid out-buffers.
        let r = unsafe { rump___sysimpl_getpeername(c, peer_name.as_mut_ptr(), &mut plen) };
        assert_eq!((r, plen), (0, 16), "getpeername: errno {}", errno());
        assert_eq!(peer_name, from, "getpeername names the accepted peer");
        // SAFETY: valid out-buffers.
        let r = unsafe { rump___sysimpl_getpeername(lfd, peer_name.as_mut_ptr(), &mut plen) };
        assert_eq!((r, errno()), (-1, 57), "ENOTCONN on a listener");
        let mut buf = vec![0u8; 4096];
        let mut total = 0;
        loop {
            // SAFETY: a valid buffer.
            let n = unsafe { rump___sysimpl_read(c, buf.as_mut_ptr() as *mut c_void, buf.len()) };
            assert!(n >= 0, "read: errno {}", errno());
            if n == 0 {
                break;
            }
            total += n as usize;
            kwrite_all(c, &buf[..n as usize]);
        }
        // SAFETY: a plain client call.
        assert_eq!(unsafe { rump___sysimpl_close(c) }, 0);
        total
    });

    let h = peer.connect_to("10.0.0.2:7", T);
    let data = pattern(256 * 1024, 1);
    let got = peer_exchange(peer, &[(h, data.clone())]);
    assert!(got[0] == data, "echo differs");
    peer.until(T, |s| {
        s.shutdown(h, 1).unwrap();
        Some(())
    });
    assert_eq!(server.join().unwrap(), data.len());
    // The kernel closed: the peer reads end of file.
    let mut b = [0u8; 16];
    peer.until(T, |s| match s.read(h, &mut b) {
        Ok(0) => Some(()),
        Ok(_) => panic!("data after echo"),
        Err(_) => None,
    });
    peer.until(T, |s| {
        s.close(h).unwrap();
        Some(())
    });
    // SAFETY: a plain client call.
    assert_eq!(unsafe { rump___sysimpl_close(lfd) }, 0);
}

fn udp(peer: &Arc<Peer>) {
    // SAFETY: plain client calls with valid buffers.
    let fd = unsafe { rump___sysimpl_socket30(2, 2, 0) };
    assert!(fd >= 0);
    // SAFETY: as above.
    let r = unsafe { rump___sysimpl_bind(fd, sa("10.0.0.2:5353").as_ptr(), 16) };
    assert_eq!(r, 0);
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        let mut from = [0u8; 16];
        let mut flen = 16u32;
        // SAFETY: valid buffers.
        let n = unsafe {
            rump___sysimpl_recvfrom(
                fd,
                buf.as_mut_ptr() as *mut c_void,
                buf.len(),
                0,
                from.as_mut_ptr(),
                &mut flen,
            )
        };
        assert!(n > 0, "recvfrom: errno {}", errno());
        assert_eq!(from, sa("10.0.0.1:6000"));
        let mut reply = buf[..n as usize].to_vec();
        reply.reverse();
        // SAFETY: valid buffers.
        let m = unsafe {
            rump___sysimpl_sendto(
                fd,
                reply.as_ptr() as *const c_void,
                reply.len(),
                0,
                from.as_ptr(),
                flen,
            )
        };
        assert_eq!(m, reply.len() as isize);
    });
    let h = peer.until(T, |s| {
        let h = s.socket(2, 2).unwrap();
        s.bind(h, addr("10.0.0.1:6000")).unwrap();
        s.sendto(h, b"datagram one", Some(addr("10.0.0.2:5353")))
            .unwrap();
        Some(h)
    });
    let mut b = [0u8; 64];
    let (n, from) = peer.until(T, |s| s.recvfrom(h, &mut b).ok());
    assert_eq!(&b[..n], b"eno margatad");
    assert_eq!(from, Some(addr("10.0.0.2:5353")));
    server.join().unwrap();
    assert_eq!(kclose(fd), 0);
}

fn refused() {
    // SAFETY: plain client calls with valid buffers.
    unsafe {
        let fd = rump___sysimpl_socket30(2, 1, 0);
        assert_eq!(
            rump___sysimpl_connect(fd, sa("10.0.0.1:9").as_ptr(), 16),
            -1
        );
        assert_eq!(errno(), 61, "ECONNREFUSED");
        assert_eq!(rump___sysimpl_close(fd), 0);
        // Bad descriptors and arguments.
        assert_eq!(rump___sysimpl_close(fd), -1);
        assert_eq!(errno(), 9, "EBADF");
        assert_eq!(rump___sysimpl_listen(999, 1), -1);
        assert_eq!(errno(), 9, "EBADF");
        assert_eq!(rump___sysimpl_socket30(77, 1, 0), -1);
        assert_eq!(errno(), 47, "EAFNOSUPPORT");
    }
}

fn nonblocking_and_poll(peer: &Arc<Peer>) {
    let lfd = kernel_listener("10.0.0.2:8", 4);
    // SAFETY: plain client calls with valid buffers.
    unsafe {
        assert_eq!(rump___sysimpl_fcntl(lfd, 3, 0 as FcntlArg), 0);
        assert_eq!(rump___sysimpl_fcntl(lfd, 4, 0x4 as FcntlArg), 0);
        assert_eq!(rump___sysimpl_fcntl(lfd, 3, 0 as FcntlArg), 0x4);
        assert_eq!(
            rump___sysimpl_accept(lfd, std::ptr::null_mut(), std::ptr::null_mut()),
            -1
        );
        assert_eq!(errno(), 35, "EAGAIN");

        let mut p = [
            PollFd {
                fd: lfd,
                events: POLLIN,
                revents: 0,
            },
            PollFd {
                fd: 555,
                events: POLLIN,
                revents: 0,
            },
        ];
        // Only the bad descriptor reports, at once.
        assert_eq!(rump___sysimpl_poll(p.as_mut_ptr(), 2, 0), 1);
        assert_eq!((p[0].revents, p[1].revents), (0, POLLNVAL));
        assert_eq!(rump___sysimpl_poll(p.as_mut_ptr(), 1, 0), 0);
        assert_eq!(rump___sysimpl_poll(p.as_mut_ptr(), 1, 30), 0);

        let h = peer.connect_to("10.0.0.2:8", T);
        assert_eq!(rump___sysimpl_poll(p.as_mut_ptr(), 1, 5000), 1);
        assert_eq!(p[0].revents & POLLIN, POLLIN);
        let c = rump___sysimpl_accept(lfd, std::ptr::null_mut(), std::ptr::null_mut());
        assert!(c >= 0, "accept after poll: errno {}", errno());
        assert_eq!(
            rump___sysimpl_fcntl(c, 3, 0 as FcntlArg),
            0x4,
            "O_NONBLOCK inherited"
        );
        assert_eq!(rump___sysimpl_fcntl(c, 4, 0 as FcntlArg), 0);

        let mut q = [PollFd {
            fd: c,
            events: POLLIN | POLLOUT,
            revents: 0,
        }];
        assert_eq!(rump___sysimpl_poll(q.as_mut_ptr(), 1, 5000), 1);
        assert_eq!(q[0].revents, POLLOUT);
        peer.until(T, |s| {
            s.write(h, b"ping").unwrap();
            Some(())
        });
        q[0].events = POLLIN;
        assert_eq!(rump___sysimpl_poll(q.as_mut_ptr(), 1, 5000), 1);
        assert_eq!(q[0].revents, POLLIN);
        let mut b = [0u8; 16];
        let n = rump___sysimpl_read(c, b.as_mut_ptr() as *mut c_void, b.len());
        assert_eq!(&b[..n as usize], b"ping");
        // Non-blocking read with nothing there.
        assert_eq!(rump___sysimpl_fcntl(c, 4, 0x4 as FcntlArg), 0);
        assert_eq!(
            rump___sysimpl_read(c, b.as_mut_ptr() as *mut c_void, b.len()),
            -1
        );
        assert_eq!(errno(), 35, "EAGAIN");
        assert_eq!(rump___sysimpl_close(c), 0);
        assert_eq!(rump___sysimpl_close(lfd), 0);
        peer.until(T, |s| {
            s.close(h).unwrap();
            Some(())
        });
    }
}

fn kernel_client(peer: &Arc<Peer>) {
    let l = peer.until(T, |s| {
        let l = s.socket(2, 1).unwrap();
        s.bind(l, addr("10.0.0.1:80")).unwrap();
        s.listen(l, 4).unwrap();
        Some(l)
    });
    // SAFETY: plain client calls with valid buffers.
    unsafe {
        let fd = rump___sysimpl_socket30(2, 1, 0);
        assert_eq!(
            rump___sysimpl_connect(fd, sa("10.0.0.1:80").as_ptr(), 16),
            0,
            "errno {}",
            errno()
        );
        let mut name = [0u8; 16];
        let mut len = 16u32;
        assert_eq!(
            rump___sysimpl_getsockname(fd, name.as_mut_ptr(), &mut len),
            0
        );
        let local = rumpcore_net::sockaddr::decode(&name).unwrap();
        assert_eq!(local.ip(), addr("10.0.0.2:1").ip());
        assert_ne!(local.port(), 0);
        kwrite_all(fd, b"hello kernel");
        let (c, from) = peer.until(T, |s| s.accept(l).ok());
        assert_eq!(from, local);
        let mut b = [0u8; 64];
        let mut got = Vec::new();
        peer.until(T, |s| {
            if let Ok(n) = s.read(c, &mut b) {
                got.extend_from_slice(&b[..n]);
            }
            (got.len() >= 12).then_some(())
        });
        assert_eq!(got, b"hello kernel");
        peer.until(T, |s| {
            s.write(c, b"hi").unwrap();
            Some(())
        });
        let mut r = [0u8; 8];
        let n = rump___sysimpl_read(fd, r.as_mut_ptr() as *mut c_void, r.len());
        assert_eq!(&r[..n as usize], b"hi");
        assert_eq!(rump___sysimpl_shutdown(fd, 1), 0);
        peer.until(T, |s| matches!(s.read(c, &mut b), Ok(0)).then_some(()));
        assert_eq!(rump___sysimpl_close(fd), 0);
        peer.until(T, |s| {
            s.close(c).unwrap();
            s.close(l).unwrap();
            Some(())
        });
    }
}

/// `n` concurrent connections to one kernel thread that accepts them all
/// and echoes with `poll`.
fn many(peer: &Arc<Peer>, n: usize) {
    let lfd = kernel_listener("10.0.0.2:9000", 128);
    let server = std::thread::spawn(move || {
        let mut fds = Vec::new();
        for _ in 0..n {
            // SAFETY: null name/len are allowed.
            let c =
                unsafe { rump___sysimpl_accept(lfd, std::ptr::null_mut(), std::ptr::null_mut()) };
            assert!(c >= 0, "accept: errno {}", errno());
            fds.push(c);
        }
        let mut buf = vec![0u8; 4096];
        while !fds.is_empty() {
            let mut p: Vec<PollFd> = fds
                .iter()
                .map(|&fd| PollFd {
                    fd,
                    events: POLLIN,
                    revents: 0,
                })
                .collect();
            // SAFETY: a valid pollfd array.
            let r = unsafe { rump___sysimpl_poll(p.as_mut_ptr(), p.len() as u32, 15000) };
            assert!(r > 0, "poll: {r}, errno {}", errno());
            for q in p.iter().filter(|q| q.revents != 0) {
                // SAFETY: a valid buffer.
                let m = unsafe {
                    rump___sysimpl_read(q.fd, buf.as_mut_ptr() as *mut c_void, buf.len())
                };
                assert!(m >= 0, "read: errno {}", errno());
                if m == 0 {
                    assert_eq!(kclose(q.fd), 0);
                    fds.retain(|&f| f != q.fd);
                } else {
                    kwrite_all(q.fd, &buf[..m as usize]);
                }
            }
        }
        assert_eq!(kclose(lfd), 0);
    });
    let conns = peer_echo_many(peer, "10.0.0.2:9000", n, |i| pattern(3000 + i * 17, i));
    server.join().unwrap();
    peer_close_all(peer, &conns);
}

/// `n` connections open at once, each served by its own kernel thread
/// blocking in accept, read and write (the case where one broadcast per
/// event would wake every waiter): all echo byte-exact.
fn many_threads(peer: &Arc<Peer>, n: usize) {
    let started = std::time::Instant::now();
    let lfd = kernel_listener("10.0.0.2:9100", n as i32);
    let servers: Vec<_> = (0..n)
        .map(|_| {
            std::thread::spawn(move || {
                // SAFETY: null name/len are allowed.
                let c = unsafe {
                    rump___sysimpl_accept(lfd, std::ptr::null_mut(), std::ptr::null_mut())
                };
                assert!(c >= 0, "accept: errno {}", errno());
                let mut buf = vec![0u8; 2048];
                let mut echoed = 0;
                loop {
                    // SAFETY: a valid buffer.
                    let m = unsafe {
                        rump___sysimpl_read(c, buf.as_mut_ptr() as *mut c_void, buf.len())
                    };
                    assert!(m >= 0, "read: errno {}", errno());
                    if m == 0 {
                        break;
                    }
                    kwrite_all(c, &buf[..m as usize]);
                    echoed += m as usize;
                }
                assert_eq!(kclose(c), 0);
                echoed
            })
        })
        .collect();
    let conns = peer_echo_many(peer, "10.0.0.2:9100", n, |i| pattern(2000 + i * 7, i + 5));
    let echoed: usize = servers.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(echoed, conns.iter().map(|(_, d)| d.len()).sum::<usize>());
    assert_eq!(kclose(lfd), 0);
    peer_close_all(peer, &conns);
    println!(
        "{n} connections, one blocking kernel thread each: {echoed} bytes echoed in {:?}",
        started.elapsed()
    );
}

#[test]
fn network() {
    // SAFETY: client calls with NUL-terminated strings.
    let wire = unsafe {
        assert_eq!(rump_init(), 0);
        assert_eq!(rump_init(), 0, "a second rump_init is harmless");
        assert_eq!(rump_pub_netconfig_ifcreate(c"eth0".as_ptr()), 6, "ENXIO");
        assert_eq!(rump_pub_netconfig_ifcreate(c"virt0".as_ptr()), 0);
        assert_eq!(rump_pub_netconfig_ifcreate(c"virt0".as_ptr()), 17, "EEXIST");
        let wire = rumpuser_hosted::take_virt_peer("0").expect("virt0's far end");
        assert_eq!(rump_pub_netconfig_ifup(c"virt0".as_ptr()), 0);
        assert_eq!(
            rump_pub_netconfig_ipv4_ifaddr(
                c"virt0".as_ptr(),
                c"10.0.0.2".as_ptr(),
                c"255.0.255.0".as_ptr()
            ),
            22,
            "EINVAL for a non-contiguous mask"
        );
        assert_eq!(
            rump_pub_netconfig_ipv4_ifaddr(
                c"virt0".as_ptr(),
                c"10.0.0.2".as_ptr(),
                c"255.255.255.0".as_ptr()
            ),
            0
        );
        assert_eq!(rump_pub_netconfig_ipv4_gw(c"10.0.0.1".as_ptr()), 0);
        wire
    };
    let peer = Peer::start(wire, "10.0.0.1");
    tcp_echo(&peer);
    udp(&peer);
    refused();
    nonblocking_and_poll(&peer);
    kernel_client(&peer);
    many(&peer, 100);
    many_threads(&peer, 500);
}
