//! Two kernels in one process on the hosted platform: kernel A (booted by
//! `rump_init`, used through the C symbols) with virt0 10.0.0.1/24 and
//! kernel B (`Kernel::boot`, used through its Rust socket calls) with
//! virt1 10.0.0.2/24, their hosted interfaces joined by a wire thread
//! that drops frames with a seeded generator. Over it: TCP (B listens,
//! A connects, several connections, megabytes each way, FNV-1a digests
//! compared; one 8 MiB transfer's rate printed) and UDP (self-checking
//! datagrams both ways: all arrive without loss, those that arrive
//! under loss are intact), and clients
//! that half-close while the server still sends, under loss, for
//! several wire seeds (a stall there prints the last frames on the
//! wire). Environment: `TWO_KERNELS_SEED` (the wire's loss seed for the
//! first lossy phase).

mod common;

use std::collections::VecDeque;
use std::ffi::c_void;
use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use check_data::{fnv1a, Fnv1a, Pattern, SplitMix64};
use common::*;
use rumpcore_kernel::kernel::{self, Kernel};
use rumpcore_kernel::netif;
use rumpcore_kernel::sockcalls::{self, PollReq};
use rumpcore_net::consts::{POLLIN, SHUT_WR, SOCK_DGRAM, SOCK_STREAM};
use rumpcore_net::sockaddr::AF_INET;

/// One kernel's socket calls: A through the C symbols, B through Rust.
#[derive(Clone, Copy)]
enum Side {
    /// The first kernel, through `rump___sysimpl_*`.
    C,
    /// Another kernel, through `Kernel::syscall` and `sockcalls`.
    R(&'static Kernel),
}

fn c_rv(r: isize) -> Result<usize, i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

fn decode(b: &[u8]) -> SocketAddr {
    rumpcore_net::sockaddr::decode(b).unwrap()
}

impl Side {
    fn socket(self, ty: i32) -> i32 {
        let fd = match self {
            Side::C => {
                // SAFETY: a plain call.
                let r = unsafe { rump___sysimpl_socket30(AF_INET, ty, 0) };
                c_rv(r as isize).map(|f| f as i32)
            }
            Side::R(k) => k.syscall(|k| sockcalls::socket(k, AF_INET, ty, 0)),
        };
        fd.expect("socket")
    }

    fn bind(self, fd: i32, a: &str) {
        let r = match self {
            Side::C => {
                // SAFETY: a valid sockaddr.
                let r = unsafe { rump___sysimpl_bind(fd, sa(a).as_ptr(), 16) };
                c_rv(r as isize).map(|_| ())
            }
            Side::R(k) => k.syscall(|k| sockcalls::bind(k, fd, a.parse().unwrap())),
        };
        r.unwrap_or_else(|e| panic!("bind {a}: errno {e}"));
    }

    fn listen(self, fd: i32, backlog: i32) {
        let r = match self {
            // SAFETY: a plain call.
            Side::C => c_rv(unsafe { rump___sysimpl_listen(fd, backlog) } as isize).map(|_| ()),
            Side::R(k) => k.syscall(|k| sockcalls::listen(k, fd, backlog)),
        };
        r.expect("listen");
    }

    fn accept(self, fd: i32) -> (i32, SocketAddr) {
        match self {
            Side::C => {
                let (mut b, mut len) = ([0u8; 16], 16u32);
                // SAFETY: valid out-buffers.
                let c = unsafe { rump___sysimpl_accept(fd, b.as_mut_ptr(), &mut len) };
                assert!(c >= 0, "accept: errno {}", errno());
                (c, decode(&b))
            }
            Side::R(k) => k.syscall(|k| sockcalls::accept(k, fd)).expect("accept"),
        }
    }

    fn connect(self, fd: i32, a: &str) {
        let r = match self {
            Side::C => {
                // SAFETY: a valid sockaddr.
                let r = unsafe { rump___sysimpl_connect(fd, sa(a).as_ptr(), 16) };
                c_rv(r as isize).map(|_| ())
            }
            Side::R(k) => k.syscall(|k| sockcalls::connect(k, fd, a.parse().unwrap())),
        };
        r.unwrap_or_else(|e| panic!("connect {a}: errno {e}"));
    }

