//! Test harness: the client ABI as a C client declares it (rumpcore-client's
//! `sys`), and a peer network stack (a plain rumpcore-net `Stack`) on the
//! far end of the kernel's `virt` socket pair, pumped by its own thread.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rumpcore_net::{Errno, Link, SocketHandle, Stack, StackConfig};

// Link the kernel and the hosted platform into the test binary.
extern crate rumpcore_kernel;
extern crate rumpuser_hosted;

// The client ABI as a C client declares it: one list, the client's.
#[allow(unused_imports)]
pub use rumpcore_client::abi::PollFd;
#[allow(unused_imports)]
pub use rumpcore_client::sys::*;

/// The calling thread's errno as the hosted platform recorded it.
pub fn errno() -> i32 {
    rumpuser_hosted::last_errno()
}

/// `s` as a socket address.
pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// `n` bytes of test data; `salt` makes streams differ.
pub fn pattern(n: usize, salt: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + salt * 7) % 251) as u8).collect()
}

/// Writes what the peer socket `h` takes of `data[*sent..]` (nothing once
/// all is sent), advancing `sent`.
pub fn peer_write(s: &mut Stack, h: SocketHandle, data: &[u8], sent: &mut usize) {
    if *sent < data.len() {
        match s.write(h, &data[*sent..]) {
            Ok(n) => *sent += n,
            Err(Errno::EAGAIN) => {}
            Err(e) => panic!("peer write: {e:?}"),
        }
    }
}

/// Appends what the peer socket `h` has received to `got` (`buf` is
/// scratch room): true at end of stream, false when nothing more waits.
pub fn peer_read(s: &mut Stack, h: SocketHandle, buf: &mut [u8], got: &mut Vec<u8>) -> bool {
    loop {
        match s.read(h, buf) {
            Ok(0) => return true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(Errno::EAGAIN) => return false,
            Err(e) => panic!("peer read: {e:?}"),
        }
    }
}

/// A NetBSD `sockaddr_in` for `a`.
pub fn sa(a: &str) -> [u8; 16] {
    let a: SocketAddr = a.parse().unwrap();
    let mut b = [0u8; 16];
    rumpcore_net::sockaddr::encode(&a, &mut b);
    b
}

/// Frames out of the peer stack go to the socket pair's far end.
struct PairLink(UnixDatagram);

impl Link for PairLink {
    fn send(&mut self, frame: &[u8]) {
        let _ = self.0.send(frame);
    }
}

/// The peer: a stack, its wire, and a pump thread.
pub struct Peer {
    pub stack: Mutex<Stack>,
    /// Notified after every pump poll that woke sockets.
    pub changed: Condvar,
    start: Instant,
    stop: AtomicBool,
}

impl Peer {
    /// A peer stack on `wire` with address `addr`/24 on its virt0.
    pub fn start(wire: UnixDatagram, addr: &str) -> Arc<Peer> {
        let mut s = Stack::new(StackConfig {
            seed: 4242,
            ..StackConfig::default()
        });
        let ix = s
            .ifcreate(
                "virt0",
                [0x02, 0, 0, 0, 0x99, 1],
                1500,
                Box::new(PairLink(wire.try_clone().unwrap())),
            )
            .unwrap();
        s.ifup(ix).unwrap();
        s.ipv4_ifaddr_cidr(ix, addr.parse().unwrap(), 24).unwrap();
        let peer = Arc::new(Peer {
            stack: Mutex::new(s),
            changed: Condvar::new(),
            start: Instant::now(),
            stop: AtomicBool::new(false),
        });
        let p = peer.clone();
        std::thread::spawn(move || p.pump(wire, ix));
        peer
    }

    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn pump(&self, wire: UnixDatagram, ix: rumpcore_net::IfIndex) {
        let mut buf = vec![0u8; 65536];
        let mut wait = Duration::from_millis(1);
        while !self.stop.load(Ordering::Relaxed) {
            wire.set_read_timeout(Some(wait.max(Duration::from_micros(100))))
                .unwrap();
            let mut frames = Vec::new();
            if let Ok(n) = wire.recv(&mut buf) {
                frames.push(buf[..n].to_vec());
                wire.set_nonblocking(true).unwrap();
                while let Ok(n) = wire.recv(&mut buf) {
                    frames.push(buf[..n].to_vec());
                }
                wire.set_nonblocking(false).unwrap();
            }
            let mut s = self.stack.lock().unwrap();
            for f in &frames {
                s.receive(ix, f).unwrap();
            }
            let now = self.now_ns();
            let out = s.poll(now);
            drop(s);
            if !out.woken.is_empty() || !frames.is_empty() {
                self.changed.notify_all();
            }
            wait = out
                .poll_at_ns
                .map_or(Duration::from_millis(5), |t| {
                    Duration::from_nanos(t.saturating_sub(now))
                })
                .min(Duration::from_millis(5));
        }
    }

    /// A peer TCP connection to `a`, established within `timeout`.
    pub fn connect_to(&self, a: &str, timeout: Duration) -> SocketHandle {
        let h = self.until(timeout, |s| {
            let h = s.socket(2, 1).unwrap();
            assert_eq!(s.connect(h, addr(a)), Err(Errno::EINPROGRESS));
            Some(h)
        });
        self.until(timeout, |s| s.is_connected(h).unwrap().then_some(()));
        h
    }

    /// Runs `f` on the peer stack (then polls it so its output leaves)
    /// until it returns `Some`, waiting for progress; panics after
    /// `timeout`.
    pub fn until<T>(&self, timeout: Duration, mut f: impl FnMut(&mut Stack) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        let mut s = self.stack.lock().unwrap();
        loop {
            let r = f(&mut s);
            let now = self.now_ns();
            s.poll(now);
            if let Some(v) = r {
                return v;
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("peer: timed out waiting");
            s = self
                .changed
                .wait_timeout(s, left.min(Duration::from_millis(5)))
                .unwrap()
                .0;
        }
    }
}
