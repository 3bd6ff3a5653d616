//! Listen backlog, non-blocking calls and readiness wakeups.

mod common;

use common::{listener, Net, WireConfig};
use rumpcore_net::consts::*;
use rumpcore_net::Errno;
use std::net::SocketAddr;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn listen_backlog() {
    let mut net = Net::new(2, WireConfig::default(), true);
    let lst = listener(&mut net, 1, sa("10.0.0.2:80"), 3);
    assert_eq!(net.stacks[1].accept(lst), Err(Errno::EAGAIN));
    let cs: Vec<_> = (0..3)
        .map(|_| {
            let c = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
            let _ = net.stacks[0].connect(c, sa("10.0.0.2:80"));
            c
        })
        .collect();
    net.run(5, |n| {
        cs.iter().all(|c| n.stacks[0].is_connected(*c).unwrap())
    });
    net.idle(5);
    // beyond the backlog the SYN is dropped (as NetBSD does with a full
    // listen queue): the attempt stays pending, nothing is refused
    let extra = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
    assert_eq!(
        net.stacks[0].connect(extra, sa("10.0.0.2:80")),
        Err(Errno::EINPROGRESS)
    );
    net.idle(500);
    assert!(!net.stacks[0].ready(extra).unwrap().any(POLLERR | POLLOUT));
    assert_eq!(net.stacks[0].take_error(extra), Ok(None));
    assert!(net.stacks[1].ready(lst).unwrap().any(POLLIN));
    for _ in 0..3 {
        net.stacks[1].accept(lst).unwrap();
    }
    assert_eq!(net.stacks[1].accept(lst), Err(Errno::EAGAIN));
    assert!(!net.stacks[1].ready(lst).unwrap().any(POLLIN));
    // room again: the retried SYN gets in and is accepted
    net.run(10, |n| n.stacks[1].ready(lst).unwrap().any(POLLIN));
    assert!(net.woken[1].contains(&lst));
    assert!(net.stacks[1].accept(lst).is_ok());
    net.run(5, |n| n.stacks[0].is_connected(extra).unwrap());
    // and a new client after it
    let late = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
    let _ = net.stacks[0].connect(late, sa("10.0.0.2:80"));
    net.run(5, |n| n.stacks[1].ready(lst).unwrap().any(POLLIN));
    assert!(net.stacks[1].accept(lst).is_ok());
}

/// Sockets of a stack with `tcp` bytes per TCP buffer and room for
/// `sockets` TCP sockets' buffers.
fn budget_config(tcp: usize, sockets: usize) -> rumpcore_net::StackConfig {
    rumpcore_net::StackConfig {
        tcp_rx_buffer: tcp,
        tcp_tx_buffer: tcp,
        buffer_budget: Some(sockets * 2 * tcp),
        ..Default::default()
    }
}

#[test]
fn buffer_budget_refuses_with_enobufs_and_recovers() {
    // the server (stack 1) has room for three sockets' buffers
    let client = budget_config(4096, 16);
    let server = budget_config(4096, 3);
    let mut net = Net::with_stack_configs(WireConfig::default(), true, &[client, server]);
    // UDP buffers do not fit this budget at all
    assert_eq!(net.stacks[1].socket(2, SOCK_DGRAM), Err(Errno::ENOBUFS));
    // an idle listener costs one socket, whatever its backlog
    let lst = listener(&mut net, 1, sa("10.0.0.2:80"), 64);
    assert_eq!(net.stacks[1].buffer_bytes(), 2 * 4096);
    let cs: Vec<_> = (0..4)
        .map(|_| {
            let c = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
            let _ = net.stacks[0].connect(c, sa("10.0.0.2:80"));
            c
        })
        .collect();
    // three connections fit the budget; the fourth SYN is dropped
    net.run(5, |n| {
        cs.iter()
            .filter(|c| n.stacks[0].is_connected(**c).unwrap())
            .count()
            == 3
    });
    net.idle(500);
    assert_eq!(net.stacks[1].buffer_bytes(), 3 * 2 * 4096);
    let waiting = cs
        .iter()
        .find(|c| !net.stacks[0].is_connected(**c).unwrap())
        .copied()
        .unwrap();
    assert_eq!(net.stacks[0].take_error(waiting), Ok(None));
    let mut accepted: Vec<_> = (0..3)
        .map(|_| net.stacks[1].accept(lst).unwrap().0)
        .collect();
    // a connection attempt of its own: no buffers either
    let own = net.stacks[1].socket(2, SOCK_STREAM).unwrap();
    assert_eq!(
        net.stacks[1].connect(own, sa("10.0.0.1:9")),
        Err(Errno::ENOBUFS)
    );
    let other = net.stacks[1].socket(2, SOCK_STREAM).unwrap();
    net.stacks[1].bind(other, sa("10.0.0.2:81")).unwrap();
    assert_eq!(net.stacks[1].listen(other, 5), Err(Errno::ENOBUFS));
    // one closed connection frees its buffers (once it has finished
    // closing): the waiting client gets in
    let s = accepted.remove(0);
    let peer = net.stacks[1].getpeername(s).unwrap();
    let c = *cs
        .iter()
        .find(|c| net.stacks[0].getsockname(**c).unwrap() == peer)
        .unwrap();
    net.stacks[0].close(c).unwrap();
    net.run(5, |n| n.stacks[1].read(s, &mut [0u8; 8]) == Ok(0));
    net.stacks[1].close(s).unwrap();
    net.run(30, |n| n.stacks[1].ready(lst).unwrap().any(POLLIN));
    accepted.push(net.stacks[1].accept(lst).unwrap().0);
    net.run(5, |n| n.stacks[0].is_connected(waiting).unwrap());
    let mut buf = [0u8; 8];
    net.stacks[0].write(waiting, b"hello").unwrap();
    let last = *accepted.last().unwrap();
    net.run(5, |n| n.stacks[1].ready(last).unwrap().any(POLLIN));
    assert_eq!(net.stacks[1].read(last, &mut buf), Ok(5));
    assert!(net.stacks[1].buffer_bytes() <= 3 * 2 * 4096);
}