    fn read(self, fd: i32, buf: &mut [u8]) -> Result<usize, i32> {
        match self {
            Side::C => {
                // SAFETY: a writable buffer.
                let r =
                    unsafe { rump___sysimpl_read(fd, buf.as_mut_ptr() as *mut c_void, buf.len()) };
                c_rv(r)
            }
            Side::R(k) => k.syscall(|k| sockcalls::recvfrom(k, fd, buf).map(|(n, _)| n)),
        }
    }

    fn write(self, fd: i32, data: &[u8]) -> Result<usize, i32> {
        match self {
            // SAFETY: a readable buffer.
            Side::C => c_rv(unsafe {
                rump___sysimpl_write(fd, data.as_ptr() as *const c_void, data.len())
            }),
            Side::R(k) => k.syscall(|k| sockcalls::sendto(k, fd, data, None)),
        }
    }

    fn shutdown(self, fd: i32, how: i32) {
        let r = match self {
            // SAFETY: a plain call.
            Side::C => c_rv(unsafe { rump___sysimpl_shutdown(fd, how) } as isize).map(|_| ()),
            Side::R(k) => k.syscall(|k| sockcalls::shutdown(k, fd, how)),
        };
        r.expect("shutdown");
    }

    fn close(self, fd: i32) {
        let r = match self {
            // SAFETY: a plain call.
            Side::C => c_rv(unsafe { rump___sysimpl_close(fd) } as isize).map(|_| ()),
            Side::R(k) => k.syscall(|k| sockcalls::close(k, fd)),
        };
        r.expect("close");
    }

    fn sockname(self, fd: i32) -> SocketAddr {
        match self {
            Side::C => {
                let (mut b, mut len) = ([0u8; 16], 16u32);
                // SAFETY: valid out-buffers.
                let r = unsafe { rump___sysimpl_getsockname(fd, b.as_mut_ptr(), &mut len) };
                assert_eq!(r, 0);
                decode(&b)
            }
            Side::R(k) => k.syscall(|k| sockcalls::getsockname(k, fd)).unwrap(),
        }
    }

    fn sendto(self, fd: i32, data: &[u8], to: &str) -> Result<usize, i32> {
        match self {
            // SAFETY: readable buffers.
            Side::C => c_rv(unsafe {
                rump___sysimpl_sendto(
                    fd,
                    data.as_ptr() as *const c_void,
                    data.len(),
                    0,
                    sa(to).as_ptr(),
                    16,
                )
            }),
            Side::R(k) => k.syscall(|k| sockcalls::sendto(k, fd, data, Some(to.parse().unwrap()))),
        }
    }

    /// A datagram, or None after `timeout_ms` without one.
    fn recv_timeout(self, fd: i32, buf: &mut [u8], timeout_ms: i32) -> Option<usize> {
        let ready = match self {
            Side::C => {
                let mut p = [PollFd {
                    fd,
                    events: POLLIN as i16,
                    revents: 0,
                }];
                // SAFETY: one valid pollfd.
                unsafe { rump___sysimpl_poll(p.as_mut_ptr(), 1, timeout_ms) > 0 }
            }
            Side::R(k) => {
                let req = [PollReq { fd, events: POLLIN }];
                k.syscall(|k| sockcalls::poll(k, &req, timeout_ms)).unwrap()[0] != 0
            }
        };
        ready.then(|| self.read(fd, buf).expect("recv"))
    }
}

/// TCP frames the wire keeps for a stall's report.
const TRACE_FRAMES: usize = 160;

/// The wire between the two kernels' virt interfaces.
struct Wire {
    /// Frames dropped per thousand.
    loss_permille: AtomicU32,
    /// Seeds the loss; each direction restarts its generator when this
    /// changes.
    seed: AtomicU64,
    stop: AtomicBool,
    passed: AtomicU64,
    dropped: AtomicU64,
    /// The last TCP frames, as lines (see [`tcp_line`]).
    trace: Mutex<VecDeque<String>>,
    start: Instant,
}

impl Wire {
    fn new(seed: u64) -> Wire {
        Wire {
            loss_permille: AtomicU32::new(0),
            seed: AtomicU64::new(seed),
            stop: AtomicBool::new(false),
            passed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            trace: Mutex::new(VecDeque::new()),
            start: Instant::now(),
        }
    }

