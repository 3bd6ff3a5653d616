//! Many connections, IPv6, shutdown/EPIPE, SO_REUSEADDR and DHCP.

mod common;

use common::{listener, pattern, Net, WireConfig};
use rumpcore_net::consts::*;
use rumpcore_net::{Errno, SocketHandle};
use std::net::SocketAddr;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn five_hundred_connections() {
    let sc = rumpcore_net::StackConfig {
        tcp_rx_buffer: 4096,
        tcp_tx_buffer: 4096,
        ..Default::default()
    };
    let mut net = Net::with_stack_config(2, WireConfig::default(), true, sc);
    let n = 500;
    let lst = listener(&mut net, 1, sa("10.0.0.2:7000"), n as i32);
    let clients: Vec<SocketHandle> = (0..n)
        .map(|_| {
            let c = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
            assert_eq!(
                net.stacks[0].connect(c, sa("10.0.0.2:7000")),
                Err(Errno::EINPROGRESS)
            );
            c
        })
        .collect();
    let mut servers = Vec::new();
    net.run(60, |net| {
        while let Ok((h, _)) = net.stacks[1].accept(lst) {
            servers.push(h);
        }
        servers.len() == n
            && clients
                .iter()
                .all(|c| net.stacks[0].is_connected(*c).unwrap())
    });
    // each client sends 1000 bytes, each server echoes them and closes
    for (k, c) in clients.iter().enumerate() {
        assert_eq!(net.stacks[0].write(*c, &pattern(k as u64, 1000)), Ok(1000));
    }
    let mut echoed = vec![0usize; n];
    let mut got = vec![Vec::new(); n];
    let mut eof = vec![false; n];
    let mut buf = [0u8; 2048];
    net.run(120, |net| {
        for (k, s) in servers.iter().enumerate() {
            if echoed[k] < 1000 {
                if let Ok(m) = net.stacks[1].read(*s, &mut buf) {
                    assert_eq!(net.stacks[1].write(*s, &buf[..m]), Ok(m));
                    echoed[k] += m;
                    if echoed[k] == 1000 {
                        net.stacks[1].shutdown(*s, SHUT_WR).unwrap();
                    }
                }
            }
        }
        for (k, c) in clients.iter().enumerate() {
            while !eof[k] {
                match net.stacks[0].read(*c, &mut buf) {
                    Ok(0) => eof[k] = true,
                    Ok(m) => got[k].extend_from_slice(&buf[..m]),
                    Err(_) => break,
                }
            }
        }
        eof.iter().all(|e| *e)
    });
    let peers: std::collections::HashSet<_> = servers
        .iter()
        .map(|s| net.stacks[1].getpeername(*s).unwrap())
        .collect();
    assert_eq!(peers.len(), n);
    for (k, g) in got.iter().enumerate() {
        assert_eq!(g, &pattern(k as u64, 1000));
    }
    for c in &clients {
        net.stacks[0].close(*c).unwrap();
    }
    for s in &servers {
        net.stacks[1].close(*s).unwrap();
    }
    net.stacks[1].close(lst).unwrap();
    net.idle(20_000);
    assert!(net.stacks[0].sockets().is_empty() && net.stacks[1].sockets().is_empty());
}

fn pair(net: &mut Net, lst: SocketHandle, addr: SocketAddr) -> (SocketHandle, SocketHandle) {
    let dom = if addr.is_ipv4() { 2 } else { 24 };
    let c = net.stacks[0].socket(dom, SOCK_STREAM).unwrap();
    assert_eq!(net.stacks[0].connect(c, addr), Err(Errno::EINPROGRESS));
    let mut server = None;
    net.run(30, |n| {
        if server.is_none() {
            server = n.stacks[1].accept(lst).ok().map(|x| x.0);
        }
        server.is_some() && n.stacks[0].ready(c).unwrap().any(POLLOUT)
    });
    assert_eq!(net.stacks[0].connect(c, addr), Err(Errno::EISCONN));
    (c, server.unwrap())
}

#[test]
fn ipv6_tcp() {
    let mut net = Net::new(2, WireConfig::default(), true);
    let lst = listener(&mut net, 1, sa("[::]:80"), 2);
    let (c, s) = pair(&mut net, lst, sa("[fd00::2]:80"));
    assert_eq!(
        net.stacks[1].getpeername(s).unwrap().ip(),
        sa("[fd00::1]:1").ip()
    );
    assert_eq!(net.stacks[0].write(c, b"six"), Ok(3));
    let mut buf = [0u8; 8];
    net.run(5, |n| n.stacks[1].ready(s).unwrap().any(POLLIN));
    assert_eq!(net.stacks[1].read(s, &mut buf), Ok(3));
    assert_eq!(&buf[..3], b"six");
}

