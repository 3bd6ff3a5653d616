//! The client's sockets against a peer rumpcore-net stack on the far end
//! of the hosted `virt0` socket pair (rumpcore-kernel's test harness):
//! interface configuration errors, TCP echo through `TcpListener`, the
//! kernel as a TCP client, ECONNREFUSED, non-blocking accept, `poll`,
//! UDP both ways, and a dropped socket's descriptor being closed. One
//! kernel per process: everything runs from one test function.

#[path = "../../kernel/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{addr, pattern, peer_read, peer_write, Peer};
use rumpcore_client::net::{poll, PollFd, Shutdown, TcpListener, TcpStream, UdpSocket};
use rumpcore_client::net::{POLLIN, POLLNVAL};
use rumpcore_client::{boot, netconfig, Error};
use rumpcore_net::{Errno, SocketHandle};
use rumpuser_abi::errno::{ECONNREFUSED, EEXIST, EINVAL, ENXIO};

const T: Duration = Duration::from_secs(20);

/// Sends `data` on the peer connection `h`, then reads until `want`
/// bytes came back or the stream ended.
fn peer_send_recv(peer: &Peer, h: SocketHandle, data: &[u8], want: usize) -> Vec<u8> {
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    peer.until(T, |s| {
        peer_write(s, h, data, &mut sent);
        if peer_read(s, h, &mut buf, &mut got) {
            return Some(());
        }
        (sent == data.len() && got.len() >= want).then_some(())
    });
    got
}

fn configure() -> std::os::unix::net::UnixDatagram {
    boot::init().expect("rump_init");
    assert_eq!(netconfig::ifcreate("eth0"), Err(Error::Errno(ENXIO)));
    netconfig::ifcreate("virt0").expect("ifcreate virt0");
    assert_eq!(netconfig::ifcreate("virt0"), Err(Error::Errno(EEXIST)));
    assert_eq!(netconfig::ifcreate("vi\0rt1"), Err(Error::InteriorNul));
    let wire = rumpuser_hosted::take_virt_peer("0").expect("virt0's far end");
    netconfig::ifup("virt0").expect("ifup");
    assert_eq!(
        netconfig::ipv4_cidr("virt0", "10.0.0.2".parse().unwrap(), 33),
        Err(Error::Errno(EINVAL))
    );
    assert!(
        matches!(
            netconfig::ipv4_cidr("virt7", "10.0.0.2".parse().unwrap(), 24),
            Err(Error::Errno(_))
        ),
        "an unknown interface is refused"
    );
    netconfig::ipv4_cidr("virt0", "10.0.0.2".parse().unwrap(), 24).expect("address");
    netconfig::ipv6("virt0", "fd00::2".parse().unwrap(), 64).expect("IPv6 address");
    netconfig::ipv4_gateway("10.0.0.1".parse().unwrap()).expect("gateway");
    wire
}

fn tcp_echo(peer: &Arc<Peer>) {
    let listener = TcpListener::bind_with_backlog(addr("10.0.0.2:7"), 4).expect("bind");
    assert_eq!(listener.local_addr().unwrap(), addr("10.0.0.2:7"));
    let server = std::thread::spawn(move || {
        let (c, from) = listener.accept().expect("accept");
        assert_eq!(from.ip(), addr("10.0.0.1:1").ip());
        assert_eq!(c.peer_addr().unwrap(), from, "getpeername names the peer");
        assert_eq!(c.local_addr().unwrap(), addr("10.0.0.2:7"));
        c.set_nodelay(true).expect("TCP_NODELAY");
        let mut buf = vec![0u8; 4096];
        let mut total = 0;
        loop {
            match c.read(&mut buf).expect("read") {
                0 => break,
                n => {
                    c.write_all(&buf[..n]).expect("write_all");
                    total += n;
                }
            }
        }
        c.shutdown(Shutdown::Write).expect("shutdown");
        total
    });
    let data = pattern(256 * 1024, 1);
    let h = peer.connect_to("10.0.0.2:7", T);
    let back = {
        let mut sent = 0;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        let mut closed = false;
        peer.until(T, |s| {
            peer_write(s, h, &data, &mut sent);
            if sent == data.len() && !closed {
                s.shutdown(h, 1).unwrap();
                closed = true;
            }
            peer_read(s, h, &mut buf, &mut got).then_some(())
        });
        got
    };
    assert_eq!(server.join().unwrap(), data.len());
    assert!(back == data, "256 KiB came back intact");
    peer.until(T, |s| s.close(h).ok());
}