    /// Relays frames from `from` to `to`, dropping some; `salt` tells
    /// the directions' generators apart.
    fn relay(self: Arc<Self>, from: UnixDatagram, to: UnixDatagram, salt: u64) {
        let mut seed = self.seed.load(Ordering::Relaxed);
        let mut rng = SplitMix64::new(seed ^ salt);
        let mut buf = vec![0u8; 65536];
        from.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        while !self.stop.load(Ordering::Relaxed) {
            let Ok(n) = from.recv(&mut buf) else { continue };
            if self.seed.load(Ordering::Relaxed) != seed {
                seed = self.seed.load(Ordering::Relaxed);
                rng = SplitMix64::new(seed ^ salt);
            }
            let drop = rng.below(1000) < u64::from(self.loss_permille.load(Ordering::Relaxed));
            if let Some(line) = tcp_line(&buf[..n]) {
                let mut t = self.trace.lock().unwrap();
                if t.len() == TRACE_FRAMES {
                    t.pop_front();
                }
                let mark = if drop { " DROPPED" } else { "" };
                t.push_back(format!("{:?} {line}{mark}", self.start.elapsed()));
            }
            if drop {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.passed.fetch_add(1, Ordering::Relaxed);
            let _ = to.send(&buf[..n]);
        }
    }

    /// Prints the last TCP frames the wire saw.
    fn print_trace(&self) {
        say(&format!("the last {TRACE_FRAMES} TCP frames on the wire:"));
        for l in self.trace.lock().unwrap().iter() {
            say(&format!("  {l}"));
        }
    }
}

/// A TCP/IPv4 Ethernet frame as one line: ports, sequence and
/// acknowledgement numbers, flags, payload length, window and SACK
/// blocks; None for anything else.
fn tcp_line(f: &[u8]) -> Option<String> {
    if f.len() < 14 + 20 || f[12..14] != [8, 0] || f[14 + 9] != 6 {
        return None;
    }
    let ip = &f[14..];
    let ihl = usize::from(ip[0] & 15) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let t = ip.get(ihl..total.min(ip.len()))?;
    let doff = usize::from(*t.get(12)? >> 4) * 4;
    let opts = t.get(20..doff)?;
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let flags: String = [(1, 'F'), (2, 'S'), (4, 'R'), (8, 'P'), (16, '.')]
        .iter()
        .filter(|(bit, _)| t[13] & bit != 0)
        .map(|(_, c)| *c)
        .collect();
    let mut sack = String::new();
    let mut o = opts;
    while let Some(&kind) = o.first() {
        match kind {
            0 => break,
            1 => o = &o[1..],
            _ => {
                let len = usize::from(*o.get(1)?).max(2);
                if kind == 5 {
                    for b in o.get(2..len)?.chunks_exact(8) {
                        sack += &format!(" sack {}-{}", be32(&b[..4]), be32(&b[4..]));
                    }
                }
                o = o.get(len..)?;
            }
        }
    }
    Some(format!(
        "{}>{} seq {} ack {} [{flags}] len {} win {}{sack}",
        u16::from_be_bytes([t[0], t[1]]),
        u16::from_be_bytes([t[2], t[3]]),
        be32(&t[4..8]),
        be32(&t[8..12]),
        t.len() - doff,
        u16::from_be_bytes([t[14], t[15]]),
    ))
}

/// How a client ends its sending side.
#[derive(Clone, Copy, PartialEq)]
enum Close {
    /// Once it has received everything (the server has sent its FIN).
    Late,
    /// As soon as its bytes are written, while the server still sends
    /// (an HTTP client's half-close): the server sends from CLOSE-WAIT
    /// and the client waits in FIN-WAIT for the ACK of its FIN.
    Early,
}

/// Sends `out` while reading `expect` bytes (two threads), then closes
/// in order: the client shuts its sending side down when `close` says,
/// the server once it has read the client's end of file. Returns the
/// digest and length of what arrived.
fn exchange(
    side: Side,
    fd: i32,
    out: Vec<u8>,
    expect: usize,
    server: bool,
    close: Close,
) -> (u64, usize) {
    let early = !server && close == Close::Early;
    let writer = std::thread::spawn(move || {
        for chunk in out.chunks(16 * 1024) {
            let n = side.write(fd, chunk).expect("write");
            assert_eq!(n, chunk.len(), "a blocking write sends everything");
        }
        if early {
            side.shutdown(fd, SHUT_WR);
        }
    });
    let mut h = Fnv1a::new();
    let mut len = 0;
    let mut buf = vec![0u8; 9000];
    while len < expect || server {
        let n = side.read(fd, &mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        len += n;
    }
    writer.join().unwrap();
    if !early {
        side.shutdown(fd, SHUT_WR);
    }
    if !server {
        assert_eq!(side.read(fd, &mut buf), Ok(0), "end of file after the data");
    }
    side.close(fd);
    (h.value(), len)
}

/// Data for the connection whose client port is `port`, direction `dir`.
fn data(port: u16, dir: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    Pattern::new(u64::from(port) << 8 | dir).fill(0, &mut v);
    v
}

/// `conns` connections from A to B's `port`, `len` bytes each way on
/// each, the clients closing as `close` says.
fn tcp(a: Side, b: Side, port: u16, conns: usize, len: usize, close: Close) {
    let to: &'static str = format!("10.0.0.2:{port}").leak();
    let lfd = b.socket(SOCK_STREAM);
    b.bind(lfd, to);
    b.listen(lfd, conns as i32);
    let server = std::thread::spawn(move || {
        let handlers: Vec<_> = (0..conns)
            .map(|_| {
                let (c, peer) = b.accept(lfd);
                std::thread::spawn(move || {
                    let (h, n) = exchange(b, c, data(peer.port(), 2, len), len, true, close);
                    (peer.port(), h, n)
                })
            })
            .collect();
        b.close(lfd);
        handlers
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let clients: Vec<_> = (0..conns)
        .map(|_| {
            std::thread::spawn(move || {
                let fd = a.socket(SOCK_STREAM);
                a.connect(fd, to);
                let port = a.sockname(fd).port();
                let (h, n) = exchange(a, fd, data(port, 1, len), len, false, close);
                (port, h, n)
            })
        })
        .collect();
    let mut at_a: Vec<_> = clients.into_iter().map(|h| h.join().unwrap()).collect();
    let mut at_b = server.join().unwrap();
    at_a.sort();
    at_b.sort();
    for ((pa, ha, na), (pb, hb, nb)) in at_a.iter().zip(&at_b) {
        assert_eq!(pa, pb, "the connections pair up by port");
        assert_eq!(*na, len, "A received all of B's bytes on port {pa}");
        assert_eq!(*nb, len, "B received all of A's bytes on port {pa}");
        assert_eq!(*ha, fnv1a(&data(*pa, 2, len)), "A's digest on port {pa}");
        assert_eq!(*hb, fnv1a(&data(*pa, 1, len)), "B's digest on port {pa}");
    }
    assert_eq!(at_a.len(), conns);
}

/// `len` bytes from B (the server, on `port`) to A in one connection;
/// returns how long from B's first write until A had the last byte.
fn one_way(a: Side, b: Side, port: u16, len: usize) -> Duration {
    let to: &'static str = format!("10.0.0.2:{port}").leak();
    let lfd = b.socket(SOCK_STREAM);
    b.bind(lfd, to);
    b.listen(lfd, 1);
    let server = std::thread::spawn(move || {
        let (c, peer) = b.accept(lfd);
        b.close(lfd);
        let out = data(peer.port(), 3, len);
        let t = Instant::now();
        for chunk in out.chunks(64 * 1024) {
            assert_eq!(b.write(c, chunk), Ok(chunk.len()));
        }
        b.close(c);
        t
    });
    let fd = a.socket(SOCK_STREAM);
    a.connect(fd, to);
    let port = a.sockname(fd).port();
    let mut h = Fnv1a::new();
    let (mut got, mut buf) = (0, vec![0u8; 64 * 1024]);
    loop {
        let n = a.read(fd, &mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        got += n;
    }
    let took = server.join().unwrap().elapsed();
    a.close(fd);
    assert_eq!(got, len, "all of B's bytes");
    assert_eq!(h.value(), fnv1a(&data(port, 3, len)), "B's bytes");
    took
}

/// A self-checking datagram: sequence number, payload length, FNV-1a of
/// the payload, payload.
fn datagram(seq: u32) -> Vec<u8> {
    let len = 16 + (seq as usize * 37) % 1200;
    let mut payload = vec![0u8; len];
    Pattern::new(u64::from(seq) | 0xd0 << 56).fill(0, &mut payload);
    let mut d = Vec::with_capacity(len + 16);
    d.extend_from_slice(&seq.to_le_bytes());
    d.extend_from_slice(&(len as u32).to_le_bytes());
    d.extend_from_slice(&fnv1a(&payload).to_le_bytes());
    d.extend_from_slice(&payload);
    d
}

/// The sequence number of an intact datagram (panics on damage).
fn check_datagram(d: &[u8]) -> u32 {
    assert!(d.len() >= 16, "short datagram");
    let seq = u32::from_le_bytes(d[..4].try_into().unwrap());
    let len = u32::from_le_bytes(d[4..8].try_into().unwrap()) as usize;
    assert_eq!(d.len(), 16 + len, "datagram {seq} length");
    assert_eq!(
        u64::from_le_bytes(d[8..16].try_into().unwrap()),
        fnv1a(&d[16..]),
        "datagram {seq} payload"
    );
    assert!(d == datagram(seq), "datagram {seq} bytes");
    seq
}

/// `n` datagrams from `tx` (bound at `from`) to `rx` (bound at `to`) in
/// batches of 8; without loss each batch is awaited before the next.
/// Returns the sequence numbers that arrived.
fn udp_oneway(tx: (Side, i32), rx: (Side, i32, &'static str), n: u32, lossy: bool) -> Vec<u32> {
    let got = Arc::new(AtomicUsize::new(0));
    let g2 = got.clone();
    let (rs, rfd, to) = rx;
    let receiver = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 2048];
        while let Some(k) = rs.recv_timeout(rfd, &mut buf, 1500) {
            seen.push(check_datagram(&buf[..k]));
            g2.fetch_add(1, Ordering::Release);
        }
        seen
    });
    for seq in 0..n {
        let d = datagram(seq);
        assert_eq!(tx.0.sendto(tx.1, &d, to), Ok(d.len()));
        if seq % 8 == 7 {
            let deadline = Instant::now() + Duration::from_secs(5);
            if lossy {
                std::thread::sleep(Duration::from_millis(5));
            } else {
                while got.load(Ordering::Acquire) < seq as usize + 1 {
                    assert!(
                        Instant::now() < deadline,
                        "datagrams lost on a loss-free wire"
                    );
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    let mut seen = receiver.join().unwrap();
    let before = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), before, "no datagram arrives twice");
    seen
}

fn udp(a: Side, b: Side, wire: &Wire) {
    let ua = a.socket(SOCK_DGRAM);
    a.bind(ua, "10.0.0.1:6001");
    let ub = b.socket(SOCK_DGRAM);
    b.bind(ub, "10.0.0.2:6000");
    let n = 200;
    wire.loss_permille.store(0, Ordering::Relaxed);
    let ab = udp_oneway((a, ua), (b, ub, "10.0.0.2:6000"), n, false);
    assert_eq!(ab.len(), n as usize, "A to B without loss: all arrive");
    let ba = udp_oneway((b, ub), (a, ua, "10.0.0.1:6001"), n, false);
    assert_eq!(ba.len(), n as usize, "B to A without loss: all arrive");
    wire.loss_permille.store(50, Ordering::Relaxed);
    let ab = udp_oneway((a, ua), (b, ub, "10.0.0.2:6000"), 400, true);
    let ba = udp_oneway((b, ub), (a, ua, "10.0.0.1:6001"), 400, true);
    println!(
        "udp under 5% loss: A->B {}/400, B->A {}/400 arrived intact",
        ab.len(),
        ba.len()
    );
    assert!(ab.len() < 400 || ba.len() < 400, "5% loss drops some");
    assert!(ab.len() > 300 && ba.len() > 300, "most arrive");
    a.close(ua);
    b.close(ub);
}

/// Writes a line straight to the process's stderr: the test harness
/// captures `eprintln!` and drops what it captured when the process ends
/// early, which is when these lines matter.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Runs `f`; if it has not finished after `limit` (a blocked kernel call
/// never returns on its own), prints what `what` is and the wire's last
/// frames and ends the process.
fn bounded<T>(what: &str, limit: Duration, wire: &Wire, f: impl FnOnce() -> T) -> T {
    let (done, finished) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            if finished.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
                say(&format!("two_kernels: {what}: no result after {limit:?}"));
                wire.print_trace();
                std::process::exit(101);
            }
        });
        let r = f();
        let _ = done.send(());
        r
    })
}

/// Ends the process if the test hangs (a blocked kernel call never
/// returns on its own).
fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        say(&format!("two_kernels: no result after {limit:?}"));
        std::process::exit(101);
    });
}

