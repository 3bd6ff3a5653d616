//! Two stacks on a simulated wire: UDP, TCP connect/accept/transfer,
//! refusal, backlog, shutdown/EOF/EPIPE, SO_REUSEADDR, non-blocking and
//! poll readiness, names, IPv6, many connections, loss.

mod common;

use common::{fnv, listener, pattern, v4, Net, WireConfig};
use rumpcore_net::consts::*;
use rumpcore_net::{sockaddr, Errno, SocketHandle};
use std::net::SocketAddr;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Connects a client on stack `c` to `addr`; returns (client, server
/// connection) once accepted.
fn connect_pair(
    net: &mut Net,
    lst: SocketHandle,
    addr: SocketAddr,
) -> (SocketHandle, SocketHandle) {
    let dom = if addr.is_ipv4() { 2 } else { 24 };
    let c = net.stacks[0].socket(dom, SOCK_STREAM).unwrap();
    assert_eq!(net.stacks[0].connect(c, addr), Err(Errno::EINPROGRESS));
    let mut server = None;
    net.run(30, |n| {
        if server.is_none() {
            if let Ok((h, _)) = n.stacks[1].accept(lst) {
                server = Some(h);
            }
        }
        server.is_some() && n.stacks[0].is_connected(c).unwrap()
    });
    (c, server.unwrap())
}

/// Moves `ab` from a (stack 0) to b (stack 1) and `ba` back, each side
/// shutting its write side when done; returns what each side received.
fn exchange(
    net: &mut Net,
    a: SocketHandle,
    b: SocketHandle,
    ab: &[u8],
    ba: &[u8],
    limit_s: u64,
) -> (Vec<u8>, Vec<u8>) {
    let ends = [(0usize, a, ab), (1usize, b, ba)];
    let mut sent = [0usize; 2];
    let mut shut = [false; 2];
    let mut got = [Vec::new(), Vec::new()];
    let mut eof = [false; 2];
    let mut buf = vec![0u8; 16384];
    net.run(limit_s, |n| {
        for (k, (i, h, data)) in ends.iter().enumerate() {
            let s = &mut n.stacks[*i];
            while sent[k] < data.len() {
                match s.write(*h, &data[sent[k]..]) {
                    Ok(m) => sent[k] += m,
                    Err(e) => {
                        assert_eq!(e, Errno::EAGAIN);
                        break;
                    }
                }
            }
            // Each side shuts its write side as soon as all its bytes are
            // queued, so both FINs can cross (simultaneous close, CLOSING;
            // smoltcp 0.12 did not retransmit a lost FIN from there).
            if sent[k] == data.len() && !shut[k] {
                s.shutdown(*h, SHUT_WR).unwrap();
                shut[k] = true;
            }
            while !eof[k] {
                match s.read(*h, &mut buf) {
                    Ok(0) => eof[k] = true,
                    Ok(m) => got[k].extend_from_slice(&buf[..m]),
                    Err(e) => {
                        assert_eq!(e, Errno::EAGAIN);
                        break;
                    }
                }
            }
        }
        eof[0] && eof[1]
    });
    let [ga, gb] = got;
    (gb, ga)
}

#[test]
fn udp_datagrams() {
    let mut net = Net::new(2, WireConfig::default(), true);
    let srv = net.stacks[1].socket(2, SOCK_DGRAM).unwrap();
    net.stacks[1].bind(srv, sa("10.0.0.2:7")).unwrap();
    let cli = net.stacks[0].socket(2, SOCK_DGRAM).unwrap();
    assert_eq!(
        net.stacks[0].sendto(cli, b"hello", Some(sa("10.0.0.2:7"))),
        Ok(5)
    );
    let mut buf = [0u8; 64];
    let mut from = None;
    net.run(5, |n| {
        if let Ok((len, f)) = n.stacks[1].recvfrom(srv, &mut buf) {
            assert_eq!(&buf[..len], b"hello");
            from = f;
        }
        from.is_some()
    });
    let from = from.unwrap();
    assert_eq!(
        from,
        net.stacks[0]
            .getsockname(cli)
            .map(|a| SocketAddr::new(v4(0).into(), a.port()))
            .unwrap()
    );
    // reply to the sender
    net.stacks[1].sendto(srv, b"world", Some(from)).unwrap();
    let mut got = false;
    net.run(5, |n| {
        if let Ok((len, f)) = n.stacks[0].recvfrom(cli, &mut buf) {
            assert_eq!(&buf[..len], b"world");
            assert_eq!(f, Some(sa("10.0.0.2:7")));
            got = true;
        }
        got
    });
    assert_eq!(net.stacks[0].recvfrom(cli, &mut buf), Err(Errno::EAGAIN));
    assert_eq!(net.stacks[0].write(cli, b"x"), Err(Errno(39)));
    assert_eq!(
        net.stacks[0].sendto(cli, &[0; 2000], Some(from)),
        Err(Errno::EMSGSIZE)
    );
}

#[test]
fn udp_under_loss_counts() {
    let cfg = WireConfig {
        loss_ppm: 50_000,
        jitter_ns: 300_000,
        reorder_ppm: 20_000,
        ..WireConfig::default()
    };
    let mut net = Net::new(2, cfg, true);
    let srv = net.stacks[1].socket(2, SOCK_DGRAM).unwrap();
    net.stacks[1].bind(srv, sa("10.0.0.2:9000")).unwrap();
    let cli = net.stacks[0].socket(2, SOCK_DGRAM).unwrap();
    net.stacks[0].connect(cli, sa("10.0.0.2:9000")).unwrap();
    // ARP first, so the count measures the wire
    net.stacks[0].write(cli, b"warmup").unwrap();
    let mut buf = [0u8; 2048];
    net.run(10, |n| n.stacks[1].recvfrom(srv, &mut buf).is_ok());
    let total = 2000u32;
    let mut seen = std::collections::HashSet::new();
    let mut drain = |net: &mut Net| {
        while let Ok((len, _)) = net.stacks[1].recvfrom(srv, &mut buf) {
            assert!(len > 4);
            let k = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            assert_eq!(
                &buf[4..len],
                &pattern(u64::from(k), len - 4)[..],
                "corrupt datagram"
            );
            seen.insert(k);
        }
    };
    for k in 0..total {
        let mut d = k.to_be_bytes().to_vec();
        d.extend(pattern(u64::from(k), 96 + (k as usize % 1000)));
        while let Err(e) = net.stacks[0].write(cli, &d) {
            assert_eq!(e, Errno::EAGAIN);
            net.step();
            drain(&mut net);
        }
        net.step();
        drain(&mut net);
    }
    net.idle(50);
    drain(&mut net);
    let got = seen.len() as u32;
    eprintln!(
        "udp: {got} of {total} datagrams arrived (wire dropped {} of {} frames)",
        net.dropped, net.sent
    );
    assert!(got < total && got > total * 85 / 100, "got {got}");
}

#[test]
fn tcp_both_ways() {
    let mut net = Net::new(2, WireConfig::default(), true);
    let lst = listener(&mut net, 1, sa("0.0.0.0:80"), 4);
    let (c, s) = connect_pair(&mut net, lst, sa("10.0.0.2:80"));
    assert_eq!(net.stacks[0].getpeername(c), Ok(sa("10.0.0.2:80")));
    let cl = net.stacks[0].getsockname(c).unwrap();
    assert_eq!(cl.ip(), std::net::IpAddr::from(v4(0)));
    assert_eq!(net.stacks[1].getpeername(s), Ok(cl));
    assert_eq!(net.stacks[1].getsockname(s), Ok(sa("10.0.0.2:80")));
    let ab = pattern(1, 300_000);
    let ba = pattern(2, 200_000);
    let (got_b, got_a) = exchange(&mut net, c, s, &ab, &ba, 60);
    assert!(got_b == ab && got_a == ba);
    net.stacks[0].close(c).unwrap();
    net.stacks[1].close(s).unwrap();
    net.idle(30_000);
    assert_eq!(net.stacks[0].sockets().len(), 0);
}

#[test]
fn tcp_refused() {
    let mut net = Net::new(2, WireConfig::default(), true);
    let c = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
    assert_eq!(
        net.stacks[0].connect(c, sa("10.0.0.2:81")),
        Err(Errno::EINPROGRESS)
    );
    assert_eq!(
        net.stacks[0].connect(c, sa("10.0.0.2:81")),
        Err(Errno::EALREADY)
    );
    net.run(10, |n| n.stacks[0].ready(c).unwrap().any(POLLERR));
    assert_eq!(net.stacks[0].getsockopt(c, SOL_SOCKET, SO_ERROR), Ok(61));
    assert_eq!(net.stacks[0].getsockopt(c, SOL_SOCKET, SO_ERROR), Ok(0));
}

#[test]
fn tcp_connect_timeout() {
    let mut net = Net::new(2, WireConfig::default(), true);
    let c = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
    // nobody has 10.0.0.9: ARP goes unanswered
    assert_eq!(
        net.stacks[0].connect(c, sa("10.0.0.9:80")),
        Err(Errno::EINPROGRESS)
    );
    let t0 = net.now;
    net.run(100, |n| n.stacks[0].ready(c).unwrap().any(POLLERR));
    assert!(net.now - t0 >= 75_000_000_000);
    assert_eq!(net.stacks[0].take_error(c), Ok(Some(Errno::ETIMEDOUT)));
}

#[test]
fn tcp_4mib_each_way_under_loss() {
    let cfg = WireConfig {
        seed: 11,
        loss_ppm: 50_000,
        jitter_ns: 300_000,
        reorder_ppm: 20_000,
        ..WireConfig::default()
    };
    let mut net = Net::new(2, cfg, true);
    let lst = listener(&mut net, 1, sa("10.0.0.2:5001"), 1);
    let (c, s) = connect_pair(&mut net, lst, sa("10.0.0.2:5001"));
    let ab = pattern(3, 4 << 20);
    let ba = pattern(4, 4 << 20);
    let t0 = net.now;
    let (got_b, got_a) = exchange(&mut net, c, s, &ab, &ba, 600);
    eprintln!(
        "tcp 4 MiB each way: fnv {:x}/{:x} vs {:x}/{:x}; {} of {} frames dropped; {} simulated ms",
        fnv(&got_b),
        fnv(&got_a),
        fnv(&ab),
        fnv(&ba),
        net.dropped,
        net.sent,
        (net.now - t0) / 1_000_000
    );
    assert_eq!(got_b.len(), ab.len());
    assert_eq!(got_a.len(), ba.len());
    assert!(fnv(&got_b) == fnv(&ab) && got_b == ab);
    assert!(fnv(&got_a) == fnv(&ba) && got_a == ba);
    assert!(net.dropped > 0);
}

#[test]
fn names_in_netbsd_layout() {
    let mut net = Net::new(2, WireConfig::default(), true);
    let lst = listener(&mut net, 1, sa("10.0.0.2:8080"), 1);
    let mut b = [0u8; 16];
    let a = net.stacks[1].getsockname(lst).unwrap();
    assert_eq!(sockaddr::encode(&a, &mut b), 16);
    assert_eq!(b, [16, 2, 0x1f, 0x90, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    let (c, _s) = connect_pair(&mut net, lst, sockaddr::decode(&b).unwrap());
    let p = net.stacks[0].getpeername(c).unwrap();
    assert_eq!(sockaddr::encode(&p, &mut b), 16);
    assert_eq!(&b[..8], &[16, 2, 0x1f, 0x90, 10, 0, 0, 2]);
    let u = net.stacks[0].socket(2, SOCK_DGRAM).unwrap();
    assert_eq!(net.stacks[0].getpeername(u), Err(Errno::ENOTCONN));
    assert_eq!(net.stacks[0].getsockname(u), Ok(sa("0.0.0.0:0")));
    let u6 = net.stacks[0].socket(24, SOCK_DGRAM).unwrap();
    net.stacks[0].bind(u6, sa("[fd00::1]:0")).unwrap();
    let n = net.stacks[0].getsockname(u6).unwrap();
    let mut b6 = [0u8; 28];
    assert_eq!(sockaddr::encode(&n, &mut b6), 28);
    assert_eq!(&b6[..2], &[28, 24]);
    assert_ne!(&b6[2..4], &[0, 0]);
    assert_eq!(
        &b6[8..24],
        &"fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets()
    );
}