#[test]
fn shutdown_eof_epipe_and_poll() {
    let mut net = Net::new(2, WireConfig::default(), true);
    let lst = listener(&mut net, 1, sa("10.0.0.2:80"), 2);
    let (c, s) = pair(&mut net, lst, sa("10.0.0.2:80"));
    let mut buf = [0u8; 8];
    assert_eq!(net.stacks[1].read(s, &mut buf), Err(Errno::EAGAIN));
    assert!(!net.stacks[1].ready(s).unwrap().any(POLLIN));
    assert!(net.stacks[1].ready(s).unwrap().any(POLLOUT));
    net.stacks[0].shutdown(c, SHUT_WR).unwrap();
    assert_eq!(net.stacks[0].write(c, b"x"), Err(Errno::EPIPE));
    net.run(5, |n| n.stacks[1].ready(s).unwrap().any(POLLIN));
    assert_eq!(net.stacks[1].read(s, &mut buf), Ok(0));
    // the server may still send on its half
    assert_eq!(net.stacks[1].write(s, b"late"), Ok(4));
    net.run(5, |n| n.stacks[0].ready(c).unwrap().any(POLLIN));
    assert_eq!(net.stacks[0].read(c, &mut buf), Ok(4));
    // the server closes; data the client then sends gets a reset: EPIPE
    net.stacks[1].close(s).unwrap();
    net.run(5, |n| n.stacks[0].read(c, &mut buf) == Ok(0));
    let (c2, s2) = pair(&mut net, lst, sa("10.0.0.2:80"));
    net.stacks[1].close(s2).unwrap();
    net.run(5, |n| n.stacks[0].read(c2, &mut buf) == Ok(0));
    let _ = net.stacks[0].write(c2, b"after close");
    net.run(5, |n| n.stacks[0].write(c2, b"y") == Err(Errno::EPIPE));
    assert!(net.stacks[0].ready(c2).unwrap().any(POLLHUP));
}

#[test]
fn reuseaddr_and_eaddrinuse() {
    let mut net = Net::new(2, WireConfig::default(), true);
    let lst = listener(&mut net, 1, sa("10.0.0.2:80"), 2);
    let t = net.stacks[1].socket(2, SOCK_STREAM).unwrap();
    assert_eq!(
        net.stacks[1].bind(t, sa("0.0.0.0:80")),
        Err(Errno::EADDRINUSE)
    );
    net.stacks[1]
        .setsockopt(t, SOL_SOCKET, SO_REUSEADDR, 1)
        .unwrap();
    // a listener's port stays taken even with SO_REUSEADDR
    assert_eq!(
        net.stacks[1].bind(t, sa("0.0.0.0:80")),
        Err(Errno::EADDRINUSE)
    );
    let (_c, s) = pair(&mut net, lst, sa("10.0.0.2:80"));
    net.stacks[1].close(s).unwrap();
    net.stacks[1].close(lst).unwrap();
    net.step();
    // the closed connection lingers (TIME-WAIT): only SO_REUSEADDR binds
    let u = net.stacks[1].socket(2, SOCK_STREAM).unwrap();
    assert_eq!(
        net.stacks[1].bind(u, sa("10.0.0.2:80")),
        Err(Errno::EADDRINUSE)
    );
    assert_eq!(net.stacks[1].getsockopt(t, SOL_SOCKET, SO_REUSEADDR), Ok(1));
    net.stacks[1].bind(t, sa("10.0.0.2:80")).unwrap();
    net.stacks[1].listen(t, 1).unwrap();
}

#[test]
fn dhcp_lease_then_tcp() {
    let mut net = Net::new(2, WireConfig::default(), false);
    let ix1 = net.ifx[1];
    net.stacks[1]
        .ipv4_ifaddr_cidr(ix1, "10.0.0.2".parse().unwrap(), 24)
        .unwrap();
    net.dhcp = Some(common::dhcp::Server::new(
        "10.0.0.254".parse().unwrap(),
        "10.0.0.77".parse().unwrap(),
    ));
    let ix0 = net.ifx[0];
    net.stacks[0].dhcp_start(ix0).unwrap();
    net.run(30, |n| n.stacks[0].dhcp_lease(ix0).is_some());
    let lease = net.stacks[0].dhcp_lease(ix0).unwrap();
    assert_eq!(
        lease.address,
        "10.0.0.77".parse::<std::net::Ipv4Addr>().unwrap()
    );
    assert_eq!(lease.prefix_len, 24);
    assert_eq!(lease.router, Some("10.0.0.254".parse().unwrap()));
    let lst = listener(&mut net, 1, sa("10.0.0.2:80"), 1);
    let (_c, s) = pair(&mut net, lst, sa("10.0.0.2:80"));
    assert_eq!(
        net.stacks[1].getpeername(s).unwrap().ip(),
        sa("10.0.0.77:1").ip()
    );
}