#[test]
fn two_kernels_talk() {
    watchdog(Duration::from_secs(480));
    // Kernel A: rump_init and the C symbols.
    // SAFETY: client calls with NUL-terminated strings.
    unsafe {
        assert_eq!(rump_init(), 0);
        assert_eq!(rump_pub_netconfig_ifcreate(c"virt0".as_ptr()), 0);
        assert_eq!(rump_pub_netconfig_ifup(c"virt0".as_ptr()), 0);
        let r = rump_pub_netconfig_ipv4_ifaddr_cidr(c"virt0".as_ptr(), c"10.0.0.1".as_ptr(), 24);
        assert_eq!(r, 0);
    }
    let ka = kernel::kernel().expect("rump_init booted kernel A");
    // Kernel B: booted from Rust, configured through its own calls.
    let kb = Kernel::boot().expect("boot kernel B");
    assert!(!std::ptr::eq(ka, kb), "a second kernel");
    kb.syscall(|k| {
        netif::ifcreate(k, "virt1")?;
        netif::ifup(k, "virt1")?;
        netif::ipv4_ifaddr_cidr(k, "virt1", "10.0.0.2".parse().unwrap(), 24)
    })
    .expect("configure kernel B");
    // The C symbols still reach A only: B has no virt0.
    assert_eq!(kb.syscall(|k| netif::ifup(k, "virt0")), Err(6), "ENXIO");
    let (a, b) = (Side::C, Side::R(kb));
    // Separate descriptor tables: both hand out the same first number.
    let (fa, fb) = (a.socket(SOCK_STREAM), b.socket(SOCK_STREAM));
    assert_eq!(fa, fb);
    a.close(fa);
    b.close(fb);

    let seed = std::env::var("TWO_KERNELS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7a0_5eed);
    println!("wire loss seed {seed:#x} (TWO_KERNELS_SEED)");
    let wire = Arc::new(Wire::new(seed));
    let p0 = rumpuser_hosted::take_virt_peer("0").expect("virt0's far end");
    let p1 = rumpuser_hosted::take_virt_peer("1").expect("virt1's far end");
    let (p0b, p1b) = (p0.try_clone().unwrap(), p1.try_clone().unwrap());
    let w = wire.clone();
    let t1 = std::thread::spawn(move || w.relay(p0, p1b, 0));
    let w = wire.clone();
    let t2 = std::thread::spawn(move || w.relay(p1, p0b, 0xffff));

    let t = Instant::now();
    tcp(a, b, 5000, 4, 256 * 1024, Close::Late);
    println!(
        "tcp without loss: 4 x 256 KiB each way in {:?}",
        t.elapsed()
    );
    let took = one_way(a, b, 5010, 8 << 20);
    println!(
        "tcp without loss: one 8 MiB transfer in {took:?}, {:.2} MB/s",
        (8 << 20) as f64 / took.as_secs_f64() / 1e6
    );
    udp(a, b, &wire);
    wire.loss_permille.store(50, Ordering::Relaxed);
    let t = Instant::now();
    bounded("tcp under loss", Duration::from_secs(150), &wire, || {
        tcp(a, b, 5001, 4, 512 * 1024, Close::Late)
    });
    println!(
        "tcp under 5% loss: 4 x 512 KiB each way in {:?}; wire passed {} frames, dropped {}",
        t.elapsed(),
        wire.passed.load(Ordering::Relaxed),
        wire.dropped.load(Ordering::Relaxed)
    );
    // Clients that half-close while the server still sends, under loss,
    // several wire seeds: a FIN that smoltcp stopped retransmitting
    // (rumpcore-net's fin_probe) stalled these for good. A seed usually
    // takes 3-8 s; the bound leaves room for smoltcp's retransmission
    // back-off (1 s at least, doubling), which now and then makes one
    // connection take 20-30 s (more on a loaded machine).
    let (conns, len) = (4, 128 * 1024);
    let t = Instant::now();
    for (i, seed) in [0x4u64, 0x1, 0x5eed_c105e].into_iter().enumerate() {
        wire.seed.store(seed, Ordering::Relaxed);
        let what = format!("half-close under 5% loss, wire seed {seed:#x}");
        bounded(&what, Duration::from_secs(90), &wire, || {
            tcp(a, b, 5002 + i as u16, conns, len, Close::Early)
        });
    }
    println!(
        "half-close under 5% loss: 3 seeds x {conns} connections x {} KiB each way in {:?}",
        len / 1024,
        t.elapsed()
    );
    wire.stop.store(true, Ordering::Relaxed);
    t1.join().unwrap();
    t2.join().unwrap();
}
