//! Test harness: stacks joined by a simulated Ethernet hub (seeded
//! delay, jitter/reordering and loss) under a simulated clock.
#![allow(dead_code)]

pub mod dhcp;

use rumpcore_net::{IfIndex, Link, SocketHandle, Stack, StackConfig};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

/// Frames an interface sent, waiting for the wire.
#[derive(Clone, Default)]
pub struct Outbox(pub Arc<Mutex<Vec<Vec<u8>>>>);

impl Link for Outbox {
    fn send(&mut self, frame: &[u8]) {
        self.0.lock().unwrap().push(frame.to_vec());
    }
}

/// Wire behaviour.
#[derive(Clone, Copy)]
pub struct WireConfig {
    pub seed: u64,
    /// Frames dropped per million.
    pub loss_ppm: u64,
    pub delay_ns: u64,
    /// Extra random delay up to this for a reordered frame.
    pub jitter_ns: u64,
    /// Frames per million given that extra delay (overtaken by later ones).
    pub reorder_ppm: u64,
}

impl Default for WireConfig {
    fn default() -> Self {
        WireConfig {
            seed: 7,
            loss_ppm: 0,
            delay_ns: 100_000,
            jitter_ns: 0,
            reorder_ppm: 0,
        }
    }
}

/// A frame on the wire: (arrival ns, sequence, destination node, bytes).
type InFlight = (u64, u64, usize, Vec<u8>);

pub struct Net {
    pub stacks: Vec<Stack>,
    pub ifx: Vec<IfIndex>,
    out: Vec<Outbox>,
    pub now: u64,
    deadlines: Vec<Option<u64>>,
    wire: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    rng: u64,
    pub cfg: WireConfig,
    pub sent: u64,
    pub dropped: u64,
    pub dhcp: Option<dhcp::Server>,
    /// Sockets each stack's polls reported woken, in order.
    pub woken: Vec<Vec<SocketHandle>>,
}

pub fn mac(i: usize) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, i as u8 + 1]
}

pub fn v4(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, i as u8 + 1)
}

impl Net {
    /// `n` stacks, each with virt0 up; with `addr`, 10.0.0.(i+1)/24 and
    /// fd00::(i+1)/64.
    pub fn new(n: usize, cfg: WireConfig, addr: bool) -> Net {
        Self::with_stack_config(n, cfg, addr, StackConfig::default())
    }

    pub fn with_stack_config(n: usize, cfg: WireConfig, addr: bool, sc: StackConfig) -> Net {
        Self::with_stack_configs(cfg, addr, &vec![sc; n])
    }

    /// One stack per configuration in `scs` (seeds are set here).
    pub fn with_stack_configs(cfg: WireConfig, addr: bool, scs: &[StackConfig]) -> Net {
        let n = scs.len();
        let mut net = Net {
            stacks: Vec::new(),
            ifx: Vec::new(),
            out: Vec::new(),
            now: 0,
            deadlines: vec![None; n],
            wire: BinaryHeap::new(),
            seq: 0,
            rng: cfg.seed | 1,
            cfg,
            sent: 0,
            dropped: 0,
            dhcp: None,
            woken: vec![Vec::new(); n],
        };
        for (i, sc) in scs.iter().enumerate() {
            let mut s = Stack::new(StackConfig {
                seed: cfg.seed * 1000 + i as u64,
                ..*sc
            });
            let o = Outbox::default();
            let ix = s
                .ifcreate("virt0", mac(i), 1500, Box::new(o.clone()))
                .unwrap();
            s.ifup(ix).unwrap();
            if addr {
                s.ipv4_ifaddr_cidr(ix, v4(i), 24).unwrap();
                s.ipv6_ifaddr(ix, format!("fd00::{}", i + 1).parse().unwrap(), 64)
                    .unwrap();
            }
            net.stacks.push(s);
            net.ifx.push(ix);
            net.out.push(o);
        }
        net
    }

    fn rand(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Puts a frame from node `from` on the hub (node `stacks.len()` is
    /// the DHCP server).
    fn transmit(&mut self, from: usize, frame: Vec<u8>) {
        self.sent += 1;
        if self.rand() % 1_000_000 < self.cfg.loss_ppm {
            self.dropped += 1;
            return;
        }
        let jitter = if self.cfg.jitter_ns > 0 && self.rand() % 1_000_000 < self.cfg.reorder_ppm {
            self.rand() % self.cfg.jitter_ns
        } else {
            0
        };
        let at = self.now + self.cfg.delay_ns + jitter;
        for to in 0..=self.stacks.len() {
            if to != from {
                self.seq += 1;
                self.wire.push(Reverse((at, self.seq, to, frame.clone())));
            }
        }
    }

    /// One round: poll every stack, put their frames on the wire, move
    /// the clock to the next event, deliver what arrived.
    pub fn step(&mut self) {
        let mut produced = false;
        for i in 0..self.stacks.len() {
            let o = self.stacks[i].poll(self.now);
            self.deadlines[i] = o.poll_at_ns;
            self.woken[i].extend(o.woken);
            let frames: Vec<Vec<u8>> = std::mem::take(&mut *self.out[i].0.lock().unwrap());
            produced |= !frames.is_empty();
            for f in frames {
                self.transmit(i, f);
            }
        }
        let mut next = self.now + 1_000_000_000;
        if let Some(Reverse((t, ..))) = self.wire.peek() {
            next = next.min(*t);
        }
        for d in self.deadlines.iter().flatten() {
            next = next.min(*d);
        }
        if next <= self.now {
            next = if produced {
                self.now
            } else {
                self.now + 10_000
            };
        }
        self.now = next;
        while let Some(Reverse((t, ..))) = self.wire.peek() {
            if *t > self.now {
                break;
            }
            let Reverse((_, _, to, frame)) = self.wire.pop().unwrap();
            if to == self.stacks.len() {
                let replies = match &mut self.dhcp {
                    Some(d) => d.handle(&frame),
                    None => Vec::new(),
                };
                for r in replies {
                    self.transmit(to, r);
                }
            } else {
                self.stacks[to].receive(self.ifx[to], &frame).unwrap();
            }
        }
    }

    /// Steps until `done` holds; panics after `limit_s` simulated seconds.
    pub fn run(&mut self, limit_s: u64, mut done: impl FnMut(&mut Net) -> bool) {
        let end = self.now + limit_s * 1_000_000_000;
        while !done(self) {
            assert!(self.now < end, "not done after {limit_s} simulated seconds");
            self.step();
        }
    }

    /// Runs for `s` simulated seconds.
    pub fn idle(&mut self, ms: u64) {
        let end = self.now + ms * 1_000_000;
        while self.now < end {
            self.step();
        }
    }
}

/// Deterministic test bytes.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// FNV-1a 64.
pub fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A listener on stack `i` at `addr`.
pub fn listener(net: &mut Net, i: usize, addr: SocketAddr, backlog: i32) -> SocketHandle {
    let s = &mut net.stacks[i];
    let dom = if addr.is_ipv4() { 2 } else { 24 };
    let h = s.socket(dom, 1).unwrap();
    s.bind(h, addr).unwrap();
    s.listen(h, backlog).unwrap();
    h
}
