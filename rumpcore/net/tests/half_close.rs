//! Half-close under loss on a simulated wire: the client sends its
//! request and shuts its write side at once (FIN-WAIT-1 with data still
//! in flight), the server keeps sending from CLOSE-WAIT and then closes
//! (LAST-ACK); both directions byte-exact, and both connections fully
//! closed afterwards (every socket buffer given back), for many seeds.
//! Without `fin_probe` these stall with a FIN that is never retransmitted.

mod common;

use common::{fnv, listener, pattern, Net, WireConfig};
use rumpcore_net::consts::*;
use rumpcore_net::{Errno, SocketHandle, Stack};
use std::net::SocketAddr;

/// Writes what `s` takes of `data[*sent..]`.
fn write_some(s: &mut Stack, h: SocketHandle, data: &[u8], sent: &mut usize) {
    while *sent < data.len() {
        match s.write(h, &data[*sent..]) {
            Ok(m) => *sent += m,
            Err(e) => {
                assert_eq!(e, Errno::EAGAIN, "write");
                return;
            }
        }
    }
}

/// Reads what `s` has into `got`; true at end of stream.
fn read_some(s: &mut Stack, h: SocketHandle, got: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 16384];
    loop {
        match s.read(h, &mut buf) {
            Ok(0) => return true,
            Ok(m) => got.extend_from_slice(&buf[..m]),
            Err(e) => {
                assert_eq!(e, Errno::EAGAIN, "read");
                return false;
            }
        }
    }
}

/// One connection from stack 0 to stack 1 on a wire seeded `seed`:
/// `up` bytes to the server, `down` bytes back, the client half-closing
/// as soon as its bytes are queued. Returns the simulated milliseconds
/// until both sides had everything.
fn half_close(seed: u64, loss_ppm: u64, up: usize, down: usize) -> u64 {
    let cfg = WireConfig {
        seed,
        loss_ppm,
        jitter_ns: 300_000,
        reorder_ppm: 10_000,
        ..WireConfig::default()
    };
    let mut net = Net::new(2, cfg, true);
    let addr: SocketAddr = "10.0.0.2:8080".parse().unwrap();
    let lst = listener(&mut net, 1, addr, 1);
    let c = net.stacks[0].socket(2, SOCK_STREAM).unwrap();
    assert_eq!(net.stacks[0].connect(c, addr), Err(Errno::EINPROGRESS));
    let request = pattern(seed << 1, up);
    let response = pattern(seed << 1 | 1, down);
    let (mut server, mut c_sent, mut s_sent) = (None, 0, 0);
    let (mut c_got, mut s_got) = (Vec::new(), Vec::new());
    let (mut c_shut, mut s_closed, mut c_eof, mut s_eof) = (false, false, false, false);
    let t0 = net.now;
    net.run(300, |n| {
        if server.is_none() {
            server = n.stacks[1].accept(lst).ok().map(|(h, _)| h);
        }
        if n.stacks[0].is_connected(c).unwrap_or(false) {
            let s = &mut n.stacks[0];
            write_some(s, c, &request, &mut c_sent);
            if c_sent == up && !c_shut {
                s.shutdown(c, SHUT_WR).unwrap();
                c_shut = true;
            }
            c_eof = c_eof || read_some(s, c, &mut c_got);
        }
        if let (Some(h), false) = (server, s_closed) {
            let s = &mut n.stacks[1];
            write_some(s, h, &response, &mut s_sent);
            s_eof = s_eof || read_some(s, h, &mut s_got);
            if s_eof && s_sent == down {
                // Like an HTTP server: everything queued, then close;
                // the stack finishes sending from LAST-ACK.
                s.close(h).unwrap();
                s_closed = true;
            }
        }
        c_eof && s_closed
    });
    let took = (net.now - t0) / 1_000_000;
    assert_eq!(s_got.len(), up, "seed {seed}: the server got the request");
    assert!(s_got == request, "seed {seed}: request bytes");
    assert_eq!(
        c_got.len(),
        down,
        "seed {seed}: the client got the response"
    );
    assert_eq!(fnv(&c_got), fnv(&response), "seed {seed}: response bytes");
    net.stacks[0].close(c).unwrap();
    net.stacks[1].close(lst).unwrap();
    // Both ends finish closing (FIN-WAIT, LAST-ACK, TIME-WAIT) and give
    // every socket buffer back.
    net.run(300, |n| n.stacks.iter().all(|s| s.buffer_bytes() == 0));
    took
}

#[test]
fn half_close_under_loss_many_seeds() {
    let mut total = 0;
    for seed in 1..=24 {
        total += half_close(seed, 50_000, 128 * 1024, 128 * 1024);
    }
    eprintln!("24 half-closed connections, 128 KiB each way under 5% loss: {total} simulated ms");
}

#[test]
fn half_close_without_loss() {
    let took = half_close(99, 0, 1000, 1 << 20);
    assert!(took < 5_000, "1 MiB after a half-close took {took} ms");
}
