//! The services dom0 tests: UDP echo on port 7, TCP echo on port 7, and a
//! TCP sink on port 9 that answers "<bytes> <fnv1a64>" once the peer has
//! sent everything. Several connections of each at once.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use check_data::Fnv1a as Fnv;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use xen_platform::println;

/// TCP sockets listening per service.
const TCP_SOCKETS: usize = 4;
/// Buffer per TCP direction (window scaling lets the peer use it all).
const TCP_BUFFER: usize = 256 * 1024;
/// Echo/sink port numbers.
const ECHO_PORT: u16 = 7;
const SINK_PORT: u16 = 9;

/// One sink connection's tally.
#[derive(Clone, Copy)]
struct Sink {
    bytes: u64,
    digest: Fnv,
    answered: bool,
}

impl Sink {
    const fn new() -> Self {
        Sink {
            bytes: 0,
            digest: Fnv::new(),
            answered: false,
        }
    }
}

/// The sockets and their per-connection state.
pub struct Services {
    udp: SocketHandle,
    echo: Vec<SocketHandle>,
    sinks: Vec<(SocketHandle, Sink)>,
    scratch: Vec<u8>,
    /// Totals for the log.
    pub udp_datagrams: u64,
    pub echoed_bytes: u64,
    pub sunk_bytes: u64,
}

fn tcp_socket() -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
        tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
    );
    s.set_nagle_enabled(false);
    s
}

impl Services {
    /// Creates the sockets in `set` and starts listening.
    pub fn new(set: &mut SocketSet<'static>) -> Services {
        let mut udp = udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 256], vec![0; 256 * 1024]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 256], vec![0; 256 * 1024]),
        );
        // Binding a fresh socket to a non-zero port cannot fail.
        let _ = udp.bind(ECHO_PORT);
        let udp = set.add(udp);
        let echo = (0..TCP_SOCKETS).map(|_| set.add(tcp_socket())).collect();
        let sinks = (0..TCP_SOCKETS)
            .map(|_| (set.add(tcp_socket()), Sink::new()))
            .collect();
        Services {
            udp,
            echo,
            sinks,
            scratch: vec![0; 64 * 1024],
            udp_datagrams: 0,
            echoed_bytes: 0,
            sunk_bytes: 0,
        }
    }

    /// Serves whatever the sockets have; returns whether anything moved.
    pub fn serve(&mut self, set: &mut SocketSet<'static>) -> bool {
        let mut moved = self.serve_udp(set);
        for &h in &self.echo {
            let s = set.get_mut::<tcp::Socket>(h);
            if !s.is_open() {
                let _ = s.listen(ECHO_PORT);
                continue;
            }
            let before = self.echoed_bytes;
            while s.can_recv() && s.can_send() {
                let room = (s.send_capacity() - s.send_queue()).min(self.scratch.len());
                if room == 0 {
                    break;
                }
                let n = s.recv_slice(&mut self.scratch[..room]).unwrap_or(0);
                if n == 0 {
                    break;
                }
                let _ = s.send_slice(&self.scratch[..n]);
                self.echoed_bytes += n as u64;
                moved = true;
            }
            // A line per 8 MiB echoed, to follow long streams.
            if before >> 23 != self.echoed_bytes >> 23 {
                println!("netcheck: echoed {} MiB", self.echoed_bytes >> 20);
            }
            if !s.may_recv() && s.may_send() && s.send_queue() == 0 {
                s.close();
            }
        }
        for (h, sink) in &mut self.sinks {
            let s = set.get_mut::<tcp::Socket>(*h);
            if !s.is_open() {
                *sink = Sink::new();
                let _ = s.listen(SINK_PORT);
                continue;
            }
            while s.can_recv() {
                let n = s.recv_slice(&mut self.scratch).unwrap_or(0);
                if n == 0 {
                    break;
                }
                sink.bytes += n as u64;
                sink.digest.update(&self.scratch[..n]);
                self.sunk_bytes += n as u64;
                moved = true;
            }
            if !s.may_recv() && s.may_send() && !sink.answered {
                let answer = format!("{} {:016x}\n", sink.bytes, sink.digest.value());
                let _ = s.send_slice(answer.as_bytes());
                s.close();
                sink.answered = true;
                println!(
                    "netcheck: sink got {} bytes, fnv1a64 {:016x}",
                    sink.bytes,
                    sink.digest.value()
                );
            }
        }
        moved
    }

    fn serve_udp(&mut self, set: &mut SocketSet<'static>) -> bool {
        let s = set.get_mut::<udp::Socket>(self.udp);
        let mut moved = false;
        while s.can_recv() && s.can_send() {
            let Ok((n, meta)) = s.recv_slice(&mut self.scratch) else {
                break;
            };
            let _ = s.send_slice(&self.scratch[..n], meta.endpoint);
            self.udp_datagrams += 1;
            moved = true;
        }
        moved
    }
}