#[test]
fn nonblocking_and_wakeups() {
    let sc = rumpcore_net::StackConfig {
        tcp_rx_buffer: 8192,
        tcp_tx_buffer: 8192,
        ..Default::default()
    };
    let mut net = Net::with_stack_config(2, WireConfig::default(), true, sc);
    let lst = listener(&mut net, 1, sa("10.0.0.2:80"), 1);
    let c = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
    assert_eq!(net.stacks[0].fcntl_getfl(c), Ok(0));
    net.stacks[0].fcntl_setfl(c, O_NONBLOCK).unwrap();
    assert_eq!(net.stacks[0].fcntl_getfl(c), Ok(O_NONBLOCK));
    net.stacks[0]
        .setsockopt(c, IPPROTO_TCP, TCP_NODELAY, 1)
        .unwrap();
    assert_eq!(net.stacks[0].getsockopt(c, IPPROTO_TCP, TCP_NODELAY), Ok(1));
    assert_eq!(
        net.stacks[0].getsockopt(c, SOL_SOCKET, SO_TYPE),
        Ok(SOCK_STREAM)
    );
    assert_eq!(
        net.stacks[0].getsockopt(c, SOL_SOCKET, 0x1234),
        Err(Errno::ENOPROTOOPT)
    );
    assert_eq!(net.stacks[0].write(c, b"x"), Err(Errno::ENOTCONN));
    assert_eq!(
        net.stacks[0].connect(c, sa("10.0.0.2:80")),
        Err(Errno::EINPROGRESS)
    );
    assert_eq!(net.stacks[0].ready(c).unwrap().0, 0);
    assert_eq!(net.stacks[0].write(c, b"x"), Err(Errno::EAGAIN));
    net.run(5, |n| n.stacks[0].ready(c).unwrap().any(POLLOUT));
    assert!(net.woken[0].contains(&c), "connect completion wakes");
    net.run(5, |n| n.stacks[1].ready(lst).unwrap().any(POLLIN));
    let (s, _) = net.stacks[1].accept(lst).unwrap();
    let mut buf = [0u8; 4096];
    assert_eq!(net.stacks[1].read(s, &mut buf), Err(Errno::EAGAIN));
    net.woken[1].clear();
    net.stacks[0].write(c, b"ping").unwrap();
    net.run(5, |n| n.stacks[1].ready(s).unwrap().any(POLLIN));
    assert!(net.woken[1].contains(&s), "data wakes the reader");
    assert_eq!(net.stacks[1].read(s, &mut buf), Ok(4));
    // fill until EAGAIN: POLLOUT goes, and comes back (with a wakeup)
    // once the peer reads
    let mut total = 0;
    loop {
        match net.stacks[0].write(c, &buf) {
            Ok(n) => total += n,
            Err(e) => {
                assert_eq!(e, Errno::EAGAIN);
                if net.stacks[0].ready(c).unwrap().any(POLLOUT) {
                    net.step();
                    continue;
                }
                break;
            }
        }
        net.step();
    }
    assert!(total >= 8192);
    net.woken[0].clear();
    let mut drained = 0;
    net.run(5, |n| {
        while let Ok(m) = n.stacks[1].read(s, &mut buf) {
            drained += m;
        }
        n.stacks[0].ready(c).unwrap().any(POLLOUT)
    });
    assert!(drained > 0);
    assert!(
        net.woken[0].contains(&c),
        "room in the send buffer wakes the writer"
    );
}
