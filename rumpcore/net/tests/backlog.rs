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
    // beyond the backlog smoltcp answers the SYN with RST: refused
    let extra = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
    assert_eq!(
        net.stacks[0].connect(extra, sa("10.0.0.2:80")),
        Err(Errno::EINPROGRESS)
    );
    net.run(5, |n| n.stacks[0].ready(extra).unwrap().any(POLLERR));
    assert_eq!(
        net.stacks[0].take_error(extra),
        Ok(Some(Errno::ECONNREFUSED))
    );
    assert!(net.stacks[1].ready(lst).unwrap().any(POLLIN));
    for _ in 0..3 {
        net.stacks[1].accept(lst).unwrap();
    }
    assert_eq!(net.stacks[1].accept(lst), Err(Errno::EAGAIN));
    assert!(!net.stacks[1].ready(lst).unwrap().any(POLLIN));
    // accepted ones were replaced in the pool: a new client gets in
    let late = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
    let _ = net.stacks[0].connect(late, sa("10.0.0.2:80"));
    net.run(5, |n| n.stacks[1].ready(lst).unwrap().any(POLLIN));
    assert!(net.woken[1].contains(&lst));
    assert!(net.stacks[1].accept(lst).is_ok());
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