fn kernel_as_client(peer: &Arc<Peer>) {
    let lh = peer.until(T, |s| {
        let h = s.socket(2, 1).unwrap();
        s.bind(h, addr("10.0.0.1:9000")).unwrap();
        s.listen(h, 4).unwrap();
        Some(h)
    });
    let client = std::thread::spawn(|| {
        let c = TcpStream::connect(addr("10.0.0.1:9000")).expect("connect");
        assert_eq!(c.peer_addr().unwrap(), addr("10.0.0.1:9000"));
        assert_eq!(c.local_addr().unwrap().ip(), addr("10.0.0.2:1").ip());
        c.write_all(&pattern(100_000, 2)).expect("write_all");
        c.shutdown(Shutdown::Write).expect("shutdown");
        let mut got = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            match c.read(&mut buf).expect("read") {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        got
    });
    let (ch, _) = peer.until(T, |s| s.accept(lh).ok());
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    peer.until(T, |s| loop {
        match s.read(ch, &mut buf) {
            Ok(0) => return Some(()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(Errno::EAGAIN) => return None,
            Err(e) => panic!("peer read: {e:?}"),
        }
    });
    assert!(got == pattern(100_000, 2), "the kernel's bytes arrived");
    let reply = format!("got {}", got.len());
    let _ = peer_send_recv(peer, ch, reply.as_bytes(), 0);
    peer.until(T, |s| s.close(ch).ok());
    assert_eq!(client.join().unwrap(), reply.as_bytes());
    peer.until(T, |s| s.close(lh).ok());
}

fn refused_and_nonblocking() {
    let e = TcpStream::connect(addr("10.0.0.1:9")).unwrap_err();
    assert_eq!(e, Error::Errno(ECONNREFUSED));
    assert_eq!(e.to_string(), "connection refused (ECONNREFUSED)");

    let l = TcpListener::bind(addr("10.0.0.2:8080")).expect("bind");
    l.set_nonblocking(true).unwrap();
    let e = l.accept().unwrap_err();
    assert!(e.would_block(), "non-blocking accept: {e}");
    let mut fds = [PollFd::new(l.as_raw_fd(), POLLIN)];
    assert_eq!(poll(&mut fds, 50).unwrap(), 0, "nothing to accept");
    assert_eq!(fds[0].revents, 0);
    let fd = l.as_raw_fd();
    drop(l);
    let mut fds = [PollFd::new(fd, POLLIN)];
    assert_eq!(poll(&mut fds, 0).unwrap(), 1);
    assert_eq!(fds[0].revents, POLLNVAL, "drop closed the descriptor");
    let again = TcpListener::bind(addr("10.0.0.2:8080")).expect("the port is free again");
    drop(again);
}

fn udp(peer: &Arc<Peer>) {
    let u = UdpSocket::bind(addr("10.0.0.2:5353")).expect("udp bind");
    assert_eq!(u.local_addr().unwrap(), addr("10.0.0.2:5353"));
    let ph = peer.until(T, |s| {
        let h = s.socket(2, 2).unwrap();
        s.bind(h, addr("10.0.0.1:6000")).unwrap();
        s.sendto(h, b"hello kernel", Some(addr("10.0.0.2:5353")))
            .unwrap();
        Some(h)
    });
    let mut fds = [PollFd::new(u.as_raw_fd(), POLLIN)];
    assert_eq!(poll(&mut fds, 10_000).unwrap(), 1, "a datagram is waiting");
    assert_eq!(fds[0].revents & POLLIN, POLLIN);
    let mut buf = [0u8; 64];
    let (n, from) = u.recv_from(&mut buf).expect("recv_from");
    assert_eq!(&buf[..n], b"hello kernel");
    assert_eq!(from, addr("10.0.0.1:6000"));
    assert_eq!(u.send_to(b"hello peer", from).unwrap(), 10);
    let (got, sender) = peer.until(T, |s| {
        let mut b = [0u8; 64];
        match s.recvfrom(ph, &mut b) {
            Ok((n, Some(a))) => Some((b[..n].to_vec(), a)),
            _ => None,
        }
    });
    assert_eq!(got, b"hello peer");
    assert_eq!(sender, addr("10.0.0.2:5353"));
    u.set_nonblocking(true).unwrap();
    assert!(u.recv_from(&mut buf).unwrap_err().would_block());
    peer.until(T, |s| s.close(ph).ok());
}

#[test]
fn sockets() {
    let wire = configure();
    let peer = Peer::start(wire, "10.0.0.1");
    tcp_echo(&peer);
    kernel_as_client(&peer);
    refused_and_nonblocking();
    udp(&peer);
}
